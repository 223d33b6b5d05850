/* The entity store (Cedar's `Entities`) and the JSON loaders for entities, values and
 * requests. Internal to src/policy/; the public face is include/warden/policy.h.
 *
 * Invariants: the store is immutable after loading and may be read by many threads;
 * every entity's ancestor set is the transitive closure of its parents, computed once at
 * load (cycles are rejected, as the reference does), so `in` is a hash lookup. */
#ifndef WARDEN_POLICY_ENTITIES_H
#define WARDEN_POLICY_ENTITIES_H

#include "policy/value.h"
#include "warden/common.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of sets/records accepted from JSON (jansson itself stops at 2048). */
#define CEDAR_JSON_MAX_DEPTH 128u
/* Largest entities file and request line accepted. */
#define CEDAR_MAX_ENTITIES_BYTES ((size_t)256 * 1024 * 1024)
#define CEDAR_MAX_REQUEST_BYTES ((size_t)16 * 1024 * 1024)

typedef struct cedar_entity {
    cedar_uid uid;
    const cedar_record *attrs; /* never NULL */
    const cedar_record *tags;  /* never NULL (empty when the JSON had none) */
    const cedar_uid **anc;     /* transitive ancestors, distinct, excluding itself */
    uint32_t n_anc;
    uint32_t anc_cap;  /* slots in anc_tab (power of two), 0 when n_anc is small */
    uint32_t *anc_tab; /* open addressing over anc: index+1, 0 empty */
    /* load-time only */
    const cedar_uid *parents;
    uint32_t n_parents;
    uint8_t color;
} cedar_entity;

struct warden_entities {
    cedar_varena arena;
    cedar_entity *ents;
    size_t n;
    uint32_t *tab; /* open addressing by uid hash: index+1, 0 empty */
    size_t cap;
};

/* The entity with this uid, or NULL. */
const cedar_entity *cedar_entities_find(const struct warden_entities *s, const cedar_uid *u);
/* `a in b` for uids: equal, or b is an ancestor of a (false when a is not in the store). */
bool cedar_entities_in(const struct warden_entities *s, const cedar_uid *a, const cedar_uid *b);
/* Ancestor test on an entity already found. */
bool cedar_entity_has_ancestor(const cedar_entity *e, const cedar_uid *b);

/* Converts JSON in Cedar's value format (entity attrs, tags, context) into a value in
 * arena a: `{"__entity":{"type","id"}}`, `{"__extn":{"fn","arg"|"args"}}`, arrays as
 * sets, objects as records; null, non-integer numbers and the removed `{"__expr": ".."}`
 * escape are errors. what names the value
 * in messages ("attribute `x` of User::\"a\""). Errors: WARDEN_EINVAL, WARDEN_ELIMIT
 * (nesting), WARDEN_ENOMEM. */
WARDEN_MUST_USE int cedar_json_to_value(cedar_value *out, const json_t *j, cedar_varena *a,
                                        const char *what, warden_err *err);
/* Converts a JSON object into a record member by member, without treating a lone
 * "__entity"/"__extn" key as an escape (entity attrs and tags are attribute maps in the
 * reference). Errors: as cedar_json_to_value. */
WARDEN_MUST_USE int cedar_json_to_record(cedar_value *out, const json_t *j, cedar_varena *a,
                                         const char *what, warden_err *err);
/* Converts an entity reference {"type","id"} or {"__entity":{...}} (and, when
 * allow_string, the Cedar text form Type::"id") into *out with strings in a.
 * Errors: WARDEN_EINVAL, WARDEN_ENOMEM. */
WARDEN_MUST_USE int cedar_json_to_uid(cedar_uid *out, const json_t *j, cedar_varena *a,
                                      bool allow_string, const char *what, warden_err *err);
/* Parses the Cedar entity reference text `Ns::Type::"id"` (whitespace allowed around
 * tokens, string escapes as in policies). Errors: WARDEN_EINVAL, WARDEN_ENOMEM. */
WARDEN_MUST_USE int cedar_parse_uid_text(cedar_uid *out, const char *p, size_t len, cedar_varena *a,
                                         warden_err *err);
/* True when p/len is a normalized Cedar entity type name: identifiers joined by "::",
 * none reserved (true, false, if, then, else, in, is, like, has, __cedar). */
bool cedar_type_name_valid(const char *p, size_t len);

#endif
