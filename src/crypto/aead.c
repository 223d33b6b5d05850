/* AES-256-GCM through OpenSSL EVP, with a 96-bit nonce and a full 128-bit tag. The one
 * place where record and key-file encryption meet OpenSSL; invariant: a failed open never
 * leaves unauthenticated plaintext in the caller's buffer. */
#include "crypto/crypto_internal.h"

#include <limits.h>
#include <openssl/evp.h>

int warden_aead_seal(uint8_t *ct, uint8_t tag[WARDEN_GCM_TAG_LEN], const uint8_t key[32],
                     const uint8_t nonce[WARDEN_GCM_NONCE_LEN], const uint8_t *aad, size_t aad_len,
                     const uint8_t *pt, size_t len, warden_err *err)
{
    int rc = 0;
    int n = 0;
    if (len > INT_MAX || aad_len > INT_MAX)
        return warden_err_set(err, WARDEN_EINVAL, "AES-GCM input too long");
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory for a cipher context");
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, WARDEN_GCM_NONCE_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1 ||
        (aad_len > 0 && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) ||
        (len > 0 && EVP_EncryptUpdate(ctx, ct, &n, pt, (int)len) != 1) ||
        EVP_EncryptFinal_ex(ctx, ct + len, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, WARDEN_GCM_TAG_LEN, tag) != 1) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "AES-256-GCM encryption failed in OpenSSL");
        goto out;
    }
out:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

int warden_aead_open(uint8_t *pt, const uint8_t key[32], const uint8_t nonce[WARDEN_GCM_NONCE_LEN],
                     const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t len,
                     const uint8_t tag[WARDEN_GCM_TAG_LEN], warden_err *err)
{
    int rc = 0;
    int n = 0;
    uint8_t tagcopy[WARDEN_GCM_TAG_LEN];
    if (len > INT_MAX || aad_len > INT_MAX)
        return warden_err_set(err, WARDEN_EINVAL, "AES-GCM input too long");
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory for a cipher context");
    /* EVP wants a writable tag buffer. */
    for (size_t i = 0; i < sizeof tagcopy; i++)
        tagcopy[i] = tag[i];
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, WARDEN_GCM_NONCE_LEN, NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1 ||
        (aad_len > 0 && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) ||
        (len > 0 && EVP_DecryptUpdate(ctx, pt, &n, ct, (int)len) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, WARDEN_GCM_TAG_LEN, tagcopy) != 1) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "AES-256-GCM decryption failed in OpenSSL");
        goto out;
    }
    if (EVP_DecryptFinal_ex(ctx, pt + len, &n) != 1) {
        rc = warden_err_set(err, WARDEN_EVERIFY, "authentication tag does not verify");
        goto out;
    }
out:
    if (rc != 0 && len > 0)
        warden_wipe(pt, len);
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

int warden_aad_put(warden_buf *aad, const void *p, size_t len)
{
    if (len > UINT32_MAX)
        return WARDEN_ELIMIT;
    uint8_t be[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    int rc = warden_buf_append(aad, be, sizeof be);
    if (rc == 0 && len > 0)
        rc = warden_buf_append(aad, p, len);
    return rc;
}

int warden_crypto_check_name(const char *what, const char *s, size_t max, warden_err *err)
{
    if (s == NULL || s[0] == '\0')
        return warden_err_set(err, WARDEN_EINVAL, "%s is empty", what);
    for (size_t i = 0; i <= max; i++)
        if (s[i] == '\0')
            return 0;
    return warden_err_set(err, WARDEN_EINVAL, "%s is longer than %zu bytes", what, max);
}

int warden_crypto_check_region(const char *region, warden_err *err)
{
    int rc = warden_crypto_check_name("region", region, 32, err);
    if (rc != 0)
        return rc;
    for (const char *p = region; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return warden_err_set(err, WARDEN_EINVAL,
                                  "region '%s' may only contain letters, digits, '.', '_' and '-'",
                                  region);
    }
    return 0;
}
