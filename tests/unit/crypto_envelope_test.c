/* Tests for src/crypto/envelope.c: record round trip, and every way a record ciphertext can
 * be moved, replayed, tampered with or cut short. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto_internal.h"

static const char MSG[] = "{\"phone\":\"+1 512 555 0100\",\"bio\":\"hello\"}";

static const warden_record_ref REF = {"texas", "alice", "profile", "42", 3};

/* The error message names the record and never holds key bytes or plaintext. */
static void assert_clean_message(const warden_err *err, const warden_dek *dek)
{
    char hex[2 * WARDEN_DEK_LEN + 1];
    for (int i = 0; i < WARDEN_DEK_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", dek->key[i]);
    assert_null(memmem(err->msg, strlen(err->msg), dek->key, 8));
    assert_null(strstr(err->msg, hex));
    assert_null(strstr(err->msg, "555 0100"));
    assert_non_null(strstr(err->msg, "texas/alice/profile/42 version 3"));
}

static void seal(warden_buf *out, const warden_dek *dek, const warden_record_ref *ref)
{
    warden_err err;
    warden_buf_init(out);
    assert_int_equal(
        warden_envelope_encrypt(out, dek, ref, (const uint8_t *)MSG, sizeof MSG - 1, &err), 0);
    assert_int_equal(out->len, sizeof MSG - 1 + WARDEN_RECORD_OVERHEAD);
}

static int open_with(const warden_dek *dek, const warden_record_ref *ref, const warden_buf *ct,
                     warden_err *err)
{
    warden_buf pt;
    warden_buf_init(&pt);
    int rc = warden_envelope_decrypt(&pt, dek, ref, ct->p, ct->len, err);
    if (rc == 0) {
        assert_int_equal(pt.len, sizeof MSG - 1);
        assert_memory_equal(pt.p, MSG, pt.len);
    } else {
        assert_int_equal(pt.len, 0); /* nothing released on failure */
        assert_int_equal(err->code, rc);
    }
    warden_buf_fini_wipe(&pt);
    return rc;
}

static void crypto_envelope_round_trip(void **state)
{
    (void)state;
    warden_dek *dek;
    warden_err err;
    warden_buf a, b;
    assert_int_equal(warden_dek_new(&dek, &err), 0);
    seal(&a, dek, &REF);
    seal(&b, dek, &REF);
    assert_memory_equal(a.p, "WR\1", 3);
    /* Random nonces: the same record sealed twice never repeats. */
    assert_memory_not_equal(a.p + 3, b.p + 3, WARDEN_GCM_NONCE_LEN);
    assert_null(memmem(a.p, a.len, "555 0100", 8));
    assert_int_equal(open_with(dek, &REF, &a, &err), 0);
    assert_int_equal(open_with(dek, &REF, &b, &err), 0);

    /* An empty document seals and opens too. */
    warden_buf e, pt;
    warden_buf_init(&e);
    warden_buf_init(&pt);
    assert_int_equal(warden_envelope_encrypt(&e, dek, &REF, NULL, 0, &err), 0);
    assert_int_equal(e.len, WARDEN_RECORD_OVERHEAD);
    assert_int_equal(warden_envelope_decrypt(&pt, dek, &REF, e.p, e.len, &err), 0);
    assert_int_equal(pt.len, 0);
    warden_buf_fini(&e);
    warden_buf_fini_wipe(&pt);
    warden_buf_fini(&a);
    warden_buf_fini(&b);
    warden_dek_free(dek);
}

static void crypto_envelope_moved_ciphertext_fails(void **state)
{
    (void)state;
    warden_dek *dek, *other;
    warden_err err;
    warden_buf ct;
    assert_int_equal(warden_dek_new(&dek, &err), 0);
    assert_int_equal(warden_dek_new(&other, &err), 0);
    seal(&ct, dek, &REF);
    const warden_record_ref moved[] = {
        {"virginia", "alice", "profile", "42", 3}, /* another region */
        {"texas", "bob", "profile", "42", 3},      /* another user */
        {"texas", "alice", "messages", "42", 3},   /* another collection */
        {"texas", "alice", "profile", "43", 3},    /* another id */
        {"texas", "alice", "profile", "42", 2},    /* replay of an older version */
        {"texas", "alice", "profile", "42", 4},
        {"texas", "alicep", "rofile", "42", 3}, /* same bytes, other split */
    };
    for (size_t i = 0; i < sizeof moved / sizeof *moved; i++) {
        assert_int_equal(open_with(dek, &moved[i], &ct, &err), WARDEN_EVERIFY);
        assert_non_null(strstr(err.msg, moved[i].collection));
        assert_non_null(strstr(err.msg, "does not verify"));
    }
    /* Another user's key. */
    assert_int_equal(open_with(other, &REF, &ct, &err), WARDEN_EVERIFY);
    assert_clean_message(&err, other);
    assert_clean_message(&err, dek);
    warden_buf_fini(&ct);
    warden_dek_free(dek);
    warden_dek_free(other);
}

static void crypto_envelope_tampered_bytes_fail(void **state)
{
    (void)state;
    warden_dek *dek;
    warden_err err;
    warden_buf ct;
    assert_int_equal(warden_dek_new(&dek, &err), 0);
    seal(&ct, dek, &REF);
    /* Every single-bit flip anywhere (magic, format, nonce, ciphertext, tag) is caught. */
    for (size_t i = 0; i < ct.len; i++) {
        ct.p[i] ^= 0x01;
        int rc = open_with(dek, &REF, &ct, &err);
        if (i < 3)
            assert_int_equal(rc, WARDEN_EPARSE);
        else
            assert_int_equal(rc, WARDEN_EVERIFY);
        assert_clean_message(&err, dek);
        ct.p[i] ^= 0x01;
    }
    /* Named cases, to read the messages. */
    ct.p[3] ^= 0xff; /* nonce */
    assert_int_equal(open_with(dek, &REF, &ct, &err), WARDEN_EVERIFY);
    ct.p[3] ^= 0xff;
    ct.p[ct.len - 1] ^= 0xff; /* tag */
    assert_int_equal(open_with(dek, &REF, &ct, &err), WARDEN_EVERIFY);
    ct.p[ct.len - 1] ^= 0xff;
    ct.p[2] = 2; /* a future format version */
    assert_int_equal(open_with(dek, &REF, &ct, &err), WARDEN_EPARSE);
    assert_non_null(strstr(err.msg, "unsupported ciphertext format 2"));
    ct.p[2] = 1;
    ct.p[0] = 'X';
    assert_int_equal(open_with(dek, &REF, &ct, &err), WARDEN_EPARSE);
    assert_non_null(strstr(err.msg, "bad magic"));
    ct.p[0] = 'W';
    assert_int_equal(open_with(dek, &REF, &ct, &err), 0);
    warden_buf_fini(&ct);
    warden_dek_free(dek);
}

static void crypto_envelope_truncated_and_extended_fail(void **state)
{
    (void)state;
    warden_dek *dek;
    warden_err err;
    warden_buf ct;
    assert_int_equal(warden_dek_new(&dek, &err), 0);
    seal(&ct, dek, &REF);
    size_t full = ct.len;
    for (size_t n = 0; n < full; n++) {
        ct.len = n;
        int rc = open_with(dek, &REF, &ct, &err);
        assert_true(rc == WARDEN_ETRUNC || rc == WARDEN_EVERIFY);
        if (n < WARDEN_RECORD_OVERHEAD) {
            assert_int_equal(rc, WARDEN_ETRUNC);
            assert_non_null(strstr(err.msg, "truncated"));
        }
    }
    ct.len = full;
    assert_int_equal(warden_buf_append(&ct, "x", 1), 0);
    assert_int_equal(open_with(dek, &REF, &ct, &err), WARDEN_EVERIFY);
    warden_buf_fini(&ct);
    warden_dek_free(dek);
}

static void crypto_envelope_rejects_bad_refs(void **state)
{
    (void)state;
    warden_dek *dek;
    warden_err err;
    warden_buf out;
    warden_buf_init(&out);
    assert_int_equal(warden_dek_new(&dek, &err), 0);
    const warden_record_ref bad[] = {
        {"", "alice", "profile", "42", 1},
        {"texas", NULL, "profile", "42", 1},
        {"texas", "alice", "", "42", 1},
        {"texas", "alice", "profile", "", 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(warden_envelope_encrypt(&out, dek, &bad[i], (const uint8_t *)"x", 1, &err),
                         WARDEN_EINVAL);
        assert_int_equal(out.len, 0);
    }
    char longname[WARDEN_CRYPTO_NAME_MAX + 2];
    memset(longname, 'u', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    warden_record_ref lr = {"texas", longname, "profile", "42", 1};
    assert_int_equal(warden_envelope_encrypt(&out, dek, &lr, (const uint8_t *)"x", 1, &err),
                     WARDEN_EINVAL);
    assert_non_null(strstr(err.msg, "user is longer"));
    assert_int_equal(warden_envelope_encrypt(&out, dek, NULL, (const uint8_t *)"x", 1, &err),
                     WARDEN_EINVAL);
    warden_buf_fini(&out);
    warden_dek_free(dek);
}

static void crypto_envelope_deks_are_random(void **state)
{
    (void)state;
    warden_dek *a, *b;
    warden_err err;
    static const uint8_t zero[WARDEN_DEK_LEN];
    assert_int_equal(warden_dek_new(&a, &err), 0);
    assert_int_equal(warden_dek_new(&b, &err), 0);
    assert_memory_not_equal(a->key, b->key, WARDEN_DEK_LEN);
    assert_memory_not_equal(a->key, zero, WARDEN_DEK_LEN);
    warden_dek_free(a);
    warden_dek_free(b);
    warden_dek_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crypto_envelope_round_trip),
        cmocka_unit_test(crypto_envelope_moved_ciphertext_fails),
        cmocka_unit_test(crypto_envelope_tampered_bytes_fail),
        cmocka_unit_test(crypto_envelope_truncated_and_extended_fail),
        cmocka_unit_test(crypto_envelope_rejects_bad_refs),
        cmocka_unit_test(crypto_envelope_deks_are_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
