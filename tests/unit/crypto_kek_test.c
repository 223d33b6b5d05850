/* Tests for src/crypto/kek.c: the wrapped-DEK blob format and its checks (through the key
 * file provider): tampering, truncation, wrong user, region, KEK, version or provider, and
 * wrapping concurrently with rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto_internal.h"

typedef struct fixture {
    char dir[64];
    char path[128];
    warden_kek *kek;
    warden_dek *dek;
    warden_buf blob;
} fixture;

static int setup(void **state)
{
    warden_err err;
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/warden-kek-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/texas.kek", f->dir);
    warden_buf_init(&f->blob);
    if (warden_kek_keyfile_create(f->path, "texas", &err) != 0 ||
        warden_kek_keyfile_open(&f->kek, f->path, "texas", &err) != 0 ||
        warden_dek_new(&f->dek, &err) != 0 ||
        warden_kek_wrap(&f->blob, f->kek, f->dek, "alice", &err) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[256];
    warden_kek_free(f->kek);
    warden_dek_free(f->dek);
    warden_buf_fini(&f->blob);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Offsets in a key-file blob: "WK" 1 provider idlen id(19) version(4) nonce ct tag. */
enum {
    OFF_FORMAT = 2,
    OFF_PROVIDER = 3,
    OFF_IDLEN = 4,
    OFF_ID = 5,
    OFF_VERSION = 24,
    OFF_NONCE = 28,
    OFF_CT = 40,
    OFF_TAG = 72,
    BLOB_LEN = 88
};

static int unwrap(fixture *f, const uint8_t *p, size_t len, const char *user, warden_err *err)
{
    warden_dek *back = NULL;
    int rc = warden_kek_unwrap(&back, f->kek, p, len, user, err);
    if (rc == 0) {
        assert_memory_equal(back->key, f->dek->key, WARDEN_DEK_LEN);
        warden_dek_free(back);
    } else {
        assert_null(back);
        assert_int_equal(err->code, rc);
        /* Never key bytes in the message. */
        for (size_t i = 0; i + 4 <= strlen(err->msg); i++)
            assert_memory_not_equal(err->msg + i, f->dek->key, 4);
    }
    return rc;
}

static void crypto_kek_wrapped_format(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_wrapped_info info;
    assert_int_equal(f->blob.len, BLOB_LEN);
    assert_memory_equal(f->blob.p, "WK\1\1\23kf-", 8);
    assert_int_equal(warden_wrapped_parse(&info, f->blob.p, f->blob.len, &err), 0);
    assert_int_equal(info.provider, WARDEN_KEK_KEYFILE);
    assert_int_equal(info.kek_version, 1);
    assert_int_equal(strlen(info.kek_id), 19);
    assert_memory_equal(info.kek_id, f->blob.p + OFF_ID, 19);
    assert_string_equal(info.kek_id, warden_kek_id(f->kek));
    /* The DEK is not in the blob in the clear. */
    for (size_t i = 0; i + WARDEN_DEK_LEN <= f->blob.len; i++)
        assert_memory_not_equal(f->blob.p + i, f->dek->key, WARDEN_DEK_LEN);
    assert_int_equal(unwrap(f, f->blob.p, f->blob.len, "alice", &err), 0);
}

static void crypto_kek_every_tampered_byte_fails(void **state)
{
    fixture *f = *state;
    warden_err err;
    for (size_t i = 0; i < f->blob.len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            f->blob.p[i] ^= (uint8_t)(1u << bit);
            int rc = unwrap(f, f->blob.p, f->blob.len, "alice", &err);
            assert_true(rc < 0);
            if (i >= OFF_NONCE)
                assert_int_equal(rc, WARDEN_EVERIFY); /* nonce, ciphertext, tag */
            f->blob.p[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(unwrap(f, f->blob.p, f->blob.len, "alice", &err), 0);
}

static void crypto_kek_header_errors_are_named(void **state)
{
    fixture *f = *state;
    warden_err err;
    uint8_t b[BLOB_LEN + 1];
    memcpy(b, f->blob.p, BLOB_LEN);
    b[0] = 'X';
    assert_int_equal(unwrap(f, b, BLOB_LEN, "alice", &err), WARDEN_EPARSE);
    assert_non_null(strstr(err.msg, "bad magic"));
    memcpy(b, f->blob.p, BLOB_LEN);
    b[OFF_FORMAT] = 2;
    assert_int_equal(unwrap(f, b, BLOB_LEN, "alice", &err), WARDEN_EPARSE);
    assert_non_null(strstr(err.msg, "unsupported wrapped DEK format 2"));
    memcpy(b, f->blob.p, BLOB_LEN);
    b[OFF_PROVIDER] = 9;
    assert_int_equal(unwrap(f, b, BLOB_LEN, "alice", &err), WARDEN_EPARSE);
    assert_non_null(strstr(err.msg, "unknown KEK provider 9"));
    memcpy(b, f->blob.p, BLOB_LEN);
    b[OFF_PROVIDER] = WARDEN_KEK_PKCS11;
    assert_int_equal(unwrap(f, b, BLOB_LEN, "alice", &err), WARDEN_EVERIFY);
    assert_non_null(strstr(err.msg, "PKCS#11 provider"));
    memcpy(b, f->blob.p, BLOB_LEN);
    b[OFF_IDLEN] = 0;
    assert_int_equal(unwrap(f, b, BLOB_LEN, "alice", &err), WARDEN_EPARSE);
    memcpy(b, f->blob.p, BLOB_LEN);
    b[OFF_IDLEN] = 200;
    assert_int_equal(unwrap(f, b, BLOB_LEN, "alice", &err), WARDEN_EPARSE);
    memcpy(b, f->blob.p, BLOB_LEN);
    b[OFF_ID + 3] = '\n';
    assert_int_equal(unwrap(f, b, BLOB_LEN, "alice", &err), WARDEN_EPARSE);
    memcpy(b, f->blob.p, BLOB_LEN);
    b[OFF_ID + 3] ^= 1;
    assert_int_equal(unwrap(f, b, BLOB_LEN, "alice", &err), WARDEN_EVERIFY);
    assert_non_null(strstr(err.msg, "not by region texas's KEK"));
    memcpy(b, f->blob.p, BLOB_LEN);
    b[BLOB_LEN] = 0;
    assert_int_equal(unwrap(f, b, BLOB_LEN + 1, "alice", &err), WARDEN_EPARSE);
    assert_non_null(strstr(err.msg, "1 trailing bytes"));
    for (size_t n = 0; n < BLOB_LEN; n++) {
        assert_int_equal(unwrap(f, f->blob.p, n, "alice", &err), WARDEN_ETRUNC);
        assert_non_null(strstr(err.msg, "truncated"));
    }
}

static void crypto_kek_wrong_user_and_kek_version_fail(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_dek *back = NULL;
    assert_int_equal(unwrap(f, f->blob.p, f->blob.len, "bob", &err), WARDEN_EVERIFY);
    assert_non_null(strstr(err.msg, "user bob"));
    assert_int_equal(unwrap(f, f->blob.p, f->blob.len, "alice2", &err), WARDEN_EVERIFY);
    assert_int_equal(warden_kek_unwrap(&back, f->kek, f->blob.p, f->blob.len, "", &err),
                     WARDEN_EINVAL);
    uint8_t b[BLOB_LEN];
    memcpy(b, f->blob.p, BLOB_LEN);
    b[OFF_VERSION + 3] = 2; /* a version that does not exist yet */
    assert_int_equal(unwrap(f, b, BLOB_LEN, "alice", &err), WARDEN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "version 2 does not exist"));
    uint32_t v;
    assert_int_equal(warden_kek_rotate(&v, f->kek, &err), 0);
    /* Now it exists, but the blob was sealed by version 1 and says 1 in its AAD. */
    assert_int_equal(unwrap(f, b, BLOB_LEN, "alice", &err), WARDEN_EVERIFY);
    assert_int_equal(unwrap(f, f->blob.p, f->blob.len, "alice", &err), 0);
}

static void crypto_kek_blob_from_another_key_file_fails(void **state)
{
    fixture *f = *state;
    warden_err err;
    char other[160];
    warden_kek *va = NULL, *again = NULL;
    warden_buf vb;
    warden_buf_init(&vb);
    snprintf(other, sizeof other, "%s/virginia.kek", f->dir);
    assert_int_equal(warden_kek_keyfile_create(other, "virginia", &err), 0);
    assert_int_equal(warden_kek_keyfile_open(&va, other, "virginia", &err), 0);
    assert_int_equal(warden_kek_wrap(&vb, va, f->dek, "alice", &err), 0);
    assert_int_equal(unwrap(f, vb.p, vb.len, "alice", &err), WARDEN_EVERIFY);
    assert_non_null(strstr(err.msg, "not by region texas's KEK"));
    /* A key file made again for the same region has another id, so old blobs are told
     * apart from corruption. */
    char again_path[160];
    snprintf(again_path, sizeof again_path, "%s/texas2.kek", f->dir);
    assert_int_equal(warden_kek_keyfile_create(again_path, "texas", &err), 0);
    assert_int_equal(warden_kek_keyfile_open(&again, again_path, "texas", &err), 0);
    warden_dek *back = NULL;
    assert_int_equal(warden_kek_unwrap(&back, again, f->blob.p, f->blob.len, "alice", &err),
                     WARDEN_EVERIFY);
    assert_null(back);
    warden_kek_free(again);
    warden_kek_free(va);
    warden_buf_fini(&vb);
}

typedef struct worker {
    fixture *f;
    int failures;
} worker;

static void *wrap_loop(void *arg)
{
    worker *w = arg;
    warden_err err;
    for (int i = 0; i < 200; i++) {
        warden_buf b;
        warden_dek *back = NULL;
        warden_buf_init(&b);
        if (warden_kek_wrap(&b, w->f->kek, w->f->dek, "alice", &err) != 0 ||
            warden_kek_unwrap(&back, w->f->kek, b.p, b.len, "alice", &err) != 0 ||
            memcmp(back->key, w->f->dek->key, WARDEN_DEK_LEN) != 0)
            w->failures++;
        warden_dek_free(back);
        warden_buf_fini(&b);
    }
    return NULL;
}

static void crypto_kek_concurrent_wrap_during_rotation(void **state)
{
    fixture *f = *state;
    warden_err err;
    pthread_t t[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i].f = f;
        w[i].failures = 0;
        assert_int_equal(pthread_create(&t[i], NULL, wrap_loop, &w[i]), 0);
    }
    for (int i = 0; i < 5; i++) {
        uint32_t v;
        assert_int_equal(warden_kek_rotate(&v, f->kek, &err), 0);
        assert_int_equal(v, (uint32_t)i + 2);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(warden_kek_current_version(f->kek), 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(crypto_kek_wrapped_format, setup, teardown),
        cmocka_unit_test_setup_teardown(crypto_kek_every_tampered_byte_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(crypto_kek_header_errors_are_named, setup, teardown),
        cmocka_unit_test_setup_teardown(crypto_kek_wrong_user_and_kek_version_fail, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(crypto_kek_blob_from_another_key_file_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(crypto_kek_concurrent_wrap_during_rotation, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
