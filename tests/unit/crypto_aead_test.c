/* Tests for src/crypto/aead.c: AES-256-GCM known answers read from
 * tests/vectors/crypto/aes256gcm_mcgrew_viega.txt, tag failures, and the AAD helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto_internal.h"

typedef struct gcm_case {
    int number;
    uint8_t key[32], iv[12], aad[64], pt[64], ct[64], tag[16];
    size_t key_len, iv_len, aad_len, pt_len, ct_len, tag_len;
} gcm_case;

static size_t unhex(uint8_t *out, size_t cap, const char *s)
{
    size_t n = strlen(s);
    assert_true(n % 2 == 0 && n / 2 <= cap);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n / 2;
}

/* Reads every case of the vector file; returns how many. */
static size_t load_cases(gcm_case *cases, size_t cap)
{
    const char *src = getenv("WARDEN_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/vectors/crypto/aes256gcm_mcgrew_viega.txt",
             src ? src : ".");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512];
    size_t n = 0;
    gcm_case *c = NULL;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *eq = strstr(line, " =");
        assert_non_null(eq);
        *eq = '\0';
        const char *val = eq[2] == ' ' ? eq + 3 : eq + 2;
        if (strcmp(line, "case") == 0) {
            assert_true(n < cap);
            c = &cases[n++];
            memset(c, 0, sizeof *c);
            c->number = (int)strtol(val, NULL, 10);
            continue;
        }
        assert_non_null(c);
        if (strcmp(line, "key") == 0)
            c->key_len = unhex(c->key, sizeof c->key, val);
        else if (strcmp(line, "iv") == 0)
            c->iv_len = unhex(c->iv, sizeof c->iv, val);
        else if (strcmp(line, "aad") == 0)
            c->aad_len = unhex(c->aad, sizeof c->aad, val);
        else if (strcmp(line, "pt") == 0)
            c->pt_len = unhex(c->pt, sizeof c->pt, val);
        else if (strcmp(line, "ct") == 0)
            c->ct_len = unhex(c->ct, sizeof c->ct, val);
        else if (strcmp(line, "tag") == 0)
            c->tag_len = unhex(c->tag, sizeof c->tag, val);
        else
            fail_msg("unknown field %s in %s", line, path);
    }
    fclose(f);
    return n;
}

static void crypto_aead_known_answers(void **state)
{
    (void)state;
    gcm_case cases[8];
    size_t n = load_cases(cases, 8);
    assert_int_equal(n, 4); /* cases 13..16: a short read must not pass silently */
    for (size_t i = 0; i < n; i++) {
        gcm_case *c = &cases[i];
        assert_int_equal(c->key_len, 32);
        assert_int_equal(c->iv_len, 12);
        assert_int_equal(c->tag_len, 16);
        assert_int_equal(c->pt_len, c->ct_len);
        uint8_t ct[64], tag[16], pt[64];
        warden_err err;
        assert_int_equal(
            warden_aead_seal(ct, tag, c->key, c->iv, c->aad, c->aad_len, c->pt, c->pt_len, &err),
            0);
        assert_memory_equal(ct, c->ct, c->ct_len);
        assert_memory_equal(tag, c->tag, 16);
        memset(pt, 0xAA, sizeof pt);
        assert_int_equal(
            warden_aead_open(pt, c->key, c->iv, c->aad, c->aad_len, c->ct, c->ct_len, c->tag, &err),
            0);
        assert_memory_equal(pt, c->pt, c->pt_len);
    }
}

static void crypto_aead_tag_mismatch_wipes_output(void **state)
{
    (void)state;
    gcm_case cases[8];
    size_t n = load_cases(cases, 8);
    gcm_case *c = &cases[n - 1]; /* case 16: plaintext and AAD */
    uint8_t pt[64], zero[64] = {0};
    warden_err err;
    uint8_t bad[16];
    memcpy(bad, c->tag, 16);
    bad[15] ^= 1;
    memset(pt, 0xAA, sizeof pt);
    assert_int_equal(
        warden_aead_open(pt, c->key, c->iv, c->aad, c->aad_len, c->ct, c->ct_len, bad, &err),
        WARDEN_EVERIFY);
    assert_int_equal(err.code, WARDEN_EVERIFY);
    /* No unauthenticated plaintext may be left behind. */
    assert_memory_equal(pt, zero, c->ct_len);
    /* Changed AAD fails the same way. */
    c->aad[0] ^= 0x80;
    assert_int_equal(
        warden_aead_open(pt, c->key, c->iv, c->aad, c->aad_len, c->ct, c->ct_len, c->tag, &err),
        WARDEN_EVERIFY);
    c->aad[0] ^= 0x80;
    c->ct[0] ^= 1;
    assert_int_equal(
        warden_aead_open(pt, c->key, c->iv, c->aad, c->aad_len, c->ct, c->ct_len, c->tag, &err),
        WARDEN_EVERIFY);
}

static void crypto_aead_aad_encoding_is_unambiguous(void **state)
{
    (void)state;
    /* ("ab","c") and ("a","bc") must encode differently. */
    warden_buf a, b;
    warden_buf_init(&a);
    warden_buf_init(&b);
    assert_int_equal(warden_aad_put(&a, "ab", 2), 0);
    assert_int_equal(warden_aad_put(&a, "c", 1), 0);
    assert_int_equal(warden_aad_put(&b, "a", 1), 0);
    assert_int_equal(warden_aad_put(&b, "bc", 2), 0);
    assert_int_equal(a.len, 11);
    assert_int_equal(b.len, 11);
    assert_memory_not_equal(a.p, b.p, a.len);
    assert_memory_equal(a.p, "\0\0\0\2ab\0\0\0\1c", 11);
    warden_buf_fini(&a);
    warden_buf_fini(&b);
}

static void crypto_aead_region_names_are_checked(void **state)
{
    (void)state;
    warden_err err;
    assert_int_equal(warden_crypto_check_region("texas", &err), 0);
    assert_int_equal(warden_crypto_check_region("us-east.1_a", &err), 0);
    assert_int_equal(warden_crypto_check_region("", &err), WARDEN_EINVAL);
    assert_int_equal(warden_crypto_check_region("tex as", &err), WARDEN_EINVAL);
    assert_int_equal(warden_crypto_check_region("a/b", &err), WARDEN_EINVAL);
    assert_int_equal(warden_crypto_check_region("abcdefghijklmnopqrstuvwxyz0123456", &err),
                     WARDEN_EINVAL); /* 33 bytes */
    assert_int_equal(warden_crypto_check_name("user", "u", 1, &err), 0);
    assert_int_equal(warden_crypto_check_name("user", "uu", 1, &err), WARDEN_EINVAL);
    assert_non_null(strstr(err.msg, "user"));
    assert_int_equal(warden_crypto_check_name("user", NULL, 1, &err), WARDEN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crypto_aead_known_answers),
        cmocka_unit_test(crypto_aead_tag_mismatch_wipes_output),
        cmocka_unit_test(crypto_aead_aad_encoding_is_unambiguous),
        cmocka_unit_test(crypto_aead_region_names_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
