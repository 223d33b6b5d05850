/* Publishing journaled batches: the core of the log and the place to read its crash argument.
 * tlog_integrate hashes the batches' entries into the right edge, writes the new and changed
 * tiles, bundles and the signed checkpoint, and makes them durable in three ordered steps;
 * every durable step says what recovery (recover.c) finds if the process dies right after
 * it. Only the integrator thread (and recovery, before the threads start) calls it. */
#define _GNU_SOURCE
#include "tlog/appender_internal.h"

#include <string.h>

int tlog_tile_index_path(char *path, int level, uint64_t size, unsigned width)
{
    unsigned lv = level < 0 ? 0 : (unsigned)level;
    uint64_t index = tlog_shr(size, 8 * (lv + 1));
    return warden_tlog_tile_path(path, WARDEN_TLOG_PATH_MAX, level, index, width);
}

/* Adds a hash at level (the leaf hash, or the root of a tile that just became full below),
 * writing the level's tile when it becomes full. */
static int add_hash(warden_tlog_appender *a, unsigned level, const warden_tlog_hash *h,
                    uint64_t new_size, warden_err *err)
{
    a->edge[level][a->count[level]++] = *h;
    if (a->count[level] < WARDEN_TLOG_TILE_WIDTH)
        return 0;
    /* new_size is a multiple of 256^(level+1) here: the full tile's index is one below. */
    char path[WARDEN_TLOG_PATH_MAX];
    uint64_t index = tlog_shr(new_size, 8 * (level + 1)) - 1;
    int rc = warden_tlog_tile_path(path, sizeof path, (int)level, index, 0);
    if (rc == 0)
        rc = tlog_ws_add(&a->ws, path, a->edge[level], sizeof a->edge[level], err);
    if (rc != 0)
        return rc;
    warden_tlog_hash up;
    warden_tlog_tree_hash(&up, a->edge[level], WARDEN_TLOG_TILE_WIDTH);
    a->count[level] = 0;
    if (level + 1 >= TLOG_LEVELS)
        return warden_err_set(err, WARDEN_ELIMIT, "log is full");
    return add_hash(a, level + 1, &up, new_size, err);
}

static void remove_superseded_partials(warden_tlog_appender *a, uint64_t old_size,
                                       uint64_t new_size);

/* Integrates journaled batches (at most WARDEN_TLOG_BATCH_MAX entries in all, which
 * remove_beyond relies on) and publishes the checkpoint that covers them. Entries below the
 * current size are skipped (recovery: a batch the checkpoint already covers). On error the
 * in-memory edge is no longer trustworthy: the caller fails the appender closed. */
int tlog_integrate(warden_tlog_appender *a, const tlog_jbatch *batch, warden_err *err)
{
    int rc = 0;
    uint64_t old = a->size, n = old;
    char path[WARDEN_TLOG_PATH_MAX];
    warden_tlog_checkpoint cp;

    /* 1. Hash the new entries into the edge; full bundles and tiles are written (to temp
     *    names) as they fill, partial ones once at the end. */
    for (const tlog_jbatch *jb = batch; jb != NULL; jb = jb->next) {
        warden_cursor c;
        tlog_jbatch_body(&c, jb);
        for (uint32_t i = 0; i < jb->count; i++) {
            uint16_t len;
            const uint8_t *e;
            if (warden_cursor_be16(&c, &len) != 0 || warden_cursor_bytes(&c, &e, len) != 0)
                return warden_err_set(err, WARDEN_EINTERNAL, "journal batch %llu: malformed",
                                      (unsigned long long)jb->first);
            if (jb->first + i < n)
                continue;
            if (jb->first + i != n)
                return warden_err_set(err, WARDEN_EINTERNAL,
                                      "journal batch %llu: entry %llu out of sequence (size %llu)",
                                      (unsigned long long)jb->first,
                                      (unsigned long long)(jb->first + i), (unsigned long long)n);
            warden_tlog_hash leaf;
            warden_tlog_leaf_hash(&leaf, e, len);
            if ((rc = warden_tlog_bundle_add(&a->bundle, e, len, err)) != 0)
                return rc;
            n++;
            if (n % WARDEN_TLOG_TILE_WIDTH == 0) {
                if ((rc = tlog_tile_index_path(path, WARDEN_TLOG_ENTRIES_LEVEL, n - 1, 0)) != 0 ||
                    (rc = tlog_ws_add(&a->ws, path, a->bundle.p, a->bundle.len, err)) != 0)
                    return rc;
                a->bundle.len = 0;
            }
            if ((rc = add_hash(a, 0, &leaf, n, err)) != 0)
                return rc;
        }
    }
    /* Partial tiles for the new size, only where the level's width changed: an unchanged
     * partial tile is already published under the same name with the same bytes. */
    for (int l = WARDEN_TLOG_ENTRIES_LEVEL; l < TLOG_LEVELS; l++) {
        unsigned lv = l < 0 ? 0 : (unsigned)l;
        unsigned w = warden_tlog_partial_width(l, n);
        if (w == 0 || tlog_shr(old, 8 * lv) == tlog_shr(n, 8 * lv))
            continue;
        if ((rc = tlog_tile_index_path(path, l, n, w)) != 0)
            return rc;
        if (l < 0)
            rc = tlog_ws_add(&a->ws, path, a->bundle.p, a->bundle.len, err);
        else
            rc = tlog_ws_add(&a->ws, path, a->edge[l], (size_t)w * WARDEN_TLOG_HASH_SIZE, err);
        if (rc != 0)
            return rc;
    }
    /* The checkpoint for the new size, to its temp name too. */
    warden_tlog_hash *edges[TLOG_LEVELS];
    for (unsigned l = 0; l < TLOG_LEVELS; l++)
        edges[l] = a->edge[l];
    memcpy(cp.origin, a->origin, sizeof cp.origin);
    cp.size = n;
    tlog_edge_root(&cp.root, edges, a->count, TLOG_LEVELS);
    a->note.len = 0;
    if ((rc = warden_tlog_checkpoint_sign(&a->note, &cp, a->signer, err)) != 0)
        return rc;
    tlog_writeset cpws;
    tlog_ws_init(&cpws, a->dirfd, a->pool);
    if ((rc = tlog_ws_add(&cpws, "checkpoint", a->note.p, a->note.len, err)) != 0)
        goto out;

    /* 2. DURABLE: every temp file of the batch, checkpoint included, is fdatasync'ed.
     *    If we crash after this: only *.tmp files exist; the old checkpoint is intact and
     *    recovery deletes the temps, then integrates the batch again from the journal, where
     *    it has been durable since before its callers were answered. */
    if ((rc = tlog_ws_sync(&a->ws, &cpws, err)) != 0)
        goto out;

    /* 3. DURABLE: tiles and bundles renamed to their final names; their directories fsynced.
     *    If we crash after this: files beyond the old checkpoint exist under final names, but
     *    no checkpoint references them; recovery trusts the old checkpoint and deletes them.
     *    (Before the directory fsyncs end, any subset of the renames may survive: same case.)
     *    Names are never reused for different bytes once a checkpoint references them. */
    if ((rc = tlog_ws_publish(&a->ws, err)) != 0)
        goto out;

    /* 4. DURABLE: the new checkpoint renamed over the old one; the log directory fsynced.
     *    If we crash after the rename, recovery finds either checkpoint (rename is atomic),
     *    and every file either one needs is already durable (step 3); with the old one it
     *    integrates the batch again from the journal. Only after this fsync may the journal
     *    space holding the batch be reused (the sequencer waits for `published`). */
    if ((rc = tlog_ws_publish(&cpws, err)) != 0)
        goto out;
    a->size = n;

    /* 5. Not durable, not needed: partial tiles superseded by full ones may go (tlog-tiles
     *    allows it once the full tile exists). A crash leaves them; they stay valid. */
    remove_superseded_partials(a, old, n);
out:
    tlog_ws_fini(&cpws);
    return rc;
}

static void remove_superseded_partials(warden_tlog_appender *a, uint64_t old_size,
                                       uint64_t new_size)
{
    for (int l = WARDEN_TLOG_ENTRIES_LEVEL; l < TLOG_LEVELS; l++) {
        unsigned lv = l < 0 ? 0 : (unsigned)l;
        unsigned shift = 8 * (lv + 1);
        for (uint64_t t = tlog_shr(old_size, shift); t < tlog_shr(new_size, shift); t++) {
            char path[WARDEN_TLOG_PATH_MAX + 4];
            if (warden_tlog_tile_path(path, WARDEN_TLOG_PATH_MAX, l, t, 0) != 0)
                continue;
            size_t pl = strlen(path);
            memcpy(path + pl, ".p", 3);
            warden_err ignored;
            (void)tlog_prune_partials(a->dirfd, path, 0, &ignored);
        }
    }
}
