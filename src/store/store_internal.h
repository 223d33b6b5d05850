/* Internals shared by the store's files: the byte encoding of keys and values that the
 * LMDB backend stores (codec.c) and the name checks every backend relies on (store.c).
 * A SQL backend uses columns instead and needs none of the codec. */
#ifndef WARDEN_STORE_INTERNAL_H
#define WARDEN_STORE_INTERNAL_H

#include "warden/store.h"

#define STORE_FORMAT 1    /* value format byte; also recorded in the "meta" database */
#define STORE_CHECK_LEN 8 /* truncated SHA-256 of key and value, at the end of every value */

enum { STORE_REC_LIVE = 0, STORE_REC_TOMBSTONE = 1 };

/* A decoded user value; pointers borrow the value's bytes. */
typedef struct store_user_val {
    uint8_t state;
    int64_t created, shredded;
    char jurisdiction[WARDEN_STORE_JURISDICTION_MAX + 1];
    char kek_id[WARDEN_STORE_KEK_ID_MAX + 1];
    uint32_t kek_version;
    const uint8_t *blob;
    size_t blob_len;
} store_user_val;

/* A decoded record value; blob borrows the value's bytes. */
typedef struct store_rec_val {
    uint8_t flags; /* STORE_REC_LIVE or STORE_REC_TOMBSTONE */
    uint64_t version;
    const uint8_t *blob;
    size_t blob_len;
} store_rec_val;

/* Keys: each part as a big-endian 16-bit length and its bytes, so that ("a","bc") and
 * ("ab","c") differ and one user's records share the prefix key_user(user). */
int store_key_user(warden_buf *out, const char *user, warden_err *err);
int store_key_record(warden_buf *out, const char *user, const char *collection, const char *id,
                     warden_err *err);
/* Splits a records key back into its parts (NUL-terminated copies in caller arrays).
 * Errors: WARDEN_ECORRUPT. */
int store_key_record_parse(char user[WARDEN_STORE_USER_MAX + 1],
                           char collection[WARDEN_STORE_COLLECTION_MAX + 1],
                           char id[WARDEN_STORE_ID_MAX + 1], const uint8_t *key, size_t len,
                           warden_err *err);
/* Reads a users key back into a user id. Errors: WARDEN_ECORRUPT. */
int store_key_user_parse(char user[WARDEN_STORE_USER_MAX + 1], const uint8_t *key, size_t len,
                         warden_err *err);

/* Values end with a check over key and value, so a flipped byte or a value moved to
 * another key is WARDEN_ECORRUPT rather than a confusing failure later. */
int store_user_encode(warden_buf *out, const uint8_t *key, size_t klen, const store_user_val *v,
                      warden_err *err);
int store_user_decode(store_user_val *v, const uint8_t *key, size_t klen, const uint8_t *val,
                      size_t len, warden_err *err);
int store_rec_encode(warden_buf *out, const uint8_t *key, size_t klen, const store_rec_val *v,
                     warden_err *err);
int store_rec_decode(store_rec_val *v, const uint8_t *key, size_t klen, const uint8_t *val,
                     size_t len, warden_err *err);

/* Name checks (store.c). Errors: WARDEN_EINVAL naming what is wrong. */
int store_check_user(const char *user, warden_err *err);
int store_check_collection(const char *collection, warden_err *err);
int store_check_id(const char *id, warden_err *err);
int store_check_jurisdiction(const char *j, warden_err *err);
int store_check_dek(const warden_store_dek *dek, warden_err *err);

#endif
