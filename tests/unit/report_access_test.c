/* Tests for src/report/access.c, whocan.c's literal scanner and the renderers: the access
 * aggregation fed entries directly (no log), its breakdowns, cross-border rule, --since
 * filter and timeline; and that rendered text and HTML neutralise hostile log content. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "report/report_internal.h"

/* A decision entry; protected/excepted decisions as given ("allow"/"deny"). */
static json_t *decision(const char *t, const char *principal, const char *loc, const char *jur,
                        const char *purpose, const char *prot, const char *exc)
{
    const char *d = strcmp(prot, exc) != 0 ? "partial" : prot;
    json_t *e =
        json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}, "
                  "s:{s:{s:s}, s:{s:s}}}",
                  "v", 1, "type", "decision", "time", t, "request_id", "r", "principal", principal,
                  "location", loc, "purpose", purpose, "action", "read", "decision", d, "resource",
                  "type", "Record", "id", "u1/messages/m1", "owner", "u1", "jurisdiction", jur,
                  "classes", "protected", "decision", prot, "excepted", "decision", exc);
    assert_non_null(e);
    return e;
}

static void add(report_access *a, uint64_t i, json_t *e)
{
    warden_err err;
    if (report_access_add(a, i, e, &err) != 0)
        fail_msg("add %llu: %s", (unsigned long long)i, err.msg);
    json_decref(e);
}

static const json_t *table(const json_t *doc, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(doc, "tables"), i,
                       t) if (strcmp(json_string_value(json_object_get(t, "name")), name) ==
                              0) return t;
    fail_msg("no table %s", name);
    return NULL;
}

static json_int_t cell_int(const json_t *row, size_t i)
{
    return json_integer_value(json_array_get(row, i));
}

static void report_access_aggregates(void **state)
{
    (void)state;
    report_access a;
    warden_err err;
    json_t *doc = NULL;
    assert_int_equal(report_access_init(&a, NULL, &err), 0);
    add(&a, 0, json_pack("{s:i, s:s}", "v", 1, "type", "start")); /* not an access */
    add(&a, 1,
        decision("2026-11-25T13:00:01.000Z", "Employee::\"alice\"", "US", "US", "support", "allow",
                 "allow"));
    add(&a, 2,
        decision("2026-11-25T13:00:30.000Z", "Employee::\"bob\"", "SG", "US", "moderation", "deny",
                 "allow"));
    add(&a, 3,
        decision("2026-11-25T13:02:00.000Z", "Employee::\"carol\"", "SG", "US", "legal", "allow",
                 "allow"));
    add(&a, 4,
        decision("2026-11-25T13:02:10.000Z", "Employee::\"alice\"", "US", "US", "ads", "deny",
                 "deny"));
    add(&a, 5,
        json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s}", "v", 1, "type", "refusal", "time",
                  "2026-11-25T13:04:00.000Z", "decision", "refused", "principal",
                  "Employee::\"bob\"", "location", "SG", "reason", "user x not found"));
    assert_int_equal(report_access_finish(&doc, &a, &err), 0);
    assert_int_equal(a.accesses, 5);
    assert_int_equal(a.totals[REPORT_ALLOW], 2);
    assert_int_equal(a.totals[REPORT_PARTIAL], 1);
    assert_int_equal(a.totals[REPORT_DENY], 1);
    assert_int_equal(a.totals[REPORT_REFUSED], 1);

    /* principals sorted by total, then name; columns total, allow, partial, deny, refused */
    const json_t *rows = json_object_get(table(doc, "by_principal"), "rows");
    assert_int_equal(json_array_size(rows), 3);
    const json_t *r0 = json_array_get(rows, 0), *r1 = json_array_get(rows, 1);
    assert_string_equal(json_string_value(json_array_get(r0, 0)), "Employee::\"alice\"");
    assert_int_equal(cell_int(r0, 1), 2);
    assert_int_equal(cell_int(r0, 2), 1);
    assert_int_equal(cell_int(r0, 4), 1);
    assert_string_equal(json_string_value(json_array_get(r1, 0)), "Employee::\"bob\"");
    assert_int_equal(cell_int(r1, 3), 1);
    assert_int_equal(cell_int(r1, 5), 1);
    rows = json_object_get(table(doc, "by_location"), "rows");
    assert_string_equal(json_string_value(json_array_get(json_array_get(rows, 0), 0)), "SG");
    assert_int_equal(cell_int(json_array_get(rows, 0), 1), 3);

    /* only carol's read crossed a border to protected data: bob got the excepted class only */
    rows = json_object_get(table(doc, "cross_border"), "rows");
    assert_int_equal(json_array_size(rows), 1);
    assert_int_equal(cell_int(json_array_get(rows, 0), 0), 3);
    assert_string_equal(json_string_value(json_array_get(json_array_get(rows, 0), 3)),
                        "Employee::\"carol\"");

    /* per-minute buckets from 13:00 to 13:04, gaps filled */
    const json_t *tl = json_object_get(doc, "timeline");
    assert_string_equal(json_string_value(json_object_get(tl, "bucket")), "minute");
    const json_t *pts = json_object_get(tl, "points");
    assert_int_equal(json_array_size(pts), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(pts, 0), "t")),
                        "2026-11-25T13:00Z");
    const json_t *c0 = json_object_get(json_array_get(pts, 0), "counts");
    assert_int_equal(json_integer_value(json_array_get(c0, 0)), 1);
    assert_int_equal(json_integer_value(json_array_get(c0, 1)), 1);
    const json_t *c1 = json_object_get(json_array_get(pts, 1), "counts");
    for (size_t k = 0; k < 4; k++)
        assert_int_equal(json_integer_value(json_array_get(c1, k)), 0);
    json_decref(doc);
    report_access_fini(&a);
}

static void report_access_since_and_errors(void **state)
{
    (void)state;
    report_access a;
    warden_err err;
    assert_int_equal(report_access_init(&a, "2026-11-25T13:01", &err), 0);
    add(&a, 0, decision("2026-11-25T13:00:59.999Z", "P::\"a\"", "US", "US", "x", "allow", "allow"));
    add(&a, 1, decision("2026-11-25T13:01:00.000Z", "P::\"a\"", "US", "US", "x", "allow", "allow"));
    add(&a, 2, decision("2026-11-26T00:00:00.000Z", "P::\"a\"", "US", "US", "x", "allow", "allow"));
    assert_int_equal(a.accesses, 2);
    json_t *bad = json_pack("{s:i, s:s, s:s}", "v", 1, "type", "decision", "time",
                            "2026-11-26T00:00:00.000Z");
    assert_int_equal(report_access_add(&a, 3, bad, &err), WARDEN_ECORRUPT);
    assert_non_null(strstr(err.msg, "entry 3"));
    json_decref(bad);
    /* a time that is not RFC 3339 would break the timeline's order: refused */
    bad = decision("1-01-01T00:00:00.000Z...", "P::\"a\"", "US", "US", "x", "allow", "allow");
    assert_int_equal(report_access_add(&a, 4, bad, &err), WARDEN_ECORRUPT);
    assert_non_null(strstr(err.msg, "not RFC 3339"));
    json_decref(bad);
    report_access_fini(&a);
    const char *wrong[] = {"yesterday", "2026-1-25", "2026-11-25 13:00", "2026-11-25T13", ""};
    assert_int_equal(report_access_init(&a, wrong[3], &err), 0); /* an hour prefix is fine */
    report_access_fini(&a);
    for (size_t i = 0; i < 5; i++) {
        if (i == 3)
            continue;
        assert_int_equal(report_access_init(&a, wrong[i], &err), WARDEN_EINVAL);
    }
}

static void report_access_bucket_choice(void **state)
{
    (void)state;
    long w = 0;
    assert_string_equal(report_bucket_for("2026-11-25T13:00", "2026-11-25T15:00", &w), "minute");
    assert_int_equal(w, 60);
    assert_string_equal(report_bucket_for("2026-11-25T13:00", "2026-11-25T15:01", &w), "hour");
    assert_string_equal(report_bucket_for("2026-11-25T13:00", "2026-11-29T13:00", &w), "hour");
    assert_string_equal(report_bucket_for("2026-11-25T13:00", "2026-12-25T13:00", &w), "day");
    assert_int_equal(w, 86400);
    assert_string_equal(report_bucket_for("2026-01-01T00:00", "2029-01-01T00:00", &w), "week");
    assert_string_equal(report_bucket_for("2000-01-01T00:00", "2026-01-01T00:00", &w), "month");
    /* a clock gone wrong must not make a chart of millions of bars */
    assert_string_equal(report_bucket_for("0001-01-01T00:00", "9999-12-31T00:00", &w), "century");
    assert_string_equal(report_bucket_for("garbage", "2026-01-01T00:00", &w), "minute");
}

static void report_access_cedar_strings(void **state)
{
    (void)state;
    const char *p = "// \"not-me\" in a comment\n"
                    "permit (principal == Employee::\"alice\", action == Action :: \"read\", "
                    "resource) when { context.purpose == \"support\" && context.location != "
                    "\"U\\\"S\" };";
    json_t *set = json_object();
    assert_int_equal(report_cedar_strings(set, p, strlen(p)), 0);
    assert_int_equal(json_object_size(set), 2);
    assert_non_null(json_object_get(set, "support"));
    assert_non_null(json_object_get(set, "U\"S"));
    json_decref(set);
}

/* A principal with markup and terminal escapes, as a hostile log could carry. */
static void report_access_render_escapes(void **state)
{
    (void)state;
    report_access a;
    warden_err err;
    json_t *doc = NULL;
    warden_buf b;
    warden_buf_init(&b);
    assert_int_equal(report_access_init(&a, NULL, &err), 0);
    add(&a, 0,
        decision("2026-11-25T13:00:01.000Z", "X::\"<script>alert(1)</script>\x1b[2J\"", "SG", "US",
                 "p", "allow", "allow"));
    assert_int_equal(report_access_finish(&doc, &a, &err), 0);
    assert_int_equal(warden_report_render_html(&b, doc, &err), 0);
    assert_int_equal(warden_buf_cstr(&b), 0);
    assert_null(strstr((const char *)b.p, "<script>"));
    assert_null(strchr((const char *)b.p, 0x1b));
    assert_non_null(strstr((const char *)b.p, "&lt;script&gt;"));
    assert_non_null(strstr((const char *)b.p, "<svg"));
    assert_non_null(strstr((const char *)b.p, "default-src 'none'"));
    b.len = 0;
    assert_int_equal(warden_report_render_text(&b, doc, &err), 0);
    assert_int_equal(warden_buf_cstr(&b), 0);
    assert_null(strchr((const char *)b.p, 0x1b));
    assert_non_null(strstr((const char *)b.p, "<script>alert(1)</script>?[2J"));
    json_t *notdoc = json_object();
    assert_int_equal(warden_report_render_html(&b, notdoc, &err), WARDEN_EINVAL);
    assert_int_equal(warden_report_render_text(&b, notdoc, &err), WARDEN_EINVAL);
    json_decref(notdoc);
    json_decref(doc);
    warden_buf_fini(&b);
    report_access_fini(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(report_access_aggregates),
        cmocka_unit_test(report_access_since_and_errors),
        cmocka_unit_test(report_access_bucket_choice),
        cmocka_unit_test(report_access_cedar_strings),
        cmocka_unit_test(report_access_render_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
