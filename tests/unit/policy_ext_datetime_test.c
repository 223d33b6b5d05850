/* Tests for src/policy/ext_datetime.c against tests/vectors/cedar_ext/{datetime,duration,
 * datetime_ops}.jsonl (answers from cedar-wasm 4.13, see gen.mjs there). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy/ext.h"
#include "policy_ext_vectors.h"

static void check_datetime_row(json_t *row, size_t line)
{
    size_t len;
    const char *in = vec_str(row, "in", &len);
    int64_t ms = 0;
    int rc = cedar_datetime_parse(&ms, in, len);
    if (!vec_bool(row, "ok")) {
        if (rc != WARDEN_EINVAL)
            fail_msg("datetime.jsonl:%zu: rc %d for what Cedar rejects: %s", line, rc,
                     vec_show(row));
        return;
    }
    if (rc != 0 || ms != vec_i64(row, "ms"))
        fail_msg("datetime.jsonl:%zu: rc %d ms %lld: %s", line, rc, (long long)ms, vec_show(row));
    if (json_object_get(row, "fmt") != NULL) {
        char text[CEDAR_DATETIME_FORMAT_MAX];
        size_t fmt_len;
        const char *fmt = vec_str(row, "fmt", &fmt_len);
        assert_int_equal(cedar_datetime_format(text, sizeof text, ms), 0);
        if (strcmp(text, fmt) != 0)
            fail_msg("datetime.jsonl:%zu: formatted %s: %s", line, text, vec_show(row));
        int64_t back = 0;
        assert_int_equal(cedar_datetime_parse(&back, text, strlen(text)), 0);
        assert_true(back == ms);
    }
}

static void policy_ext_datetime_vectors(void **state)
{
    (void)state;
    assert_true(vectors_each("datetime.jsonl", check_datetime_row) >= 300);
}

static void check_duration_row(json_t *row, size_t line)
{
    size_t len;
    const char *in = vec_str(row, "in", &len);
    int64_t ms = 0;
    int rc = cedar_duration_parse(&ms, in, len);
    if (!vec_bool(row, "ok")) {
        size_t klen;
        const char *kind = vec_str(row, "err", &klen);
        int want = strcmp(kind, "overflow") == 0 ? WARDEN_ELIMIT : WARDEN_EINVAL;
        if (rc != want)
            fail_msg("duration.jsonl:%zu: rc %d, Cedar says %s: %s", line, rc, kind, vec_show(row));
        return;
    }
    if (rc != 0 || ms != vec_i64(row, "ms"))
        fail_msg("duration.jsonl:%zu: rc %d ms %lld: %s", line, rc, (long long)ms, vec_show(row));
    char text[CEDAR_DURATION_FORMAT_MAX];
    size_t fmt_len;
    const char *fmt = vec_str(row, "fmt", &fmt_len);
    assert_int_equal(cedar_duration_format(text, sizeof text, ms), 0);
    if (strcmp(text, fmt) != 0)
        fail_msg("duration.jsonl:%zu: formatted %s: %s", line, text, vec_show(row));
    int64_t back = 0;
    assert_int_equal(cedar_duration_parse(&back, text, strlen(text)), 0);
    assert_true(back == ms);
}

static void policy_ext_duration_vectors(void **state)
{
    (void)state;
    assert_true(vectors_each("duration.jsonl", check_duration_row) >= 300);
}

static void check_op_row(json_t *row, size_t line)
{
    size_t op_len;
    const char *op = vec_str(row, "op", &op_len);
    int64_t a = vec_i64(row, "a"), got = 0;
    int rc = 0;
    if (strcmp(op, "toDate") == 0)
        rc = cedar_datetime_to_date(&got, a);
    else if (strcmp(op, "toTime") == 0)
        rc = cedar_datetime_to_time(&got, a);
    else if (strcmp(op, "toDays") == 0)
        got = cedar_duration_to_days(a);
    else if (strcmp(op, "toHours") == 0)
        got = cedar_duration_to_hours(a);
    else if (strcmp(op, "toMinutes") == 0)
        got = cedar_duration_to_minutes(a);
    else if (strcmp(op, "toSeconds") == 0)
        got = cedar_duration_to_seconds(a);
    else if (strcmp(op, "toMilliseconds") == 0)
        got = cedar_duration_to_milliseconds(a);
    else if (strcmp(op, "offset") == 0)
        rc = cedar_datetime_offset(&got, a, vec_i64(row, "b"));
    else if (strcmp(op, "durationSince") == 0)
        rc = cedar_datetime_duration_since(&got, a, vec_i64(row, "b"));
    else
        fail_msg("datetime_ops.jsonl:%zu: unknown op %s", line, op);
    if (json_is_null(json_object_get(row, "r"))) {
        if (rc != WARDEN_ELIMIT)
            fail_msg("datetime_ops.jsonl:%zu: rc %d, Cedar overflows: %s", line, rc, vec_show(row));
        return;
    }
    if (rc != 0 || got != vec_i64(row, "r"))
        fail_msg("datetime_ops.jsonl:%zu: rc %d got %lld: %s", line, rc, (long long)got,
                 vec_show(row));
}

static void policy_ext_datetime_ops_vectors(void **state)
{
    (void)state;
    assert_true(vectors_each("datetime_ops.jsonl", check_op_row) >= 500);
}

static void policy_ext_datetime_format_extremes(void **state)
{
    (void)state;
    char text[CEDAR_DATETIME_FORMAT_MAX];
    assert_int_equal(cedar_datetime_format(text, sizeof text, 0), 0);
    assert_string_equal(text, "1970-01-01T00:00:00.000Z");
    assert_int_equal(cedar_datetime_format(text, sizeof text, -1), 0);
    assert_string_equal(text, "1969-12-31T23:59:59.999Z");
    /* Out of datetime()'s years, offset() still reaches: expanded years, no overflow. */
    assert_int_equal(cedar_datetime_format(text, sizeof text, INT64_MAX), 0);
    assert_string_equal(text, "+292278994-08-17T07:12:55.807Z");
    assert_int_equal(cedar_datetime_format(text, sizeof text, INT64_MIN), 0);
    assert_string_equal(text, "-292275055-05-16T16:47:04.192Z");
    int64_t v;
    assert_int_equal(cedar_datetime_parse(&v, "0000-01-01T00:00:00+0001", 24), 0);
    assert_int_equal(cedar_datetime_format(text, sizeof text, v), 0);
    assert_string_equal(text, "-0001-12-31T23:59:00.000Z");
    assert_int_equal(cedar_datetime_parse(&v, "9999-12-31T23:59:59.999-0001", 28), 0);
    assert_int_equal(cedar_datetime_format(text, sizeof text, v), 0);
    assert_string_equal(text, "+10000-01-01T00:00:59.999Z");
    assert_int_equal(cedar_datetime_format(text, 24, 0), WARDEN_ELIMIT);
    assert_int_equal(cedar_datetime_format(text, 25, 0), 0);

    assert_int_equal(cedar_duration_format(text, sizeof text, INT64_MIN), 0);
    assert_string_equal(text, "-9223372036854775808ms");
    assert_int_equal(cedar_duration_format(text, 3, 0), WARDEN_ELIMIT);
    assert_int_equal(cedar_duration_format(text, 4, 0), 0);
}

static void policy_ext_datetime_reads_only_len_bytes(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(cedar_datetime_parse(&v, "1970-01-02T00:00:00Z", 10), 0);
    assert_true(v == 86400000);
    assert_int_equal(cedar_datetime_parse(&v, "1970-01-02\0", 11), WARDEN_EINVAL);
    assert_int_equal(cedar_datetime_parse(&v, "1970-01-0", 9), WARDEN_EINVAL);
    assert_int_equal(cedar_duration_parse(&v, "1ms", 2), 0);
    assert_true(v == 60000);
    assert_int_equal(cedar_duration_parse(&v, "1d\0", 3), WARDEN_EINVAL);
    assert_int_equal(cedar_duration_parse(&v, "-", 1), WARDEN_EINVAL);
    assert_int_equal(cedar_duration_parse(&v, "", 0), WARDEN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy_ext_datetime_vectors),
        cmocka_unit_test(policy_ext_duration_vectors),
        cmocka_unit_test(policy_ext_datetime_ops_vectors),
        cmocka_unit_test(policy_ext_datetime_format_extremes),
        cmocka_unit_test(policy_ext_datetime_reads_only_len_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
