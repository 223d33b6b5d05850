/* tlog-tiles path encoding and parsing against tile-paths.txt, and partial widths. */
#include "tlog_testutil.h"

static void tlog_tilemath_paths(void **state)
{
    (void)state;
    warden_buf b;
    vec_read(&b, "tile-paths.txt");
    size_t ok = 0, bad = 0;
    char *save = NULL;
    for (char *line = strtok_r((char *)b.p, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        int level;
        unsigned long long index;
        unsigned width;
        char p[256];
        if (sscanf(line, "ok %d %llu %u %255s", &level, &index, &width, p) == 4) {
            char out[WARDEN_TLOG_PATH_MAX];
            int l2;
            uint64_t i2;
            unsigned w2;
            assert_int_equal(warden_tlog_tile_path(out, sizeof out, level, index, width), 0);
            assert_string_equal(out, p);
            assert_int_equal(warden_tlog_tile_path_parse(&l2, &i2, &w2, p, strlen(p)), 0);
            assert_int_equal(l2, level);
            assert_int_equal(i2, index);
            assert_int_equal(w2, width);
            ok++;
        } else if (sscanf(line, "bad %255s", p) == 1) {
            int l2;
            uint64_t i2;
            unsigned w2;
            if (warden_tlog_tile_path_parse(&l2, &i2, &w2, p, strlen(p)) == 0)
                fail_msg("accepted bad path %s", p);
            bad++;
        }
    }
    assert_true(ok >= 10 && bad >= 10);
    warden_buf_fini(&b);
}

static void tlog_tilemath_widths(void **state)
{
    (void)state;
    /* The tlog-tiles example: size 70,000 -> widths 112 (level 0), 17 (1), 1 (2). */
    assert_int_equal(warden_tlog_partial_width(0, 70000), 112);
    assert_int_equal(warden_tlog_partial_width(1, 70000), 17);
    assert_int_equal(warden_tlog_partial_width(2, 70000), 1);
    assert_int_equal(warden_tlog_partial_width(3, 70000), 0);
    /* Size 256: a full level 0 tile and a level 1 partial of width 1. */
    assert_int_equal(warden_tlog_partial_width(0, 256), 0);
    assert_int_equal(warden_tlog_partial_width(1, 256), 1);
    assert_int_equal(warden_tlog_partial_width(WARDEN_TLOG_ENTRIES_LEVEL, 300), 44);
}

static void tlog_tilemath_bad_args(void **state)
{
    (void)state;
    char out[8];
    char big[WARDEN_TLOG_PATH_MAX];
    assert_int_equal(warden_tlog_tile_path(out, sizeof out, 0, 1234067, 0), WARDEN_EINVAL);
    assert_int_equal(warden_tlog_tile_path(big, sizeof big, 64, 0, 0), WARDEN_EINVAL);
    assert_int_equal(warden_tlog_tile_path(big, sizeof big, -2, 0, 0), WARDEN_EINVAL);
    assert_int_equal(warden_tlog_tile_path(big, sizeof big, 0, 0, 257), WARDEN_EINVAL);
    assert_int_equal(warden_tlog_tile_path(big, sizeof big, 0, UINT64_MAX, 0), 0);
    assert_string_equal(big, "tile/0/x018/x446/x744/x073/x709/x551/615");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tlog_tilemath_paths),
        cmocka_unit_test(tlog_tilemath_widths),
        cmocka_unit_test(tlog_tilemath_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
