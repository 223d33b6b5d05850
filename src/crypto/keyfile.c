/* The key file provider: the embedded default KEK store. One 0600 file per region holds
 * every KEK version (retired ones keep their number, with their key bytes erased):
 *   "WARDENKF" | format 1 | region length, region | id length, id | current (be32) |
 *   count (be32) | count x { version (be32), state (1 live, 2 retired), key (32) } |
 *   SHA-256 of everything before it
 * Wrapping is AES-256-GCM in software (aead.c), not RFC 5649 key wrap: GCM authenticates
 * associated data, which binds a wrapped DEK to its region and user; key wrap cannot.
 * Invariant: key bytes exist only in warden_secret_alloc memory and the file; the file is
 * rewritten atomically, so a crash leaves either the old or the new set of versions. */
#include "crypto/crypto_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KF_MAGIC "WARDENKF"
#define KF_FORMAT 1
#define KF_MAX_VERSIONS 4096
#define KF_MAX_SIZE (64 + 2 * 256 + KF_MAX_VERSIONS * (4 + 1 + 32) + 32)
enum { KF_LIVE = 1, KF_RETIRED = 2 };

typedef struct kf_version {
    uint32_t version;
    uint8_t state;
    uint8_t *key; /* WARDEN_DEK_LEN bytes of secret memory; NULL once retired */
} kf_version;

typedef struct keyfile {
    char path[PATH_MAX];
    char region[33];
    char id[65];
    uint32_t current;
    kf_version *v;
    size_t n;
} keyfile;

static void kf_close(void *st)
{
    keyfile *kf = st;
    if (kf == NULL)
        return;
    for (size_t i = 0; i < kf->n; i++)
        warden_secret_free(kf->v[i].key, WARDEN_DEK_LEN);
    free(kf->v);
    free(kf);
}

static kf_version *kf_find(keyfile *kf, uint32_t version)
{
    for (size_t i = 0; i < kf->n; i++)
        if (kf->v[i].version == version)
            return &kf->v[i];
    return NULL;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Serializes kf into fresh secret memory (*out, *len); free with warden_secret_free. */
static int kf_serialize(uint8_t **out, size_t *len, const keyfile *kf, warden_err *err)
{
    size_t rlen = strlen(kf->region), idlen = strlen(kf->id);
    size_t total = 8 + 1 + 1 + rlen + 1 + idlen + 4 + 4 + kf->n * (4 + 1 + WARDEN_DEK_LEN) + 32;
    uint8_t *p = warden_secret_alloc(total);
    if (p == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of locked memory for the key file");
    size_t o = 0;
    memcpy(p, KF_MAGIC, 8);
    o += 8;
    p[o++] = KF_FORMAT;
    p[o++] = (uint8_t)rlen;
    memcpy(p + o, kf->region, rlen);
    o += rlen;
    p[o++] = (uint8_t)idlen;
    memcpy(p + o, kf->id, idlen);
    o += idlen;
    put_be32(p + o, kf->current);
    o += 4;
    put_be32(p + o, (uint32_t)kf->n);
    o += 4;
    for (size_t i = 0; i < kf->n; i++) {
        put_be32(p + o, kf->v[i].version);
        o += 4;
        p[o++] = kf->v[i].state;
        if (kf->v[i].state == KF_LIVE)
            memcpy(p + o, kf->v[i].key, WARDEN_DEK_LEN);
        o += WARDEN_DEK_LEN; /* a retired slot stays zero */
    }
    if (EVP_Digest(p, o, p + o, NULL, EVP_sha256(), NULL) != 1) {
        warden_secret_free(p, total);
        return warden_err_set(err, WARDEN_EINTERNAL, "SHA-256 failed in OpenSSL");
    }
    *out = p;
    *len = total;
    return 0;
}

static int kf_write(const keyfile *kf, bool create, warden_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int fd = -1;
    int rc = kf_serialize(&data, &len, kf, err);
    if (rc != 0)
        return rc;
    if (!create) {
        rc = warden_file_write_atomic(kf->path, data, len, 0600, err);
        goto out;
    }
    /* O_EXCL: never overwrite an existing key file, which would destroy its KEKs. */
    fd = open(kf->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = warden_err_set(err, errno == EEXIST ? WARDEN_EEXIST : WARDEN_EIO,
                            "%s: cannot create key file: %s", kf->path, strerror(errno));
        goto out;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = warden_err_set(err, WARDEN_EIO, "%s: write: %s", kf->path, strerror(errno));
            break;
        }
        off += (size_t)n;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = warden_err_set(err, WARDEN_EIO, "%s: fsync: %s", kf->path, strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = warden_err_set(err, WARDEN_EIO, "%s: close: %s", kf->path, strerror(errno));
    if (rc == 0) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", kf->path);
        rc = warden_dir_sync(dirname(dir), err);
    }
    if (rc != 0)
        (void)unlink(kf->path); /* a half-written key file would only confuse the next open */
out:
    warden_secret_free(data, len);
    return rc;
}

static int kf_add_version(keyfile *kf, uint32_t version, uint8_t state, const uint8_t *key,
                          warden_err *err)
{
    kf_version *nv = realloc(kf->v, (kf->n + 1) * sizeof *nv);
    if (nv == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory for a KEK version");
    kf->v = nv;
    kf_version *v = &kf->v[kf->n];
    v->version = version;
    v->state = state;
    v->key = NULL;
    if (state == KF_LIVE) {
        v->key = warden_secret_alloc(WARDEN_DEK_LEN);
        if (v->key == NULL)
            return warden_err_set(err, WARDEN_ENOMEM, "out of locked memory for a KEK");
        if (key != NULL)
            memcpy(v->key, key, WARDEN_DEK_LEN);
        else if (RAND_bytes(v->key, WARDEN_DEK_LEN) != 1) {
            warden_secret_free(v->key, WARDEN_DEK_LEN);
            return warden_err_set(err, WARDEN_EINTERNAL, "the random number generator failed");
        }
    }
    kf->n++;
    return 0;
}

static int kf_seal(void *st, uint32_t version, const uint8_t nonce[WARDEN_GCM_NONCE_LEN],
                   const uint8_t *aad, size_t aad_len, const uint8_t dek[WARDEN_DEK_LEN],
                   uint8_t ct[WARDEN_DEK_LEN], uint8_t tag[WARDEN_GCM_TAG_LEN], warden_err *err)
{
    kf_version *v = kf_find(st, version);
    if (v == NULL || v->state != KF_LIVE)
        return warden_err_set(err, WARDEN_EINTERNAL, "current KEK version %u has no key",
                              (unsigned)version);
    return warden_aead_seal(ct, tag, v->key, nonce, aad, aad_len, dek, WARDEN_DEK_LEN, err);
}

static int kf_open(void *st, uint32_t version, const uint8_t nonce[WARDEN_GCM_NONCE_LEN],
                   const uint8_t *aad, size_t aad_len, const uint8_t ct[WARDEN_DEK_LEN],
                   const uint8_t tag[WARDEN_GCM_TAG_LEN], uint8_t dek[WARDEN_DEK_LEN],
                   warden_err *err)
{
    keyfile *kf = st;
    kf_version *v = kf_find(kf, version);
    if (v == NULL)
        return warden_err_set(err, WARDEN_ENOTFOUND, "KEK version %u does not exist in %s",
                              (unsigned)version, kf->path);
    if (v->state != KF_LIVE)
        return warden_err_set(err, WARDEN_ENOTFOUND,
                              "KEK version %u is retired: its key was destroyed",
                              (unsigned)version);
    return warden_aead_open(dek, v->key, nonce, aad, aad_len, ct, WARDEN_DEK_LEN, tag, err);
}

static uint32_t kf_current(void *st)
{
    return ((keyfile *)st)->current;
}

static int kf_rotate(void *st, uint32_t *version, warden_err *err)
{
    keyfile *kf = st;
    uint32_t old = kf->current;
    if (old == UINT32_MAX)
        return warden_err_set(err, WARDEN_ELIMIT, "no KEK version numbers left");
    if (kf->n >= KF_MAX_VERSIONS)
        return warden_err_set(err, WARDEN_ELIMIT, "%s already holds %d versions", kf->path,
                              KF_MAX_VERSIONS);
    int rc = kf_add_version(kf, old + 1, KF_LIVE, NULL, err);
    if (rc != 0)
        return rc;
    kf->current = old + 1;
    if ((rc = kf_write(kf, false, err)) != 0) {
        /* Not durable: forget the new version so memory matches the file. */
        kf->n--;
        warden_secret_free(kf->v[kf->n].key, WARDEN_DEK_LEN);
        kf->current = old;
        return rc;
    }
    *version = kf->current;
    return 0;
}

static int kf_retire(void *st, uint32_t version, warden_err *err)
{
    keyfile *kf = st;
    kf_version *v = kf_find(kf, version);
    if (v == NULL)
        return warden_err_set(err, WARDEN_ENOTFOUND, "no such version in %s", kf->path);
    if (v->state != KF_LIVE)
        return warden_err_set(err, WARDEN_ENOTFOUND, "already retired");
    v->state = KF_RETIRED;
    int rc = kf_write(kf, false, err);
    if (rc != 0) {
        v->state = KF_LIVE;
        return rc;
    }
    warden_secret_free(v->key, WARDEN_DEK_LEN);
    v->key = NULL;
    return 0;
}

static const warden_kek_ops KEYFILE_OPS = {
    .provider = WARDEN_KEK_KEYFILE,
    .seal = kf_seal,
    .open = kf_open,
    .current = kf_current,
    .rotate = kf_rotate,
    .retire = kf_retire,
    .close = kf_close,
};

static int kf_alloc(keyfile **out, const char *path, warden_err *err)
{
    keyfile *kf = calloc(1, sizeof *kf);
    if (kf == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory for a key file");
    int n = snprintf(kf->path, sizeof kf->path, "%s", path);
    if (n < 0 || (size_t)n >= sizeof kf->path) {
        free(kf);
        return warden_err_set(err, WARDEN_EINVAL, "key file path is too long");
    }
    *out = kf;
    return 0;
}

int warden_kek_keyfile_create(const char *path, const char *region, warden_err *err)
{
    keyfile *kf = NULL;
    uint8_t rnd[8];
    int rc = warden_crypto_check_region(region, err);
    if (rc != 0)
        return rc;
    if ((rc = kf_alloc(&kf, path, err)) != 0)
        return rc;
    snprintf(kf->region, sizeof kf->region, "%s", region);
    /* A random id tells this file's blobs apart from those of any other key file, even one
     * made again for the same region. */
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "the random number generator failed");
        goto out;
    }
    snprintf(kf->id, sizeof kf->id, "kf-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    kf->current = 1;
    if ((rc = kf_add_version(kf, 1, KF_LIVE, NULL, err)) != 0)
        goto out;
    rc = kf_write(kf, true, err);
out:
    kf_close(kf);
    return rc;
}

/* Reads the file through an fd that was checked with fstat, so the checks and the read
 * concern the same file. */
static int kf_read(uint8_t **out, size_t *len, const char *path, warden_err *err)
{
    uint8_t *data = NULL;
    size_t alloc_len = 0;
    struct stat st;
    int rc = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return warden_err_set(err, WARDEN_ENOTFOUND,
                                  "%s: no such key file (create one with warden keys init)", path);
        if (errno == ELOOP)
            return warden_err_set(err, WARDEN_EDENIED,
                                  "%s: key file is a symbolic link; refusing to follow it", path);
        return warden_err_set(err, WARDEN_EIO, "%s: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        rc = warden_err_set(err, WARDEN_EIO, "%s: stat: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = warden_err_set(err, WARDEN_EDENIED, "%s: key file is not a regular file", path);
        goto out;
    }
    if (st.st_uid != geteuid()) {
        rc = warden_err_set(err, WARDEN_EDENIED,
                            "%s: key file is owned by uid %u, not by this user (uid %u)", path,
                            (unsigned)st.st_uid, (unsigned)geteuid());
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        rc = warden_err_set(err, WARDEN_EDENIED,
                            "%s: key file has mode %04o; group and others must have no access "
                            "(chmod 600 %s)",
                            path, (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    if (st.st_size > KF_MAX_SIZE) {
        rc = warden_err_set(err, WARDEN_ELIMIT, "%s: key file is larger than %d bytes", path,
                            KF_MAX_SIZE);
        goto out;
    }
    if ((rc = warden_secret_read_fd(&data, len, &alloc_len, fd, (size_t)st.st_size, path, err)) !=
        0)
        goto out;
    *out = data; /* callers free it with the size *len + 1 */
    data = NULL;
out:
    warden_secret_free(data, alloc_len);
    close(fd);
    return rc;
}

static int kf_corrupt(const char *path, const char *what, warden_err *err)
{
    return warden_err_set(err, WARDEN_ECORRUPT, "%s: key file is corrupt: %s", path, what);
}

/* Parses a whole key file (already in secret memory) into kf. */
static int kf_parse(keyfile *kf, const uint8_t *data, size_t len, warden_err *err)
{
    const uint8_t *magic, *region, *id, *key;
    uint8_t format, rlen, idlen, state;
    uint32_t count, version;
    uint8_t digest[32];
    warden_cursor c;
    const char *path = kf->path;
    if (len < 32)
        return kf_corrupt(path, "shorter than its checksum", err);
    /* The checksum covers every byte before it; verify it before trusting any field. */
    if (EVP_Digest(data, len - 32, digest, NULL, EVP_sha256(), NULL) != 1)
        return warden_err_set(err, WARDEN_EINTERNAL, "SHA-256 failed in OpenSSL");
    if (!warden_ct_equal(digest, data + len - 32, 32))
        return kf_corrupt(path, "checksum mismatch (the file was altered or truncated)", err);
    warden_cursor_init(&c, data, len - 32);
    if (warden_cursor_bytes(&c, &magic, 8) || memcmp(magic, KF_MAGIC, 8) != 0)
        return kf_corrupt(path, "not a warden key file (bad magic)", err);
    if (warden_cursor_u8(&c, &format))
        return kf_corrupt(path, "truncated header", err);
    if (format != KF_FORMAT)
        return warden_err_set(err, WARDEN_ECORRUPT,
                              "%s: unsupported key file format %u (this build reads %u)", path,
                              format, KF_FORMAT);
    if (warden_cursor_u8(&c, &rlen) || warden_cursor_bytes(&c, &region, rlen) ||
        warden_cursor_u8(&c, &idlen) || warden_cursor_bytes(&c, &id, idlen) ||
        warden_cursor_be32(&c, &kf->current) || warden_cursor_be32(&c, &count))
        return kf_corrupt(path, "truncated header", err);
    if (rlen == 0 || rlen >= sizeof kf->region || idlen == 0 || idlen >= sizeof kf->id)
        return kf_corrupt(path, "bad region or id length", err);
    memcpy(kf->region, region, rlen);
    kf->region[rlen] = '\0';
    memcpy(kf->id, id, idlen);
    kf->id[idlen] = '\0';
    if (memchr(kf->region, '\0', rlen) != NULL || memchr(kf->id, '\0', idlen) != NULL)
        return kf_corrupt(path, "NUL byte in region or id", err);
    if (count == 0 || count > KF_MAX_VERSIONS)
        return kf_corrupt(path, "bad number of KEK versions", err);
    uint32_t prev = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (warden_cursor_be32(&c, &version) || warden_cursor_u8(&c, &state) ||
            warden_cursor_bytes(&c, &key, WARDEN_DEK_LEN))
            return kf_corrupt(path, "truncated KEK version list", err);
        if (version <= prev)
            return kf_corrupt(path, "KEK versions are not strictly increasing", err);
        if (state != KF_LIVE && state != KF_RETIRED)
            return kf_corrupt(path, "unknown KEK version state", err);
        prev = version;
        int rc = kf_add_version(kf, version, state, key, err);
        if (rc != 0)
            return rc;
    }
    if (warden_cursor_left(&c) != 0)
        return kf_corrupt(path, "trailing bytes after the KEK versions", err);
    kf_version *cur = kf_find(kf, kf->current);
    if (cur == NULL || cur->state != KF_LIVE || kf->current != prev)
        return kf_corrupt(path, "the current KEK version is missing, retired or not the newest",
                          err);
    return 0;
}

int warden_kek_keyfile_open(warden_kek **out, const char *path, const char *region, warden_err *err)
{
    keyfile *kf = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = warden_crypto_check_region(region, err);
    if (rc != 0)
        return rc;
    if ((rc = kf_alloc(&kf, path, err)) != 0)
        return rc;
    if ((rc = kf_read(&data, &len, path, err)) != 0)
        goto out;
    if ((rc = kf_parse(kf, data, len, err)) != 0)
        goto out;
    if (strcmp(kf->region, region) != 0) {
        rc = warden_err_set(err, WARDEN_EVERIFY, "%s: key file is for region %s, not %s", path,
                            kf->region, region);
        goto out;
    }
    rc = warden_kek_new(out, &KEYFILE_OPS, kf, kf->region, kf->id, err);
    kf = NULL; /* warden_kek_new owns it now, even on failure */
out:
    warden_secret_free(data, len + 1);
    kf_close(kf);
    return rc;
}
