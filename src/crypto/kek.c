/* The KEK interface every provider sits behind, and the wrapped-DEK blob format:
 *   "WK" | format 1 | provider | id length (1..64) | KEK id | KEK version (be32) |
 *   nonce (12) | encrypted DEK (32) | tag (16)
 * The associated data is a domain string, the whole header up to the nonce, then region
 * and user length-prefixed: a blob moved to another region or user, or with any header
 * byte changed, fails to unwrap. Providers only encrypt and decrypt 32 bytes; the format,
 * checks and locking live here so that both providers behave alike. */
#include "crypto/crypto_internal.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRAPPED_FORMAT 1
#define KEK_ID_MAX 64
static const char WRAP_DOMAIN[] = "warden wrapped dek v1";

struct warden_kek {
    const warden_kek_ops *ops;
    void *st;
    pthread_rwlock_t lock;
    char region[33];
    char kek_id[KEK_ID_MAX + 1];
};

static const char *provider_name(uint8_t p)
{
    return p == WARDEN_KEK_KEYFILE ? "key file" : p == WARDEN_KEK_PKCS11 ? "PKCS#11" : "unknown";
}

int warden_kek_new(warden_kek **out, const warden_kek_ops *ops, void *st, const char *region,
                   const char *kek_id, warden_err *err)
{
    int rc = warden_crypto_check_region(region, err);
    if (rc == 0)
        rc = warden_crypto_check_name("KEK id", kek_id, KEK_ID_MAX, err);
    if (rc != 0) {
        ops->close(st);
        return rc;
    }
    warden_kek *k = calloc(1, sizeof *k);
    if (k == NULL) {
        ops->close(st);
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory for a KEK");
    }
    if (pthread_rwlock_init(&k->lock, NULL) != 0) {
        free(k);
        ops->close(st);
        return warden_err_set(err, WARDEN_EINTERNAL, "cannot create the KEK lock");
    }
    k->ops = ops;
    k->st = st;
    snprintf(k->region, sizeof k->region, "%s", region);
    snprintf(k->kek_id, sizeof k->kek_id, "%s", kek_id);
    *out = k;
    return 0;
}

void warden_kek_free(warden_kek *kek)
{
    if (kek == NULL)
        return;
    kek->ops->close(kek->st);
    pthread_rwlock_destroy(&kek->lock);
    free(kek);
}

const char *warden_kek_region(const warden_kek *kek)
{
    return kek->region;
}

const char *warden_kek_id(const warden_kek *kek)
{
    return kek->kek_id;
}

uint32_t warden_kek_current_version(warden_kek *kek)
{
    pthread_rwlock_rdlock(&kek->lock);
    uint32_t v = kek->ops->current(kek->st);
    pthread_rwlock_unlock(&kek->lock);
    return v;
}

/* The parsed blob, with borrowed pointers into it. */
typedef struct wrapped {
    warden_wrapped_info info;
    size_t header_len;
    const uint8_t *nonce, *ct, *tag;
} wrapped;

static int parse(wrapped *w, const uint8_t *blob, size_t len, warden_err *err)
{
    const uint8_t *magic, *id;
    uint8_t format, idlen;
    warden_cursor c;
    warden_cursor_init(&c, blob, len);
    if (warden_cursor_bytes(&c, &magic, 2) || warden_cursor_u8(&c, &format))
        return warden_err_set(err, WARDEN_ETRUNC, "wrapped DEK is truncated (%zu bytes)", len);
    if (magic[0] != 'W' || magic[1] != 'K')
        return warden_err_set(err, WARDEN_EPARSE, "not a wrapped DEK (bad magic)");
    if (format != WRAPPED_FORMAT)
        return warden_err_set(err, WARDEN_EPARSE,
                              "unsupported wrapped DEK format %u (this build reads format %u)",
                              format, WRAPPED_FORMAT);
    if (warden_cursor_u8(&c, &w->info.provider) || warden_cursor_u8(&c, &idlen))
        return warden_err_set(err, WARDEN_ETRUNC, "wrapped DEK is truncated (%zu bytes)", len);
    if (w->info.provider != WARDEN_KEK_KEYFILE && w->info.provider != WARDEN_KEK_PKCS11)
        return warden_err_set(err, WARDEN_EPARSE, "wrapped DEK names unknown KEK provider %u",
                              w->info.provider);
    if (idlen == 0 || idlen > KEK_ID_MAX)
        return warden_err_set(err, WARDEN_EPARSE, "wrapped DEK has a KEK id of %u bytes (1..%d)",
                              idlen, KEK_ID_MAX);
    if (warden_cursor_bytes(&c, &id, idlen) || warden_cursor_be32(&c, &w->info.kek_version))
        return warden_err_set(err, WARDEN_ETRUNC, "wrapped DEK is truncated (%zu bytes)", len);
    for (size_t i = 0; i < idlen; i++) {
        if (id[i] < 0x21 || id[i] > 0x7e)
            return warden_err_set(err, WARDEN_EPARSE,
                                  "wrapped DEK's KEK id has a non-printable byte");
        w->info.kek_id[i] = (char)id[i];
    }
    w->info.kek_id[idlen] = '\0';
    w->header_len = c.off;
    if (warden_cursor_bytes(&c, &w->nonce, WARDEN_GCM_NONCE_LEN) ||
        warden_cursor_bytes(&c, &w->ct, WARDEN_DEK_LEN) ||
        warden_cursor_bytes(&c, &w->tag, WARDEN_GCM_TAG_LEN))
        return warden_err_set(err, WARDEN_ETRUNC, "wrapped DEK is truncated (%zu bytes)", len);
    if (warden_cursor_left(&c) != 0)
        return warden_err_set(err, WARDEN_EPARSE, "wrapped DEK has %zu trailing bytes",
                              warden_cursor_left(&c));
    return 0;
}

int warden_wrapped_parse(warden_wrapped_info *info, const uint8_t *blob, size_t len,
                         warden_err *err)
{
    wrapped w;
    memset(&w, 0, sizeof w);
    int rc = parse(&w, blob, len, err);
    if (rc == 0)
        *info = w.info;
    return rc;
}

static int wrap_aad(warden_buf *aad, const uint8_t *header, size_t header_len, const char *region,
                    const char *user, warden_err *err)
{
    if (warden_aad_put(aad, WRAP_DOMAIN, sizeof WRAP_DOMAIN - 1) ||
        warden_aad_put(aad, header, header_len) || warden_aad_put(aad, region, strlen(region)) ||
        warden_aad_put(aad, user, strlen(user)))
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory for associated data");
    return 0;
}

/* Callers hold kek->lock (shared or exclusive). */
static int wrap_locked(warden_buf *out, warden_kek *kek, const uint8_t dek[WARDEN_DEK_LEN],
                       const char *user, warden_err *err)
{
    warden_buf aad;
    warden_buf_init(&aad);
    uint32_t version = kek->ops->current(kek->st);
    size_t idlen = strlen(kek->kek_id);
    size_t header_len = 2 + 1 + 1 + 1 + idlen + 4;
    size_t total = header_len + WARDEN_GCM_NONCE_LEN + WARDEN_DEK_LEN + WARDEN_GCM_TAG_LEN;
    int rc = warden_buf_reserve(out, total);
    if (rc != 0) {
        warden_err_set(err, rc, "out of memory for a wrapped DEK");
        goto out;
    }
    uint8_t *p = out->p + out->len;
    p[0] = 'W';
    p[1] = 'K';
    p[2] = WRAPPED_FORMAT;
    p[3] = kek->ops->provider;
    p[4] = (uint8_t)idlen;
    memcpy(p + 5, kek->kek_id, idlen);
    p[5 + idlen] = (uint8_t)(version >> 24);
    p[6 + idlen] = (uint8_t)(version >> 16);
    p[7 + idlen] = (uint8_t)(version >> 8);
    p[8 + idlen] = (uint8_t)version;
    uint8_t *nonce = p + header_len;
    if (RAND_bytes(nonce, WARDEN_GCM_NONCE_LEN) != 1) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "the random number generator failed");
        goto out;
    }
    if ((rc = wrap_aad(&aad, p, header_len, kek->region, user, err)) != 0)
        goto out;
    rc = kek->ops->seal(kek->st, version, nonce, aad.p, aad.len, dek, nonce + WARDEN_GCM_NONCE_LEN,
                        nonce + WARDEN_GCM_NONCE_LEN + WARDEN_DEK_LEN, err);
    if (rc != 0) {
        warden_err_prefix(err, "wrapping a DEK with KEK %s version %u", kek->kek_id,
                          (unsigned)version);
        goto out;
    }
    out->len += total;
out:
    warden_buf_fini(&aad);
    return rc;
}

static int unwrap_locked(warden_dek **out, warden_kek *kek, const uint8_t *blob, size_t len,
                         const char *user, warden_err *err)
{
    wrapped w;
    warden_dek *dek = NULL;
    warden_buf aad;
    warden_buf_init(&aad);
    memset(&w, 0, sizeof w);
    int rc = parse(&w, blob, len, err);
    if (rc != 0)
        goto out;
    if (w.info.provider != kek->ops->provider) {
        rc = warden_err_set(err, WARDEN_EVERIFY,
                            "wrapped DEK for user %s was made by the %s provider, but region %s "
                            "uses the %s provider",
                            user, provider_name(w.info.provider), kek->region,
                            provider_name(kek->ops->provider));
        goto out;
    }
    if (strcmp(w.info.kek_id, kek->kek_id) != 0) {
        rc = warden_err_set(err, WARDEN_EVERIFY,
                            "wrapped DEK for user %s was made by KEK %s, not by region %s's KEK "
                            "%s (a blob from another region or key file)",
                            user, w.info.kek_id, kek->region, kek->kek_id);
        goto out;
    }
    if ((rc = wrap_aad(&aad, blob, w.header_len, kek->region, user, err)) != 0)
        goto out;
    if ((rc = warden_dek_alloc(&dek, err)) != 0)
        goto out;
    rc = kek->ops->open(kek->st, w.info.kek_version, w.nonce, aad.p, aad.len, w.ct, w.tag, dek->key,
                        err);
    if (rc == WARDEN_EVERIFY) {
        warden_err_set(err, rc,
                       "wrapped DEK does not verify under KEK %s version %u for region %s and "
                       "user %s: it was wrapped for another region or user, or altered",
                       kek->kek_id, (unsigned)w.info.kek_version, kek->region, user);
        goto out;
    }
    if (rc != 0) {
        warden_err_prefix(err, "unwrapping the DEK of user %s", user);
        goto out;
    }
    *out = dek;
    dek = NULL;
out:
    warden_dek_free(dek);
    warden_buf_fini(&aad);
    return rc;
}

int warden_kek_wrap(warden_buf *out, warden_kek *kek, const warden_dek *dek, const char *user,
                    warden_err *err)
{
    int rc = warden_crypto_check_name("user", user, WARDEN_CRYPTO_NAME_MAX, err);
    if (rc != 0)
        return rc;
    pthread_rwlock_rdlock(&kek->lock);
    rc = wrap_locked(out, kek, dek->key, user, err);
    pthread_rwlock_unlock(&kek->lock);
    return rc;
}

int warden_kek_unwrap(warden_dek **dek, warden_kek *kek, const uint8_t *blob, size_t len,
                      const char *user, warden_err *err)
{
    int rc = warden_crypto_check_name("user", user, WARDEN_CRYPTO_NAME_MAX, err);
    if (rc != 0)
        return rc;
    pthread_rwlock_rdlock(&kek->lock);
    rc = unwrap_locked(dek, kek, blob, len, user, err);
    pthread_rwlock_unlock(&kek->lock);
    return rc;
}

int warden_kek_rewrap(warden_buf *out, warden_kek *kek, const uint8_t *blob, size_t len,
                      const char *user, warden_err *err)
{
    warden_dek *dek = NULL;
    int rc = warden_crypto_check_name("user", user, WARDEN_CRYPTO_NAME_MAX, err);
    if (rc != 0)
        return rc;
    /* One shared hold across both steps, so a concurrent retire cannot slip in between. */
    pthread_rwlock_rdlock(&kek->lock);
    rc = unwrap_locked(&dek, kek, blob, len, user, err);
    if (rc == 0)
        rc = wrap_locked(out, kek, dek->key, user, err);
    pthread_rwlock_unlock(&kek->lock);
    warden_dek_free(dek);
    return rc;
}

int warden_kek_rotate(uint32_t *version, warden_kek *kek, warden_err *err)
{
    pthread_rwlock_wrlock(&kek->lock);
    int rc = kek->ops->rotate(kek->st, version, err);
    pthread_rwlock_unlock(&kek->lock);
    if (rc != 0)
        warden_err_prefix(err, "rotating KEK %s", kek->kek_id);
    return rc;
}

int warden_kek_retire(warden_kek *kek, uint32_t version, warden_err *err)
{
    int rc;
    pthread_rwlock_wrlock(&kek->lock);
    if (version == kek->ops->current(kek->st))
        rc = warden_err_set(err, WARDEN_EINVAL,
                            "version %u is the current version: rotate first, then retire it",
                            (unsigned)version);
    else
        rc = kek->ops->retire(kek->st, version, err);
    pthread_rwlock_unlock(&kek->lock);
    if (rc != 0)
        warden_err_prefix(err, "retiring KEK %s version %u", kek->kek_id, (unsigned)version);
    return rc;
}
