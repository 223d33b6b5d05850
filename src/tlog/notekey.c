/* Ed25519 note keys in Go's sumdb/note text encodings, and the 0600 key file. The private
 * key text is the only secret in the log: it lives in locked memory while parsed, is wiped
 * after use, and the file is refused inside the served log directory. */
#define _GNU_SOURCE
#include "tlog/tlog_internal.h"

#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct warden_tlog_signer {
    char *name;
    uint32_t hash;
    uint8_t pub[32];
    EVP_PKEY *pkey; /* OpenSSL clears the private key when it frees it */
};

const char *warden_tlog_signer_name(const warden_tlog_signer *s)
{
    return s->name;
}

const char *warden_tlog_verifier_name(const warden_tlog_verifier *v)
{
    return v->name;
}

/* Splits s at the first '+': head is s[0..*hlen), the rest starts after the '+'. */
static int chop_plus(const uint8_t **rest, size_t *rlen, size_t *hlen)
{
    for (size_t i = 0; i < *rlen; i++) {
        if ((*rest)[i] == '+') {
            *hlen = i;
            return 0;
        }
    }
    return -1;
}

static int parse_hash8(uint32_t *out, const uint8_t *p, size_t len)
{
    uint32_t v = 0;
    if (len != 8)
        return -1;
    for (size_t i = 0; i < 8; i++) {
        uint8_t c = p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* Parses "<name>+<hash8>+<base64(0x01||key32)>" into its parts; key goes to key32. */
static int parse_key_parts(char **name, uint32_t *hash, uint8_t key32[32], const uint8_t *p,
                           size_t len, warden_err *err, const char *what)
{
    size_t nlen = 0, hlen = 0, klen = 0;
    const uint8_t *rest = p;
    size_t rlen = len;
    uint8_t raw[40];
    int rc = 0;
    if (chop_plus(&rest, &rlen, &nlen) != 0)
        goto bad;
    const uint8_t *nm = rest;
    rest += nlen + 1, rlen -= nlen + 1;
    if (chop_plus(&rest, &rlen, &hlen) != 0)
        goto bad;
    const uint8_t *hx = rest;
    rest += hlen + 1, rlen -= hlen + 1;
    if (!tlog_valid_key_name(nm, nlen) || nlen > WARDEN_TLOG_ORIGIN_MAX) {
        rc = warden_err_set(err, WARDEN_EPARSE, "%s: invalid key name", what);
        goto out;
    }
    if (parse_hash8(hash, hx, hlen) != 0)
        goto bad;
    if (tlog_b64_decode(raw, sizeof raw, &klen, rest, rlen) != 0 || klen == 0)
        goto bad;
    if (raw[0] != 0x01) {
        rc = warden_err_set(err, WARDEN_EPARSE, "%s: unknown key algorithm %u (want 1, Ed25519)",
                            what, raw[0]);
        goto out;
    }
    if (klen != 33)
        goto bad;
    memcpy(key32, raw + 1, 32);
    if ((*name = strndup((const char *)nm, nlen)) == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    goto out;
bad:
    rc = warden_err_set(err, WARDEN_EPARSE, "%s: malformed key", what);
out:
    warden_wipe(raw, sizeof raw);
    return rc;
}

int warden_tlog_verifier_new(warden_tlog_verifier **out, const char *vkey, size_t len,
                             warden_err *err)
{
    int rc = 0;
    warden_tlog_verifier *v = calloc(1, sizeof *v);
    const uint8_t *p = (const uint8_t *)vkey;
    if (v == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    while (len > 0 && (p[0] == ' ' || p[0] == '\t' || p[0] == '\n' || p[0] == '\r'))
        p++, len--;
    while (len > 0 &&
           (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    if ((rc = parse_key_parts(&v->name, &v->hash, v->pub, p, len, err, "verifier key")) != 0)
        goto out;
    if (tlog_key_hash(v->name, strlen(v->name), v->pub) != v->hash) {
        rc = warden_err_set(err, WARDEN_EPARSE, "verifier key: key hash does not match the key");
        goto out;
    }
    *out = v;
    v = NULL;
out:
    warden_tlog_verifier_free(v);
    return rc;
}

void warden_tlog_verifier_free(warden_tlog_verifier *v)
{
    if (v == NULL)
        return;
    free(v->name);
    free(v);
}

int warden_tlog_signer_new(warden_tlog_signer **out, const char *skey, size_t len, warden_err *err)
{
    int rc = 0;
    uint8_t *seed = warden_secret_alloc(32);
    warden_tlog_signer *s = calloc(1, sizeof *s);
    const uint8_t *p = (const uint8_t *)skey;
    size_t publen = 32;
    if (s == NULL || seed == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == ' '))
        len--;
    if (len < 12 || memcmp(p, "PRIVATE+KEY+", 12) != 0) {
        rc = warden_err_set(err, WARDEN_EPARSE, "signer key: does not start with PRIVATE+KEY+");
        goto out;
    }
    if ((rc = parse_key_parts(&s->name, &s->hash, seed, p + 12, len - 12, err, "signer key")))
        goto out;
    s->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    if (s->pkey == NULL || EVP_PKEY_get_raw_public_key(s->pkey, s->pub, &publen) != 1) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "signer key: OpenSSL cannot load Ed25519");
        goto out;
    }
    if (tlog_key_hash(s->name, strlen(s->name), s->pub) != s->hash) {
        rc = warden_err_set(err, WARDEN_EPARSE, "signer key: key hash does not match the key");
        goto out;
    }
    *out = s;
    s = NULL;
out:
    warden_secret_free(seed, 32);
    warden_tlog_signer_free(s);
    return rc;
}

int warden_tlog_signer_load(warden_tlog_signer **out, const char *path, warden_err *err)
{
    warden_buf b;
    warden_buf_init(&b);
    int rc = warden_file_read(&b, path, 4096, err);
    if (rc == 0 && (rc = warden_tlog_signer_new(out, (const char *)b.p, b.len, err)) != 0)
        warden_err_prefix(err, "%s", path);
    warden_buf_fini_wipe(&b);
    return rc;
}

void warden_tlog_signer_free(warden_tlog_signer *s)
{
    if (s == NULL)
        return;
    EVP_PKEY_free(s->pkey);
    free(s->name);
    warden_wipe(s, sizeof *s);
    free(s);
}

/* Verifier text for (name, pub); shared by the signer and key generation. */
static int vkey_text(warden_buf *out, const char *name, const uint8_t pub[32], warden_err *err)
{
    uint8_t raw[33];
    char b64[64];
    raw[0] = 0x01;
    memcpy(raw + 1, pub, 32);
    tlog_b64_encode(b64, raw, sizeof raw);
    if (warden_buf_printf(out, "%s+%08x+%s", name, tlog_key_hash(name, strlen(name), pub), b64))
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    return 0;
}

int warden_tlog_signer_vkey(warden_buf *out, const warden_tlog_signer *s, warden_err *err)
{
    return vkey_text(out, s->name, s->pub, err);
}

/* True when path's directory is log_dir or inside it (both resolved through symlinks). */
static int inside_dir(const char *path, const char *log_dir, bool *inside, warden_err *err)
{
    char parent[PATH_MAX], rparent[PATH_MAX], rlog[PATH_MAX];
    *inside = false;
    if (log_dir == NULL)
        return 0;
    if (realpath(log_dir, rlog) == NULL) {
        if (errno == ENOENT)
            return 0; /* a missing dir cannot contain the key's existing parent */
        return warden_err_set(err, WARDEN_EIO, "%s: %s", log_dir, strerror(errno));
    }
    int n = snprintf(parent, sizeof parent, "%s", path);
    if (n < 0 || (size_t)n >= sizeof parent)
        return warden_err_set(err, WARDEN_EINVAL, "%s: path too long", path);
    char *slash = strrchr(parent, '/');
    if (slash == NULL)
        snprintf(parent, sizeof parent, ".");
    else if (slash == parent)
        parent[1] = '\0';
    else
        *slash = '\0';
    if (realpath(parent, rparent) == NULL)
        return warden_err_set(err, WARDEN_EIO, "%s: %s", parent, strerror(errno));
    size_t ll = strlen(rlog);
    *inside = strncmp(rparent, rlog, ll) == 0 &&
              (rparent[ll] == '\0' || rparent[ll] == '/' || (ll == 1 && rlog[0] == '/'));
    return 0;
}

int warden_tlog_key_generate(const char *path, const char *name, const char *log_dir,
                             warden_err *err)
{
    int rc = 0;
    bool inside = false;
    struct stat st;
    EVP_PKEY *pkey = NULL;
    uint8_t *raw = warden_secret_alloc(33);
    warden_buf text;
    uint8_t pub[32];
    size_t publen = 32, seedlen = 32;
    char b64[64];
    warden_buf_init(&text);
    if (raw == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if (!tlog_valid_key_name((const uint8_t *)name, strlen(name)) ||
        strlen(name) > WARDEN_TLOG_ORIGIN_MAX) {
        rc = warden_err_set(err, WARDEN_EINVAL, "key name '%s' is invalid (empty, spaces or '+')",
                            name);
        goto out;
    }
    if (lstat(path, &st) == 0) {
        rc = warden_err_set(err, WARDEN_EEXIST, "%s: already exists; not overwriting a key", path);
        goto out;
    }
    if ((rc = inside_dir(path, log_dir, &inside, err)) != 0)
        goto out;
    if (inside) {
        rc = warden_err_set(err, WARDEN_EINVAL,
                            "%s: refusing to keep the private key inside the log directory %s, "
                            "which is served publicly",
                            path, log_dir);
        goto out;
    }
    EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    if (kctx == NULL || EVP_PKEY_keygen_init(kctx) != 1 || EVP_PKEY_keygen(kctx, &pkey) != 1) {
        EVP_PKEY_CTX_free(kctx);
        rc = warden_err_set(err, WARDEN_EINTERNAL, "OpenSSL cannot generate an Ed25519 key");
        goto out;
    }
    EVP_PKEY_CTX_free(kctx);
    raw[0] = 0x01;
    if (EVP_PKEY_get_raw_private_key(pkey, raw + 1, &seedlen) != 1 || seedlen != 32 ||
        EVP_PKEY_get_raw_public_key(pkey, pub, &publen) != 1 || publen != 32) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "OpenSSL cannot export the Ed25519 key");
        goto out;
    }
    tlog_b64_encode(b64, raw, 33);
    if (warden_buf_printf(&text, "PRIVATE+KEY+%s+%08x+%s\n", name,
                          tlog_key_hash(name, strlen(name), pub), b64) != 0) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    rc = warden_file_write_atomic(path, text.p, text.len, 0600, err);
out:
    warden_wipe(b64, sizeof b64);
    warden_secret_free(raw, 33);
    warden_buf_fini_wipe(&text);
    EVP_PKEY_free(pkey);
    return rc;
}

uint32_t tlog_signer_hash(const warden_tlog_signer *s)
{
    return s->hash;
}

int tlog_signer_sign(uint8_t sig[64], const warden_tlog_signer *s, const uint8_t *msg, size_t len)
{
    size_t siglen = 64;
    int rc = -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, s->pkey) == 1 &&
        EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 && siglen == 64)
        rc = 0;
    EVP_MD_CTX_free(ctx);
    return rc;
}
