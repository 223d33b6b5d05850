/* Plain-text rendering of a report document: a summary, then each table with aligned
 * columns, then the timeline as a table. Cell text comes from the log, so control bytes
 * are replaced (a log must not drive the auditor's terminal) and long cells are cut. */
#include "report/report_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CELL_MAX 72

/* The display form of v: control bytes as '?', at most max bytes (not splitting a UTF-8
 * sequence). */
static int cell_max(warden_buf *out, const json_t *v, size_t max)
{
    warden_buf t;
    warden_buf_init(&t);
    int rc = report_cell_text(&t, v);
    size_t n = t.len;
    if (n > max) {
        n = max - 3;
        while (n > 0 && (t.p[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint8_t ch = t.p[i] < 0x20 || t.p[i] == 0x7f ? '?' : t.p[i];
        rc = warden_buf_append(out, &ch, 1);
    }
    if (rc == 0 && n < t.len)
        rc = warden_buf_puts(out, "...");
    warden_buf_fini(&t);
    return rc != 0 ? WARDEN_ENOMEM : 0;
}

static int cell(warden_buf *out, const json_t *v)
{
    return cell_max(out, v, CELL_MAX);
}

/* Display width of a cell: bytes, counting a UTF-8 sequence as one column. */
static size_t width(const warden_buf *b)
{
    size_t w = 0;
    for (size_t i = 0; i < b->len; i++)
        w += (b->p[i] & 0xC0) != 0x80;
    return w;
}

static int pad(warden_buf *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (warden_buf_append(out, " ", 1) != 0)
            return WARDEN_ENOMEM;
    return 0;
}

/* Renders columns (array of strings) and rows (arrays of cells). */
static int table(warden_buf *out, const char *title, const json_t *columns, const json_t *rows)
{
    size_t nc = json_array_size(columns), nr = json_array_size(rows);
    size_t *w = calloc(nc ? nc : 1, sizeof *w);
    warden_buf *cells = calloc((nr + 1) * (nc ? nc : 1), sizeof *cells);
    int rc = w == NULL || cells == NULL ? WARDEN_ENOMEM : 0;
    for (size_t r = 0; rc == 0 && r <= nr; r++)
        for (size_t c = 0; rc == 0 && c < nc; c++) {
            warden_buf *b = &cells[r * nc + c];
            warden_buf_init(b);
            rc = cell(b, r == 0 ? json_array_get(columns, c)
                                : json_array_get(json_array_get(rows, r - 1), c));
            if (width(b) > w[c])
                w[c] = width(b);
        }
    if (rc == 0)
        rc = warden_buf_printf(out, "\n== %s ==\n", title);
    bool header = false; /* a table whose column names are all empty has no header */
    for (size_t c = 0; c < nc; c++)
        header |= json_string_length(json_array_get(columns, c)) > 0;
    for (size_t r = header ? 0 : 1; rc == 0 && r <= nr; r++) {
        for (size_t c = 0; rc == 0 && c < nc; c++) {
            warden_buf *b = &cells[r * nc + c];
            if ((c > 0 && warden_buf_puts(out, " | ") != 0) ||
                warden_buf_append(out, b->p, b->len) != 0 ||
                (c + 1 < nc && pad(out, w[c] - width(b)) != 0))
                rc = WARDEN_ENOMEM;
        }
        if (rc == 0 && warden_buf_puts(out, "\n") != 0)
            rc = WARDEN_ENOMEM;
        for (size_t c = 0; rc == 0 && r == 0 && c < nc; c++) {
            if ((c > 0 && warden_buf_puts(out, "-+-") != 0) || warden_buf_puts(out, "") != 0)
                rc = WARDEN_ENOMEM;
            for (size_t i = 0; rc == 0 && i < w[c]; i++)
                rc = warden_buf_append(out, "-", 1);
            if (rc == 0 && c + 1 == nc)
                rc = warden_buf_puts(out, "\n");
        }
    }
    if (rc == 0 && nr == 0)
        rc = warden_buf_puts(out, "(none)\n");
    for (size_t i = 0; cells != NULL && i < (nr + 1) * nc; i++)
        warden_buf_fini(&cells[i]);
    free(cells);
    free(w);
    return rc != 0 ? WARDEN_ENOMEM : 0;
}

int warden_report_render_text(warden_buf *out, const json_t *report, warden_err *err)
{
    const json_t *summary = json_object_get(report, "summary");
    const json_t *tables = json_object_get(report, "tables");
    const json_t *tl = json_object_get(report, "timeline");
    if (!json_is_string(json_object_get(report, "title")) || !json_is_array(summary) ||
        !json_is_array(tables))
        return warden_err_set(err, WARDEN_EINVAL, "not a report document");
    json_t *title = json_object_get(report, "title");
    int rc = cell_max(out, title, 4096) | warden_buf_puts(out, "\n");
    if (rc == 0) {
        json_t *cols = json_pack("[s, s]", "", "");
        rc = cols == NULL ? WARDEN_ENOMEM : table(out, "Summary", cols, summary);
        json_decref(cols);
    }
    size_t i;
    json_t *t;
    json_array_foreach(tables, i, t)
    {
        if (rc != 0)
            break;
        warden_buf tt;
        warden_buf_init(&tt);
        rc = cell_max(&tt, json_object_get(t, "title"), 4096) | warden_buf_cstr(&tt);
        if (rc == 0)
            rc = table(out, (const char *)tt.p, json_object_get(t, "columns"),
                       json_object_get(t, "rows"));
        warden_buf_fini(&tt);
    }
    if (rc == 0 && json_is_object(tl)) {
        json_t *cols = json_array(), *rows = json_array();
        (void)json_array_append_new(cols, json_string("time"));
        (void)json_array_extend(cols, json_object_get(tl, "series"));
        json_t *p;
        json_array_foreach(json_object_get(tl, "points"), i, p)
        {
            json_t *row = json_array();
            (void)json_array_append(row, json_object_get(p, "t"));
            (void)json_array_extend(row, json_object_get(p, "counts"));
            (void)json_array_append_new(rows, row);
        }
        char title2[64];
        snprintf(title2, sizeof title2, "Accesses over time (per %s)",
                 json_string_value(json_object_get(tl, "bucket")));
        rc = cols == NULL || rows == NULL ? WARDEN_ENOMEM : table(out, title2, cols, rows);
        json_decref(cols);
        json_decref(rows);
    }
    return rc != 0 ? warden_err_set(err, WARDEN_ENOMEM, "out of memory rendering") : 0;
}
