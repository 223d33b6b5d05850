/* Cedar runtime values: bool, long, string, entity uid, set, record and the extension
 * types (ipaddr, decimal, datetime, duration). Internal to src/policy/.
 *
 * Invariants:
 * - Values are immutable once built and never own memory: sets, records, strings and
 *   ipaddrs live in an arena (the entity store's, the request's or the evaluation's).
 * - A set holds no two equal elements; equality of sets is set equality.
 * - A record's fields are sorted by key (hash, then bytes) with no duplicate keys, so
 *   lookup is a binary search and equal records have equal field sequences.
 * - Every cedar_str carries hash == warden_policy_hash(p, len). */
#ifndef WARDEN_POLICY_VALUE_H
#define WARDEN_POLICY_VALUE_H

#include "policy/ast.h"
#include "policy/ext.h"
#include "policy/varena.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum cedar_kind {
    CEDAR_V_BOOL,
    CEDAR_V_LONG,
    CEDAR_V_STRING,
    CEDAR_V_ENTITY,
    CEDAR_V_SET,
    CEDAR_V_RECORD,
    CEDAR_V_IPADDR,
    CEDAR_V_DECIMAL,  /* u.i = value * 10^4 */
    CEDAR_V_DATETIME, /* u.i = ms since the epoch */
    CEDAR_V_DURATION  /* u.i = ms */
} cedar_kind;

/* An entity uid; hash combines the type's and the id's hashes. */
typedef struct cedar_uid {
    cedar_str type;
    cedar_str id;
    uint64_t hash;
} cedar_uid;

typedef struct cedar_set cedar_set;
typedef struct cedar_record cedar_record;

typedef struct cedar_value {
    cedar_kind kind;
    union {
        bool b;
        int64_t i;
        const cedar_str *s;
        const cedar_uid *uid;
        const cedar_set *set;
        const cedar_record *rec;
        const cedar_ipaddr *ip;
    } u;
} cedar_value;

struct cedar_set {
    uint32_t n;
    uint32_t cap;     /* slots in tab (power of two), 0 when the set is small */
    uint32_t *tab;    /* open addressing: index+1 into v, 0 = empty; NULL when small */
    uint64_t *hashes; /* hash of each element (parallel to v) */
    cedar_value v[];  /* n elements, distinct */
};

typedef struct cedar_field {
    const cedar_str *key;
    cedar_value v;
} cedar_field;

struct cedar_record {
    uint32_t n;
    cedar_field f[]; /* sorted by cedar_str_cmp of keys */
};

/* Sets at least this large get a hash table for membership. */
#define CEDAR_SET_TABLE_MIN 8

/* The empty record (context defaults to it). */
extern const cedar_record cedar_empty_record;

/* ---- strings and uids ---- */

/* Fills s with p/len (borrowed) and its hash. */
void cedar_str_init(cedar_str *s, const char *p, size_t len);
/* Byte equality (hash first). */
bool cedar_str_eq(const cedar_str *a, const cedar_str *b);
/* Total order used to sort record fields: by hash, then length, then bytes. */
int cedar_str_cmp(const cedar_str *a, const cedar_str *b);
/* Fills u from type and id (borrowed) and computes the combined hash. */
void cedar_uid_init(cedar_uid *u, const char *type, size_t type_len, const char *id, size_t id_len);
/* Fills u from interned AST strings (copied by value). */
void cedar_uid_from_euid(cedar_uid *u, const cedar_euid *e);
/* Uid equality (hash first). */
bool cedar_uid_eq(const cedar_uid *a, const cedar_uid *b);

/* ---- values ---- */

/* Cedar `==`: structural; values of different kinds are unequal (never an error). */
bool cedar_value_eq(const cedar_value *a, const cedar_value *b);
/* A hash consistent with cedar_value_eq (set hashing is order-independent). */
uint64_t cedar_value_hash(const cedar_value *v);
/* Membership in a set (hash table when the set is large). */
bool cedar_set_contains(const cedar_set *s, const cedar_value *v);
/* Builds a set from n values (copied), dropping duplicates. NULL when out of memory. */
cedar_set *cedar_set_build(cedar_varena *a, const cedar_value *v, size_t n);
/* Builds a record from n fields (copied) with distinct keys, sorting them. NULL when out
 * of memory. The caller guarantees the keys are distinct (see cedar_record_has_dup). */
cedar_record *cedar_record_build(cedar_varena *a, const cedar_field *f, size_t n);
/* After sorting, true when two adjacent keys are equal (JSON loaders report it). */
bool cedar_record_has_dup(const cedar_record *r, const cedar_str **dup);
/* The value of key in r, or NULL when absent. */
const cedar_value *cedar_record_get(const cedar_record *r, const cedar_str *key);
/* A static name of the value's type for messages ("long", "set", "ipaddr", ...). */
const char *cedar_kind_name(cedar_kind k);
/* Appends a Cedar-syntax rendering of v to out, truncated to cap bytes with "..." (for
 * error messages). Returns the NUL-terminated out. */
char *cedar_value_show(char *out, size_t cap, const cedar_value *v);
/* Renders uid as Type::"id" with escapes into out (NUL-terminated, truncated). */
char *cedar_uid_show(char *out, size_t cap, const cedar_uid *u);

#endif
