/* Tests for src/util/buf.c and src/util/cursor.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "warden/util.h"

static void util_buf_append_and_printf(void **state)
{
    (void)state;
    warden_buf b;
    warden_buf_init(&b);
    assert_int_equal(warden_buf_puts(&b, "abc"), 0);
    assert_int_equal(warden_buf_printf(&b, "-%d-", 42), 0);
    assert_int_equal(warden_buf_cstr(&b), 0);
    assert_string_equal((char *)b.p, "abc-42-");
    assert_int_equal(b.len, 7);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(warden_buf_append(&b, "x", 1), 0);
    assert_int_equal(b.len, 10007);
    warden_buf_fini_wipe(&b);
    assert_null(b.p);
}

static void util_cursor_never_reads_past_end(void **state)
{
    (void)state;
    const uint8_t data[] = {0x01, 0x02, 0x03, 'a', '\n', 'b'};
    warden_cursor c;
    warden_cursor_init(&c, data, sizeof data);
    uint16_t v16;
    assert_int_equal(warden_cursor_be16(&c, &v16), 0);
    assert_int_equal(v16, 0x0102);
    const uint8_t *line;
    size_t n;
    assert_int_equal(warden_cursor_until(&c, '\n', &line, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(line, "\x03" "a", 2);
    assert_int_equal(warden_cursor_until(&c, '\n', &line, &n), WARDEN_ETRUNC);
    uint32_t v32;
    assert_int_equal(warden_cursor_be32(&c, &v32), WARDEN_ETRUNC);
    assert_int_equal(warden_cursor_left(&c), 1);
    uint8_t b;
    assert_int_equal(warden_cursor_u8(&c, &b), 0);
    assert_int_equal(b, 'b');
    assert_int_equal(warden_cursor_u8(&c, &b), WARDEN_ETRUNC);
}

static void util_parse_u64_rejects_bad_numbers(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(warden_parse_u64(&v, "18446744073709551615", 20), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(warden_parse_u64(&v, "18446744073709551616", 20), WARDEN_ELIMIT);
    assert_int_equal(warden_parse_u64(&v, "", 0), WARDEN_EINVAL);
    assert_int_equal(warden_parse_u64(&v, "+1", 2), WARDEN_EINVAL);
    assert_int_equal(warden_parse_u64(&v, "1 ", 2), WARDEN_EINVAL);
}

static void util_secret_alloc_is_zeroed_and_freed(void **state)
{
    (void)state;
    uint8_t *p = warden_secret_alloc(32);
    assert_non_null(p);
    for (int i = 0; i < 32; i++)
        assert_int_equal(p[i], 0);
    memset(p, 0xAA, 32);
    warden_secret_free(p, 32);
    assert_true(warden_ct_equal("abcd", "abcd", 4));
    assert_false(warden_ct_equal("abcd", "abce", 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(util_buf_append_and_printf),
        cmocka_unit_test(util_cursor_never_reads_past_end),
        cmocka_unit_test(util_parse_u64_rejects_bad_numbers),
        cmocka_unit_test(util_secret_alloc_is_zeroed_and_freed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
