/* Tests for src/policy/ext_decimal.c against tests/vectors/cedar_ext/decimal.jsonl
 * (answers from cedar-wasm 4.13, see gen.mjs there). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy/ext.h"
#include "policy_ext_vectors.h"

static void check_decimal_row(json_t *row, size_t line)
{
    size_t len;
    const char *in = vec_str(row, "in", &len);
    int64_t v = 0;
    int rc = cedar_decimal_parse(&v, in, len);
    if (!vec_bool(row, "ok")) {
        size_t klen;
        const char *kind = vec_str(row, "err", &klen);
        int want = strcmp(kind, "overflow") == 0 ? WARDEN_ELIMIT : WARDEN_EINVAL;
        if (rc >= 0)
            fail_msg("decimal.jsonl:%zu: accepted what Cedar rejects: %s", line, vec_show(row));
        /* Rust's \d also matches non-ASCII digits, which then fail as an "overflow"; we
         * call every non-ASCII input malformed, so the kind is compared on ASCII only. */
        if (vec_is_ascii(in, len) && rc != want)
            fail_msg("decimal.jsonl:%zu: error %d, Cedar says %s: %s", line, rc, kind,
                     vec_show(row));
        return;
    }
    if (rc != 0 || v != vec_i64(row, "value"))
        fail_msg("decimal.jsonl:%zu: rc %d value %lld: %s", line, rc, (long long)v, vec_show(row));
    char text[CEDAR_DECIMAL_FORMAT_MAX];
    size_t fmt_len;
    const char *fmt = vec_str(row, "fmt", &fmt_len);
    assert_int_equal(cedar_decimal_format(text, sizeof text, v), 0);
    if (strcmp(text, fmt) != 0)
        fail_msg("decimal.jsonl:%zu: formatted %s: %s", line, text, vec_show(row));
}

static void policy_ext_decimal_vectors(void **state)
{
    (void)state;
    assert_true(vectors_each("decimal.jsonl", check_decimal_row) >= 300);
}

static void policy_ext_decimal_format_round_trips(void **state)
{
    (void)state;
    const int64_t cases[] = {
        INT64_MIN, INT64_MIN + 1, -10001, -10000,    -9999,         -1,       0, 1,
        9999,      10000,         10001,  123456789, INT64_MAX - 1, INT64_MAX};
    char text[CEDAR_DECIMAL_FORMAT_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t back = 0;
        assert_int_equal(cedar_decimal_format(text, sizeof text, cases[i]), 0);
        assert_int_equal(cedar_decimal_parse(&back, text, strlen(text)), 0);
        assert_true(back == cases[i]);
    }
    assert_int_equal(cedar_decimal_format(text, sizeof text, INT64_MIN), 0);
    assert_string_equal(text, "-922337203685477.5808");
    assert_int_equal(cedar_decimal_format(text, 21, INT64_MIN), WARDEN_ELIMIT);
    assert_int_equal(cedar_decimal_format(text, 22, INT64_MIN), 0);
    assert_int_equal(cedar_decimal_format(text, 0, 0), WARDEN_ELIMIT);
}

static void policy_ext_decimal_reads_only_len_bytes(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(cedar_decimal_parse(&v, "1.5xyz", 3), 0);
    assert_true(v == 15000);
    assert_int_equal(cedar_decimal_parse(&v, "1.5\0", 4), WARDEN_EINVAL);
    assert_int_equal(cedar_decimal_parse(&v, "1.", 2), WARDEN_EINVAL);
    assert_int_equal(cedar_decimal_parse(&v, "-", 1), WARDEN_EINVAL);
    assert_int_equal(cedar_decimal_parse(&v, "", 0), WARDEN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy_ext_decimal_vectors),
        cmocka_unit_test(policy_ext_decimal_format_round_trips),
        cmocka_unit_test(policy_ext_decimal_reads_only_len_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
