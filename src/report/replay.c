/* The replay report: keyd's own re-run (warden_keyd_audit_replay, the one implementation
 * shared with `warden keyd check`) over a log and archive read from a directory or URL,
 * with every differing class listed instead of stopping at the first. */
#include "report/report_internal.h"
#include "warden/keyd.h"

#include <string.h>

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int on_diff(void *ctx, const warden_keyd_replay_diff *d, warden_err *err)
{
    json_t *rows = ctx;
    const json_t *e = d->entry;
    json_t *row = json_pack("[I, s?, s?, s?, s?, s?, s, s, s, O, O]", (json_int_t)d->index,
                            str(e, "time"), str(e, "request_id"), str(e, "principal"),
                            str(e, "action"), str(json_object_get(e, "resource"), "id"), d->klass,
                            d->logged_allow ? "allow" : "deny", d->rerun_allow ? "allow" : "deny",
                            d->logged_policies, d->rerun_policies);
    if (row == NULL || json_array_append_new(rows, row) != 0)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    return 0;
}

int warden_report_replay(json_t **out, uint64_t *differ, const warden_report_log *src,
                         warden_err *err)
{
    static const char *const COLS[] = {
        "index", "time",   "request", "principal",       "action",          "resource",
        "class", "logged", "re-run",  "logged policies", "re-run policies", NULL};
    warden_tlog_source *log = NULL, *arch = NULL;
    warden_keyd_replay_stats st;
    memset(&st, 0, sizeof st);
    *out = NULL;
    *differ = 0;
    json_t *doc = report_doc_new("replay", "Decisions re-run from the audit log");
    json_t *rows = doc != NULL
                       ? report_table_add(doc, "differences",
                                          "Decisions whose re-run differs from the log", COLS)
                       : NULL;
    int rc = rows == NULL ? warden_err_set(err, WARDEN_ENOMEM, "out of memory") : 0;
    if (rc == 0 && (rc = report_open(&log, &arch, src, err)) == 0)
        rc = warden_keyd_audit_replay(&st, log, arch, src->vkey, on_diff, rows, err);
    if (rc == 0 &&
        (report_summary_add(doc, "log entries (verified)", json_integer((json_int_t)st.entries)) |
         report_summary_add(doc, "decisions re-run", json_integer((json_int_t)st.decisions)) |
         report_summary_add(doc, "refusals (nothing to re-run)",
                            json_integer((json_int_t)st.refusals)) |
         report_summary_add(doc, "decisions that differ", json_integer((json_int_t)st.differ))) !=
            0)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    warden_tlog_source_free(log);
    warden_tlog_source_free(arch);
    if (rc != 0) {
        json_decref(doc);
        return rc;
    }
    *differ = st.differ;
    *out = doc;
    return 0;
}
