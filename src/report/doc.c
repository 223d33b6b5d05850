/* The report document's builders and the log/archive opener shared by the reports. */
#include "report/report_internal.h"

#include <string.h>
#include <time.h>

json_t *report_doc_new(const char *kind, const char *title)
{
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        now[0] = '\0';
    return json_pack("{s:s, s:s, s:s, s:[], s:[]}", "report", kind, "title", title, "generated",
                     now, "summary", "tables");
}

int report_summary_add(json_t *doc, const char *label, json_t *value)
{
    json_t *row = value != NULL ? json_pack("[s, o]", label, value) : NULL;
    if (row == NULL || json_array_append_new(json_object_get(doc, "summary"), row) != 0)
        return WARDEN_ENOMEM;
    return 0;
}

json_t *report_table_add(json_t *doc, const char *name, const char *title,
                         const char *const *columns)
{
    json_t *cols = json_array(), *rows = json_array();
    for (size_t i = 0; cols != NULL && columns[i] != NULL; i++)
        if (json_array_append_new(cols, json_string(columns[i])) != 0) {
            json_decref(cols);
            cols = NULL;
        }
    json_t *t = cols != NULL && rows != NULL
                    ? json_pack("{s:s, s:s, s:o, s:O}", "name", name, "title", title, "columns",
                                cols, "rows", rows)
                    : NULL;
    if (t == NULL) {
        if (cols != NULL && rows != NULL) /* json_pack failed: it stole nothing we can trust */
            cols = NULL;
        json_decref(cols);
        json_decref(rows);
        return NULL;
    }
    json_decref(rows); /* the table holds it now */
    if (json_array_append_new(json_object_get(doc, "tables"), t) != 0)
        return NULL;
    return rows;
}

static bool is_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

static int open_one(warden_tlog_source **out, const char *where, warden_err *err)
{
    return is_url(where) ? warden_tlog_source_url_new(out, where, err)
                         : warden_tlog_source_dir_new(out, where, err);
}

int report_open(warden_tlog_source **log, warden_tlog_source **archive,
                const warden_report_log *src, warden_err *err)
{
    warden_buf def;
    warden_buf_init(&def);
    int rc = 0;
    if (log != NULL && (rc = open_one(log, src->log, err)) != 0)
        goto out;
    if (archive == NULL)
        goto out;
    const char *a = src->archive;
    if (a == NULL) {
        /* Next to the log: keyd's directory default, or the path a gateway serves it at. */
        size_t n = strlen(src->log);
        while (n > 1 && src->log[n - 1] == '/')
            n--;
        if (warden_buf_append(&def, src->log, n) != 0 ||
            warden_buf_puts(&def, is_url(src->log) ? "/policysets" : ".policysets") != 0 ||
            warden_buf_cstr(&def) != 0) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
        a = (const char *)def.p;
    }
    rc = open_one(archive, a, err);
out:
    if (rc != 0 && log != NULL) {
        warden_tlog_source_free(*log);
        *log = NULL;
    }
    warden_buf_fini(&def);
    return rc;
}

int report_cell_text(warden_buf *out, const json_t *v)
{
    int rc = 0;
    if (json_is_string(v))
        rc = warden_buf_append(out, json_string_value(v), json_string_length(v));
    else if (json_is_integer(v))
        rc = warden_buf_printf(out, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        rc = warden_buf_printf(out, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        rc = warden_buf_puts(out, json_is_true(v) ? "yes" : "no");
    else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (i > 0 && (rc = warden_buf_puts(out, ", ")) != 0)
                break;
            if ((rc = report_cell_text(out, x)) != 0)
                break;
        }
    }
    return rc != 0 ? WARDEN_ENOMEM : 0;
}
