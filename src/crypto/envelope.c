/* Per-user data keys and record encryption. A sealed record is
 *   "WR" | format 1 | nonce (12) | ciphertext | tag (16)
 * and its associated data binds the format header plus region, user, collection, id and
 * version, each length-prefixed, so no two distinct records share associated data. The
 * parser reads only through warden_cursor. */
#include "crypto/crypto_internal.h"

#include <openssl/rand.h>
#include <string.h>

#define RECORD_FORMAT 1
#define RECORD_MAX_PLAINTEXT (1u << 30)
static const char RECORD_DOMAIN[] = "warden record v1";

int warden_dek_alloc(warden_dek **out, warden_err *err)
{
    warden_dek *dek = warden_secret_alloc(sizeof *dek);
    if (dek == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of locked memory for a data key");
    *out = dek;
    return 0;
}

int warden_dek_new(warden_dek **out, warden_err *err)
{
    warden_dek *dek = NULL;
    int rc = warden_dek_alloc(&dek, err);
    if (rc != 0)
        return rc;
    if (RAND_bytes(dek->key, sizeof dek->key) != 1) {
        warden_dek_free(dek);
        return warden_err_set(err, WARDEN_EINTERNAL, "the random number generator failed");
    }
    *out = dek;
    return 0;
}

void warden_dek_free(warden_dek *dek)
{
    warden_secret_free(dek, sizeof *dek);
}

void warden_dek_copy(warden_dek *dst, const warden_dek *src)
{
    memcpy(dst->key, src->key, sizeof dst->key);
}

void warden_dek_wipe(warden_dek *dek)
{
    warden_wipe(dek->key, sizeof dek->key);
}

static int check_ref(const warden_record_ref *ref, warden_err *err)
{
    int rc;
    if (ref == NULL)
        return warden_err_set(err, WARDEN_EINVAL, "no record reference");
    if ((rc = warden_crypto_check_name("region", ref->region, WARDEN_CRYPTO_NAME_MAX, err)) ||
        (rc = warden_crypto_check_name("user", ref->user, WARDEN_CRYPTO_NAME_MAX, err)) ||
        (rc = warden_crypto_check_name("collection", ref->collection, WARDEN_CRYPTO_NAME_MAX,
                                       err)) ||
        (rc = warden_crypto_check_name("record id", ref->id, WARDEN_CRYPTO_NAME_MAX, err)))
        return rc;
    return 0;
}

static int record_aad(warden_buf *aad, const uint8_t header[3], const warden_record_ref *ref,
                      warden_err *err)
{
    uint8_t v[8];
    for (int i = 0; i < 8; i++)
        v[i] = (uint8_t)(ref->version >> (56 - 8 * i));
    if (warden_aad_put(aad, RECORD_DOMAIN, sizeof RECORD_DOMAIN - 1) ||
        warden_aad_put(aad, header, 3) || warden_aad_put(aad, ref->region, strlen(ref->region)) ||
        warden_aad_put(aad, ref->user, strlen(ref->user)) ||
        warden_aad_put(aad, ref->collection, strlen(ref->collection)) ||
        warden_aad_put(aad, ref->id, strlen(ref->id)) || warden_aad_put(aad, v, sizeof v))
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory for associated data");
    return 0;
}

int warden_envelope_encrypt(warden_buf *out, const warden_dek *dek, const warden_record_ref *ref,
                            const uint8_t *pt, size_t len, warden_err *err)
{
    static const uint8_t header[3] = {'W', 'R', RECORD_FORMAT};
    uint8_t nonce[WARDEN_GCM_NONCE_LEN];
    warden_buf aad;
    warden_buf_init(&aad);
    int rc = check_ref(ref, err);
    if (rc != 0)
        goto out;
    if (len > RECORD_MAX_PLAINTEXT) {
        rc = warden_err_set(err, WARDEN_ELIMIT, "record is larger than 1 GiB");
        goto out;
    }
    if ((rc = record_aad(&aad, header, ref, err)) != 0)
        goto out;
    if (RAND_bytes(nonce, sizeof nonce) != 1) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "the random number generator failed");
        goto out;
    }
    if ((rc = warden_buf_reserve(out, WARDEN_RECORD_OVERHEAD + len)) != 0) {
        warden_err_set(err, rc, "out of memory for a record ciphertext");
        goto out;
    }
    uint8_t *p = out->p + out->len;
    memcpy(p, header, sizeof header);
    memcpy(p + 3, nonce, sizeof nonce);
    rc = warden_aead_seal(p + 3 + sizeof nonce, p + 3 + sizeof nonce + len, dek->key, nonce, aad.p,
                          aad.len, pt, len, err);
    if (rc != 0)
        goto out;
    out->len += WARDEN_RECORD_OVERHEAD + len;
out:
    warden_buf_fini(&aad);
    return rc;
}

/* Names the record so that an operator knows which one failed, and never key material. */
static int refail(warden_err *err, int code, const warden_record_ref *ref, const char *why)
{
    return warden_err_set(err, code, "record %s/%s/%s/%s version %llu: %s", ref->region, ref->user,
                          ref->collection, ref->id, (unsigned long long)ref->version, why);
}

int warden_envelope_decrypt(warden_buf *pt, const warden_dek *dek, const warden_record_ref *ref,
                            const uint8_t *blob, size_t len, warden_err *err)
{
    const uint8_t *magic, *nonce, *ct, *tag;
    uint8_t format;
    warden_cursor c;
    warden_buf aad;
    warden_buf_init(&aad);
    int rc = check_ref(ref, err);
    if (rc != 0)
        goto out;
    warden_cursor_init(&c, blob, len);
    if (len < WARDEN_RECORD_OVERHEAD) {
        rc = refail(err, WARDEN_ETRUNC, ref,
                    "ciphertext is truncated (shorter than its header "
                    "and tag)");
        goto out;
    }
    if (warden_cursor_bytes(&c, &magic, 2) || warden_cursor_u8(&c, &format) ||
        warden_cursor_bytes(&c, &nonce, WARDEN_GCM_NONCE_LEN)) {
        rc = refail(err, WARDEN_ETRUNC, ref, "ciphertext is truncated");
        goto out;
    }
    if (magic[0] != 'W' || magic[1] != 'R') {
        rc = refail(err, WARDEN_EPARSE, ref, "not a warden record ciphertext (bad magic)");
        goto out;
    }
    if (format != RECORD_FORMAT) {
        rc = warden_err_set(err, WARDEN_EPARSE,
                            "record %s/%s/%s/%s version %llu: unsupported ciphertext format %u "
                            "(this build reads format %u)",
                            ref->region, ref->user, ref->collection, ref->id,
                            (unsigned long long)ref->version, format, RECORD_FORMAT);
        goto out;
    }
    size_t ct_len = warden_cursor_left(&c) - WARDEN_GCM_TAG_LEN;
    if (warden_cursor_bytes(&c, &ct, ct_len) || warden_cursor_bytes(&c, &tag, WARDEN_GCM_TAG_LEN)) {
        rc = refail(err, WARDEN_ETRUNC, ref, "ciphertext is truncated");
        goto out;
    }
    if ((rc = record_aad(&aad, blob, ref, err)) != 0)
        goto out;
    if ((rc = warden_buf_reserve(pt, ct_len)) != 0) {
        warden_err_set(err, rc, "out of memory for a record plaintext");
        goto out;
    }
    rc = warden_aead_open(pt->p + pt->len, dek->key, nonce, aad.p, aad.len, ct, ct_len, tag, err);
    if (rc == WARDEN_EVERIFY) {
        refail(err, rc, ref,
               "ciphertext does not verify: it was not sealed under this user's key for this "
               "region, user, collection, id and version, or it was altered");
        goto out;
    }
    if (rc != 0)
        goto out;
    pt->len += ct_len;
out:
    warden_buf_fini(&aad);
    return rc;
}
