/* The bytes the LMDB backend stores: length-prefixed keys and checked values.
 *   key(user)           = len16 user
 *   key(user, coll, id) = len16 user | len16 coll | len16 id
 *   user value   = format 1 | state | created be64 | shredded be64 | len8 jurisdiction |
 *                  len8 kek id | kek version be32 | len32 wrapped DEK | check
 *   record value = format 1 | flags (0 live, 1 tombstone) | version be64 | len32 blob | check
 * check = the first 8 bytes of SHA-256(len32 key | key | value before check).
 * Invariant: every stored byte is read through warden_cursor and every field is checked
 * (lengths, states, names, no trailing bytes) before a caller sees it. */
#include "store/store_internal.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

static int put_u8(warden_buf *b, uint8_t v)
{
    return warden_buf_append(b, &v, 1);
}

static int put_be16(warden_buf *b, uint16_t v)
{
    uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return warden_buf_append(b, p, 2);
}

static int put_be32(warden_buf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return warden_buf_append(b, p, 4);
}

static int put_be64(warden_buf *b, uint64_t v)
{
    int rc = put_be32(b, (uint32_t)(v >> 32));
    return rc != 0 ? rc : put_be32(b, (uint32_t)v);
}

static int oom(warden_err *err, int rc)
{
    return warden_err_set(err, rc, "out of memory while encoding a store key or value");
}

static int key_part(warden_buf *b, const char *s)
{
    size_t n = strlen(s);
    int rc = put_be16(b, (uint16_t)n); /* callers checked n against the name bounds */
    return rc != 0 ? rc : warden_buf_append(b, s, n);
}

int store_key_user(warden_buf *out, const char *user, warden_err *err)
{
    int rc = key_part(out, user);
    return rc != 0 ? oom(err, rc) : 0;
}

int store_key_record(warden_buf *out, const char *user, const char *collection, const char *id,
                     warden_err *err)
{
    int rc = key_part(out, user);
    if (rc == 0)
        rc = key_part(out, collection);
    if (rc == 0)
        rc = key_part(out, id);
    return rc != 0 ? oom(err, rc) : 0;
}

/* Reads one length-prefixed key part into dst (max bytes + NUL); empty or NUL-holding
 * parts are corrupt because no call ever stores them. */
static int get_part(char *dst, size_t max, warden_cursor *c)
{
    uint16_t n;
    const uint8_t *p;
    if (warden_cursor_be16(c, &n) != 0 || n == 0 || n > max || warden_cursor_bytes(c, &p, n) != 0)
        return WARDEN_ECORRUPT;
    if (memchr(p, 0, n) != NULL)
        return WARDEN_ECORRUPT;
    memcpy(dst, p, n);
    dst[n] = '\0';
    return 0;
}

int store_key_record_parse(char user[WARDEN_STORE_USER_MAX + 1],
                           char collection[WARDEN_STORE_COLLECTION_MAX + 1],
                           char id[WARDEN_STORE_ID_MAX + 1], const uint8_t *key, size_t len,
                           warden_err *err)
{
    warden_cursor c;
    warden_cursor_init(&c, key, len);
    if (get_part(user, WARDEN_STORE_USER_MAX, &c) != 0 ||
        get_part(collection, WARDEN_STORE_COLLECTION_MAX, &c) != 0 ||
        get_part(id, WARDEN_STORE_ID_MAX, &c) != 0 || warden_cursor_left(&c) != 0)
        return warden_err_set(err, WARDEN_ECORRUPT,
                              "store corrupt: a %zu-byte records key is not (user, collection, "
                              "id) with length prefixes",
                              len);
    return 0;
}

int store_key_user_parse(char user[WARDEN_STORE_USER_MAX + 1], const uint8_t *key, size_t len,
                         warden_err *err)
{
    warden_cursor c;
    warden_cursor_init(&c, key, len);
    if (get_part(user, WARDEN_STORE_USER_MAX, &c) != 0 || warden_cursor_left(&c) != 0)
        return warden_err_set(err, WARDEN_ECORRUPT,
                              "store corrupt: a %zu-byte users key is not a length-prefixed id",
                              len);
    return 0;
}

/* SHA-256 fetched once: EVP_sha256() makes OpenSSL 3 fetch the method from the provider on
 * every init (a lock and a lookup), which perf put at a twentieth of keyd's CPU per read,
 * whose user and record lookups each check a value. Never freed. */
static EVP_MD *sha256_fetched;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void fetch_md(void)
{
    sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256_md(void)
{
    (void)pthread_once(&md_once, fetch_md);
    return sha256_fetched != NULL ? sha256_fetched : EVP_sha256();
}

static int check_of(uint8_t out[STORE_CHECK_LEN], const uint8_t *key, size_t klen,
                    const uint8_t *val, size_t vlen, warden_err *err)
{
    uint8_t md[32];
    uint8_t kl[4] = {(uint8_t)(klen >> 24), (uint8_t)(klen >> 16), (uint8_t)(klen >> 8),
                     (uint8_t)klen};
    int ok = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx != NULL)
        ok = EVP_DigestInit_ex2(ctx, sha256_md(), NULL) == 1 && EVP_DigestUpdate(ctx, kl, 4) == 1 &&
             EVP_DigestUpdate(ctx, key, klen) == 1 && EVP_DigestUpdate(ctx, val, vlen) == 1 &&
             EVP_DigestFinal_ex(ctx, md, NULL) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return warden_err_set(err, WARDEN_EINTERNAL, "SHA-256 failed in OpenSSL");
    memcpy(out, md, STORE_CHECK_LEN);
    return 0;
}

static int append_check(warden_buf *out, size_t start, const uint8_t *key, size_t klen,
                        warden_err *err)
{
    uint8_t ck[STORE_CHECK_LEN];
    int rc = check_of(ck, key, klen, out->p + start, out->len - start, err);
    if (rc != 0)
        return rc;
    rc = warden_buf_append(out, ck, sizeof ck);
    return rc != 0 ? oom(err, rc) : 0;
}

/* Verifies the trailing check; on success *body_len is the length without it. */
static int verify_check(size_t *body_len, const char *what, const uint8_t *key, size_t klen,
                        const uint8_t *val, size_t len, warden_err *err)
{
    uint8_t ck[STORE_CHECK_LEN];
    if (len < STORE_CHECK_LEN)
        return warden_err_set(err, WARDEN_ECORRUPT,
                              "store corrupt: a %s value of %zu bytes is shorter than its check",
                              what, len);
    int rc = check_of(ck, key, klen, val, len - STORE_CHECK_LEN, err);
    if (rc != 0)
        return rc;
    if (memcmp(ck, val + len - STORE_CHECK_LEN, STORE_CHECK_LEN) != 0)
        return warden_err_set(err, WARDEN_ECORRUPT,
                              "store corrupt: a %s value fails its checksum (changed on disk, "
                              "or moved from another key)",
                              what);
    *body_len = len - STORE_CHECK_LEN;
    return 0;
}

int store_user_encode(warden_buf *out, const uint8_t *key, size_t klen, const store_user_val *v,
                      warden_err *err)
{
    size_t start = out->len;
    size_t jl = strlen(v->jurisdiction), kl = strlen(v->kek_id);
    int rc = put_u8(out, STORE_FORMAT);
    if (rc == 0)
        rc = put_u8(out, v->state);
    if (rc == 0)
        rc = put_be64(out, (uint64_t)v->created);
    if (rc == 0)
        rc = put_be64(out, (uint64_t)v->shredded);
    if (rc == 0)
        rc = put_u8(out, (uint8_t)jl);
    if (rc == 0)
        rc = warden_buf_append(out, v->jurisdiction, jl);
    if (rc == 0)
        rc = put_u8(out, (uint8_t)kl);
    if (rc == 0)
        rc = warden_buf_append(out, v->kek_id, kl);
    if (rc == 0)
        rc = put_be32(out, v->kek_version);
    if (rc == 0)
        rc = put_be32(out, (uint32_t)v->blob_len);
    if (rc == 0)
        rc = warden_buf_append(out, v->blob, v->blob_len);
    if (rc != 0)
        return oom(err, rc);
    return append_check(out, start, key, klen, err);
}

static bool printable(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x21 || p[i] > 0x7e)
            return false;
    return true;
}

int store_user_decode(store_user_val *v, const uint8_t *key, size_t klen, const uint8_t *val,
                      size_t len, warden_err *err)
{
    size_t body;
    warden_cursor c;
    uint8_t fmt, jl, kl;
    uint64_t created, shredded;
    uint32_t blen;
    const uint8_t *j, *k;
    const char *why = NULL;
    int rc = verify_check(&body, "users", key, klen, val, len, err);
    if (rc != 0)
        return rc;
    memset(v, 0, sizeof *v);
    warden_cursor_init(&c, val, body);
    if (warden_cursor_u8(&c, &fmt) != 0 || warden_cursor_u8(&c, &v->state) != 0 ||
        warden_cursor_be64(&c, &created) != 0 || warden_cursor_be64(&c, &shredded) != 0 ||
        warden_cursor_u8(&c, &jl) != 0 || warden_cursor_bytes(&c, &j, jl) != 0 ||
        warden_cursor_u8(&c, &kl) != 0 || warden_cursor_bytes(&c, &k, kl) != 0 ||
        warden_cursor_be32(&c, &v->kek_version) != 0 || warden_cursor_be32(&c, &blen) != 0 ||
        warden_cursor_bytes(&c, &v->blob, blen) != 0)
        why = "it ends early";
    else if (fmt != STORE_FORMAT)
        why = "unknown format byte";
    else if (warden_cursor_left(&c) != 0)
        why = "trailing bytes";
    else if (v->state != WARDEN_USER_ACTIVE && v->state != WARDEN_USER_SHREDDED)
        why = "unknown state";
    else if (jl == 0 || jl > WARDEN_STORE_JURISDICTION_MAX || !printable(j, jl))
        why = "bad jurisdiction";
    else if (kl > WARDEN_STORE_KEK_ID_MAX || !printable(k, kl))
        why = "bad KEK id";
    else if (blen > WARDEN_STORE_DEK_BLOB_MAX)
        why = "wrapped DEK too long";
    else if ((blen == 0) != (kl == 0) || (blen == 0) != (v->kek_version == 0))
        why = "wrapped DEK, KEK id and version disagree";
    else if (v->state == WARDEN_USER_SHREDDED && (blen != 0 || shredded == 0))
        why = "a shredded user still has a DEK or no shred time";
    else if (v->state == WARDEN_USER_ACTIVE && shredded != 0)
        why = "an active user has a shred time";
    if (why != NULL)
        return warden_err_set(err, WARDEN_ECORRUPT, "store corrupt: users value: %s", why);
    v->created = (int64_t)created;
    v->shredded = (int64_t)shredded;
    memcpy(v->jurisdiction, j, jl);
    memcpy(v->kek_id, k, kl);
    v->blob_len = blen;
    return 0;
}

int store_rec_encode(warden_buf *out, const uint8_t *key, size_t klen, const store_rec_val *v,
                     warden_err *err)
{
    size_t start = out->len;
    int rc = put_u8(out, STORE_FORMAT);
    if (rc == 0)
        rc = put_u8(out, v->flags);
    if (rc == 0)
        rc = put_be64(out, v->version);
    if (rc == 0)
        rc = put_be32(out, (uint32_t)v->blob_len);
    if (rc == 0)
        rc = warden_buf_append(out, v->blob, v->blob_len);
    if (rc != 0)
        return oom(err, rc);
    return append_check(out, start, key, klen, err);
}

int store_rec_decode(store_rec_val *v, const uint8_t *key, size_t klen, const uint8_t *val,
                     size_t len, warden_err *err)
{
    size_t body;
    warden_cursor c;
    uint8_t fmt;
    uint32_t blen;
    const char *why = NULL;
    int rc = verify_check(&body, "records", key, klen, val, len, err);
    if (rc != 0)
        return rc;
    memset(v, 0, sizeof *v);
    warden_cursor_init(&c, val, body);
    if (warden_cursor_u8(&c, &fmt) != 0 || warden_cursor_u8(&c, &v->flags) != 0 ||
        warden_cursor_be64(&c, &v->version) != 0 || warden_cursor_be32(&c, &blen) != 0 ||
        warden_cursor_bytes(&c, &v->blob, blen) != 0)
        why = "it ends early";
    else if (fmt != STORE_FORMAT)
        why = "unknown format byte";
    else if (warden_cursor_left(&c) != 0)
        why = "trailing bytes";
    else if (v->flags != STORE_REC_LIVE && v->flags != STORE_REC_TOMBSTONE)
        why = "unknown flags";
    else if (v->version == 0)
        why = "version 0";
    else if ((v->flags == STORE_REC_LIVE) != (blen != 0))
        why = "a live record without ciphertext, or a tombstone with one";
    if (why != NULL)
        return warden_err_set(err, WARDEN_ECORRUPT, "store corrupt: records value: %s", why);
    v->blob_len = blen;
    return 0;
}
