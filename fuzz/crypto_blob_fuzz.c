/* Fuzzes the parsers of our two ciphertext formats: sealed records (envelope.c) and
 * wrapped DEKs (kek.c). The first input byte picks the parser, the rest is the blob. A
 * fixed test key and a provider that seals in software let corpus entries with valid tags
 * reach the success path, where the result must round-trip. */
#include "crypto/crypto_internal.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t FUZZ_KEY[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                     11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                     22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

static int fz_seal(void *st, uint32_t version, const uint8_t nonce[WARDEN_GCM_NONCE_LEN],
                   const uint8_t *aad, size_t aad_len, const uint8_t dek[WARDEN_DEK_LEN],
                   uint8_t ct[WARDEN_DEK_LEN], uint8_t tag[WARDEN_GCM_TAG_LEN], warden_err *err)
{
    (void)st;
    (void)version;
    return warden_aead_seal(ct, tag, FUZZ_KEY, nonce, aad, aad_len, dek, WARDEN_DEK_LEN, err);
}

static int fz_open(void *st, uint32_t version, const uint8_t nonce[WARDEN_GCM_NONCE_LEN],
                   const uint8_t *aad, size_t aad_len, const uint8_t ct[WARDEN_DEK_LEN],
                   const uint8_t tag[WARDEN_GCM_TAG_LEN], uint8_t dek[WARDEN_DEK_LEN],
                   warden_err *err)
{
    (void)st;
    if (version != 1)
        return warden_err_set(err, WARDEN_ENOTFOUND, "no such version");
    return warden_aead_open(dek, FUZZ_KEY, nonce, aad, aad_len, ct, WARDEN_DEK_LEN, tag, err);
}

static uint32_t fz_current(void *st)
{
    (void)st;
    return 1;
}

static int fz_rotate(void *st, uint32_t *version, warden_err *err)
{
    (void)st;
    (void)version;
    return warden_err_set(err, WARDEN_EINVAL, "not in the fuzzer");
}

static int fz_retire(void *st, uint32_t version, warden_err *err)
{
    (void)st;
    (void)version;
    return warden_err_set(err, WARDEN_EINVAL, "not in the fuzzer");
}

static void fz_close(void *st)
{
    (void)st;
}

static const warden_kek_ops FUZZ_OPS = {WARDEN_KEK_KEYFILE, fz_seal,   fz_open, fz_current,
                                        fz_rotate,          fz_retire, fz_close};

static const warden_record_ref REF = {"texas", "alice", "profile", "42", 3};

static void fuzz_record(const warden_dek *dek, const uint8_t *p, size_t n)
{
    warden_err err;
    warden_buf pt;
    warden_buf_init(&pt);
    int rc = warden_envelope_decrypt(&pt, dek, &REF, p, n, &err);
    if (rc == 0 && pt.len + WARDEN_RECORD_OVERHEAD != n)
        abort();
    if (rc != 0 && (pt.len != 0 || err.code != rc))
        abort();
    warden_buf_fini_wipe(&pt);
}

static void fuzz_wrapped(warden_kek *kek, const uint8_t *p, size_t n)
{
    warden_err err;
    warden_wrapped_info info;
    warden_dek *dek = NULL;
    int prc = warden_wrapped_parse(&info, p, n, &err);
    int rc = warden_kek_unwrap(&dek, kek, p, n, "alice", &err);
    /* Unwrapping parses first: it can succeed only where parsing did. */
    if (rc == 0 && prc != 0)
        abort();
    if (rc == 0) {
        warden_buf again;
        warden_dek *back = NULL;
        warden_buf_init(&again);
        if (warden_kek_wrap(&again, kek, dek, "alice", &err) != 0 ||
            warden_kek_unwrap(&back, kek, again.p, again.len, "alice", &err) != 0 ||
            !warden_ct_equal(back->key, dek->key, WARDEN_DEK_LEN))
            abort();
        warden_dek_free(back);
        warden_buf_fini(&again);
    } else if (dek != NULL) {
        abort();
    }
    warden_dek_free(dek);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static warden_kek *kek;
    static warden_dek *dek;
    warden_err err;
    if (kek == NULL) {
        if (warden_kek_new(&kek, &FUZZ_OPS, NULL, "texas", "fuzz-kek", &err) != 0 ||
            warden_dek_alloc(&dek, &err) != 0)
            abort();
        memcpy(dek->key, FUZZ_KEY, WARDEN_DEK_LEN);
    }
    if (size == 0)
        return 0;
    if (data[0] & 1)
        fuzz_wrapped(kek, data + 1, size - 1);
    else
        fuzz_record(dek, data + 1, size - 1);
    return 0;
}
