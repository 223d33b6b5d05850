/* Inclusion and consistency proofs: generation from any source of complete-subtree hashes
 * (tiles, memory) and verification, both exactly as RFC 9162 sections 2.1.3 and 2.1.4. */
#include "warden/tlog.h"

#include <openssl/crypto.h>

/* Largest power of two strictly below n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

/* MTH(D[lo:hi]) for the ranges the RFC recursion produces: a complete aligned subtree is read
 * from the reader, anything else is split as MTH splits it. */
static int range_hash(warden_tlog_hash *out, const warden_tlog_hash_reader *r, uint64_t lo,
                      uint64_t hi, warden_err *err)
{
    uint64_t n = hi - lo;
    if ((n & (n - 1)) == 0 && lo % n == 0) {
        unsigned h = 0;
        while ((UINT64_C(1) << h) < n)
            h++;
        return r->subtree(r->ctx, out, h, lo >> h, err);
    }
    uint64_t k = split_point(n);
    warden_tlog_hash left, right;
    int rc = range_hash(&left, r, lo, lo + k, err);
    if (rc == 0)
        rc = range_hash(&right, r, lo + k, hi, err);
    if (rc == 0)
        warden_tlog_node_hash(out, &left, &right);
    return rc;
}

int warden_tlog_reader_root(warden_tlog_hash *root, const warden_tlog_hash_reader *r, uint64_t size,
                            warden_err *err)
{
    if (size == 0) {
        warden_tlog_tree_hash(root, NULL, 0);
        return 0;
    }
    return range_hash(root, r, 0, size, err);
}

/* PATH(m, D[lo:hi]) of RFC 9162 2.1.3.1, appending from the leaf upwards. */
static int path(warden_tlog_hash *proof, size_t *n, uint64_t m, uint64_t lo, uint64_t hi,
                const warden_tlog_hash_reader *r, warden_err *err)
{
    if (hi - lo <= 1)
        return 0;
    uint64_t k = split_point(hi - lo);
    int rc;
    if (m - lo < k) {
        if ((rc = path(proof, n, m, lo, lo + k, r, err)) != 0)
            return rc;
        rc = range_hash(&proof[*n], r, lo + k, hi, err);
    } else {
        if ((rc = path(proof, n, m, lo + k, hi, r, err)) != 0)
            return rc;
        rc = range_hash(&proof[*n], r, lo, lo + k, err);
    }
    if (rc == 0)
        (*n)++;
    return rc;
}

int warden_tlog_prove_inclusion(warden_tlog_hash *proof, size_t *n, uint64_t index, uint64_t size,
                                const warden_tlog_hash_reader *r, warden_err *err)
{
    *n = 0;
    if (index >= size)
        return warden_err_set(err, WARDEN_EINVAL, "index %llu is not below tree size %llu",
                              (unsigned long long)index, (unsigned long long)size);
    return path(proof, n, index, 0, size, r, err);
}

/* SUBPROOF(m, D[lo:hi], b) of RFC 9162 2.1.4.1; m counts from lo. */
static int subproof(warden_tlog_hash *proof, size_t *n, uint64_t m, uint64_t lo, uint64_t hi, int b,
                    const warden_tlog_hash_reader *r, warden_err *err)
{
    int rc;
    if (m == hi - lo) {
        if (b)
            return 0;
        if ((rc = range_hash(&proof[*n], r, lo, hi, err)) == 0)
            (*n)++;
        return rc;
    }
    uint64_t k = split_point(hi - lo);
    if (m <= k) {
        if ((rc = subproof(proof, n, m, lo, lo + k, b, r, err)) != 0)
            return rc;
        rc = range_hash(&proof[*n], r, lo + k, hi, err);
    } else {
        if ((rc = subproof(proof, n, m - k, lo + k, hi, 0, r, err)) != 0)
            return rc;
        rc = range_hash(&proof[*n], r, lo, lo + k, err);
    }
    if (rc == 0)
        (*n)++;
    return rc;
}

int warden_tlog_prove_consistency(warden_tlog_hash *proof, size_t *n, uint64_t old_size,
                                  uint64_t new_size, const warden_tlog_hash_reader *r,
                                  warden_err *err)
{
    *n = 0;
    if (old_size > new_size)
        return warden_err_set(err, WARDEN_EINVAL, "old size %llu is above new size %llu",
                              (unsigned long long)old_size, (unsigned long long)new_size);
    if (old_size == 0 || old_size == new_size)
        return 0;
    return subproof(proof, n, old_size, 0, new_size, 1, r, err);
}

static int hash_eq(const warden_tlog_hash *a, const warden_tlog_hash *b)
{
    return CRYPTO_memcmp(a->b, b->b, WARDEN_TLOG_HASH_SIZE) == 0;
}

int warden_tlog_verify_inclusion(const warden_tlog_hash *leaf, uint64_t index, uint64_t size,
                                 const warden_tlog_hash *root, const warden_tlog_hash *proof,
                                 size_t n, warden_err *err)
{
    if (index >= size)
        return warden_err_set(err, WARDEN_EINVAL, "index %llu is not below tree size %llu",
                              (unsigned long long)index, (unsigned long long)size);
    uint64_t fn = index, sn = size - 1;
    warden_tlog_hash h = *leaf;
    for (size_t i = 0; i < n; i++) {
        if (sn == 0)
            return warden_err_set(err, WARDEN_EVERIFY, "inclusion proof is too long");
        if ((fn & 1) || fn == sn) {
            warden_tlog_node_hash(&h, &proof[i], &h);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            warden_tlog_node_hash(&h, &h, &proof[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return warden_err_set(err, WARDEN_EVERIFY, "inclusion proof is too short");
    if (!hash_eq(&h, root))
        return warden_err_set(err, WARDEN_EVERIFY,
                              "inclusion proof does not lead to the checkpoint's root");
    return 0;
}

int warden_tlog_verify_consistency(uint64_t old_size, uint64_t new_size,
                                   const warden_tlog_hash *old_root,
                                   const warden_tlog_hash *new_root, const warden_tlog_hash *proof,
                                   size_t n, warden_err *err)
{
    if (old_size > new_size)
        return warden_err_set(err, WARDEN_EINVAL, "old size %llu is above new size %llu",
                              (unsigned long long)old_size, (unsigned long long)new_size);
    if (old_size == new_size) {
        if (n != 0)
            return warden_err_set(err, WARDEN_EVERIFY, "consistency proof must be empty");
        if (!hash_eq(old_root, new_root))
            return warden_err_set(err, WARDEN_EVERIFY, "same size but different roots");
        return 0;
    }
    if (old_size == 0) {
        /* The empty tree is a prefix of every tree; nothing to prove. */
        if (n != 0)
            return warden_err_set(err, WARDEN_EVERIFY, "consistency proof must be empty");
        return 0;
    }
    if (n == 0)
        return warden_err_set(err, WARDEN_EVERIFY, "consistency proof is empty");
    const warden_tlog_hash *c = proof;
    size_t cn = n;
    warden_tlog_hash first;
    /* When old_size is a power of two the old root is itself the first node of the path. */
    if ((old_size & (old_size - 1)) == 0) {
        first = *old_root;
    } else {
        first = c[0];
        c++;
        cn--;
    }
    uint64_t fn = old_size - 1, sn = new_size - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    warden_tlog_hash fr = first, sr = first;
    for (size_t i = 0; i < cn; i++) {
        if (sn == 0)
            return warden_err_set(err, WARDEN_EVERIFY, "consistency proof is too long");
        if ((fn & 1) || fn == sn) {
            warden_tlog_node_hash(&fr, &c[i], &fr);
            warden_tlog_node_hash(&sr, &c[i], &sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            warden_tlog_node_hash(&sr, &sr, &c[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return warden_err_set(err, WARDEN_EVERIFY, "consistency proof is too short");
    if (!hash_eq(&fr, old_root))
        return warden_err_set(err, WARDEN_EVERIFY,
                              "consistency proof does not lead to the old root");
    if (!hash_eq(&sr, new_root))
        return warden_err_set(err, WARDEN_EVERIFY,
                              "consistency proof does not lead to the new root");
    return 0;
}
