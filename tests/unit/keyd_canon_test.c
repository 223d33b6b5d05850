/* Tests for src/keyd/canon.c: keyd_json_canon must write exactly the bytes of
 * json_dumps(JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII), since audit entries are
 * signed and compared. Compared over real audit entries, unusual strings (controls, quotes,
 * every UTF-8 length, astral code points, embedded NUL), unusual keys and thousands of
 * random nested values; invalid UTF-8 is an error that leaves the buffer as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyd/keyd_internal.h"

/* Asserts that the writer and jansson agree on j (appending after a prefix, as frames do). */
static void same(const json_t *j)
{
    char *want = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    assert_non_null(want);
    warden_buf b;
    warden_buf_init(&b);
    assert_int_equal(warden_buf_puts(&b, "pre"), 0);
    warden_err e;
    assert_int_equal(keyd_json_canon(&b, j, &e), 0);
    size_t n = strlen(want);
    if (b.len != n + 3 || memcmp(b.p + 3, want, n) != 0)
        fail_msg("differs: want %s got %.*s", want, (int)(b.len - 3), (const char *)b.p + 3);
    assert_memory_equal(b.p, "pre", 3);
    free(want);
    warden_buf_fini(&b);
}

static void test_audit_entry(void **state)
{
    (void)state;
    json_error_t je;
    json_t *j = json_loads(
        "{\"v\":1,\"type\":\"decision\",\"time\":\"2026-11-25T13:30:00.123Z\",\"request_id\":\"r-1\","
        "\"principal\":\"Employee::\\\"alice\\\"\",\"source\":\"10.0.0.9\",\"location\":\"US\","
        "\"site\":\"unknown\",\"action\":\"read\",\"resource\":{\"type\":\"Record\",\"id\":\"u1/m/b\","
        "\"owner\":\"u1\",\"jurisdiction\":\"US\",\"collection\":\"m\",\"record\":\"b\"},"
        "\"purpose\":\"bench\",\"region\":\"texas\",\"policy_set\":\"sha256:00ff\","
        "\"context\":{\"source_ip\":{\"__extn\":{\"fn\":\"ip\",\"arg\":\"10.0.0.9\"}}},"
        "\"classes\":{\"protected\":{\"decision\":\"allow\",\"policies\":[\"p0\"],\"errors\":[]},"
        "\"excepted\":{\"decision\":\"deny\",\"policies\":[],\"errors\":[{\"policy\":\"p1\","
        "\"message\":\"bad \\u00e9\\n\"}]}},\"redacted\":[\"excepted\"],\"decision\":\"partial\","
        "\"big\":-9223372036854775808,\"max\":9223372036854775807,\"t\":true,\"f\":false,"
        "\"n\":null,\"e\":{},\"a\":[],\"r\":[0.1,1e300,-2.5e-7,3.0,1e22,123456789012345678.0]}",
        0, &je);
    assert_non_null(j);
    same(j);
    json_decref(j);
}

static void test_unusual_strings(void **state)
{
    (void)state;
    static const char *const S[] = {
        "", "\"", "\\", "/", "\x01\x1f\x7f", "\b\f\n\r\t", "caf\xc3\xa9", "\xe2\x82\xac",
        "\xef\xbf\xbf", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", "\xc2\x80", "\xed\x9f\xbf",
        "\xee\x80\x80", "a\"b\\c/d\x01" "e\xc3\xa9" "f\xf0\x90\x80\x80" "g", "</script>",
        "\\u0000", "key with spaces",
    };
    json_t *o = json_object(), *a = json_array();
    for (size_t i = 0; i < sizeof S / sizeof *S; i++) {
        json_t *s = json_string(S[i]);
        assert_non_null(s);
        json_t *one = json_pack("[O]", s);
        same(one);
        json_decref(one);
        assert_int_equal(json_object_set(o, S[i], s), 0);
        assert_int_equal(json_array_append_new(a, s), 0);
    }
    /* embedded NUL, in a value and in a key; keys that are prefixes of others */
    assert_int_equal(json_array_append_new(a, json_stringn("a\0b", 3)), 0);
    assert_int_equal(json_object_setn(o, "k\0z", 3, json_true()), 0);
    assert_int_equal(json_object_setn(o, "k", 1, json_false()), 0);
    assert_int_equal(json_object_set_new(o, "kk", json_null()), 0);
    assert_int_equal(json_object_set_new(o, "\xff-not-set", json_null()), -1);
    assert_int_equal(json_object_set_new(o, "all", a), 0);
    same(o);
    json_decref(o);
}

/* A random value of depth at most d, from a fixed generator so a failure reproduces. */
static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint32_t rnd(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static json_t *rnd_string(void)
{
    static const char *const PARTS[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\x01", "\x7f",
                                        "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "~", ""};
    char s[64];
    size_t n = 0, parts = rnd() % 8;
    for (size_t i = 0; i < parts; i++) {
        const char *p = PARTS[rnd() % (sizeof PARTS / sizeof *PARTS)];
        memcpy(s + n, p, strlen(p));
        n += strlen(p);
    }
    if (rnd() % 10 == 0)
        s[n++] = '\0';
    return json_stringn(s, n);
}

static json_t *rnd_value(int d)
{
    switch (rnd() % (d > 0 ? 8 : 6)) {
    case 0: return rnd_string();
    case 1: return json_integer((json_int_t)(rnd() % 3 == 0 ? -(int64_t)rnd() : (int64_t)rnd() << (rnd() % 31)));
    case 2: return json_real((double)(int32_t)rnd() / (double)(rnd() | 1));
    case 3: return rnd() & 1 ? json_true() : json_false();
    case 4: return json_null();
    case 5: return rnd_string();
    case 6: {
        json_t *a = json_array();
        for (uint32_t i = rnd() % 5; i > 0; i--)
            (void)json_array_append_new(a, rnd_value(d - 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (uint32_t i = rnd() % 20; i > 0; i--) {
            json_t *k = rnd_string();
            (void)json_object_setn_new(o, json_string_value(k), json_string_length(k),
                                       rnd_value(d - 1));
            json_decref(k);
        }
        return o;
    }
    }
}

static void test_random(void **state)
{
    (void)state;
    for (int i = 0; i < 3000; i++) {
        json_t *v = json_pack("[o]", rnd_value(4));
        assert_non_null(v);
        same(v);
        json_decref(v);
    }
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    static const char *const BAD[] = {"\xff", "\xc0\x80", "\xe0\x80\x80", "\xed\xa0\x80",
                                      "\xf4\x90\x80\x80", "\xc3", "a\xe2\x82"};
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        json_t *j = json_pack("{s:o}", "k", json_stringn_nocheck(BAD[i], strlen(BAD[i])));
        assert_non_null(j);
        assert_null(json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII));
        warden_buf b;
        warden_buf_init(&b);
        assert_int_equal(warden_buf_puts(&b, "pre"), 0);
        warden_err e;
        assert_int_equal(keyd_json_canon(&b, j, &e), WARDEN_EINVAL);
        assert_int_equal(b.len, 3);
        warden_buf_fini(&b);
        json_decref(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audit_entry),
        cmocka_unit_test(test_unusual_strings),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_invalid_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
