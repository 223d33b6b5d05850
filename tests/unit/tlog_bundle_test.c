/* Entry bundles: encoding round trip, exact counts, truncation and overlong bundles. */
#include "tlog_testutil.h"

static void tlog_bundle_roundtrip(void **state)
{
    (void)state;
    warden_buf b;
    warden_err e;
    warden_tlog_bundle *bd = malloc(sizeof *bd);
    warden_buf_init(&b);
    const char *entries[] = {"", "a", "hello world"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            warden_tlog_bundle_add(&b, (const uint8_t *)entries[i], strlen(entries[i]), &e), 0);
    assert_int_equal(b.len, 6 + 0 + 1 + 11);
    assert_int_equal(b.p[0], 0);
    assert_int_equal(b.p[1], 0);
    assert_int_equal(b.p[3], 1);
    assert_int_equal(warden_tlog_bundle_parse(bd, b.p, b.len, 3, &e), 0);
    assert_int_equal(bd->count, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(bd->len[i], strlen(entries[i]));
        assert_memory_equal(bd->entry[i], entries[i], bd->len[i]);
    }
    assert_int_equal(warden_tlog_bundle_parse(bd, b.p, b.len, 0, &e), 0);
    assert_int_equal(warden_tlog_bundle_parse(bd, b.p, b.len, 4, &e), WARDEN_ETRUNC);
    assert_int_equal(warden_tlog_bundle_parse(bd, b.p, b.len, 2, &e), WARDEN_ELIMIT);
    assert_int_equal(warden_tlog_bundle_parse(bd, b.p, b.len - 1, 3, &e), WARDEN_ETRUNC);
    assert_int_equal(warden_tlog_bundle_parse(bd, b.p, 1, 0, &e), WARDEN_ETRUNC);
    uint8_t big[65536] = {0};
    assert_int_equal(warden_tlog_bundle_add(&b, big, sizeof big, &e), WARDEN_EINVAL);
    assert_int_equal(warden_tlog_bundle_add(&b, big, sizeof big - 1, &e), 0);
    warden_buf_fini(&b);
    free(bd);
}

static void tlog_bundle_max_entries(void **state)
{
    (void)state;
    warden_buf b;
    warden_err e;
    warden_tlog_bundle *bd = malloc(sizeof *bd);
    warden_buf_init(&b);
    for (int i = 0; i < 257; i++)
        assert_int_equal(warden_tlog_bundle_add(&b, (const uint8_t *)"x", 1, &e), 0);
    assert_int_equal(warden_tlog_bundle_parse(bd, b.p, b.len, 0, &e), WARDEN_ELIMIT);
    assert_int_equal(warden_tlog_bundle_parse(bd, b.p, b.len - 3, 256, &e), 0);
    assert_int_equal(warden_tlog_bundle_parse(bd, b.p, b.len, 257, &e), WARDEN_EINVAL);
    warden_buf_fini(&b);
    free(bd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tlog_bundle_roundtrip),
        cmocka_unit_test(tlog_bundle_max_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
