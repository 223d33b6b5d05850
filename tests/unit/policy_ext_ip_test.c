/* Tests for src/policy/ext_ip.c: every answer in tests/vectors/cedar_ext/ip*.jsonl comes
 * from cedar-wasm 4.13 (see gen.mjs there); the few inline cases cover our own API
 * (buffer sizes, NUL bytes) that the reference cannot speak to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy/ext.h"
#include "policy_ext_vectors.h"

static void hex_decode(uint8_t *out, size_t n, const char *hex, size_t hex_len)
{
    assert_int_equal(hex_len, 2 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static void check_ip_row(json_t *row, size_t line)
{
    size_t len;
    const char *in = vec_str(row, "in", &len);
    cedar_ipaddr a;
    memset(&a, 0xAA, sizeof a);
    int rc = cedar_ip_parse(&a, in, len);
    if (!vec_bool(row, "ok")) {
        if (rc != WARDEN_EINVAL)
            fail_msg("ip.jsonl:%zu: accepted (rc %d) what Cedar rejects: %s", line, rc,
                     vec_show(row));
        return;
    }
    if (rc != 0)
        fail_msg("ip.jsonl:%zu: rejected (rc %d) what Cedar accepts: %s", line, rc, vec_show(row));
    bool v6 = vec_bool(row, "v6");
    uint8_t want[16] = {0};
    size_t hex_len;
    const char *hex = vec_str(row, "addr", &hex_len);
    hex_decode(want, v6 ? 16 : 4, hex, hex_len);
    json_t *prefix = json_object_get(row, "prefix");
    if (a.v6 != v6 || memcmp(a.addr, want, 16) != 0 || a.prefix != json_integer_value(prefix))
        fail_msg("ip.jsonl:%zu: wrong value: %s", line, vec_show(row));
    if (cedar_ip_is_ipv4(&a) != vec_bool(row, "ipv4") ||
        cedar_ip_is_ipv6(&a) != vec_bool(row, "ipv6") ||
        cedar_ip_is_loopback(&a) != vec_bool(row, "loopback") ||
        cedar_ip_is_multicast(&a) != vec_bool(row, "multicast"))
        fail_msg("ip.jsonl:%zu: wrong predicate: %s", line, vec_show(row));

    char text[CEDAR_IP_FORMAT_MAX];
    size_t fmt_len;
    const char *fmt = vec_str(row, "fmt", &fmt_len);
    assert_int_equal(cedar_ip_format(text, sizeof text, &a), 0);
    if (strcmp(text, fmt) != 0)
        fail_msg("ip.jsonl:%zu: formatted %s: %s", line, text, vec_show(row));
    cedar_ipaddr back;
    assert_int_equal(cedar_ip_parse(&back, text, strlen(text)), 0);
    assert_true(cedar_ip_equal(&a, &back));
}

static void policy_ext_ip_vectors(void **state)
{
    (void)state;
    assert_true(vectors_each("ip.jsonl", check_ip_row) >= 500);
}

static void check_pair_row(json_t *row, size_t line)
{
    size_t alen, blen;
    const char *as = vec_str(row, "a", &alen), *bs = vec_str(row, "b", &blen);
    cedar_ipaddr a, b;
    assert_int_equal(cedar_ip_parse(&a, as, alen), 0);
    assert_int_equal(cedar_ip_parse(&b, bs, blen), 0);
    if (cedar_ip_in_range(&a, &b) != vec_bool(row, "in_range"))
        fail_msg("ip_pairs.jsonl:%zu: isInRange differs: %s", line, vec_show(row));
    if (cedar_ip_equal(&a, &b) != vec_bool(row, "equal"))
        fail_msg("ip_pairs.jsonl:%zu: == differs: %s", line, vec_show(row));
    /* == is symmetric, and every range contains itself. */
    assert_true(cedar_ip_equal(&b, &a) == cedar_ip_equal(&a, &b));
    assert_true(cedar_ip_in_range(&a, &a));
}

static void policy_ext_ip_pairs(void **state)
{
    (void)state;
    assert_true(vectors_each("ip_pairs.jsonl", check_pair_row) >= 500);
}

static void policy_ext_ip_reads_only_len_bytes(void **state)
{
    (void)state;
    cedar_ipaddr a;
    /* The length bounds the input: a valid prefix followed by more bytes is not read. */
    assert_int_equal(cedar_ip_parse(&a, "10.0.0.1/8 trailing", 8), 0);
    assert_int_equal(a.prefix, 32);
    assert_int_equal(cedar_ip_parse(&a, "10.0.0.1/8 trailing", 9), WARDEN_EINVAL);
    assert_int_equal(cedar_ip_parse(&a, "10.0.0.1/8 trailing", 10), 0);
    assert_int_equal(a.prefix, 8);
    assert_int_equal(cedar_ip_parse(&a, "10.0.0.1/8 trailing", 11), WARDEN_EINVAL);
    assert_int_equal(cedar_ip_parse(&a, "::1\0", 4), WARDEN_EINVAL);
    assert_int_equal(cedar_ip_parse(&a, "", 0), WARDEN_EINVAL);
}

static void policy_ext_ip_format_limits(void **state)
{
    (void)state;
    cedar_ipaddr a;
    char buf[CEDAR_IP_FORMAT_MAX];
    const char *widest = "abcd:ef01:2345:6789:abcd:ef01:2345:6789/128";
    assert_int_equal(cedar_ip_parse(&a, widest, strlen(widest)), 0);
    assert_int_equal(cedar_ip_format(buf, sizeof buf, &a), 0);
    assert_string_equal(buf, widest);
    /* Exactly enough room (text + NUL) succeeds, one byte less fails without overflow. */
    assert_int_equal(cedar_ip_format(buf, strlen(widest) + 1, &a), 0);
    assert_int_equal(cedar_ip_format(buf, strlen(widest), &a), WARDEN_ELIMIT);
    assert_int_equal(cedar_ip_format(buf, 0, &a), WARDEN_ELIMIT);
}

static void policy_ext_ip_keeps_host_bits(void **state)
{
    (void)state;
    cedar_ipaddr a, b, c;
    assert_int_equal(cedar_ip_parse(&a, "10.1.2.3/8", 10), 0);
    assert_int_equal(cedar_ip_parse(&b, "10.0.0.0/8", 10), 0);
    assert_int_equal(cedar_ip_parse(&c, "10.1.2.3", 8), 0);
    /* Same range, different values: Cedar compares the written address. */
    assert_false(cedar_ip_equal(&a, &b));
    assert_true(cedar_ip_in_range(&a, &b) && cedar_ip_in_range(&b, &a));
    assert_true(cedar_ip_in_range(&c, &a));
    assert_false(cedar_ip_in_range(&a, &c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy_ext_ip_vectors),
        cmocka_unit_test(policy_ext_ip_pairs),
        cmocka_unit_test(policy_ext_ip_reads_only_len_bytes),
        cmocka_unit_test(policy_ext_ip_format_limits),
        cmocka_unit_test(policy_ext_ip_keeps_host_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
