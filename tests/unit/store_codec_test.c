/* Tests for src/store/codec.c: keys are injective and parse back; user and record values
 * round-trip; every truncation, every flipped bit, a value under another key, and values
 * whose fields contradict each other are all WARDEN_ECORRUPT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"

static void key_of(warden_buf *b, const char *u, const char *c, const char *i)
{
    warden_err err;
    b->len = 0;
    assert_int_equal(store_key_record(b, u, c, i, &err), 0);
}

static void store_codec_keys_injective(void **state)
{
    (void)state;
    static const char *triples[][3] = {{"a", "bc", "d"},  {"ab", "c", "d"},  {"a", "b", "cd"},
                                       {"abc", "d", "x"}, {"a", "bcd", "x"}, {"a", "b", "c"}};
    size_t n = sizeof triples / sizeof triples[0];
    warden_buf a, b;
    warden_err err;
    char u[WARDEN_STORE_USER_MAX + 1], c[WARDEN_STORE_COLLECTION_MAX + 1],
        id[WARDEN_STORE_ID_MAX + 1];
    warden_buf_init(&a);
    warden_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        key_of(&a, triples[i][0], triples[i][1], triples[i][2]);
        assert_int_equal(store_key_record_parse(u, c, id, a.p, a.len, &err), 0);
        assert_string_equal(u, triples[i][0]);
        assert_string_equal(c, triples[i][1]);
        assert_string_equal(id, triples[i][2]);
        for (size_t j = i + 1; j < n; j++) {
            key_of(&b, triples[j][0], triples[j][1], triples[j][2]);
            assert_false(a.len == b.len && memcmp(a.p, b.p, a.len) == 0);
        }
    }
    /* Every truncation and an extra byte are refused. */
    key_of(&a, "alice", "messages", "m1");
    for (size_t len = 0; len < a.len; len++)
        assert_int_equal(store_key_record_parse(u, c, id, a.p, len, &err), WARDEN_ECORRUPT);
    assert_int_equal(warden_buf_append(&a, "x", 1), 0);
    assert_int_equal(store_key_record_parse(u, c, id, a.p, a.len, &err), WARDEN_ECORRUPT);
    /* An empty part, a part over its bound, a NUL inside. */
    static const uint8_t empty[] = {0, 1, 'a', 0, 0, 0, 1, 'x'};
    assert_int_equal(store_key_record_parse(u, c, id, empty, sizeof empty, &err), WARDEN_ECORRUPT);
    static const uint8_t nul[] = {0, 1, 'a', 0, 1, 0, 0, 1, 'x'};
    assert_int_equal(store_key_record_parse(u, c, id, nul, sizeof nul, &err), WARDEN_ECORRUPT);
    uint8_t big[2 + WARDEN_STORE_USER_MAX + 1];
    big[0] = 0;
    big[1] = WARDEN_STORE_USER_MAX + 1;
    memset(big + 2, 'u', sizeof big - 2);
    assert_int_equal(store_key_user_parse(u, big, sizeof big, &err), WARDEN_ECORRUPT);
    big[1] = WARDEN_STORE_USER_MAX;
    assert_int_equal(store_key_user_parse(u, big, sizeof big - 1, &err), 0);
    assert_int_equal(strlen(u), WARDEN_STORE_USER_MAX);
    warden_buf_fini(&a);
    warden_buf_fini(&b);
}

static store_user_val user_val(void)
{
    static const uint8_t blob[] = "wrapped-dek-bytes";
    store_user_val v;
    memset(&v, 0, sizeof v);
    v.state = WARDEN_USER_ACTIVE;
    v.created = 1700000000;
    snprintf(v.jurisdiction, sizeof v.jurisdiction, "US");
    snprintf(v.kek_id, sizeof v.kek_id, "kf-0011223344556677");
    v.kek_version = 3;
    v.blob = blob;
    v.blob_len = sizeof blob;
    return v;
}

static void store_codec_user_round_trip_and_damage(void **state)
{
    (void)state;
    warden_err err;
    warden_buf key, val;
    store_user_val in = user_val(), out;
    warden_buf_init(&key);
    warden_buf_init(&val);
    assert_int_equal(store_key_user(&key, "alice", &err), 0);
    assert_int_equal(store_user_encode(&val, key.p, key.len, &in, &err), 0);
    assert_int_equal(store_user_decode(&out, key.p, key.len, val.p, val.len, &err), 0);
    assert_int_equal(out.state, in.state);
    assert_int_equal(out.created, in.created);
    assert_string_equal(out.jurisdiction, "US");
    assert_string_equal(out.kek_id, in.kek_id);
    assert_int_equal(out.kek_version, 3);
    assert_int_equal(out.blob_len, in.blob_len);
    assert_memory_equal(out.blob, in.blob, in.blob_len);

    for (size_t len = 0; len < val.len; len++)
        assert_int_equal(store_user_decode(&out, key.p, key.len, val.p, len, &err),
                         WARDEN_ECORRUPT);
    for (size_t i = 0; i < val.len * 8; i++) {
        val.p[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_int_equal(store_user_decode(&out, key.p, key.len, val.p, val.len, &err),
                         WARDEN_ECORRUPT);
        val.p[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    warden_buf other;
    warden_buf_init(&other);
    assert_int_equal(store_key_user(&other, "alicf", &err), 0);
    assert_int_equal(store_user_decode(&out, other.p, other.len, val.p, val.len, &err),
                     WARDEN_ECORRUPT);
    assert_non_null(strstr(err.msg, "checksum"));
    warden_buf_fini(&other);
    warden_buf_fini(&key);
    warden_buf_fini(&val);
}

/* Encodes v (the encoder does not judge it) and expects decoding to refuse it with why. */
static void expect_bad_user(store_user_val v, const char *why)
{
    warden_err err;
    warden_buf val;
    store_user_val out;
    warden_buf_init(&val);
    assert_int_equal(store_user_encode(&val, (const uint8_t *)"k", 1, &v, &err), 0);
    assert_int_equal(store_user_decode(&out, (const uint8_t *)"k", 1, val.p, val.len, &err),
                     WARDEN_ECORRUPT);
    if (strstr(err.msg, why) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", why, err.msg);
    warden_buf_fini(&val);
}

static void store_codec_user_fields_checked(void **state)
{
    (void)state;
    store_user_val v = user_val();
    v.state = 3;
    expect_bad_user(v, "unknown state");
    v = user_val();
    v.state = WARDEN_USER_SHREDDED;
    v.shredded = 1700000001;
    expect_bad_user(v, "shredded user still has a DEK");
    v = user_val();
    v.shredded = 5;
    expect_bad_user(v, "active user has a shred time");
    v = user_val();
    v.jurisdiction[0] = '\0';
    expect_bad_user(v, "bad jurisdiction");
    v = user_val();
    v.kek_id[0] = '\0';
    expect_bad_user(v, "disagree");
    v = user_val();
    v.kek_version = 0;
    expect_bad_user(v, "disagree");
    v = user_val();
    snprintf(v.kek_id, sizeof v.kek_id, "kf 1");
    expect_bad_user(v, "bad KEK id");
}

static void store_codec_record_values(void **state)
{
    (void)state;
    warden_err err;
    warden_buf key, val;
    store_rec_val in = {STORE_REC_LIVE, 7, (const uint8_t *)"WR\x01ciphertext", 13}, out;
    warden_buf_init(&key);
    warden_buf_init(&val);
    key_of(&key, "alice", "messages", "m1");
    assert_int_equal(store_rec_encode(&val, key.p, key.len, &in, &err), 0);
    assert_int_equal(store_rec_decode(&out, key.p, key.len, val.p, val.len, &err), 0);
    assert_int_equal(out.flags, STORE_REC_LIVE);
    assert_int_equal(out.version, 7);
    assert_int_equal(out.blob_len, 13);
    assert_memory_equal(out.blob, in.blob, 13);
    for (size_t len = 0; len < val.len; len++)
        assert_int_equal(store_rec_decode(&out, key.p, key.len, val.p, len, &err), WARDEN_ECORRUPT);
    for (size_t i = 0; i < val.len * 8; i++) {
        val.p[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_int_equal(store_rec_decode(&out, key.p, key.len, val.p, val.len, &err),
                         WARDEN_ECORRUPT);
        val.p[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    warden_buf k2;
    warden_buf_init(&k2);
    key_of(&k2, "alice", "messages", "m2");
    assert_int_equal(store_rec_decode(&out, k2.p, k2.len, val.p, val.len, &err), WARDEN_ECORRUPT);

    static const struct {
        store_rec_val v;
        const char *why;
    } bad[] = {
        {{2, 1, (const uint8_t *)"x", 1}, "unknown flags"},
        {{STORE_REC_LIVE, 0, (const uint8_t *)"x", 1}, "version 0"},
        {{STORE_REC_LIVE, 1, NULL, 0}, "live record without ciphertext"},
        {{STORE_REC_TOMBSTONE, 1, (const uint8_t *)"x", 1}, "tombstone with one"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        val.len = 0;
        assert_int_equal(store_rec_encode(&val, key.p, key.len, &bad[i].v, &err), 0);
        assert_int_equal(store_rec_decode(&out, key.p, key.len, val.p, val.len, &err),
                         WARDEN_ECORRUPT);
        assert_non_null(strstr(err.msg, bad[i].why));
    }
    warden_buf_fini(&k2);
    warden_buf_fini(&key);
    warden_buf_fini(&val);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_codec_keys_injective),
        cmocka_unit_test(store_codec_user_round_trip_and_damage),
        cmocka_unit_test(store_codec_user_fields_checked),
        cmocka_unit_test(store_codec_record_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
