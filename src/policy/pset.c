/* Policy sets: the arena that owns every AST, the string interner, the id index and
 * template linking. Invariant: every id in the index is unique across policies and
 * templates, and every cedar_str handed out is interned in this set. */
#include "policy/pset_internal.h"
#include "policy/lexer.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

uint64_t warden_policy_hash(const void *p, size_t len)
{
    /* FNV-1a: the strings are short (names, ids), where it is as fast as anything. */
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    /* Final avalanche (murmur3 fmix64) so that the low bits used as table index
     * depend on every byte. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

const char *pset_quote(char *buf, size_t size, const void *p, size_t len)
{
    const unsigned char *s = p;
    bool utf8 = utf8_check(s, len) == len;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char esc[8];
        unsigned char c = s[i];
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof esc, "\\%c", c);
        else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
            snprintf(esc, sizeof esc, "\\x%02X", c);
        else
            esc[0] = (char)c, esc[1] = '\0';
        size_t n = strlen(esc);
        /* Cut past 60 bytes, at a character boundary (buf has room to spare). */
        if (o + n + 4 > size || (o > 60 && (c & 0xC0) != 0x80)) {
            if (o + 4 <= size)
                memcpy(buf + o, "...", 3), o += 3;
            break;
        }
        memcpy(buf + o, esc, n);
        o += n;
    }
    buf[o] = '\0';
    return buf;
}

int warden_policy_set_new(cedar_pset **out, warden_err *err)
{
    *out = NULL;
    cedar_pset *set = calloc(1, sizeof *set);
    cedar_pset_internal *in = calloc(1, sizeof *in);
    if (set == NULL || in == NULL) {
        free(set);
        free(in);
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory creating a policy set");
    }
    policy_arena_init(&in->arena);
    set->in = in;
    *out = set;
    return 0;
}

void warden_policy_set_free(cedar_pset *set)
{
    if (set == NULL)
        return;
    if (set->in != NULL) {
        policy_arena_fini(&set->in->arena);
        free(set->in->strs);
        free(set->in->ids);
        free(set->in);
    }
    free(set->policies);
    free(set->templates);
    free(set);
}

void *warden_policy_set_alloc(cedar_pset *set, size_t size)
{
    return policy_arena_alloc(&set->in->arena, size);
}

static int intern_grow(cedar_pset_internal *in)
{
    size_t cap = in->strs_cap ? in->strs_cap * 2 : 1024;
    pset_slot *t = calloc(cap, sizeof *t);
    if (t == NULL)
        return WARDEN_ENOMEM;
    for (size_t i = 0; i < in->strs_cap; i++) {
        if (in->strs[i].s == NULL)
            continue;
        size_t j = (size_t)in->strs[i].hash & (cap - 1);
        while (t[j].s != NULL)
            j = (j + 1) & (cap - 1);
        t[j] = in->strs[i];
    }
    free(in->strs);
    in->strs = t;
    in->strs_cap = cap;
    return 0;
}

static const cedar_str *intern_find(const cedar_pset_internal *in, const void *p, size_t len,
                                    uint64_t h, size_t *slot)
{
    if (in->strs_cap == 0)
        return NULL;
    size_t j = (size_t)h & (in->strs_cap - 1);
    for (;;) {
        const pset_slot *e = &in->strs[j];
        if (e->s == NULL) {
            *slot = j;
            return NULL;
        }
        if (e->hash == h && e->s->len == len && (len == 0 || memcmp(e->s->p, p, len) == 0))
            return e->s;
        j = (j + 1) & (in->strs_cap - 1);
    }
}

const cedar_str *pset_intern(cedar_pset *set, const void *p, size_t len)
{
    cedar_pset_internal *in = set->in;
    uint64_t h = warden_policy_hash(p, len);
    size_t slot = 0;
    const cedar_str *s = intern_find(in, p, len, h, &slot);
    if (s != NULL)
        return s;
    if ((in->strs_n + 1) * 2 > in->strs_cap) {
        if (intern_grow(in) != 0)
            return NULL;
        (void)intern_find(in, p, len, h, &slot);
    }
    cedar_str *n = policy_arena_alloc(&in->arena, sizeof *n);
    char *copy = policy_arena_strdup(&in->arena, p, len);
    if (n == NULL || copy == NULL)
        return NULL;
    n->p = copy;
    n->len = len;
    n->hash = h;
    in->strs[slot].hash = h;
    in->strs[slot].s = n;
    in->strs_n++;
    return n;
}

int warden_policy_set_intern(const cedar_str **out, cedar_pset *set, const void *p, size_t len,
                             warden_err *err)
{
    *out = NULL;
    if (len > CEDAR_MAX_TEXT)
        return warden_err_set(err, WARDEN_ELIMIT, "string of %zu bytes exceeds the limit of %u",
                              len, CEDAR_MAX_TEXT);
    *out = pset_intern(set, p, len);
    if (*out == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory interning a string");
    return 0;
}

static size_t id_slot(const cedar_pset_internal *in, const void *id, size_t len, uint64_t h)
{
    size_t j = (size_t)h & (in->ids_cap - 1);
    for (;;) {
        const cedar_policy *p = in->ids[j];
        if (p == NULL)
            return j;
        if (p->id->hash == h && p->id->len == len && (len == 0 || memcmp(p->id->p, id, len) == 0))
            return j;
        j = (j + 1) & (in->ids_cap - 1);
    }
}

cedar_policy *pset_lookup(const cedar_pset *set, const void *id, size_t len)
{
    const cedar_pset_internal *in = set->in;
    if (in->ids_cap == 0)
        return NULL;
    return in->ids[id_slot(in, id, len, warden_policy_hash(id, len))];
}

const cedar_policy *warden_policy_set_find(const cedar_pset *set, const char *id, size_t id_len,
                                           bool want_template)
{
    const cedar_policy *p = pset_lookup(set, id, id_len);
    if (p == NULL || p->is_template != want_template)
        return NULL;
    return p;
}

static int grow_array(cedar_policy ***arr, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    cedar_policy **t = realloc(*arr, n * sizeof *t);
    if (t == NULL)
        return WARDEN_ENOMEM;
    *arr = t;
    *cap = n;
    return 0;
}

int pset_reserve(cedar_pset *set, size_t n, size_t m)
{
    cedar_pset_internal *in = set->in;
    if (grow_array(&set->policies, &in->pol_cap, set->n_policies + n) != 0 ||
        grow_array(&set->templates, &in->tmpl_cap, set->n_templates + m) != 0)
        return WARDEN_ENOMEM;
    size_t need = (in->ids_n + n + m) * 2;
    if (need <= in->ids_cap)
        return 0;
    size_t cap = in->ids_cap ? in->ids_cap : 64;
    while (cap < need)
        cap *= 2;
    cedar_policy **old = in->ids;
    size_t old_cap = in->ids_cap;
    in->ids = calloc(cap, sizeof *in->ids);
    if (in->ids == NULL) {
        in->ids = old;
        return WARDEN_ENOMEM;
    }
    in->ids_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i] != NULL)
            in->ids[id_slot(in, old[i]->id->p, old[i]->id->len, old[i]->id->hash)] = old[i];
    free(old);
    return 0;
}

void pset_add(cedar_pset *set, cedar_policy *p)
{
    cedar_pset_internal *in = set->in;
    in->ids[id_slot(in, p->id->p, p->id->len, p->id->hash)] = p;
    in->ids_n++;
    if (p->is_template)
        set->templates[set->n_templates++] = p;
    else
        set->policies[set->n_policies++] = p;
}

bool warden_policy_valid_type(const void *p, size_t len)
{
    const char *s = p;
    size_t i = 0;
    for (;;) {
        size_t start = i;
        if (i >= len ||
            !(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
            return false;
        while (i < len && (s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') ||
                           (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            i++;
        lexer lx;
        token t;
        const char *what;
        lexer_init(&lx, (const uint8_t *)s + start, i - start);
        if (lexer_next(&lx, &t, &what) != 0 || KW_IS_RESERVED(t.kw))
            return false;
        if (i - start == 7 && memcmp(s + start, "__cedar", 7) == 0)
            return false;
        if (i == len)
            return true;
        if (len - i < 2 || s[i] != ':' || s[i + 1] != ':')
            return false;
        i += 2;
    }
}

static int link_euid(cedar_euid *dst, cedar_pset *set, const cedar_euid *src)
{
    dst->type = pset_intern(set, src->type->p, src->type->len);
    dst->id = pset_intern(set, src->id->p, src->id->len);
    return dst->type != NULL && dst->id != NULL ? 0 : WARDEN_ENOMEM;
}

int warden_policy_set_link(const cedar_policy **out, cedar_pset *set, const char *template_id,
                           size_t template_id_len, const char *new_id, size_t new_id_len,
                           const cedar_euid *principal, const cedar_euid *resource, warden_err *err)
{
    if (out != NULL)
        *out = NULL;
    char q[128];
    const cedar_policy *t = warden_policy_set_find(set, template_id, template_id_len, true);
    if (t == NULL)
        return warden_err_set(err, WARDEN_ENOTFOUND, "no template with id \"%s\"",
                              pset_quote(q, sizeof q, template_id, template_id_len));
    if (t->has_principal_slot != (principal != NULL) ||
        t->has_resource_slot != (resource != NULL)) {
        const char *slot =
            t->has_principal_slot != (principal != NULL) ? "?principal" : "?resource";
        bool wanted = t->has_principal_slot != (principal != NULL) ? t->has_principal_slot
                                                                   : t->has_resource_slot;
        return warden_err_set(err, WARDEN_EINVAL,
                              wanted ? "template \"%s\" needs a value for %s"
                                     : "template \"%s\" has no %s slot to link",
                              pset_quote(q, sizeof q, t->id->p, t->id->len), slot);
    }
    const cedar_euid *bad =
        principal != NULL && !warden_policy_valid_type(principal->type->p, principal->type->len)
            ? principal
        : resource != NULL && !warden_policy_valid_type(resource->type->p, resource->type->len)
            ? resource
            : NULL;
    if (bad != NULL)
        return warden_err_set(err, WARDEN_EINVAL, "invalid entity type name \"%s\"",
                              pset_quote(q, sizeof q, bad->type->p, bad->type->len));
    if (pset_lookup(set, new_id, new_id_len) != NULL)
        return warden_err_set(err, WARDEN_EEXIST, "policy id \"%s\" is already in use",
                              pset_quote(q, sizeof q, new_id, new_id_len));
    if (pset_reserve(set, 1, 0) != 0)
        goto nomem;
    cedar_policy *p = policy_arena_alloc(&set->in->arena, sizeof *p);
    if (p == NULL)
        goto nomem;
    *p = *t;
    p->id = pset_intern(set, new_id, new_id_len);
    if (p->id == NULL)
        goto nomem;
    p->is_template = false;
    p->has_principal_slot = false;
    p->has_resource_slot = false;
    p->template_id = t->id;
    if (principal != NULL) {
        p->principal.slot = false;
        if (link_euid(&p->principal.entity, set, principal) != 0)
            goto nomem;
    }
    if (resource != NULL) {
        p->resource.slot = false;
        if (link_euid(&p->resource.entity, set, resource) != 0)
            goto nomem;
    }
    pset_add(set, p);
    if (out != NULL)
        *out = p;
    return 0;
nomem:
    return warden_err_set(err, WARDEN_ENOMEM, "out of memory linking template \"%s\"",
                          pset_quote(q, sizeof q, t->id->p, t->id->len));
}
