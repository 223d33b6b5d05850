/* ATTEST: a client's statement appended to the region's log, e.g. the signed statements of
 * `warden migrate` (the source set's Merkle root before it starts, the migrated set's root
 * and counts at the end, the deletion). keyd does not interpret the statement; it decides
 * whether the caller may attest (Cedar: principal, Action::"attest", Region::"<region>",
 * context as for a registration plus data_class "statement"), logs one "decision" entry
 * that carries the statement when allowed, and waits until a signed checkpoint covers it,
 * so that the statement is publicly visible when the answer arrives. The entry is an
 * ordinary decision entry: `warden keyd check` re-runs it like any other. */
#include "keyd/keyd_internal.h"
#include "keyd/protocol.h"

#include <stdlib.h>
#include <string.h>

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Decides the attest request; fills *allow, and pol/errs with the determining policies and
 * evaluation errors. */
static int decide(bool *allow, json_t *pol, json_t *errs, warden_keyd *k, const keyd_pset *p,
                  const char *principal, const json_t *ctx, warden_err *err)
{
    warden_request *rq = NULL;
    char *text = NULL;
    int rc = 0;
    json_t *c = json_copy((json_t *)ctx);
    json_t *j = NULL;
    *allow = false;
    if (c == NULL || json_object_set_new(c, "data_class", json_string("statement")) != 0) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    j = json_pack("{s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:O}", "principal", principal, "action",
                  "type", "Action", "id", "attest", "resource", "type", "Region", "id",
                  k->cfg.region, "context", c);
    if (j == NULL || (text = json_dumps(j, JSON_COMPACT)) == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = warden_request_parse_json(&rq, text, strlen(text), err)) != 0) {
        (void)warden_err_prefix(err, "request");
        goto out;
    }
    warden_authz *z = keyd_thread_authz(k, err);
    if (z == NULL) {
        rc = err != NULL ? err->code : WARDEN_ENOMEM;
        goto out;
    }
    warden_decision d;
    if ((rc = warden_authorize(&d, z, p->policies, p->entities, rq, err)) != 0)
        goto out;
    *allow = d.allow;
    for (size_t i = 0; i < d.n_reasons; i++)
        if (json_array_append_new(pol, json_string(d.reasons[i])) != 0)
            rc = WARDEN_ENOMEM;
    for (size_t i = 0; i < d.n_errors; i++)
        if (json_array_append_new(errs, json_pack("{s:s, s:s}", "policy", d.errors[i].policy,
                                                  "message", d.errors[i].message)) != 0)
            rc = WARDEN_ENOMEM;
    if (rc != 0)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
out:
    warden_request_free(rq);
    free(text);
    json_decref(j);
    json_decref(c);
    return rc;
}

int keyd_do_attest(json_t **answer, warden_keyd *k, const json_t *body, warden_err *err)
{
    const json_t *bctx = json_object_get(body, "context");
    const char *rid = str(body, "request_id"), *principal = str(body, "principal");
    /* site as access.c has it: always present, "unknown" when the caller sent none */
    const char *site = str(bctx, "site") != NULL ? str(bctx, "site") : "unknown";
    keyd_pset *p = keyd_pset_acquire(k);
    json_t *ctx = NULL, *entry = NULL, *pol = json_array(), *errs = json_array();
    bool allow = false;
    uint64_t index = 0;
    char t[32];
    int rc = 0;
    *answer = NULL;
    ctx = json_pack("{s:s, s:{s:{s:s, s:s}}, s:s, s:s, s:s, s:s}", "request_id", rid, "source_ip",
                    "__extn", "fn", "ip", "arg", str(bctx, "source_ip"), "location",
                    str(bctx, "location"), "site", site, "purpose", str(bctx, "purpose"), "region",
                    k->cfg.region);
    if (ctx == NULL || pol == NULL || errs == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = decide(&allow, pol, errs, k, p, principal, ctx, err)) != 0)
        goto out;
    const char *decision = allow ? "allow" : "deny";
    keyd_audit_time(t);
    entry =
        json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, "
                  "s:O, s:{s:{s:s, s:O, s:O}}, s:s, s:O, s:O, s:[]}",
                  "v", 1, "type", "decision", "time", t, "request_id", rid, "principal", principal,
                  "source", str(bctx, "source_ip"), "location", str(bctx, "location"), "site", site,
                  "action", "attest", "resource", "type", "Region", "id", k->cfg.region, "purpose",
                  str(bctx, "purpose"), "region", k->cfg.region, "policy_set", p->hash, "context",
                  ctx, "classes", "statement", "decision", decision, "policies", pol, "errors",
                  errs, "decision", decision, "policies", pol, "errors", errs, "redacted");
    if (entry == NULL || (allow && json_object_set_new(entry, "statement",
                                                       json_string(str(body, "statement"))) != 0)) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    /* Durable first; then wait for the checkpoint, so a verifier can already see it. */
    if ((rc = keyd_audit_append(&index, k, entry, err)) != 0)
        goto out;
    if (allow && (rc = warden_keyd_log_sync(k, err)) != 0)
        goto out;
    *answer =
        json_pack("{s:s, s:I, s:s, s:s, s:s}", "decision", decision, "log_index", (json_int_t)index,
                  "policy_set", p->hash, "request_id", rid, "outcome", "ok");
    if (*answer == NULL)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
out:
    json_decref(entry);
    json_decref(ctx);
    json_decref(pol);
    json_decref(errs);
    keyd_pset_put(p, k);
    return rc;
}
