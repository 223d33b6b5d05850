/* Fuzzes the access report's aggregation and both renderers (src/report/access.c,
 * render_text.c, render_html.c) with arbitrary log entries: the input is newline-separated
 * JSON values, each fed to report_access_add as one entry (a verified log proves who wrote
 * an entry, not that its content is well-formed). Checked: no crash; a finished report
 * renders; the HTML never contains a raw "<script" and the text no escape byte. Also runs
 * the Cedar string-literal scanner over the raw input. */
#include "report/report_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    report_access a;
    warden_err err;
    json_t *doc = NULL;
    json_t *set = json_object();
    if (set == NULL || report_cedar_strings(set, (const char *)data, size) != 0)
        abort();
    json_decref(set);
    if (report_access_init(&a, size > 0 && data[0] == '2' ? "2026-11-25" : NULL, &err) != 0)
        abort();
    size_t start = 0;
    uint64_t index = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != '\n')
            continue;
        json_t *e = json_loadb((const char *)data + start, i - start, JSON_DECODE_ANY, NULL);
        start = i + 1;
        if (e == NULL)
            continue;
        int rc = report_access_add(&a, index++, e, &err);
        json_decref(e);
        if (rc != 0 && rc != WARDEN_ECORRUPT) /* malformed entries are refused, nothing else */
            abort();
    }
    if (report_access_finish(&doc, &a, &err) != 0)
        abort();
    warden_buf b;
    warden_buf_init(&b);
    if (warden_report_render_html(&b, doc, &err) != 0 || warden_buf_cstr(&b) != 0)
        abort();
    for (size_t i = 0; i + 7 <= b.len; i++)
        if (b.p[i] == '<' && strncmp((const char *)b.p + i + 1, "script", 6) == 0)
            abort();
    b.len = 0;
    if (warden_report_render_text(&b, doc, &err) != 0)
        abort();
    if (memchr(b.p, 0x1b, b.len) != NULL)
        abort();
    warden_buf_fini(&b);
    json_decref(doc);
    report_access_fini(&a);
    return 0;
}
