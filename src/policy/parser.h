/* Internal API of the Cedar parser: policy sets (arena-owned ASTs, see ast.h),
 * parsing policy text, single expressions and entity references, and template
 * linking. Untrusted text is always passed as pointer + length, never assumed
 * NUL-terminated. Errors are "file:line:col: message" in warden_err, code
 * WARDEN_EPARSE (or WARDEN_ELIMIT for the size/depth/node bounds below).
 *
 * Thread safety: a set is not synchronised. Parsing and linking mutate it; once the
 * caller stops mutating it, any number of threads may read it concurrently.
 *
 * Stack: parsing recurses at most CEDAR_MAX_DEPTH levels (about 1 KiB each, 4 KiB
 * under the sanitizers), and printing recurses over the tree's height (at most
 * CEDAR_MAX_HEIGHT, a few hundred bytes each): run them on a thread with at least
 * 512 KiB of stack (the default 8 MiB is plenty). */
#ifndef WARDEN_POLICY_PARSER_H
#define WARDEN_POLICY_PARSER_H

#include "policy/ast.h"
#include "warden/common.h"
#include "warden/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds that keep hostile input from exhausting the stack or memory:
 * - CEDAR_MAX_TEXT: bytes of policy text per parse call;
 * - CEDAR_MAX_DEPTH: syntactic nesting of ( [ { if and the scope's parentheses;
 * - CEDAR_MAX_HEIGHT: height of an expression tree, so that long `a || b || ...`
 *   chains stay safe for recursive evaluators and printers;
 * - CEDAR_MAX_NODES: expression nodes, scope entities, annotations and policies
 *   per parse call. */
#define CEDAR_MAX_TEXT (16u * 1024u * 1024u)
#define CEDAR_MAX_DEPTH 200u
#define CEDAR_MAX_HEIGHT 1000u
#define CEDAR_MAX_NODES (2u * 1024u * 1024u)

typedef struct cedar_pset_internal cedar_pset_internal;

/* A policy set: static and linked policies (evaluated by the authorizer) and
 * templates (not evaluated themselves), each array in insertion order. The arrays
 * may move when the set grows (parse, link): index them afresh after a mutation;
 * the policies themselves never move. */
typedef struct cedar_pset {
    cedar_policy **policies; /* static policies, then linked ones as they are linked */
    size_t n_policies;
    cedar_policy **templates;
    size_t n_templates;
    cedar_pset_internal *in; /* arena, interner, id index: private to the parser */
} cedar_pset;

/* 64-bit hash of bytes (the one stored in cedar_str.hash), so that the evaluator's
 * tables of entity ids and attribute names hash the same way. Not keyed: tables
 * built on it over attacker-chosen keys must bound their probe lengths. */
uint64_t warden_policy_hash(const void *p, size_t len);

/* Allocates an empty set. Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_policy_set_new(cedar_pset **out, warden_err *err);

/* Frees the set and everything parsed into it (one arena release); NULL is accepted. */
void warden_policy_set_free(cedar_pset *set);

/* Parses Cedar policy text (any number of policies and templates) and adds them to
 * set. Ids are assigned as the reference does for one text: "policy<N>" with N
 * counting every policy and template in source order, starting at the number of
 * policies and templates this set received from earlier calls (0 for a
 * new set). file names the source in messages ("policy.cedar"). All or nothing: on
 * error the set's policies and templates are unchanged (strings interned on the way
 * stay in the arena until the set is freed).
 * Errors: WARDEN_EPARSE (syntax or a rule the reference enforces at parse time),
 * WARDEN_ELIMIT (text > CEDAR_MAX_TEXT, nesting > CEDAR_MAX_DEPTH, tree height >
 * CEDAR_MAX_HEIGHT, nodes > CEDAR_MAX_NODES), WARDEN_EEXIST (an assigned id is
 * already in the set, e.g. taken by a linked policy), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_policy_set_parse(cedar_pset *set, const char *file, const uint8_t *text,
                                            size_t len, warden_err *err);

/* Parses one Cedar expression (as inside `when { ... }`) into set's arena; *out stays
 * valid until the set is freed. Slots are rejected. Errors: as warden_policy_set_parse. */
WARDEN_MUST_USE int warden_policy_set_parse_expr(cedar_expr **out, cedar_pset *set,
                                                 const char *file, const uint8_t *text, size_t len,
                                                 warden_err *err);

/* Parses an entity reference `Type::"id"` (e.g. a --principal argument) with strings
 * interned in set. Errors: WARDEN_EPARSE, WARDEN_ELIMIT, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_policy_set_parse_euid(cedar_euid *out, cedar_pset *set, const char *file,
                                                 const uint8_t *text, size_t len, warden_err *err);

/* Interns bytes in set: the same pointer for equal bytes. Errors: WARDEN_ENOMEM,
 * WARDEN_ELIMIT (len > CEDAR_MAX_TEXT). */
WARDEN_MUST_USE int warden_policy_set_intern(const cedar_str **out, cedar_pset *set, const void *p,
                                             size_t len, warden_err *err);

/* True when p[0..len) is a valid entity type name in normalized form ("A" or
 * "A::B::C": ASCII identifiers, no spaces, no reserved word such as `if` or `in`, no
 * `__cedar` component), as the reference requires of entity types given in JSON. */
bool warden_policy_valid_type(const void *p, size_t len);

/* Allocates size zeroed bytes (8-byte aligned) in set's arena, freed with the set:
 * for evaluator data hung on cedar_expr.aux. Returns NULL when memory is exhausted. */
void *warden_policy_set_alloc(cedar_pset *set, size_t size);

/* Finds a static or linked policy (want_template false) or a template (true) by id;
 * NULL when absent. */
const cedar_policy *warden_policy_set_find(const cedar_pset *set, const char *id, size_t id_len,
                                           bool want_template);

/* Links template template_id into a new policy new_id, filling ?principal with
 * *principal and ?resource with *resource (NULL for a slot the template lacks), and
 * appends it to set->policies; *out (if not NULL) is the new policy. The euid strings
 * (type and id both non-NULL) may come from any set or be caller-built: they are
 * interned into this one. Errors: WARDEN_ENOTFOUND (no such template), WARDEN_EINVAL
 * (a slot value missing, given for a slot the template lacks, or with an invalid
 * entity type name), WARDEN_EEXIST (new_id is already a policy or template id),
 * WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_policy_set_link(const cedar_policy **out, cedar_pset *set,
                                           const char *template_id, size_t template_id_len,
                                           const char *new_id, size_t new_id_len,
                                           const cedar_euid *principal, const cedar_euid *resource,
                                           warden_err *err);

/* Appends e as Cedar text that parses back to the same tree, with parentheses only
 * where the grammar needs them. Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_policy_expr_print(warden_buf *out, const cedar_expr *e);

/* As warden_policy_expr_print, but every operator is parenthesized: shows the shape
 * of the tree (tests, debugging). Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_policy_expr_print_full(warden_buf *out, const cedar_expr *e);

/* Appends e as Cedar text, `Type::"id"` with the id escaped as a Cedar string literal
 * (for messages, logs and reports). Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_policy_euid_print(warden_buf *out, const cedar_euid *e);

/* Appends p as Cedar policy text (annotations, scope, conditions; a linked policy
 * prints with its slots filled). Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_policy_print(warden_buf *out, const cedar_policy *p);

#endif
