/* One self-contained HTML page for a report document: inline CSS, an inline SVG bar chart
 * of the timeline, tables; no script, no external resource (a Content-Security-Policy of
 * default-src 'none' makes a browser refuse any that slipped in), so an auditor can open it
 * offline. Every value from the document is HTML-escaped: log content is untrusted text. */
#include "report/report_internal.h"

#include <stdio.h>
#include <string.h>

#define CHART_W 880
#define CHART_H 260
#define PAD_L 48
#define PAD_B 44
#define PAD_T 12

static const char *const COLORS[] = {"#2e7d32", "#f9a825", "#c62828", "#6a1b9a", "#455a64"};

static const char CSS[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#1b1b1b;"
    "background:#fafafa}h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.1rem;margin-top:"
    "2rem}.gen{color:#666;margin-top:0}table{border-collapse:collapse;background:#fff;margin:.5rem "
    "0}th,td{border:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top;"
    "font-size:.9rem}th{background:#eceff1}td.num{text-align:right;font-variant-numeric:tabular-"
    "nums}.none{color:#666;font-style:italic}svg{background:#fff;border:1px solid #ddd}.legend "
    "span{display:inline-block;margin-right:1rem;font-size:.85rem}.legend i{display:inline-block;"
    "width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}";

/* Appends s[0..n) HTML-escaped. */
static int esc(warden_buf *out, const char *s, size_t n)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '&':
            rc = warden_buf_puts(out, "&amp;");
            break;
        case '<':
            rc = warden_buf_puts(out, "&lt;");
            break;
        case '>':
            rc = warden_buf_puts(out, "&gt;");
            break;
        case '"':
            rc = warden_buf_puts(out, "&quot;");
            break;
        case '\'':
            rc = warden_buf_puts(out, "&#39;");
            break;
        default:
            rc = c < 0x20 || c == 0x7f ? warden_buf_puts(out, "&#xFFFD;")
                                       : warden_buf_append(out, &c, 1);
        }
    }
    return rc;
}

static int esc_v(warden_buf *out, const json_t *v)
{
    warden_buf t;
    warden_buf_init(&t);
    int rc = report_cell_text(&t, v);
    if (rc == 0)
        rc = esc(out, (const char *)t.p, t.len);
    warden_buf_fini(&t);
    return rc;
}

/* A stable id fragment from a table name: [a-z0-9_-] only. */
static int ident(warden_buf *out, const char *s)
{
    int rc = 0;
    for (; rc == 0 && s != NULL && *s; s++) {
        char c = (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ? *s : '-';
        rc = warden_buf_append(out, &c, 1);
    }
    return rc;
}

static int table(warden_buf *out, const json_t *t)
{
    const json_t *cols = json_object_get(t, "columns"), *rows = json_object_get(t, "rows");
    int rc = warden_buf_puts(out, "<section class=\"table\" id=\"table-") |
             ident(out, json_string_value(json_object_get(t, "name"))) |
             warden_buf_puts(out, "\"><h2>") | esc_v(out, json_object_get(t, "title")) |
             warden_buf_puts(out, "</h2>\n");
    if (json_array_size(rows) == 0)
        return rc | warden_buf_puts(out, "<p class=\"none\">None.</p></section>\n");
    rc |= warden_buf_puts(out, "<table><thead><tr>");
    size_t i, j;
    json_t *c, *r;
    json_array_foreach(cols, i, c) rc |=
        warden_buf_puts(out, "<th>") | esc_v(out, c) | warden_buf_puts(out, "</th>");
    rc |= warden_buf_puts(out, "</tr></thead><tbody>\n");
    json_array_foreach(rows, i, r)
    {
        rc |= warden_buf_puts(out, "<tr>");
        json_array_foreach(r, j, c) rc |=
            warden_buf_puts(out, json_is_integer(c) ? "<td class=\"num\">" : "<td>") |
            esc_v(out, c) | warden_buf_puts(out, "</td>");
        rc |= warden_buf_puts(out, "</tr>\n");
    }
    return rc | warden_buf_puts(out, "</tbody></table></section>\n");
}

/* Stacked bars, one per timeline point, one colour per series; each bar has a <title>. */
static int chart(warden_buf *out, const json_t *tl)
{
    const json_t *series = json_object_get(tl, "series"), *points = json_object_get(tl, "points");
    size_t np = json_array_size(points), ns = json_array_size(series), i, k;
    json_t *p, *s;
    long long max = 0;
    json_array_foreach(points, i, p)
    {
        long long sum = 0;
        for (k = 0; k < ns; k++)
            sum += json_integer_value(json_array_get(json_object_get(p, "counts"), k));
        max = sum > max ? sum : max;
    }
    int rc = warden_buf_puts(out, "<section id=\"timeline\"><h2>Accesses over time (per ") |
             esc_v(out, json_object_get(tl, "bucket")) |
             warden_buf_printf(out,
                               "</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                               "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
                               "aria-label=\"accesses over time\">\n",
                               CHART_W, CHART_H, CHART_W, CHART_H);
    double ph = CHART_H - PAD_B - PAD_T, pw = CHART_W - PAD_L - 8;
    double bw = np > 0 ? pw / (double)np : pw;
    rc |= warden_buf_printf(out,
                            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>"
                            "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%lld"
                            "</text><text x=\"%d\" y=\"%d\" font-size=\"11\" "
                            "text-anchor=\"end\">0</text>\n",
                            PAD_L, CHART_H - PAD_B, CHART_W - 8, CHART_H - PAD_B, PAD_L - 4,
                            PAD_T + 10, max, PAD_L - 4, CHART_H - PAD_B);
    json_array_foreach(points, i, p)
    {
        double y = CHART_H - PAD_B, x = PAD_L + bw * (double)i;
        json_array_foreach(series, k, s)
        {
            long long n = json_integer_value(json_array_get(json_object_get(p, "counts"), k));
            if (n == 0 || max == 0)
                continue;
            double h = ph * (double)n / (double)max;
            y -= h;
            rc |= warden_buf_printf(out,
                                    "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                                    "height=\"%.1f\" fill=\"%s\"><title>",
                                    x + bw * 0.1, y, bw * 0.8 > 1 ? bw * 0.8 : 1, h,
                                    COLORS[k < 4 ? k : 4]);
            rc |= esc_v(out, json_object_get(p, "t")) | warden_buf_printf(out, ": %lld ", n) |
                  esc_v(out, s) | warden_buf_puts(out, "</title></rect>\n");
        }
        /* label the first and last bucket, and about eight in between */
        size_t every = np > 8 ? np / 8 : 1;
        if (i == 0 || i + 1 == np || i % every == 0) {
            rc |= warden_buf_printf(out,
                                    "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" "
                                    "text-anchor=\"middle\">",
                                    x + bw / 2, CHART_H - PAD_B + 14 + (int)(i % 2) * 12);
            rc |= esc_v(out, json_object_get(p, "t")) | warden_buf_puts(out, "</text>\n");
        }
    }
    rc |= warden_buf_puts(out, "</svg>\n<p class=\"legend\">");
    json_array_foreach(series, k, s) rc |=
        warden_buf_printf(out, "<span><i style=\"background:%s\"></i>", COLORS[k < 4 ? k : 4]) |
        esc_v(out, s) | warden_buf_puts(out, "</span>");
    return rc | warden_buf_puts(out, "</p></section>\n");
}

int warden_report_render_html(warden_buf *out, const json_t *report, warden_err *err)
{
    const json_t *summary = json_object_get(report, "summary");
    const json_t *tables = json_object_get(report, "tables");
    const json_t *tl = json_object_get(report, "timeline");
    const json_t *title = json_object_get(report, "title");
    if (!json_is_string(title) || !json_is_array(summary) || !json_is_array(tables))
        return warden_err_set(err, WARDEN_EINVAL, "not a report document");
    int rc = warden_buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
                                  "charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy"
                                  "\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
                                  "\n<title>warden: ") |
             esc_v(out, title) | warden_buf_puts(out, "</title>\n<style>") |
             warden_buf_puts(out, CSS) | warden_buf_puts(out, "</style></head>\n<body><h1>") |
             esc_v(out, title) | warden_buf_puts(out, "</h1>\n<p class=\"gen\">warden report ") |
             esc_v(out, json_object_get(report, "report")) | warden_buf_puts(out, ", generated ") |
             esc_v(out, json_object_get(report, "generated")) |
             warden_buf_puts(out, "</p>\n<table class=\"summary\" id=\"summary\">\n");
    size_t i;
    json_t *row, *t;
    json_array_foreach(summary, i, row) rc |=
        warden_buf_puts(out, "<tr><th>") | esc_v(out, json_array_get(row, 0)) |
        warden_buf_puts(out, "</th><td>") | esc_v(out, json_array_get(row, 1)) |
        warden_buf_puts(out, "</td></tr>\n");
    rc |= warden_buf_puts(out, "</table>\n");
    if (json_is_object(tl))
        rc |= chart(out, tl);
    json_array_foreach(tables, i, t) rc |= table(out, t);
    rc |= warden_buf_puts(out, "</body></html>\n");
    return rc != 0 ? warden_err_set(err, WARDEN_ENOMEM, "out of memory rendering") : 0;
}
