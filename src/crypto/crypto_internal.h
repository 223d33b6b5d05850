/* Internals shared by the crypto component's files: the DEK layout, the AES-256-GCM
 * primitive, and the contract every KEK provider implements. Nothing outside
 * src/crypto/ (tests excepted) includes this. */
#ifndef WARDEN_CRYPTO_INTERNAL_H
#define WARDEN_CRYPTO_INTERNAL_H

#include "warden/crypto.h"

/* The whole struct lives in warden_secret_alloc memory. */
struct warden_dek {
    uint8_t key[WARDEN_DEK_LEN];
};

/* Allocates an all-zero DEK in secret memory. Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_dek_alloc(warden_dek **out, warden_err *err);

/* AES-256-GCM with a 96-bit nonce and a 128-bit tag. ct may equal pt. len and aad_len
 * must fit in an int. Errors: WARDEN_EINVAL (too long), WARDEN_EINTERNAL. */
WARDEN_MUST_USE int warden_aead_seal(uint8_t *ct, uint8_t tag[WARDEN_GCM_TAG_LEN],
                                     const uint8_t key[32],
                                     const uint8_t nonce[WARDEN_GCM_NONCE_LEN], const uint8_t *aad,
                                     size_t aad_len, const uint8_t *pt, size_t len,
                                     warden_err *err);

/* The inverse of warden_aead_seal. On a tag mismatch pt is wiped and WARDEN_EVERIFY is
 * returned with a generic message the caller prefixes with what it was opening.
 * Errors: WARDEN_EVERIFY, WARDEN_EINVAL, WARDEN_EINTERNAL. */
WARDEN_MUST_USE int warden_aead_open(uint8_t *pt, const uint8_t key[32],
                                     const uint8_t nonce[WARDEN_GCM_NONCE_LEN], const uint8_t *aad,
                                     size_t aad_len, const uint8_t *ct, size_t len,
                                     const uint8_t tag[WARDEN_GCM_TAG_LEN], warden_err *err);

/* Appends a 4-byte big-endian length then the bytes: the unambiguous encoding of every
 * variable-length field in associated data. Errors: WARDEN_ENOMEM, WARDEN_ELIMIT. */
WARDEN_MUST_USE int warden_aad_put(warden_buf *aad, const void *p, size_t len);

/* Checks that s is a non-empty NUL-terminated name of at most max bytes; what names it in
 * the error. Errors: WARDEN_EINVAL. */
WARDEN_MUST_USE int warden_crypto_check_name(const char *what, const char *s, size_t max,
                                             warden_err *err);

/* Checks a region name for use in key labels and files: 1..32 bytes of [A-Za-z0-9._-].
 * Errors: WARDEN_EINVAL. */
WARDEN_MUST_USE int warden_crypto_check_region(const char *region, warden_err *err);

/* What a KEK provider implements. The generic layer (kek.c) owns the blob format, the
 * associated data and the locking: seal/open/current run under a shared lock, rotate and
 * retire under an exclusive one, so a provider never sees them concurrently. */
typedef struct warden_kek_ops {
    uint8_t provider; /* WARDEN_KEK_KEYFILE or WARDEN_KEK_PKCS11 */
    /* Encrypts the DEK with KEK version (which is current). */
    int (*seal)(void *st, uint32_t version, const uint8_t nonce[WARDEN_GCM_NONCE_LEN],
                const uint8_t *aad, size_t aad_len, const uint8_t dek[WARDEN_DEK_LEN],
                uint8_t ct[WARDEN_DEK_LEN], uint8_t tag[WARDEN_GCM_TAG_LEN], warden_err *err);
    /* Decrypts into dek; WARDEN_ENOTFOUND for an unknown or retired version, WARDEN_EVERIFY
     * when the tag does not verify. */
    int (*open)(void *st, uint32_t version, const uint8_t nonce[WARDEN_GCM_NONCE_LEN],
                const uint8_t *aad, size_t aad_len, const uint8_t ct[WARDEN_DEK_LEN],
                const uint8_t tag[WARDEN_GCM_TAG_LEN], uint8_t dek[WARDEN_DEK_LEN],
                warden_err *err);
    uint32_t (*current)(void *st);
    int (*rotate)(void *st, uint32_t *version, warden_err *err);
    int (*retire)(void *st, uint32_t version, warden_err *err);
    void (*close)(void *st);
} warden_kek_ops;

/* Wraps a provider's state in a warden_kek. On failure ops->close(st) has been called.
 * kek_id is at most 64 bytes. Errors: WARDEN_EINVAL, WARDEN_ENOMEM, WARDEN_EINTERNAL. */
WARDEN_MUST_USE int warden_kek_new(warden_kek **out, const warden_kek_ops *ops, void *st,
                                   const char *region, const char *kek_id, warden_err *err);

#endif
