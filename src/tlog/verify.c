/* The auditor's full check of a log through its public layout: every bundle is re-hashed,
 * every hash tile (full, and the partial ones the checkpoint needs) compared, and the root
 * recomputed. Streaming: memory is one tile per level, whatever the log's size. */
#include "tlog/tlog_internal.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

typedef struct level_state {
    warden_tlog_hash h[WARDEN_TLOG_TILE_WIDTH];
    unsigned count;
    uint64_t tile; /* index of the tile being filled */
} level_state;

typedef struct verify_ctx {
    warden_tlog_source *s;
    level_state lv[TLOG_LEVELS + 1];
    warden_buf buf;
    warden_tlog_bundle bundle;
} verify_ctx;

/* Compares tile (level, index) of width w with want[0..w), the hashes recomputed from the
 * bundle (level 0) or from the full tiles of the level below; the error names both sides. */
static int check_tile(verify_ctx *v, int level, uint64_t index, unsigned w,
                      const warden_tlog_hash *want, uint64_t first_entry, warden_err *err)
{
    char from[WARDEN_TLOG_PATH_MAX];
    char path[WARDEN_TLOG_PATH_MAX];
    size_t size = (size_t)w * WARDEN_TLOG_HASH_SIZE;
    int rc;
    v->buf.len = 0;
    if ((rc = tlog_source_get_tile(&v->buf, v->s, level, index, w, path, err)) != 0) {
        if (rc == WARDEN_ELIMIT)
            rc = warden_err_set(err, WARDEN_ECORRUPT, "%s: longer than %zu bytes", path, size);
        return rc;
    }
    if (v->buf.len != size)
        return warden_err_set(err, WARDEN_ECORRUPT, "%s: %zu bytes, expected %zu", path, v->buf.len,
                              size);
    for (unsigned i = 0; i < w; i++) {
        if (CRYPTO_memcmp(v->buf.p + (size_t)i * WARDEN_TLOG_HASH_SIZE, want[i].b,
                          WARDEN_TLOG_HASH_SIZE) != 0) {
            uint64_t span = tlog_shl(1, 8 * (unsigned)level);
            uint64_t lo = first_entry + i * span;
            if (level == 0) {
                if (warden_tlog_tile_path(from, sizeof from, WARDEN_TLOG_ENTRIES_LEVEL, index, w) !=
                    0)
                    from[0] = '\0';
                return warden_err_set(err, WARDEN_EVERIFY,
                                      "entry %llu: its hash in %s (hash %u) does not match its "
                                      "bytes in %s (entry %u)",
                                      (unsigned long long)lo, path, i, from, i);
            }
            if (warden_tlog_tile_path(from, sizeof from, level - 1, index * 256 + i, 0) != 0)
                from[0] = '\0';
            return warden_err_set(err, WARDEN_EVERIFY,
                                  "entries %llu..%llu: %s (hash %u) does not match the hash of "
                                  "the full tile %s",
                                  (unsigned long long)lo, (unsigned long long)(lo + span - 1), path,
                                  i, from);
        }
    }
    return 0;
}

/* Adds the root of a full tile at level-1 to level, checking the level's tile once full. */
static int push(verify_ctx *v, int level, const warden_tlog_hash *h, warden_err *err)
{
    level_state *l = &v->lv[level];
    l->h[l->count++] = *h;
    if (l->count < WARDEN_TLOG_TILE_WIDTH)
        return 0;
    uint64_t first = tlog_shl(l->tile, 8 * (unsigned)(level + 1));
    int rc = check_tile(v, level, l->tile, WARDEN_TLOG_TILE_WIDTH, l->h, first, err);
    if (rc != 0)
        return rc;
    warden_tlog_hash up;
    warden_tlog_tree_hash(&up, l->h, WARDEN_TLOG_TILE_WIDTH);
    l->count = 0;
    l->tile++;
    if (level + 1 > TLOG_LEVELS)
        return warden_err_set(err, WARDEN_EINTERNAL, "tree deeper than %d tile levels",
                              TLOG_LEVELS);
    return push(v, level + 1, &up, err);
}

int warden_tlog_verify(warden_tlog_checkpoint *cp, warden_tlog_source *s,
                       const warden_tlog_verifier *vk, warden_err *err)
{
    warden_tlog_checkpoint c;
    verify_ctx *v = calloc(1, sizeof *v);
    int rc = 0;
    if (v == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    v->s = s;
    warden_buf_init(&v->buf);
    if ((rc = warden_tlog_source_checkpoint(&c, s, vk, err)) != 0)
        goto out;
    for (uint64_t start = 0; start < c.size; start += WARDEN_TLOG_TILE_WIDTH) {
        uint64_t n = start / WARDEN_TLOG_TILE_WIDTH;
        unsigned w = c.size - start >= WARDEN_TLOG_TILE_WIDTH ? WARDEN_TLOG_TILE_WIDTH
                                                              : (unsigned)(c.size - start);
        char path[WARDEN_TLOG_PATH_MAX];
        warden_tlog_hash leaves[WARDEN_TLOG_TILE_WIDTH];
        v->buf.len = 0;
        if ((rc = tlog_source_get_tile(&v->buf, s, WARDEN_TLOG_ENTRIES_LEVEL, n, w, path, err)))
            goto out;
        if (warden_tlog_bundle_parse(&v->bundle, v->buf.p, v->buf.len, w, err) != 0) {
            warden_err_prefix(err, "%s (entries %llu..%llu)", path, (unsigned long long)start,
                              (unsigned long long)(start + w - 1));
            rc = WARDEN_ECORRUPT;
            if (err != NULL)
                err->code = rc;
            goto out;
        }
        for (unsigned i = 0; i < w; i++)
            warden_tlog_leaf_hash(&leaves[i], v->bundle.entry[i], v->bundle.len[i]);
        if ((rc = check_tile(v, 0, n, w, leaves, start, err)) != 0)
            goto out;
        if (w == WARDEN_TLOG_TILE_WIDTH) {
            warden_tlog_hash up;
            warden_tlog_tree_hash(&up, leaves, WARDEN_TLOG_TILE_WIDTH);
            if ((rc = push(v, 1, &up, err)) != 0)
                goto out;
        } else {
            memcpy(v->lv[0].h, leaves, sizeof(warden_tlog_hash) * w);
            v->lv[0].count = w;
        }
    }
    /* Partial tiles above level 0 that this tree size needs. */
    for (int l = 1; l <= TLOG_LEVELS; l++) {
        level_state *ls = &v->lv[l];
        if (ls->count == 0)
            continue;
        uint64_t first = tlog_shl(ls->tile, 8 * (unsigned)(l + 1));
        if ((rc = check_tile(v, l, ls->tile, ls->count, ls->h, first, err)) != 0)
            goto out;
    }
    warden_tlog_hash *edge[TLOG_LEVELS];
    unsigned counts[TLOG_LEVELS];
    for (unsigned l = 0; l < TLOG_LEVELS; l++) {
        edge[l] = v->lv[l].h;
        counts[l] = v->lv[l].count;
    }
    warden_tlog_hash root;
    tlog_edge_root(&root, edge, counts, TLOG_LEVELS);
    if (CRYPTO_memcmp(root.b, c.root.b, WARDEN_TLOG_HASH_SIZE) != 0) {
        rc = warden_err_set(err, WARDEN_EVERIFY,
                            "checkpoint: root hash does not match the tree of its %llu entries",
                            (unsigned long long)c.size);
        goto out;
    }
    *cp = c;
out:
    warden_buf_fini(&v->buf);
    free(v);
    return rc;
}
