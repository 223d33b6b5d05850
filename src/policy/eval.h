/* The Cedar evaluator: evaluates parsed expressions (ast.h) and policy scopes against a
 * request and an entity store, with the reference's semantics and errors. Internal to
 * src/policy/.
 *
 * An evaluation error (type error, missing attribute, overflow, ...) is returned as -1
 * with a message in ctx->msg; it never aborts the process. Scratch values live in
 * ctx->arena, which the caller resets between decisions. */
#ifndef WARDEN_POLICY_EVAL_H
#define WARDEN_POLICY_EVAL_H

#include "policy/ast.h"
#include "policy/entities.h"
#include "policy/value.h"

#include <stdbool.h>
#include <stddef.h>

#define CEDAR_EVAL_MSG_MAX 384

typedef struct cedar_evctx {
    const struct warden_entities *ents; /* never NULL (may be empty) */
    cedar_value var[4];                 /* indexed by cedar_var */
    const cedar_entity *ent[3];         /* principal, action, resource (NULL when absent) */
    cedar_varena *arena;
    char msg[CEDAR_EVAL_MSG_MAX];
} cedar_evctx;

/* The entity for uid u (NULL when absent), using the request's cached lookups. */
const cedar_entity *cedar_eval_find(const cedar_evctx *ctx, const cedar_uid *u);

/* Evaluates e. Returns 0 with *out set, or -1 with ctx->msg describing the error. */
int cedar_eval(cedar_value *out, const cedar_expr *e, cedar_evctx *ctx);

/* Folds constant subtrees (literals, entity references, extension constructors over
 * literal strings that parse, sets and records of constants) into prebuilt values hung on
 * cedar_expr.aux, allocated in a (which must outlive the tree's use). Idempotent; must run
 * single-threaded before the tree is evaluated concurrently. Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int cedar_eval_prepare(cedar_expr *e, cedar_varena *a, warden_err *err);

/* Finds the extension function or method by its Cedar name ("ip", "lessThan", ...).
 * Returns false when there is none. */
bool cedar_ext_lookup(cedar_ext *out, const char *name, size_t len);
/* Applies extension function fn to n evaluated arguments (receiver first for methods).
 * Returns 0, or -1 with msg filled (type error, arity, invalid literal, overflow). */
int cedar_ext_apply(cedar_value *out, cedar_ext fn, const cedar_value *args, uint32_t n,
                    cedar_varena *a, char *msg, size_t cap);

#endif
