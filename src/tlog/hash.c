/* RFC 6962 Merkle hashing with one SHA-256 context per thread, so that the appender and the
 * verifier hash without allocating per call. */
#include "tlog/tlog_internal.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* One context per thread, freed by the key's destructor when the thread exits. */
static pthread_key_t ctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void free_ctx(void *p)
{
    EVP_MD_CTX_free(p);
}

static void make_key(void)
{
    if (pthread_key_create(&ctx_key, free_ctx) != 0)
        abort();
}

/* SHA-256 fetched once. EVP_sha256() is a legacy method table that OpenSSL 3 re-fetches from
 * the provider on every EVP_DigestInit_ex2 (a lock and a hash-table lookup: perf put it at
 * half the cost of a node hash); the explicitly fetched method is used as is. Never freed. */
static EVP_MD *sha256_fetched;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void fetch_md(void)
{
    sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256_md(void)
{
    pthread_once(&md_once, fetch_md);
    return sha256_fetched != NULL ? sha256_fetched : EVP_sha256();
}

/* A failure here means OpenSSL cannot hash at all (out of memory at the first call of a
 * thread): there is no correct hash to return, so this is fatal, not an input error. */
static void hash_parts(warden_tlog_hash *out, uint8_t prefix, const void *a, size_t alen,
                       const void *b, size_t blen)
{
    pthread_once(&ctx_once, make_key);
    EVP_MD_CTX *tls_ctx = pthread_getspecific(ctx_key);
    if (tls_ctx == NULL) {
        if ((tls_ctx = EVP_MD_CTX_new()) == NULL || pthread_setspecific(ctx_key, tls_ctx) != 0)
            goto fail;
    }
    unsigned int n = 0;
    if (EVP_DigestInit_ex2(tls_ctx, sha256_md(), NULL) != 1 ||
        EVP_DigestUpdate(tls_ctx, &prefix, 1) != 1 ||
        (alen > 0 && EVP_DigestUpdate(tls_ctx, a, alen) != 1) ||
        (blen > 0 && EVP_DigestUpdate(tls_ctx, b, blen) != 1) ||
        EVP_DigestFinal_ex(tls_ctx, out->b, &n) != 1 || n != WARDEN_TLOG_HASH_SIZE)
        goto fail;
    return;
fail:
    fprintf(stderr, "warden: SHA-256 unavailable in OpenSSL\n");
    abort();
}

void warden_tlog_leaf_hash(warden_tlog_hash *out, const void *entry, size_t len)
{
    hash_parts(out, 0x00, entry, len, NULL, 0);
}

void warden_tlog_node_hash(warden_tlog_hash *out, const warden_tlog_hash *left,
                           const warden_tlog_hash *right)
{
    uint8_t both[2 * WARDEN_TLOG_HASH_SIZE];
    for (size_t i = 0; i < WARDEN_TLOG_HASH_SIZE; i++) {
        both[i] = left->b[i];
        both[WARDEN_TLOG_HASH_SIZE + i] = right->b[i];
    }
    hash_parts(out, 0x01, both, sizeof both, NULL, 0);
}

void warden_tlog_tree_hash(warden_tlog_hash *out, const warden_tlog_hash *leaves, uint64_t n)
{
    if (n == 0) {
        unsigned int len = 0;
        if (EVP_Digest("", 0, out->b, &len, sha256_md(), NULL) != 1) {
            fprintf(stderr, "warden: SHA-256 unavailable in OpenSSL\n");
            abort();
        }
        return;
    }
    /* Iterative form of MTH: a stack of perfect subtrees, merged as in binary addition; the
     * final fold from the right gives RFC 6962's split at the largest power of two. */
    warden_tlog_hash stack[64];
    unsigned height[64];
    size_t top = 0;
    for (uint64_t i = 0; i < n; i++) {
        stack[top] = leaves[i];
        height[top++] = 0;
        while (top >= 2 && height[top - 1] == height[top - 2]) {
            warden_tlog_node_hash(&stack[top - 2], &stack[top - 2], &stack[top - 1]);
            height[top - 2]++;
            top--;
        }
    }
    while (top >= 2) {
        warden_tlog_node_hash(&stack[top - 2], &stack[top - 2], &stack[top - 1]);
        top--;
    }
    *out = stack[0];
}

void tlog_edge_root(warden_tlog_hash *out, warden_tlog_hash *const *edge, const unsigned *counts,
                    unsigned nlevels)
{
    /* The tree is these perfect subtrees left to right, largest first: each level's hashes
     * split by the binary digits of their count. MTH is then the fold from the right. */
    warden_tlog_hash parts[TLOG_LEVELS * 8];
    size_t np = 0;
    for (unsigned l = nlevels; l-- > 0;) {
        unsigned off = 0;
        for (unsigned b = 8; b-- > 0;) {
            unsigned chunk = 1u << b;
            if (!(counts[l] & chunk))
                continue;
            warden_tlog_tree_hash(&parts[np++], edge[l] + off, chunk);
            off += chunk;
        }
    }
    if (np == 0) {
        warden_tlog_tree_hash(out, NULL, 0);
        return;
    }
    warden_tlog_hash h = parts[np - 1];
    for (size_t i = np - 1; i-- > 0;)
        warden_tlog_node_hash(&h, &parts[i], &h);
    *out = h;
}
