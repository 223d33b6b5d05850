/* Equality, hashing, sets and records of Cedar values (see value.h). Sets dedup on
 * construction and index themselves by hash once large, so `contains` on a big set from
 * the entity store is a hash lookup; records sort their fields once so lookup is a binary
 * search over the interned key hashes. */
#include "policy/value.h"

#include "policy/parser.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

const cedar_record cedar_empty_record = {0};

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

void cedar_str_init(cedar_str *s, const char *p, size_t len)
{
    s->p = p;
    s->len = len;
    s->hash = warden_policy_hash(p, len);
}

/* Names and ids are short: comparing words inline beats a call to memcmp. */
static bool bytes_eq(const char *a, const char *b, size_t n)
{
    for (; n >= 8; a += 8, b += 8, n -= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return false;
    }
    for (; n > 0; n--)
        if (*a++ != *b++)
            return false;
    return true;
}

bool cedar_str_eq(const cedar_str *a, const cedar_str *b)
{
    if (a == b)
        return true;
    return a->hash == b->hash && a->len == b->len && bytes_eq(a->p, b->p, a->len);
}

int cedar_str_cmp(const cedar_str *a, const cedar_str *b)
{
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    if (a->p == b->p || bytes_eq(a->p, b->p, a->len))
        return 0;
    return memcmp(a->p, b->p, a->len);
}

static void uid_rehash(cedar_uid *u)
{
    u->hash = mix(u->type.hash * 0x9e3779b97f4a7c15ull ^ u->id.hash);
}

void cedar_uid_init(cedar_uid *u, const char *type, size_t type_len, const char *id, size_t id_len)
{
    cedar_str_init(&u->type, type, type_len);
    cedar_str_init(&u->id, id, id_len);
    uid_rehash(u);
}

void cedar_uid_from_euid(cedar_uid *u, const cedar_euid *e)
{
    u->type = *e->type;
    u->id = *e->id;
    uid_rehash(u);
}

bool cedar_uid_eq(const cedar_uid *a, const cedar_uid *b)
{
    if (a == b)
        return true;
    return a->hash == b->hash && cedar_str_eq(&a->id, &b->id) && cedar_str_eq(&a->type, &b->type);
}

/* ---- equality and hashing ---- */

/* Set elements are hashed with SipHash-1-3 under a per-process random key, not with the
 * unkeyed hash the parser stores in cedar_str: sets come from untrusted requests, and
 * strings crafted to collide under a public hash would make set building quadratic. */
static uint64_t sip_key[2];
static pthread_once_t sip_once = PTHREAD_ONCE_INIT;

static void sip_init(void)
{
    if (getrandom(sip_key, sizeof sip_key, 0) != (ssize_t)sizeof sip_key) {
        /* No entropy: still unpredictable across runs enough to avoid fixed collisions. */
        sip_key[0] = mix((uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&sip_key);
        sip_key[1] = mix(sip_key[0] ^ (uint64_t)clock());
    }
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

/* SipHash-1-3 of p[0..n) under the process key; tweak separates uses (type, id, key). */
static uint64_t khash(const void *p, size_t n, uint64_t tweak)
{
    (void)pthread_once(&sip_once, sip_init);
    uint64_t k0 = sip_key[0], k1 = sip_key[1] ^ tweak;
    uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
    uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
    const uint8_t *in = p;
    size_t left = n & 7;
    const uint8_t *end = in + (n - left);
    uint64_t b = (uint64_t)n << 56;
    for (; in != end; in += 8) {
        uint64_t m = 0;
        for (int i = 0; i < 8; i++)
            m |= (uint64_t)in[i] << (8 * i);
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    for (size_t i = 0; i < left; i++)
        b |= (uint64_t)in[i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

static bool set_eq(const cedar_set *a, const cedar_set *b)
{
    if (a == b)
        return true;
    if (a->n != b->n)
        return false;
    /* Both are duplicate-free, so same size + inclusion is equality. */
    for (uint32_t i = 0; i < a->n; i++)
        if (!cedar_set_contains(b, &a->v[i]))
            return false;
    return true;
}

static bool record_eq(const cedar_record *a, const cedar_record *b)
{
    if (a == b)
        return true;
    if (a->n != b->n)
        return false;
    for (uint32_t i = 0; i < a->n; i++) {
        if (!cedar_str_eq(a->f[i].key, b->f[i].key))
            return false;
        if (!cedar_value_eq(&a->f[i].v, &b->f[i].v))
            return false;
    }
    return true;
}

bool cedar_value_eq(const cedar_value *a, const cedar_value *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case CEDAR_V_BOOL:
        return a->u.b == b->u.b;
    case CEDAR_V_LONG:
    case CEDAR_V_DECIMAL:
    case CEDAR_V_DATETIME:
    case CEDAR_V_DURATION:
        return a->u.i == b->u.i;
    case CEDAR_V_STRING:
        return cedar_str_eq(a->u.s, b->u.s);
    case CEDAR_V_ENTITY:
        return cedar_uid_eq(a->u.uid, b->u.uid);
    case CEDAR_V_SET:
        return set_eq(a->u.set, b->u.set);
    case CEDAR_V_RECORD:
        return record_eq(a->u.rec, b->u.rec);
    case CEDAR_V_IPADDR:
        return cedar_ip_equal(a->u.ip, b->u.ip);
    }
    return false;
}

uint64_t cedar_value_hash(const cedar_value *v)
{
    uint64_t h = (uint64_t)v->kind * 0x9e3779b97f4a7c15ull;
    switch (v->kind) {
    case CEDAR_V_BOOL:
        return mix(h ^ (uint64_t)v->u.b);
    case CEDAR_V_LONG:
    case CEDAR_V_DECIMAL:
    case CEDAR_V_DATETIME:
    case CEDAR_V_DURATION:
        return mix(h ^ (uint64_t)v->u.i);
    case CEDAR_V_STRING:
        return h ^ khash(v->u.s->p, v->u.s->len, 1);
    case CEDAR_V_ENTITY:
        return h ^ mix(khash(v->u.uid->type.p, v->u.uid->type.len, 2) * 0x9e3779b97f4a7c15ull ^
                       khash(v->u.uid->id.p, v->u.uid->id.len, 3));
    case CEDAR_V_SET: {
        /* Order-independent: a sum of element hashes (elements are distinct). */
        uint64_t s = 0;
        const cedar_set *set = v->u.set;
        for (uint32_t i = 0; i < set->n; i++)
            s += set->hashes[i];
        return mix(h ^ s ^ set->n);
    }
    case CEDAR_V_RECORD: {
        const cedar_record *r = v->u.rec;
        for (uint32_t i = 0; i < r->n; i++)
            h = mix(h ^ khash(r->f[i].key->p, r->f[i].key->len, 4)) + cedar_value_hash(&r->f[i].v);
        return mix(h ^ r->n);
    }
    case CEDAR_V_IPADDR: {
        /* Equality is family + address bits + prefix (ext.h), so hash exactly those. */
        const cedar_ipaddr *ip = v->u.ip;
        uint64_t x = h ^ ((uint64_t)ip->v6 << 8) ^ ip->prefix;
        for (int i = 0; i < 16; i++)
            x = x * 31 + ip->addr[i];
        return mix(x);
    }
    }
    return h;
}

/* ---- sets ---- */

bool cedar_set_contains(const cedar_set *s, const cedar_value *v)
{
    if (s->n == 0)
        return false;
    if (s->tab == NULL) {
        for (uint32_t i = 0; i < s->n; i++)
            if (cedar_value_eq(&s->v[i], v))
                return true;
        return false;
    }
    uint64_t h = cedar_value_hash(v);
    uint32_t mask = s->cap - 1;
    for (uint32_t slot = (uint32_t)h & mask;; slot = (slot + 1) & mask) {
        uint32_t e = s->tab[slot];
        if (e == 0)
            return false;
        if (s->hashes[e - 1] == h && cedar_value_eq(&s->v[e - 1], v))
            return true;
    }
}

cedar_set *cedar_set_build(cedar_varena *a, const cedar_value *v, size_t n)
{
    if (n > UINT32_MAX / 4)
        return NULL;
    cedar_set *s = cedar_varena_alloc(a, sizeof(*s) + n * sizeof(cedar_value));
    uint64_t *hashes = cedar_varena_alloc(a, (n ? n : 1) * sizeof(uint64_t));
    if (s == NULL || hashes == NULL)
        return NULL;
    s->n = 0;
    s->hashes = hashes;
    s->tab = NULL;
    s->cap = 0;
    if (n >= CEDAR_SET_TABLE_MIN) {
        uint32_t cap = 16;
        while (cap < n * 2)
            cap <<= 1;
        s->tab = cedar_varena_alloc(a, cap * sizeof(uint32_t));
        if (s->tab == NULL)
            return NULL;
        memset(s->tab, 0, cap * sizeof(uint32_t));
        s->cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t h = cedar_value_hash(&v[i]);
        if (s->tab == NULL) {
            bool dup = false;
            for (uint32_t j = 0; j < s->n && !dup; j++)
                dup = s->hashes[j] == h && cedar_value_eq(&s->v[j], &v[i]);
            if (dup)
                continue;
        } else {
            uint32_t mask = s->cap - 1, slot = (uint32_t)h & mask;
            bool dup = false;
            for (;; slot = (slot + 1) & mask) {
                uint32_t e = s->tab[slot];
                if (e == 0)
                    break;
                if (s->hashes[e - 1] == h && cedar_value_eq(&s->v[e - 1], &v[i])) {
                    dup = true;
                    break;
                }
            }
            if (dup)
                continue;
            s->tab[slot] = s->n + 1;
        }
        s->v[s->n] = v[i];
        s->hashes[s->n] = h;
        s->n++;
    }
    return s;
}

/* ---- records ---- */

static int field_cmp(const void *a, const void *b)
{
    return cedar_str_cmp(((const cedar_field *)a)->key, ((const cedar_field *)b)->key);
}

cedar_record *cedar_record_build(cedar_varena *a, const cedar_field *f, size_t n)
{
    if (n > UINT32_MAX / 2)
        return NULL;
    cedar_record *r = cedar_varena_alloc(a, sizeof(*r) + n * sizeof(cedar_field));
    if (r == NULL)
        return NULL;
    r->n = (uint32_t)n;
    if (n) {
        memcpy(r->f, f, n * sizeof(cedar_field));
        if (n > 1)
            qsort(r->f, n, sizeof(cedar_field), field_cmp);
    }
    return r;
}

bool cedar_record_has_dup(const cedar_record *r, const cedar_str **dup)
{
    for (uint32_t i = 1; i < r->n; i++) {
        if (cedar_str_eq(r->f[i - 1].key, r->f[i].key)) {
            *dup = r->f[i].key;
            return true;
        }
    }
    return false;
}

const cedar_value *cedar_record_get(const cedar_record *r, const cedar_str *key)
{
    uint32_t lo = 0, hi = r->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = cedar_str_cmp(r->f[mid].key, key);
        if (c == 0)
            return &r->f[mid].v;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- rendering for messages ---- */

const char *cedar_kind_name(cedar_kind k)
{
    switch (k) {
    case CEDAR_V_BOOL:
        return "bool";
    case CEDAR_V_LONG:
        return "long";
    case CEDAR_V_STRING:
        return "string";
    case CEDAR_V_ENTITY:
        return "entity";
    case CEDAR_V_SET:
        return "set";
    case CEDAR_V_RECORD:
        return "record";
    case CEDAR_V_IPADDR:
        return "ipaddr";
    case CEDAR_V_DECIMAL:
        return "decimal";
    case CEDAR_V_DATETIME:
        return "datetime";
    case CEDAR_V_DURATION:
        return "duration";
    }
    return "unknown";
}

typedef struct shower {
    char *out;
    size_t cap, len;
    bool full;
} shower;

static void put(shower *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s->len + 4 >= s->cap) {
            s->full = true;
            return;
        }
        s->out[s->len++] = p[i];
    }
}

static void puts_(shower *s, const char *p)
{
    put(s, p, strlen(p));
}

static void put_quoted(shower *s, const char *p, size_t n)
{
    put(s, "\"", 1);
    for (size_t i = 0; i < n && !s->full; i++) {
        unsigned char c = (unsigned char)p[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(s, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u{%x}", c);
            puts_(s, esc);
        } else {
            put(s, (const char *)&p[i], 1);
        }
    }
    put(s, "\"", 1);
}

/* An extension value as its constructor call; text is used only when formatting (rc) worked. */
static void show_ext(shower *s, const char *fn, int rc, const char *text)
{
    puts_(s, fn);
    puts_(s, "(\"");
    puts_(s, rc == 0 ? text : "?");
    puts_(s, "\")");
}

static void show(shower *s, const cedar_value *v, int depth)
{
    char tmp[64];
    if (s->full)
        return;
    if (depth > 8) {
        puts_(s, "...");
        return;
    }
    switch (v->kind) {
    case CEDAR_V_BOOL:
        puts_(s, v->u.b ? "true" : "false");
        break;
    case CEDAR_V_LONG:
        snprintf(tmp, sizeof tmp, "%" PRId64, v->u.i);
        puts_(s, tmp);
        break;
    case CEDAR_V_STRING:
        put_quoted(s, v->u.s->p, v->u.s->len);
        break;
    case CEDAR_V_ENTITY:
        put(s, v->u.uid->type.p, v->u.uid->type.len);
        puts_(s, "::");
        put_quoted(s, v->u.uid->id.p, v->u.uid->id.len);
        break;
    case CEDAR_V_SET:
        puts_(s, "[");
        for (uint32_t i = 0; i < v->u.set->n && !s->full; i++) {
            if (i)
                puts_(s, ", ");
            show(s, &v->u.set->v[i], depth + 1);
        }
        puts_(s, "]");
        break;
    case CEDAR_V_RECORD:
        puts_(s, "{");
        for (uint32_t i = 0; i < v->u.rec->n && !s->full; i++) {
            if (i)
                puts_(s, ", ");
            put_quoted(s, v->u.rec->f[i].key->p, v->u.rec->f[i].key->len);
            puts_(s, ": ");
            show(s, &v->u.rec->f[i].v, depth + 1);
        }
        puts_(s, "}");
        break;
    case CEDAR_V_IPADDR:
        show_ext(s, "ip", cedar_ip_format(tmp, sizeof tmp, v->u.ip), tmp);
        break;
    case CEDAR_V_DECIMAL:
        show_ext(s, "decimal", cedar_decimal_format(tmp, sizeof tmp, v->u.i), tmp);
        break;
    case CEDAR_V_DATETIME:
        show_ext(s, "datetime", cedar_datetime_format(tmp, sizeof tmp, v->u.i), tmp);
        break;
    case CEDAR_V_DURATION:
        show_ext(s, "duration", cedar_duration_format(tmp, sizeof tmp, v->u.i), tmp);
        break;
    }
}

char *cedar_value_show(char *out, size_t cap, const cedar_value *v)
{
    shower s = {out, cap, 0, false};
    if (cap == 0)
        return out;
    show(&s, v, 0);
    if (s.full && cap >= 4) {
        memcpy(out + (s.len <= cap - 4 ? s.len : cap - 4), "...", 3);
        s.len = (s.len <= cap - 4 ? s.len : cap - 4) + 3;
    }
    out[s.len < cap ? s.len : cap - 1] = '\0';
    return out;
}

char *cedar_uid_show(char *out, size_t cap, const cedar_uid *u)
{
    cedar_value v = {.kind = CEDAR_V_ENTITY, .u.uid = u};
    return cedar_value_show(out, cap, &v);
}
