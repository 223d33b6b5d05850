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

int keyd_do_attest(json_t **answer, warden_keyd *k, const json_t *body, warden_err *err)
{
    const json_t *bctx = json_object_get(body, "context");
    const char *rid = str(body, "request_id"), *principal = str(body, "principal");
    /* site as access.c has it: always present, "unknown" when the caller sent none */
    const char *site = str(bctx, "site") != NULL ? str(bctx, "site") : "unknown";
    keyd_pset *p = keyd_pset_acquire(k);
    json_t *ctx = NULL, *entry = NULL, *pol = NULL, *errs = NULL;
    bool allow = false;
    uint64_t index = 0;
    char t[32];
    int rc = 0;
    *answer = NULL;
    ctx = json_pack("{s:s, s:{s:{s:s, s:s}}, s:s, s:s, s:s, s:s}", "request_id", rid, "source_ip",
                    "__extn", "fn", "ip", "arg", str(bctx, "source_ip"), "location",
                    str(bctx, "location"), "site", site, "purpose", str(bctx, "purpose"), "region",
                    k->cfg.region);
    if (ctx == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = keyd_decide(&allow, &pol, &errs, k, p, principal, "attest", "Region",
                          k->cfg.region, ctx, "statement", err)) != 0)
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
