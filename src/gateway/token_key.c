/* The token issuing key: an Ed25519 key in a PKCS#8 PEM file created 0600 with O_EXCL, or
 * its public half (SubjectPublicKeyInfo PEM) for verifiers. Private key bytes live only in
 * locked memory we wipe and in OpenSSL's EVP_PKEY, which clears them when freed. */
#include "gateway/token_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A PEM Ed25519 key is ~120 bytes; anything this large is not one. */
#define KEY_FILE_MAX 16384

int token_key_wrap(warden_token_key **out, EVP_PKEY *pkey, bool has_private, warden_err *err)
{
    if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pkey);
        return warden_err_set(err, WARDEN_EPARSE, "not an Ed25519 key");
    }
    warden_token_key *k = calloc(1, sizeof *k);
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
    k->pkey = pkey;
    k->has_private = has_private;
    *out = k;
    return 0;
}

void warden_token_key_free(warden_token_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

static int sync_parent(const char *path, warden_err *err)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return warden_dir_sync(".", err);
    if (slash == path)
        return warden_dir_sync("/", err);
    char *dir = strndup(path, (size_t)(slash - path));
    if (dir == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    int rc = warden_dir_sync(dir, err);
    free(dir);
    return rc;
}

int warden_token_key_generate(const char *path, warden_err *err)
{
    EVP_PKEY *pkey = NULL;
    BIO *bio = NULL;
    char *pem = NULL;
    long pemlen = 0;
    int fd = -1, rc = 0;
    bool created = false;
    if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "Ed25519 key generation failed");
        goto out;
    }
    /* PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted. */
    if ((bio = BIO_new(BIO_s_secmem())) == NULL ||
        PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
        (pemlen = BIO_get_mem_data(bio, &pem)) <= 0) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "cannot encode the key as PEM");
        goto out;
    }
    /* O_EXCL: an existing key is never replaced, so a typo cannot destroy an issuer. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = warden_err_set(err, errno == EEXIST ? WARDEN_EEXIST : WARDEN_EIO,
                            "%s: cannot create key file: %s", path, strerror(errno));
        goto out;
    }
    created = true;
    /* The umask may only remove bits; make sure nothing was added by a default ACL. */
    if (fchmod(fd, 0600) != 0 || warden_write_all(fd, pem, (size_t)pemlen) != 0 ||
        fsync(fd) != 0) {
        rc = warden_err_set(err, WARDEN_EIO, "%s: write: %s", path, strerror(errno));
        goto out;
    }
    int cfd = fd;
    fd = -1;
    if (close(cfd) != 0) {
        rc = warden_err_set(err, WARDEN_EIO, "%s: close: %s", path, strerror(errno));
        goto out;
    }
    rc = sync_parent(path, err);
out:
    if (fd >= 0)
        close(fd);
    if (created && rc != 0)
        (void)unlink(path); /* a half-written key is useless and would block a retry */
    if (pem != NULL && pemlen > 0)
        OPENSSL_cleanse(pem, (size_t)pemlen);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return rc;
}

/* Refuses PEM passphrase prompts: our key files are unencrypted, and a library must never
 * read the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

int warden_token_key_load(warden_token_key **out, const char *path, warden_err *err)
{
    struct stat st;
    uint8_t *text = NULL;
    size_t cap = 0, len = 0;
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return warden_err_set(err, errno == ENOENT ? WARDEN_ENOTFOUND : WARDEN_EIO, "%s: %s", path,
                              strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = warden_err_set(err, WARDEN_EIO, "%s: not a regular file", path);
        goto out;
    }
    if (st.st_size > KEY_FILE_MAX) {
        rc = warden_err_set(err, WARDEN_EPARSE, "%s: too large for an Ed25519 PEM key", path);
        goto out;
    }
    if ((rc = warden_secret_read_fd(&text, &len, &cap, fd, (size_t)st.st_size, path, err)) != 0)
        goto out;
    if ((bio = BIO_new_mem_buf(text, (int)len)) == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if ((pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL)) != NULL) {
        rc = token_key_wrap(out, pkey, false, err);
        pkey = NULL;
        if (rc != 0)
            warden_err_prefix(err, "%s", path);
        goto out;
    }
    /* Not a public key: it can only be a private one, which must be ours alone. */
    if ((st.st_mode & 077) != 0) {
        rc = warden_err_set(err, WARDEN_EDENIED,
                            "%s: private key is readable by group or others (mode %03o); "
                            "chmod 600 it",
                            path, (unsigned)(st.st_mode & 0777));
        goto out;
    }
    if (BIO_reset(bio) != 1) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "%s: cannot rewind", path);
        goto out;
    }
    if ((pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)) == NULL) {
        rc = warden_err_set(err, WARDEN_EPARSE,
                            "%s: not a PEM key (want an unencrypted PKCS#8 Ed25519 private key "
                            "or a public key)",
                            path);
        goto out;
    }
    rc = token_key_wrap(out, pkey, true, err);
    pkey = NULL;
    if (rc != 0)
        warden_err_prefix(err, "%s", path);
out:
    ERR_clear_error();
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    warden_secret_free(text, cap);
    close(fd);
    return rc;
}

int warden_token_key_public_pem(warden_buf *out, const warden_token_key *k, warden_err *err)
{
    BIO *bio = NULL;
    char *pem = NULL;
    long n = 0;
    int rc = 0;
    if ((bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_PUBKEY(bio, k->pkey) != 1 ||
        (n = BIO_get_mem_data(bio, &pem)) <= 0) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "cannot encode the public key as PEM");
        goto out;
    }
    if (warden_buf_append(out, pem, (size_t)n) != 0)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
out:
    ERR_clear_error();
    BIO_free(bio);
    return rc;
}
