/* Envelope encryption for records and the key-encryption keys (KEKs) that protect the
 * per-user data keys (DEKs).
 *
 * A record is sealed with AES-256-GCM under its user's DEK; the associated data binds
 * region, user, collection, id and version, so a ciphertext moved or replayed anywhere
 * else fails to open. A DEK exists in plaintext only in locked secret memory; at rest it
 * is a "wrapped DEK" blob sealed by the region's KEK, which lives in a 0600 key file or on
 * a PKCS#11 token. Formats are documented in docs/keys.md. Error messages never carry
 * key bytes or plaintext. */
#ifndef WARDEN_CRYPTO_H
#define WARDEN_CRYPTO_H

#include "warden/common.h"
#include "warden/util.h"

#include <stdint.h>

#define WARDEN_DEK_LEN 32 /* AES-256 */
#define WARDEN_GCM_NONCE_LEN 12
#define WARDEN_GCM_TAG_LEN 16
/* Bytes a sealed record adds to its plaintext: magic, format version, nonce, tag. */
#define WARDEN_RECORD_OVERHEAD (2 + 1 + WARDEN_GCM_NONCE_LEN + WARDEN_GCM_TAG_LEN)
/* Longest region, user, collection or id accepted in associated data. */
#define WARDEN_CRYPTO_NAME_MAX 1024

/* ---- data keys ---- */

/* A per-user AES-256 data key. Opaque; lives in warden_secret_alloc memory. */
typedef struct warden_dek warden_dek;

/* Creates a fresh random DEK (OpenSSL RAND_bytes). Free with warden_dek_free.
 * Errors: WARDEN_ENOMEM, WARDEN_EINTERNAL (the RNG failed). */
WARDEN_MUST_USE int warden_dek_new(warden_dek **out, warden_err *err);
/* Wipes and frees a DEK; NULL is accepted. */
void warden_dek_free(warden_dek *dek);
/* Copies src's key into dst (both from this API), so a cache can hand out its keys without
 * allocating locked memory per use. */
void warden_dek_copy(warden_dek *dst, const warden_dek *src);
/* Wipes the key bytes of dek in place (the object stays allocated). */
void warden_dek_wipe(warden_dek *dek);

/* ---- record envelope ---- */

/* What a record ciphertext is bound to. All strings are NUL-terminated, non-empty and at
 * most WARDEN_CRYPTO_NAME_MAX bytes; they are borrowed for the duration of one call. */
typedef struct warden_record_ref {
    const char *region;
    const char *user;
    const char *collection;
    const char *id;
    uint64_t version;
} warden_record_ref;

/* Seals pt under dek for ref and appends the ciphertext (WARDEN_RECORD_OVERHEAD + len
 * bytes: "WR", format 1, random nonce, ciphertext, tag) to out.
 * Errors: WARDEN_EINVAL (bad ref), WARDEN_ELIMIT (pt over 1 GiB), WARDEN_ENOMEM,
 * WARDEN_EINTERNAL (OpenSSL failed). */
WARDEN_MUST_USE int warden_envelope_encrypt(warden_buf *out, const warden_dek *dek,
                                            const warden_record_ref *ref, const uint8_t *pt,
                                            size_t len, warden_err *err);

/* Opens a sealed record and appends the plaintext to pt, which should be empty (so that
 * growing it never leaves a stale copy) and must be freed with warden_buf_fini_wipe.
 * Nothing is appended on failure. Errors: WARDEN_ETRUNC (shorter than a header and tag),
 * WARDEN_EPARSE (bad magic or unknown format version), WARDEN_EVERIFY (wrong key, or sealed
 * for another region, user, collection, id or version, or tampered), WARDEN_EINVAL (bad
 * ref), WARDEN_ENOMEM, WARDEN_EINTERNAL. */
WARDEN_MUST_USE int warden_envelope_decrypt(warden_buf *pt, const warden_dek *dek,
                                            const warden_record_ref *ref, const uint8_t *blob,
                                            size_t len, warden_err *err);

/* ---- key-encryption keys ---- */

/* One region's KEK with all its live versions, behind one of the providers below.
 * Safe for concurrent use by several threads. */
typedef struct warden_kek warden_kek;

/* Which provider sealed a wrapped DEK (stored in the blob). */
enum { WARDEN_KEK_KEYFILE = 1, WARDEN_KEK_PKCS11 = 2 };

/* The parsed, unauthenticated header of a wrapped DEK blob: enough to route it to the
 * right KEK and version (e.g. to find DEKs still wrapped by an old version). */
typedef struct warden_wrapped_info {
    uint8_t provider; /* WARDEN_KEK_KEYFILE or WARDEN_KEK_PKCS11 */
    char kek_id[65];  /* NUL-terminated */
    uint32_t kek_version;
} warden_wrapped_info;

/* Parses a wrapped DEK blob's header without any key. Errors: WARDEN_ETRUNC,
 * WARDEN_EPARSE (bad magic, format version, provider, id or length). */
WARDEN_MUST_USE int warden_wrapped_parse(warden_wrapped_info *info, const uint8_t *blob, size_t len,
                                         warden_err *err);

/* Wraps dek for user under the current KEK version and appends the blob to out. The blob
 * binds region, user, KEK id and version as associated data.
 * Errors: WARDEN_EINVAL (bad user), WARDEN_ENOMEM, WARDEN_EIO (token failure),
 * WARDEN_EINTERNAL. */
WARDEN_MUST_USE int warden_kek_wrap(warden_buf *out, warden_kek *kek, const warden_dek *dek,
                                    const char *user, warden_err *err);

/* Unwraps a blob made by warden_kek_wrap for user in this region into a new DEK.
 * Errors: WARDEN_ETRUNC, WARDEN_EPARSE (not a wrapped DEK), WARDEN_EVERIFY (another
 * provider's or KEK's blob, or wrapped for another region or user, or tampered),
 * WARDEN_ENOTFOUND (its KEK version is unknown or retired), WARDEN_EINVAL, WARDEN_ENOMEM,
 * WARDEN_EIO, WARDEN_EINTERNAL. */
WARDEN_MUST_USE int warden_kek_unwrap(warden_dek **dek, warden_kek *kek, const uint8_t *blob,
                                      size_t len, const char *user, warden_err *err);

/* Unwraps blob and wraps its DEK again under the current version (online rotation).
 * Errors: as warden_kek_unwrap and warden_kek_wrap. */
WARDEN_MUST_USE int warden_kek_rewrap(warden_buf *out, warden_kek *kek, const uint8_t *blob,
                                      size_t len, const char *user, warden_err *err);

/* Creates a new KEK version and makes it current; older versions still unwrap until
 * retired. Durable before it returns. On success *version is the new version.
 * Errors: WARDEN_ELIMIT (version space exhausted), WARDEN_EIO, WARDEN_ENOMEM,
 * WARDEN_EINTERNAL. */
WARDEN_MUST_USE int warden_kek_rotate(uint32_t *version, warden_kek *kek, warden_err *err);

/* Destroys KEK version (key bytes erased from the file, or the token object deleted), so
 * blobs wrapped by it can never be unwrapped again. Errors: WARDEN_EINVAL (the current
 * version), WARDEN_ENOTFOUND (unknown or already retired), WARDEN_EIO, WARDEN_EINTERNAL. */
WARDEN_MUST_USE int warden_kek_retire(warden_kek *kek, uint32_t version, warden_err *err);

/* The version that warden_kek_wrap uses now. */
uint32_t warden_kek_current_version(warden_kek *kek);

/* The region this KEK serves (borrowed, valid until warden_kek_free). */
const char *warden_kek_region(const warden_kek *kek);

/* The KEK id written into every blob it wraps ("kf-<hex>" for a key file,
 * "warden-kek-<region>" for PKCS#11; borrowed, valid until warden_kek_free). */
const char *warden_kek_id(const warden_kek *kek);

/* Closes the provider and wipes every key byte held in memory; NULL is accepted. */
void warden_kek_free(warden_kek *kek);

/* ---- key file provider (embedded default) ---- */

/* Creates a new key file at path for region, with one random KEK version (1). The file is
 * created with O_EXCL and mode 0600 and synced. Errors: WARDEN_EEXIST (path exists),
 * WARDEN_EINVAL (bad region), WARDEN_EIO, WARDEN_ENOMEM, WARDEN_EINTERNAL. */
WARDEN_MUST_USE int warden_kek_keyfile_create(const char *path, const char *region,
                                              warden_err *err);

/* Opens the key file at path and checks that it belongs to region. Refuses a file that is
 * not a regular file, not owned by this user, or readable/writable by group or others.
 * Errors: WARDEN_ENOTFOUND, WARDEN_EDENIED (ownership or permissions), WARDEN_ECORRUPT
 * (bad format or checksum), WARDEN_EVERIFY (the file is for another region), WARDEN_EIO,
 * WARDEN_ELIMIT, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_kek_keyfile_open(warden_kek **out, const char *path, const char *region,
                                            warden_err *err);

/* ---- PKCS#11 provider ---- */

typedef struct warden_pkcs11_config {
    const char *module;      /* path of the PKCS#11 module, e.g. libsofthsm2.so */
    const char *token_label; /* label of the token to use */
    const char *pin;         /* user PIN; if NULL, read from the variable named pin_env */
    const char *pin_env;     /* e.g. "WARDEN_PKCS11_PIN"; used only when pin is NULL */
    const char *region;      /* keys are labelled warden-kek-<region>-v<N> */
} warden_pkcs11_config;

/* Generates version 1 of region's KEK on the token (sensitive, non-extractable, token
 * object). Errors: WARDEN_EEXIST (the region already has a KEK on the token), and those of
 * warden_kek_pkcs11_open. */
WARDEN_MUST_USE int warden_kek_pkcs11_create(const warden_pkcs11_config *cfg, warden_err *err);

/* Loads the module, logs in to the token and finds region's KEK versions. Wrapping and
 * unwrapping then happen inside the token (CKM_AES_GCM). Errors: WARDEN_EINVAL (bad
 * config, no PIN), WARDEN_ENOTFOUND (module, token or KEK missing), WARDEN_EDENIED (wrong
 * or locked PIN), WARDEN_EIO (token failure), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_kek_pkcs11_open(warden_kek **out, const warden_pkcs11_config *cfg,
                                           warden_err *err);

#endif
