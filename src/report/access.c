/* The access report: from a verified log only, who accessed what, from where, for what,
 * and which accesses crossed a border to protected data. Counts decision entries (allow,
 * partial, deny) and refusal entries (refused); other entry types are key and policy
 * lifecycle, not accesses. Invariant: every counted entry lands in each breakdown once. */
#define _GNU_SOURCE /* timegm */
#include "report/report_internal.h"
#include "warden/keyd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const OUTCOMES[REPORT_N_OUTCOMES] = {"allow", "partial", "deny", "refused"};

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Accepts "YYYY", "YYYY-MM", "YYYY-MM-DD", "YYYY-MM-DDTHH", "...:MM", "...:SS": digits where
 * digits go, the separators of RFC 3339 elsewhere. String order then equals time order. */
static time_t parse_minute(const char *m);

static bool since_ok(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t n = strlen(s);
    if (n == 0 || n > sizeof shape - 1 ||
        (n != 4 && n != 7 && n != 10 && n != 13 && n != 16 && n != 19))
        return false;
    for (size_t i = 0; i < n; i++)
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return false;
    return true;
}

int report_access_init(report_access *a, const char *since, warden_err *err)
{
    memset(a, 0, sizeof *a);
    if (since != NULL && !since_ok(since))
        return warden_err_set(err, WARDEN_EINVAL,
                              "--since \"%.40s\": expected an RFC 3339 date or date-time prefix "
                              "(2026-11-25, 2026-11-25T13:00)",
                              since);
    if (since != NULL)
        snprintf(a->since, sizeof a->since, "%s", since);
    a->by_principal = json_object();
    a->by_location = json_object();
    a->by_purpose = json_object();
    a->by_action = json_object();
    a->cross = json_array();
    a->minutes = json_object();
    if (a->by_principal == NULL || a->by_location == NULL || a->by_purpose == NULL ||
        a->by_action == NULL || a->cross == NULL || a->minutes == NULL) {
        report_access_fini(a);
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
    return 0;
}

void report_access_fini(report_access *a)
{
    json_decref(a->by_principal);
    json_decref(a->by_location);
    json_decref(a->by_purpose);
    json_decref(a->by_action);
    json_decref(a->cross);
    json_decref(a->minutes);
    memset(a, 0, sizeof *a);
}

/* map[key][outcome]++ */
static int bump(json_t *map, const char *key, int outcome)
{
    json_t *c = json_object_get(map, key);
    if (c == NULL) {
        c = json_pack("[i, i, i, i]", 0, 0, 0, 0);
        if (c == NULL || json_object_set_new(map, key, c) != 0)
            return WARDEN_ENOMEM;
    }
    json_t *slot = json_array_get(c, (size_t)outcome);
    return json_integer_set(slot, json_integer_value(slot) + 1) == 0 ? 0 : WARDEN_ENOMEM;
}

static bool allowed(const json_t *classes, const char *cls)
{
    const char *d = str(json_object_get(classes, cls), "decision");
    return d != NULL && strcmp(d, "allow") == 0;
}

int report_access_add(report_access *a, uint64_t index, const json_t *e, warden_err *err)
{
    const char *type = str(e, "type");
    a->size = index + 1 > a->size ? index + 1 : a->size;
    if (type == NULL || (strcmp(type, "decision") != 0 && strcmp(type, "refusal") != 0))
        return 0;
    const char *t = str(e, "time"), *d = str(e, "decision");
    if (t == NULL || strlen(t) < 16 || d == NULL)
        return warden_err_set(err, WARDEN_ECORRUPT,
                              "entry %llu: an access without time or decision",
                              (unsigned long long)index);
    int o = -1;
    for (int i = 0; i < REPORT_N_OUTCOMES; i++)
        if (strcmp(d, OUTCOMES[i]) == 0)
            o = i;
    if (o < 0)
        return warden_err_set(err, WARDEN_ECORRUPT, "entry %llu: unknown decision \"%.32s\"",
                              (unsigned long long)index, d);
    /* A protocol-violation refusal has no principal etc.: it is counted under "(none)". */
    const char *principal = str(e, "principal"), *location = str(e, "location");
    const char *purpose = str(e, "purpose"), *action = str(e, "action");
    char minute[17];
    memcpy(minute, t, 16);
    minute[16] = '\0';
    /* The timeline relies on string order being time order: the exact RFC 3339 shape. */
    if (!since_ok(minute) || parse_minute(minute) == (time_t)-1)
        return warden_err_set(err, WARDEN_ECORRUPT, "entry %llu: time \"%.40s\" is not RFC 3339",
                              (unsigned long long)index, t);
    if (a->since[0] != '\0' && strncmp(t, a->since, strlen(a->since)) < 0)
        return 0;
    a->accesses++;
    a->totals[o]++;
    if (bump(a->by_principal, principal ? principal : "(none)", o) != 0 ||
        bump(a->by_location, location ? location : "(none)", o) != 0 ||
        bump(a->by_purpose, purpose ? purpose : "(none)", o) != 0 ||
        bump(a->by_action, action ? action : "(none)", o) != 0 || bump(a->minutes, minute, o) != 0)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    if (strcmp(type, "decision") != 0)
        return 0;
    const json_t *res = json_object_get(e, "resource"), *classes = json_object_get(e, "classes");
    const char *jur = str(res, "jurisdiction");
    /* Protected data reached: the protected class of a read/export, or the whole record of
     * a write/delete. A registration (store) moves no data. */
    bool protected_ok = allowed(classes, "protected") || allowed(classes, "record");
    if (location == NULL || jur == NULL || strcmp(location, jur) == 0 || !protected_ok)
        return 0;
    json_t *row =
        json_pack("[I, s, s?, s?, s, s, s?, s?, s?, s]", (json_int_t)index, t, str(e, "request_id"),
                  principal, location, jur, action, str(res, "id"), purpose, d);
    if (row == NULL || json_array_append_new(a->cross, row) != 0)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    return 0;
}

static time_t parse_minute(const char *m)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(m, "%Y-%m-%dT%H:%M", &tm);
    return end != NULL ? timegm(&tm) : (time_t)-1;
}

const char *report_bucket_for(const char *first, const char *last, long *width)
{
    /* Widths in order, each used while it gives at most its bucket count; a log spanning
     * centuries (clock errors) still gets a bounded chart. */
    static const struct {
        const char *name;
        long width, max;
    } B[] = {{"minute", 60, 120},
             {"hour", 3600, 96},
             {"day", 86400, 400},
             {"week", 7 * 86400, 400},
             {"month", 30 * 86400, 400},
             {"year", 365 * 86400, 400},
             {"century", 36500L * 86400, 1000000}};
    time_t a = parse_minute(first), b = parse_minute(last);
    long long span = a != (time_t)-1 && b != (time_t)-1 && b > a ? (long long)(b - a) : 0;
    size_t i = 0;
    while (i + 1 < sizeof B / sizeof B[0] && span / B[i].width > B[i].max)
        i++;
    *width = B[i].width;
    return B[i].name;
}

/* Rows [name, total, per outcome...] sorted by total (descending), then name. */
static int cmp_rows(const void *x, const void *y)
{
    const json_t *a = *(const json_t *const *)x, *b = *(const json_t *const *)y;
    json_int_t ta = json_integer_value(json_array_get(a, 1));
    json_int_t tb = json_integer_value(json_array_get(b, 1));
    if (ta != tb)
        return ta > tb ? -1 : 1;
    return strcmp(json_string_value(json_array_get(a, 0)), json_string_value(json_array_get(b, 0)));
}

static int breakdown(json_t *doc, const char *name, const char *title, const char *what,
                     const json_t *map)
{
    const char *cols[] = {what, "total", "allow", "partial", "deny", "refused", NULL};
    json_t *rows = report_table_add(doc, name, title, cols);
    size_t n = json_object_size(map), i = 0;
    json_t **v = calloc(n ? n : 1, sizeof *v);
    if (rows == NULL || v == NULL) {
        free(v);
        return WARDEN_ENOMEM;
    }
    const char *key;
    json_t *c;
    int rc = 0;
    json_object_foreach((json_t *)map, key, c)
    {
        json_int_t tot = 0;
        for (size_t k = 0; k < REPORT_N_OUTCOMES; k++)
            tot += json_integer_value(json_array_get(c, k));
        v[i] = json_pack("[s, I, O, O, O, O]", key, tot, json_array_get(c, 0), json_array_get(c, 1),
                         json_array_get(c, 2), json_array_get(c, 3));
        if (v[i++] == NULL)
            rc = WARDEN_ENOMEM;
    }
    if (rc == 0)
        qsort(v, n, sizeof *v, cmp_rows);
    for (i = 0; i < n; i++)
        if (v[i] != NULL && json_array_append_new(rows, v[i]) != 0)
            rc = WARDEN_ENOMEM;
    free(v);
    return rc;
}

/* The timeline: per-minute counts re-bucketed to the chosen width, gaps filled with 0. */
static int timeline(json_t *doc, const json_t *minutes)
{
    const char *first = NULL, *last = NULL, *key;
    json_t *c;
    json_object_foreach((json_t *)minutes, key, c)
    {
        if (first == NULL || strcmp(key, first) < 0)
            first = key;
        if (last == NULL || strcmp(key, last) > 0)
            last = key;
    }
    json_t *series = json_pack("[s, s, s, s]", OUTCOMES[0], OUTCOMES[1], OUTCOMES[2], OUTCOMES[3]);
    json_t *points = json_array();
    long width = 60;
    const char *bucket = first != NULL ? report_bucket_for(first, last, &width) : "minute";
    json_t *tl = series != NULL && points != NULL ? json_pack("{s:s, s:O, s:O}", "bucket", bucket,
                                                              "series", series, "points", points)
                                                  : NULL;
    int rc = tl == NULL || json_object_set_new(doc, "timeline", tl) != 0 ? WARDEN_ENOMEM : 0;
    if (rc == 0 && first != NULL) {
        time_t t0 = parse_minute(first) / width * width, t1 = parse_minute(last);
        size_t n = (size_t)((t1 - t0) / width) + 1;
        long long *cnt = calloc(n * REPORT_N_OUTCOMES, sizeof *cnt);
        if (cnt == NULL)
            rc = WARDEN_ENOMEM;
        json_object_foreach((json_t *)minutes, key, c)
        {
            if (cnt == NULL)
                break;
            size_t b = (size_t)((parse_minute(key) - t0) / width);
            for (size_t k = 0; k < REPORT_N_OUTCOMES && b < n; k++)
                cnt[b * REPORT_N_OUTCOMES + k] += json_integer_value(json_array_get(c, k));
        }
        for (size_t b = 0; cnt != NULL && rc == 0 && b < n; b++) {
            time_t tb = t0 + (time_t)b * width;
            struct tm tm;
            char label[32];
            gmtime_r(&tb, &tm);
            if (strftime(label, sizeof label,
                         width == 60     ? "%Y-%m-%dT%H:%MZ"
                         : width == 3600 ? "%Y-%m-%dT%H:00Z"
                                         : "%Y-%m-%d",
                         &tm) == 0)
                label[0] = '\0';
            long long *k = &cnt[b * REPORT_N_OUTCOMES];
            json_t *p =
                json_pack("{s:s, s:[I, I, I, I]}", "t", label, "counts", k[0], k[1], k[2], k[3]);
            if (p == NULL || json_array_append_new(points, p) != 0)
                rc = WARDEN_ENOMEM;
        }
        free(cnt);
    }
    json_decref(series);
    json_decref(points);
    return rc;
}

int report_access_finish(json_t **doc, const report_access *a, warden_err *err)
{
    static const char *const CROSS[] = {
        "index",  "time",     "request", "principal", "location", "owner jurisdiction",
        "action", "resource", "purpose", "decision",  NULL};
    json_t *d = report_doc_new("access", "Accesses in the audit log");
    json_t *rows = NULL;
    int rc = d == NULL ? WARDEN_ENOMEM : 0;
    if (rc == 0)
        rc = report_summary_add(d, "log entries (verified)", json_integer((json_int_t)a->size)) |
             report_summary_add(d, "since", json_string(a->since[0] ? a->since : "(all)")) |
             report_summary_add(d, "accesses", json_integer((json_int_t)a->accesses)) |
             report_summary_add(d, "cross-border accesses to protected data",
                                json_integer((json_int_t)json_array_size(a->cross)));
    for (int i = 0; rc == 0 && i < REPORT_N_OUTCOMES; i++)
        rc = report_summary_add(d, OUTCOMES[i], json_integer((json_int_t)a->totals[i]));
    if (rc == 0)
        rc = breakdown(d, "by_principal", "By principal", "principal", a->by_principal) |
             breakdown(d, "by_location", "By location", "location", a->by_location) |
             breakdown(d, "by_purpose", "By purpose", "purpose", a->by_purpose) |
             breakdown(d, "by_action", "By action", "action", a->by_action);
    if (rc == 0 &&
        ((rows = report_table_add(d, "cross_border",
                                  "Cross-border accesses to protected data (location differs from "
                                  "the owner's jurisdiction; protected data allowed)",
                                  CROSS)) == NULL ||
         json_array_extend(rows, a->cross) != 0))
        rc = WARDEN_ENOMEM;
    if (rc == 0)
        rc = timeline(d, a->minutes);
    if (rc != 0) {
        json_decref(d);
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory building the report");
    }
    *doc = d;
    return 0;
}

static int add_entry(void *ctx, uint64_t index, const json_t *entry, warden_err *err)
{
    return report_access_add(ctx, index, entry, err);
}

int warden_report_access(json_t **out, const warden_report_log *src, const char *since,
                         warden_err *err)
{
    warden_tlog_source *log = NULL;
    report_access a;
    uint64_t size = 0;
    *out = NULL;
    int rc = report_access_init(&a, since, err);
    if (rc != 0)
        return rc;
    if ((rc = report_open(&log, NULL, src, err)) == 0 &&
        (rc = warden_keyd_audit_each(&size, log, src->vkey, add_entry, &a, err)) == 0) {
        a.size = size;
        rc = report_access_finish(out, &a, err);
    }
    report_access_fini(&a);
    warden_tlog_source_free(log);
    return rc;
}
