/* Cedar authorization: policy sets, entity stores, requests and decisions, with the
 * semantics of the reference implementation (Cedar 4.x).
 *
 * Typical use:
 *     warden_policies_new(&ps, &err);  warden_policies_add_text(ps, "p.cedar", text, len, &err);
 *     warden_entities_parse_json(&es, "e.json", json, len, &err);
 *     warden_authz_new(&z, &err);
 *     warden_request_parse_json(&rq, line, len, &err);
 *     warden_authorize(&d, z, ps, es, rq, &err);   -> d.allow, d.reasons, d.errors
 *
 * Lifetimes and threads: policies and entities are immutable once loaded (adding text or
 * links is the only mutation) and may be shared by any number of threads; a warden_authz
 * is one thread's scratch space, and the decision it returns is valid until its next
 * warden_authorize call or its free. Every input is untrusted: bad input yields an error
 * (file:line:col where known), never a crash; sizes and nesting are bounded. */
#ifndef WARDEN_POLICY_H
#define WARDEN_POLICY_H

#include "warden/common.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>

typedef struct warden_policies warden_policies;
typedef struct warden_entities warden_entities;
typedef struct warden_request warden_request;
typedef struct warden_authz warden_authz;

/* ---- policy sets ---- */

/* Creates an empty policy set. Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_policies_new(warden_policies **out, warden_err *err);
/* Frees the set; NULL is accepted. */
void warden_policies_free(warden_policies *ps);
/* Parses Cedar policy text (policies and templates) into ps; ids are "policy0",
 * "policy1", ... in source order, as the reference assigns them. file names the source
 * in messages. All or nothing. Errors: WARDEN_EPARSE ("file:line:col: message"),
 * WARDEN_ELIMIT (size, nesting), WARDEN_EEXIST (id clash), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_policies_add_text(warden_policies *ps, const char *file,
                                             const char *text, size_t len, warden_err *err);
/* Links templates from JSON in cedar-wasm's templateLinks format, read as strictly as
 * cedar-wasm does: [{"templateId":"policy2","newId":"link0","values":{"?principal":
 * {"type":..,"id":..}}}] (or {"__entity":{..}} values; no other fields, no Type::"id" text).
 * Links are applied in order; on error the links before the bad one stay.
 * Errors: WARDEN_EPARSE (JSON syntax), WARDEN_EINVAL (shape, unknown field or slot, missing
 * or extra slot value), WARDEN_ENOTFOUND (no such template), WARDEN_EEXIST (newId already
 * used), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_policies_link_json(warden_policies *ps, const char *file,
                                              const char *json, size_t len, warden_err *err);
/* Number of policies that are evaluated (static and linked; templates excluded). */
size_t warden_policies_count(const warden_policies *ps);

/* ---- entities ---- */

/* Loads Cedar's entities JSON: an array of {"uid":..,"attrs":{..},"parents":[..],
 * "tags":{..}} without a schema, accepting and rejecting what the reference does: an entity
 * repeated identically is accepted, a differing duplicate, duplicate keys, nulls,
 * non-integer numbers and cycles in the hierarchy are errors; attrs and tags are maps (a
 * lone "__entity" key there is an attribute). Computes the transitive closure of parents.
 * Errors: WARDEN_EPARSE (JSON syntax, with line:col), WARDEN_EINVAL (shape or values),
 * WARDEN_ELIMIT (size > 256 MiB, nesting > 128), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_entities_parse_json(warden_entities **out, const char *file,
                                               const char *json, size_t len, warden_err *err);
/* Creates an empty store. Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_entities_new_empty(warden_entities **out, warden_err *err);
/* Frees the store; NULL is accepted. */
void warden_entities_free(warden_entities *es);
/* Number of entities in the store. */
size_t warden_entities_count(const warden_entities *es);

/* ---- requests ---- */

/* Parses one request {"principal":..,"action":..,"resource":..,"context":{..}} where each
 * entity is {"type":..,"id":..}, {"__entity":{..}} or the text Type::"id"; context is
 * optional (empty record) and uses the entity-attribute value format.
 * Errors: WARDEN_EPARSE (JSON syntax), WARDEN_EINVAL, WARDEN_ELIMIT, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_request_parse_json(warden_request **out, const char *json, size_t len,
                                              warden_err *err);
/* As warden_request_parse_json for a request already parsed by jansson (borrowed), so a
 * caller that builds requests in memory does not print and re-parse them. Errors: as
 * warden_request_parse_json but WARDEN_EPARSE. */
WARDEN_MUST_USE int warden_request_from_json(warden_request **out, const json_t *req,
                                             warden_err *err);
/* Builds a request from Type::"id" texts and an optional context JSON object (NULL for
 * {}). Errors: as warden_request_parse_json. */
WARDEN_MUST_USE int warden_request_new(warden_request **out, const char *principal,
                                       const char *action, const char *resource,
                                       const char *context_json, warden_err *err);
/* Frees the request; NULL is accepted. */
void warden_request_free(warden_request *rq);
/* Writes the request's principal (which 0), action (1) or resource (2) as Type::"id"
 * into out (NUL-terminated, truncated to cap). Returns out. */
char *warden_request_show(const warden_request *rq, int which, char *out, size_t cap);

/* ---- decisions ---- */

typedef struct warden_policy_error {
    const char *policy;  /* id of the policy whose evaluation failed */
    const char *message; /* why, e.g. "type error: expected bool, got long" */
} warden_policy_error;

typedef struct warden_decision {
    bool allow;
    /* Determining policies, sorted by id (byte order): the satisfied forbids when a
     * forbid denies, else the satisfied permits when allowed, else none. */
    const char *const *reasons;
    size_t n_reasons;
    /* Policies skipped because their evaluation failed, sorted by id. */
    const warden_policy_error *errors;
    size_t n_errors;
} warden_decision;

/* Creates one thread's scratch space for decisions. Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_authz_new(warden_authz **out, warden_err *err);
/* Frees it; NULL is accepted. Decisions it returned become invalid. */
void warden_authz_free(warden_authz *z);
/* Decides rq: allow iff some permit is satisfied and no forbid is; a policy whose
 * evaluation errors is skipped and listed in out->errors. Only policies whose scope can
 * match (by the principal's, resource's and action's ancestors) are evaluated.
 * out's arrays are valid until the next call on z. Errors (no decision made):
 * WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_authorize(warden_decision *out, warden_authz *z,
                                     const warden_policies *ps, const warden_entities *es,
                                     const warden_request *rq, warden_err *err);

#endif
