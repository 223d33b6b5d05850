/* The entity store: loading Cedar's entities JSON, the uid hash table and the
 * transitive closure of the parent relation (see entities.h). The closure is computed
 * once, depth-first with colours so that a cycle is reported (as the reference does)
 * instead of looping, and each entity's ancestors get a hash table when numerous. */
#include "policy/entities.h"

#include "warden/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANC_TABLE_MIN 8

static size_t find_slot(const struct warden_entities *s, const cedar_uid *u, bool *found)
{
    size_t mask = s->cap - 1;
    for (size_t slot = (size_t)u->hash & mask;; slot = (slot + 1) & mask) {
        uint32_t e = s->tab[slot];
        if (e == 0) {
            *found = false;
            return slot;
        }
        if (cedar_uid_eq(&s->ents[e - 1].uid, u)) {
            *found = true;
            return slot;
        }
    }
}

const cedar_entity *cedar_entities_find(const struct warden_entities *s, const cedar_uid *u)
{
    if (s == NULL || s->cap == 0)
        return NULL;
    bool found;
    size_t slot = find_slot(s, u, &found);
    return found ? &s->ents[s->tab[slot] - 1] : NULL;
}

bool cedar_entity_has_ancestor(const cedar_entity *e, const cedar_uid *b)
{
    if (e->anc_tab == NULL) {
        for (uint32_t i = 0; i < e->n_anc; i++)
            if (cedar_uid_eq(e->anc[i], b))
                return true;
        return false;
    }
    uint32_t mask = e->anc_cap - 1;
    for (uint32_t slot = (uint32_t)b->hash & mask;; slot = (slot + 1) & mask) {
        uint32_t x = e->anc_tab[slot];
        if (x == 0)
            return false;
        if (cedar_uid_eq(e->anc[x - 1], b))
            return true;
    }
}

bool cedar_entities_in(const struct warden_entities *s, const cedar_uid *a, const cedar_uid *b)
{
    if (cedar_uid_eq(a, b))
        return true;
    const cedar_entity *e = cedar_entities_find(s, a);
    return e != NULL && cedar_entity_has_ancestor(e, b);
}

/* ---- transitive closure ---- */

enum { WHITE = 0, GREY = 1, BLACK = 2 };

typedef struct tc_state {
    struct warden_entities *s;
    /* scratch set of ancestors being merged for one entity */
    const cedar_uid **acc;
    size_t acc_n, acc_cap;
    uint32_t *seen;
    size_t seen_cap;
} tc_state;

static int acc_add(tc_state *t, const cedar_uid *u)
{
    size_t mask = t->seen_cap - 1;
    size_t slot = (size_t)u->hash & mask;
    for (;; slot = (slot + 1) & mask) {
        uint32_t x = t->seen[slot];
        if (x == 0)
            break;
        if (cedar_uid_eq(t->acc[x - 1], u))
            return 0;
    }
    if (t->acc_n == t->acc_cap) {
        size_t ncap = t->acc_cap ? t->acc_cap * 2 : 64;
        const cedar_uid **na = realloc(t->acc, ncap * sizeof *na);
        if (na == NULL)
            return WARDEN_ENOMEM;
        t->acc = na;
        t->acc_cap = ncap;
    }
    t->acc[t->acc_n++] = u;
    t->seen[slot] = (uint32_t)t->acc_n;
    if (t->acc_n * 2 > t->seen_cap) {
        /* rehash into a table twice as large */
        size_t ncap = t->seen_cap * 2;
        uint32_t *ns = calloc(ncap, sizeof *ns);
        if (ns == NULL)
            return WARDEN_ENOMEM;
        for (size_t i = 0; i < t->acc_n; i++) {
            size_t sl = (size_t)t->acc[i]->hash & (ncap - 1);
            while (ns[sl] != 0)
                sl = (sl + 1) & (ncap - 1);
            ns[sl] = (uint32_t)(i + 1);
        }
        free(t->seen);
        t->seen = ns;
        t->seen_cap = ncap;
    }
    return 0;
}

static void acc_clear(tc_state *t)
{
    /* Clear only the slots we used, so closure stays linear in the output size. In
     * reverse insertion order: each entry's probe path then holds only earlier entries,
     * which are still in place, so the probe finds it. */
    for (size_t i = t->acc_n; i-- > 0;) {
        size_t mask = t->seen_cap - 1, slot = (size_t)t->acc[i]->hash & mask;
        while (t->seen[slot] != i + 1)
            slot = (slot + 1) & mask;
        t->seen[slot] = 0;
    }
    t->acc_n = 0;
}

static int finish_entity(tc_state *t, cedar_entity *e, warden_err *err)
{
    cedar_varena *a = &t->s->arena;
    e->n_anc = (uint32_t)t->acc_n;
    e->anc = cedar_varena_alloc(a, (t->acc_n ? t->acc_n : 1) * sizeof *e->anc);
    if (e->anc == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    if (t->acc_n)
        memcpy(e->anc, t->acc, t->acc_n * sizeof *e->anc);
    e->anc_tab = NULL;
    e->anc_cap = 0;
    if (t->acc_n >= ANC_TABLE_MIN) {
        uint32_t cap = 16;
        while (cap < t->acc_n * 2)
            cap <<= 1;
        e->anc_tab = cedar_varena_alloc(a, cap * sizeof(uint32_t));
        if (e->anc_tab == NULL)
            return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        memset(e->anc_tab, 0, cap * sizeof(uint32_t));
        e->anc_cap = cap;
        for (uint32_t i = 0; i < e->n_anc; i++) {
            uint32_t sl = (uint32_t)e->anc[i]->hash & (cap - 1);
            while (e->anc_tab[sl] != 0)
                sl = (sl + 1) & (cap - 1);
            e->anc_tab[sl] = i + 1;
        }
    }
    return 0;
}

/* Iterative DFS (explicit stack: hierarchies from files may be deep). */
static int closure(tc_state *t, warden_err *err)
{
    struct warden_entities *s = t->s;
    size_t *stack = malloc((s->n ? s->n : 1) * sizeof *stack);
    uint32_t *next = calloc(s->n ? s->n : 1, sizeof *next);
    int rc = 0;
    if (stack == NULL || next == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t root = 0; root < s->n; root++) {
        if (s->ents[root].color != WHITE)
            continue;
        size_t sp = 0;
        stack[sp++] = root;
        s->ents[root].color = GREY;
        while (sp > 0) {
            cedar_entity *e = &s->ents[stack[sp - 1]];
            uint32_t k = next[stack[sp - 1]];
            if (k < e->n_parents) {
                next[stack[sp - 1]]++;
                const cedar_entity *pc = cedar_entities_find(s, &e->parents[k]);
                if (pc == NULL)
                    continue;
                cedar_entity *p = &s->ents[pc - s->ents];
                if (p->color == GREY) {
                    char buf[160];
                    rc = warden_err_set(err, WARDEN_EINVAL,
                                        "the entity hierarchy has a cycle containing %s",
                                        cedar_uid_show(buf, sizeof buf, &p->uid));
                    goto out;
                }
                if (p->color == WHITE) {
                    p->color = GREY;
                    stack[sp++] = (size_t)(p - s->ents);
                }
                continue;
            }
            /* All parents are done: ancestors = parents + their ancestors. */
            t->acc_n = 0;
            for (uint32_t i = 0; i < e->n_parents && rc == 0; i++) {
                rc = acc_add(t, &e->parents[i]);
                const cedar_entity *p = cedar_entities_find(s, &e->parents[i]);
                for (uint32_t j = 0; p != NULL && j < p->n_anc && rc == 0; j++)
                    rc = acc_add(t, p->anc[j]);
            }
            if (rc != 0) {
                rc = warden_err_set(err, rc, "out of memory");
                goto out;
            }
            rc = finish_entity(t, e, err);
            acc_clear(t);
            if (rc != 0)
                goto out;
            e->color = BLACK;
            sp--;
        }
    }
out:
    free(stack);
    free(next);
    return rc;
}

/* ---- loading ---- */

static bool parents_subset(const cedar_entity *a, const cedar_entity *b)
{
    for (uint32_t i = 0; i < a->n_parents; i++) {
        bool in = false;
        for (uint32_t j = 0; j < b->n_parents && !in; j++)
            in = cedar_uid_eq(&a->parents[i], &b->parents[j]);
        if (!in)
            return false;
    }
    return true;
}

/* Same attrs, tags and parent set (parents compare as a set, as the reference). */
static bool same_entity(const cedar_entity *a, const cedar_entity *b)
{
    cedar_value x = {.kind = CEDAR_V_RECORD, .u.rec = a->attrs};
    cedar_value y = {.kind = CEDAR_V_RECORD, .u.rec = b->attrs};
    if (!cedar_value_eq(&x, &y))
        return false;
    x.u.rec = a->tags;
    y.u.rec = b->tags;
    if (!cedar_value_eq(&x, &y))
        return false;
    return parents_subset(a, b) && parents_subset(b, a);
}

static int load_entity(cedar_entity *e, const json_t *j, size_t idx, cedar_varena *a,
                       warden_err *err)
{
    char what[256];
    snprintf(what, sizeof what, "entity #%zu", idx);
    if (!json_is_object(j))
        return warden_err_set(err, WARDEN_EINVAL, "%s: expected an object", what);
    const json_t *uid = json_object_get(j, "uid"), *attrs = json_object_get(j, "attrs");
    const json_t *parents = json_object_get(j, "parents"), *tags = json_object_get(j, "tags");
    if (uid == NULL)
        return warden_err_set(err, WARDEN_EINVAL, "%s: missing field \"uid\"", what);
    int rc = cedar_json_to_uid(&e->uid, uid, a, false, what, err);
    if (rc != 0)
        return rc;
    char us[160];
    cedar_uid_show(us, sizeof us, &e->uid);
    snprintf(what, sizeof what, "entity #%zu (%s)", idx, us);
    if (attrs == NULL || parents == NULL)
        return warden_err_set(err, WARDEN_EINVAL, "%s: missing field \"%s\"", what,
                              attrs == NULL ? "attrs" : "parents");
    if (!json_is_object(attrs))
        return warden_err_set(err, WARDEN_EINVAL, "%s: \"attrs\" must be an object", what);
    if (!json_is_array(parents))
        return warden_err_set(err, WARDEN_EINVAL, "%s: \"parents\" must be an array", what);
    if (tags != NULL && !json_is_object(tags))
        return warden_err_set(err, WARDEN_EINVAL, "%s: \"tags\" must be an object", what);
    cedar_value v;
    /* Attributes are a map: {"__entity": ..} here is an attribute named __entity. */
    rc = cedar_json_to_record(&v, attrs, a, what, err);
    if (rc != 0)
        return rc;
    e->attrs = v.u.rec;
    e->tags = &cedar_empty_record;
    if (tags != NULL) {
        rc = cedar_json_to_record(&v, tags, a, what, err);
        if (rc != 0)
            return rc;
        e->tags = v.u.rec;
    }
    size_t np = json_array_size(parents);
    cedar_uid *ps = cedar_varena_alloc(a, (np ? np : 1) * sizeof *ps);
    if (ps == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    for (size_t i = 0; i < np; i++) {
        rc = cedar_json_to_uid(&ps[i], json_array_get(parents, i), a, false, what, err);
        if (rc != 0)
            return rc;
    }
    e->parents = ps;
    e->n_parents = (uint32_t)np;
    return 0;
}

int warden_entities_parse_json(warden_entities **out, const char *file, const char *json,
                               size_t len, warden_err *err)
{
    *out = NULL;
    json_t *root = NULL;
    tc_state t = {0};
    int rc = 0;
    if (len > CEDAR_MAX_ENTITIES_BYTES)
        return warden_err_set(err, WARDEN_ELIMIT, "%s: larger than %zu bytes", file,
                              CEDAR_MAX_ENTITIES_BYTES);
    struct warden_entities *s = calloc(1, sizeof *s);
    if (s == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    cedar_varena_init(&s->arena, (size_t)4 * CEDAR_MAX_ENTITIES_BYTES);
    json_error_t je;
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (root == NULL) {
        rc = warden_err_set(err, WARDEN_EPARSE, "%s:%d:%d: %s", file, je.line, je.column, je.text);
        goto out;
    }
    if (!json_is_array(root)) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: expected a JSON array of entities", file);
        goto out;
    }
    s->n = json_array_size(root);
    if (s->n > UINT32_MAX / 4) {
        rc = warden_err_set(err, WARDEN_ELIMIT, "%s: too many entities", file);
        goto out;
    }
    s->ents = calloc(s->n ? s->n : 1, sizeof *s->ents);
    s->cap = 16;
    while (s->cap < s->n * 2)
        s->cap <<= 1;
    s->tab = calloc(s->cap, sizeof *s->tab);
    if (s->ents == NULL || s->tab == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    size_t total = s->n, kept = 0;
    s->n = 0;
    for (size_t i = 0; i < total; i++) {
        rc = load_entity(&s->ents[kept], json_array_get(root, i), i, &s->arena, err);
        if (rc != 0) {
            warden_err_prefix(err, "%s", file);
            goto out;
        }
        bool found;
        size_t slot = find_slot(s, &s->ents[kept].uid, &found);
        if (found) {
            /* The reference accepts a repeated entity when it is identical. */
            if (same_entity(&s->ents[s->tab[slot] - 1], &s->ents[kept]))
                continue;
            char us[160];
            rc = warden_err_set(err, WARDEN_EINVAL, "%s: entity #%zu: duplicate entity %s", file, i,
                                cedar_uid_show(us, sizeof us, &s->ents[kept].uid));
            goto out;
        }
        s->tab[slot] = (uint32_t)(kept + 1);
        s->n = ++kept;
    }
    t.s = s;
    t.seen_cap = 64;
    t.seen = calloc(t.seen_cap, sizeof *t.seen);
    if (t.seen == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    rc = closure(&t, err);
    if (rc != 0) {
        warden_err_prefix(err, "%s", file);
        goto out;
    }
    *out = s;
    s = NULL;
out:
    free(t.acc);
    free(t.seen);
    json_decref(root);
    warden_entities_free(s);
    return rc;
}

int warden_entities_new_empty(warden_entities **out, warden_err *err)
{
    return warden_entities_parse_json(out, "(empty)", "[]", 2, err);
}

void warden_entities_free(warden_entities *s)
{
    if (s == NULL)
        return;
    cedar_varena_fini(&s->arena);
    free(s->ents);
    free(s->tab);
    free(s);
}

size_t warden_entities_count(const warden_entities *s)
{
    return s ? s->n : 0;
}
