/* The log's sequencer: many threads append, one thread journals batches (group commit) and
 * acknowledges them, a second thread integrates journaled batches into tiles and checkpoints.
 *
 * An append is acknowledged once its batch is in the write-ahead journal (journal.c): one
 * write + one fdatasync per batch. integrate() below then publishes a checkpoint covering it
 * (three ordered flushes), while the sequencer already journals the next batch; a checkpoint
 * lags the acknowledged appends by at most the batches journaled during one integration.
 * integrate() is the core and the place to read the crash argument: every durable step says
 * what recovery finds if the process dies right after it. Recovery (appender_new -> recover)
 * reuses the normal path: it trusts only the signed checkpoint, reloads the right edge that
 * checkpoint needs, deletes whatever lies beyond it, and integrates the journal's batches
 * past the checkpoint with integrate().
 *
 * Memory is the right edge only: for each tile level, the hashes of its rightmost partial
 * tile (at most 255 each), plus the entries of the rightmost partial bundle; and the journaled
 * batches not yet integrated (at most the journal's size plus one batch). */
#define _GNU_SOURCE
#include "tlog/tlog_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

typedef struct request {
    const uint8_t *const *entries; /* borrowed from the waiting caller */
    const size_t *lens;
    size_t n;
    uint64_t first; /* result */
    int rc;
    sem_t done; /* posted by the sequencer: the caller sleeps alone, no shared wakeup */
    struct request *next;
    struct request *kid[2]; /* callers this caller wakes once woken (a binary tree) */
} request;

struct warden_tlog_appender {
    int dirfd;
    const warden_tlog_signer *signer;
    size_t max_batch;
    unsigned max_wait_us;
    unsigned publish_wait_us;
    char origin[WARDEN_TLOG_ORIGIN_MAX + 1];

    /* Integrator-only state: the published tree's right edge. */
    uint64_t size;
    warden_tlog_hash edge[TLOG_LEVELS][WARDEN_TLOG_TILE_WIDTH];
    unsigned count[TLOG_LEVELS]; /* == warden_tlog_partial_width(L, size) */
    warden_buf bundle;           /* entries of the partial bundle, encoded */
    tlog_writeset ws;
    tlog_syncpool *pool;
    warden_buf note;

    tlog_journal journal; /* sequencer-only once started */

    pthread_t thread, ithread;
    int thread_started, ithread_started;
    pthread_mutex_t mu;
    pthread_cond_t queued;   /* requests arrived or stopping */
    pthread_cond_t pending;  /* journaled batches to integrate, or the sequencer ended */
    pthread_cond_t progress; /* published grew or integration failed */
    request *head, *tail;
    request **wake; /* sequencer scratch: the batch in order, to build the wake tree */
    size_t wake_cap;
    size_t queued_entries;
    size_t wait_target; /* while the sequencer waits for a fuller batch: entries it waits for */
    tlog_jbatch *jhead, **jtail; /* journaled, acknowledged, not yet integrated */
    uint64_t jpending_bytes;     /* bytes of the batches in that list */
    unsigned urgent;             /* threads waiting for a checkpoint: publish without delay */
    uint64_t journaled;          /* entries durable in the journal (acknowledged or about to be) */
    uint64_t published;          /* size of the published checkpoint: what readers may rely on */
    int stopping;
    int seq_done;     /* the sequencer has exited: no more journaled batches will come */
    int failed;       /* fail closed: once set, every append returns WARDEN_EIO */
    int integ_failed; /* the integrator stopped: journaled batches wait for a reopen */
    warden_err fail_err;
};

static int tile_index_path(char *path, int level, uint64_t size, unsigned width)
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
static int integrate(warden_tlog_appender *a, const tlog_jbatch *batch, warden_err *err)
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
                if ((rc = tile_index_path(path, WARDEN_TLOG_ENTRIES_LEVEL, n - 1, 0)) != 0 ||
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
        if ((rc = tile_index_path(path, l, n, w)) != 0)
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

/* ---- recovery ---- */

/* Reads a file under the log directory into b (exact size max when exact). */
static int read_rel(warden_buf *b, warden_tlog_appender *a, const char *path, size_t max,
                    warden_err *err)
{
    int fd = openat(a->dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return warden_err_set(err, errno == ENOENT ? WARDEN_ENOTFOUND : WARDEN_EIO, "%s: %s", path,
                              strerror(errno));
    int rc = 0;
    for (;;) {
        if (warden_buf_reserve(b, 65536) != 0) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            break;
        }
        ssize_t n = read(fd, b->p + b->len, 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = warden_err_set(err, WARDEN_EIO, "%s: read: %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        b->len += (size_t)n;
        if (b->len > max) {
            rc = warden_err_set(err, WARDEN_ECORRUPT, "%s: larger than %zu bytes", path, max);
            break;
        }
    }
    close(fd);
    return rc;
}

/* Loads the right edge that the verified checkpoint cp needs and checks it against cp's root:
 * anything else means someone other than this appender changed the directory. */
static int load_edge(warden_tlog_appender *a, const warden_tlog_checkpoint *cp, warden_err *err)
{
    int rc = 0;
    char path[WARDEN_TLOG_PATH_MAX];
    warden_buf b;
    warden_tlog_bundle *bd = malloc(sizeof *bd);
    warden_buf_init(&b);
    if (bd == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    a->size = cp->size;
    for (int l = 0; l < TLOG_LEVELS; l++) {
        unsigned w = warden_tlog_partial_width(l, cp->size);
        a->count[l] = w;
        if (w == 0)
            continue;
        b.len = 0;
        size_t want = (size_t)w * WARDEN_TLOG_HASH_SIZE;
        if ((rc = tile_index_path(path, l, cp->size, w)) != 0 ||
            (rc = read_rel(&b, a, path, want, err)) != 0)
            goto bad;
        if (b.len != want) {
            rc = warden_err_set(err, WARDEN_ECORRUPT, "%s: %zu bytes, expected %zu", path, b.len,
                                want);
            goto out;
        }
        memcpy(a->edge[l], b.p, want);
    }
    unsigned w = warden_tlog_partial_width(0, cp->size);
    if (w > 0) {
        b.len = 0;
        if ((rc = tile_index_path(path, WARDEN_TLOG_ENTRIES_LEVEL, cp->size, w)) != 0 ||
            (rc = read_rel(&b, a, path, (size_t)w * (WARDEN_TLOG_ENTRY_MAX + 2), err)) != 0)
            goto bad;
        if ((rc = warden_tlog_bundle_parse(bd, b.p, b.len, w, err)) != 0) {
            rc = warden_err_set(err, WARDEN_ECORRUPT, "%s: malformed bundle", path);
            goto out;
        }
        for (unsigned i = 0; i < w; i++) {
            warden_tlog_hash h;
            warden_tlog_leaf_hash(&h, bd->entry[i], bd->len[i]);
            if (CRYPTO_memcmp(h.b, a->edge[0][i].b, WARDEN_TLOG_HASH_SIZE) != 0) {
                rc = warden_err_set(err, WARDEN_ECORRUPT,
                                    "%s: entry %llu does not match its level 0 tile hash", path,
                                    (unsigned long long)((cp->size & ~UINT64_C(255)) + i));
                goto out;
            }
        }
        if (warden_buf_append(&a->bundle, b.p, b.len) != 0) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
    }
    warden_tlog_hash *edges[TLOG_LEVELS];
    warden_tlog_hash root;
    for (unsigned l = 0; l < TLOG_LEVELS; l++)
        edges[l] = a->edge[l];
    tlog_edge_root(&root, edges, a->count, TLOG_LEVELS);
    if (CRYPTO_memcmp(root.b, cp->root.b, WARDEN_TLOG_HASH_SIZE) != 0) {
        rc = warden_err_set(err, WARDEN_ECORRUPT,
                            "the partial tiles do not hash to the checkpoint's root (size %llu): "
                            "the log directory was changed by something other than warden",
                            (unsigned long long)cp->size);
        goto out;
    }
    goto out;
bad:
    if (rc == WARDEN_ENOTFOUND)
        rc = warden_err_set(err, WARDEN_ECORRUPT,
                            "%s: missing, but the checkpoint (size %llu) "
                            "needs it",
                            path, (unsigned long long)cp->size);
    else if (err != NULL)
        err->code = rc;
out:
    free(bd);
    warden_buf_fini(&b);
    return rc;
}

/* Deletes, in the directory holding tile `probe` of level l, what lies beyond the checkpoint:
 * full tiles at or past t0 (the rightmost, still partial tile), partial tiles wider than w at
 * t0 and any at later indexes, and temp files. */
static int clean_group(warden_tlog_appender *a, int l, uint64_t probe, uint64_t t0, unsigned w,
                       warden_err *err)
{
    char path[WARDEN_TLOG_PATH_MAX + 16];
    int rc = warden_tlog_tile_path(path, WARDEN_TLOG_PATH_MAX, l, probe, 0);
    if (rc != 0)
        return warden_err_set(err, rc, "tile %d/%llu: no path", l, (unsigned long long)probe);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int fd = openat(a->dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0
                               : warden_err_set(err, WARDEN_EIO, "%s: %s", path, strerror(errno));
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return warden_err_set(err, WARDEN_EIO, "%s: %s", path, strerror(errno));
    }
    uint64_t base = probe - probe % 1000;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (!(n[0] >= '0' && n[0] <= '9' && n[1] >= '0' && n[1] <= '9' && n[2] >= '0' &&
              n[2] <= '9'))
            continue; /* ".", "..", and the "x" group directories */
        uint64_t idx = base + (uint64_t)((n[0] - '0') * 100 + (n[1] - '0') * 10 + (n[2] - '0'));
        const char *suffix = n + 3;
        char sub[WARDEN_TLOG_PATH_MAX + 40];
        if (strlen(n) > 16)
            continue; /* not a layout name: "ddd", "ddd.p", "ddd.tmp", "ddd.p.tmp" */
        snprintf(sub, sizeof sub, "%s/%.16s", path, n);
        if (strstr(suffix, ".tmp") != NULL || (suffix[0] == '\0' && idx >= t0))
            rc = tlog_remove(a->dirfd, sub, err);
        else if (strcmp(suffix, ".p") == 0 && idx >= t0)
            rc = tlog_prune_partials(a->dirfd, sub, idx == t0 ? w : 0, err);
    }
    closedir(d);
    return rc;
}

/* Deletes what an interrupted batch can have left beyond the checkpoint. A batch holds at most
 * WARDEN_TLOG_BATCH_MAX entries, so at each level it reached at most `window` tiles past the
 * edge: two directory listings per level cover them. */
static int remove_beyond(warden_tlog_appender *a, warden_err *err)
{
    int rc = tlog_remove(a->dirfd, "checkpoint.tmp", err);
    for (int l = WARDEN_TLOG_ENTRIES_LEVEL; l < TLOG_LEVELS && rc == 0; l++) {
        unsigned shift = 8 * ((l < 0 ? 0 : (unsigned)l) + 1);
        uint64_t t0 = tlog_shr(a->size, shift);
        uint64_t window = tlog_shr(WARDEN_TLOG_BATCH_MAX, shift) + 2;
        unsigned w = warden_tlog_partial_width(l, a->size);
        rc = clean_group(a, l, t0, t0, w, err);
        if (rc == 0 && (t0 + window) / 1000 != t0 / 1000)
            rc = clean_group(a, l, t0 + window, t0, w, err);
    }
    return rc;
}

/* ---- the sequencer thread ---- */

static void finish_batch(warden_tlog_appender *a, request *batch, int rc)
{
    /* Wake only the first caller; each woken caller wakes two more (see append_many), so the
     * wakeups run on the callers' CPUs, log2(batch) deep, while this thread goes on to the
     * next batch. Without scratch memory, fall back to a chain along r->next. */
    size_t n = 0;
    for (request *r = batch; r != NULL; r = r->next)
        n++;
    if (n > a->wake_cap) {
        request **w = realloc(a->wake, n * sizeof *w);
        if (w != NULL) {
            a->wake = w;
            a->wake_cap = n;
        }
    }
    size_t i = 0;
    for (request *r = batch; r != NULL; r = r->next, i++) {
        r->rc = rc;
        r->kid[0] = r->kid[1] = NULL;
        if (n <= a->wake_cap)
            a->wake[i] = r;
        else
            r->kid[0] = r->next;
    }
    if (n <= a->wake_cap) {
        for (i = 0; i < n; i++) {
            a->wake[i]->kid[0] = 2 * i + 1 < n ? a->wake[2 * i + 1] : NULL;
            a->wake[i]->kid[1] = 2 * i + 2 < n ? a->wake[2 * i + 2] : NULL;
        }
    }
    sem_post(&batch->done);
}

static int journal_batch(warden_tlog_appender *a, request *batch);

/* With mu held: whether the integrator should publish now rather than collect more batches:
 * someone waits for a checkpoint, or a quarter of the journal (whose space is reused only
 * once published) or half a maximal integration is waiting. */
static int publish_due(const warden_tlog_appender *a)
{
    return a->urgent > 0 || a->stopping || a->jpending_bytes >= TLOG_JOURNAL_SIZE / 4 ||
           a->journaled - a->published >= WARDEN_TLOG_BATCH_MAX / 2;
}

static void *sequencer(void *arg)
{
    warden_tlog_appender *a = arg;
    size_t prev_batch = 0;
    for (;;) {
        pthread_mutex_lock(&a->mu);
        while (a->head == NULL && !a->stopping)
            pthread_cond_wait(&a->queued, &a->mu);
        if (a->head == NULL) {
            pthread_mutex_unlock(&a->mu);
            break;
        }
        /* Group commit: the callers of the previous batch are coming back (woken one after
         * another); wait, at most max_wait_us, until as many entries are queued as that batch
         * held, so that batches stay large instead of alternating large and small. A lone
         * caller never waits: its previous batch held one entry. */
        size_t target = prev_batch < a->max_batch ? prev_batch : a->max_batch;
        if (a->queued_entries < target && !a->stopping) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += (long)a->max_wait_us * 1000;
            until.tv_sec += until.tv_nsec / 1000000000;
            until.tv_nsec %= 1000000000;
            a->wait_target = target;
            while (a->queued_entries < target && !a->stopping &&
                   pthread_cond_timedwait(&a->queued, &a->mu, &until) == 0)
                ;
            a->wait_target = 0;
        }
        /* Take whole requests up to max_batch entries (a larger single request goes alone). */
        request *batch = a->head, *last = a->head;
        size_t taken = last->n;
        while (last->next != NULL && taken + last->next->n <= a->max_batch) {
            last = last->next;
            taken += last->n;
        }
        a->head = last->next;
        if (a->head == NULL)
            a->tail = NULL;
        last->next = NULL;
        a->queued_entries -= taken;
        prev_batch = taken;
        int failed = a->failed;
        pthread_mutex_unlock(&a->mu);

        int rc = failed ? WARDEN_EIO : journal_batch(a, batch);
        finish_batch(a, batch, rc);
    }
    pthread_mutex_lock(&a->mu);
    a->seq_done = 1;
    pthread_cond_signal(&a->pending);
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

static void fail_closed(warden_tlog_appender *a, const warden_err *e, int integrator)
{
    pthread_mutex_lock(&a->mu);
    if (!a->failed)
        a->fail_err = *e;
    a->failed = 1;
    if (integrator)
        a->integ_failed = 1;
    pthread_cond_broadcast(&a->progress);
    pthread_mutex_unlock(&a->mu);
    fprintf(stderr, "warden: transparency log failed closed: %s\n", e->msg);
}

/* Copies a batch's entries into one journal batch, makes it durable, and hands it to the
 * integrator. Returns 0 when the callers may be told their indexes, else WARDEN_EIO. */
static int journal_batch(warden_tlog_appender *a, request *batch)
{
    warden_err e;
    warden_err_clear(&e);
    tlog_jbatch *jb = malloc(sizeof *jb);
    if (jb == NULL) {
        warden_err_set(&e, WARDEN_ENOMEM, "out of memory");
        goto bad;
    }
    uint64_t n = a->journaled; /* only this thread changes it */
    int rc = tlog_jbatch_begin(jb, n, &e);
    for (request *r = batch; r != NULL && rc == 0; r = r->next) {
        r->first = n;
        for (size_t i = 0; i < r->n && rc == 0; i++, n++)
            rc = tlog_jbatch_add(jb, r->entries[i], r->lens[i], &e);
    }
    if (rc != 0)
        goto bad;
    if (!tlog_journal_fits(&a->journal, jb)) {
        /* The journal is full: its space may be reused only once every batch in it is
         * covered by a durable checkpoint (integrate step 4). Wait for the integrator. */
        pthread_mutex_lock(&a->mu);
        a->urgent++;
        pthread_cond_signal(&a->pending);
        while (a->published < a->journaled && !a->integ_failed)
            pthread_cond_wait(&a->progress, &a->mu);
        a->urgent--;
        int ok = !a->integ_failed;
        pthread_mutex_unlock(&a->mu);
        if (!ok) {
            warden_err_set(&e, WARDEN_EIO, "integration failed");
            goto bad;
        }
        if (tlog_journal_rewind(&a->journal, &e) != 0)
            goto bad;
    }
    /* DURABLE: one pwrite + one fdatasync. If we crash before it returns, the batch may be
     * torn, and recovery ignores a torn last batch: none of its callers was answered. If we
     * crash after it, recovery integrates the batch from the journal: its callers may now
     * be told their indexes. */
    if (tlog_journal_write(&a->journal, jb, &e) != 0)
        goto bad;
    pthread_mutex_lock(&a->mu);
    a->journaled = n;
    *a->jtail = jb;
    a->jtail = &jb->next;
    a->jpending_bytes += jb->b.len;
    if (a->jhead == jb || publish_due(a))
        pthread_cond_signal(&a->pending);
    pthread_mutex_unlock(&a->mu);
    return 0;
bad:
    tlog_jbatch_free(jb);
    fail_closed(a, &e, 0);
    return WARDEN_EIO;
}

/* The integrator thread: takes journaled batches (at most WARDEN_TLOG_BATCH_MAX entries at
 * once, so that recovery's clean-up window holds) and publishes a checkpoint over them.
 *
 * Publishing costs three ordered flushes and a few new files whatever the number of entries,
 * and those flushes compete for the disk with the journal's, which callers wait for. So once
 * batches arrive, the integrator collects them for up to publish_wait_us before publishing,
 * unless enough have come (publish_due) or a thread waits for a checkpoint (sync, a full
 * journal, free). Acknowledged entries are durable in the journal all the while. */
static void *integrator(void *arg)
{
    warden_tlog_appender *a = arg;
    for (;;) {
        pthread_mutex_lock(&a->mu);
        while (a->jhead == NULL && !a->seq_done)
            pthread_cond_wait(&a->pending, &a->mu);
        if (a->jhead != NULL && !a->seq_done && !publish_due(a) && a->publish_wait_us > 0) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += (long)(a->publish_wait_us % 1000000) * 1000;
            until.tv_sec += a->publish_wait_us / 1000000 + until.tv_nsec / 1000000000;
            until.tv_nsec %= 1000000000;
            while (!a->seq_done && !publish_due(a) &&
                   pthread_cond_timedwait(&a->pending, &a->mu, &until) == 0)
                ;
        }
        tlog_jbatch *list = a->jhead, *last = list;
        if (list == NULL) {
            pthread_mutex_unlock(&a->mu);
            break;
        }
        uint64_t taken = last->count, bytes = last->b.len;
        while (last->next != NULL && taken + last->next->count <= WARDEN_TLOG_BATCH_MAX) {
            last = last->next;
            taken += last->count;
            bytes += last->b.len;
        }
        a->jpending_bytes -= bytes;
        a->jhead = last->next;
        if (a->jhead == NULL)
            a->jtail = &a->jhead;
        last->next = NULL;
        int skip = a->integ_failed;
        pthread_mutex_unlock(&a->mu);

        if (!skip) {
            warden_err e;
            warden_err_clear(&e);
            int rc = integrate(a, list, &e);
            tlog_ws_fini(&a->ws);
            if (rc != 0) {
                /* The batches stay in the journal: a reopen integrates them. */
                fail_closed(a, &e, 1);
            } else {
                pthread_mutex_lock(&a->mu);
                a->published = a->size;
                pthread_cond_broadcast(&a->progress);
                pthread_mutex_unlock(&a->mu);
            }
        }
        tlog_jbatch_free(list);
    }
    return NULL;
}

/* Integrates the batches the journal holds beyond the checkpoint (a crash came between their
 * acknowledgement and their checkpoint) through the normal path, then starts a new journal
 * epoch: every batch in the journal is now covered by a durable checkpoint. */
static int recover_journal(warden_tlog_appender *a, const char *dir, warden_err *err)
{
    tlog_jbatch *replay = NULL;
    int rc = tlog_journal_open(&a->journal, &replay, a->dirfd, a->size, err);
    if (rc != 0) {
        warden_err_prefix(err, "%s", dir);
        return rc;
    }
    while (replay != NULL && rc == 0) {
        tlog_jbatch *last = replay;
        uint64_t taken = last->count;
        while (last->next != NULL && taken + last->next->count <= WARDEN_TLOG_BATCH_MAX) {
            last = last->next;
            taken += last->count;
        }
        tlog_jbatch *rest = last->next;
        last->next = NULL;
        rc = integrate(a, replay, err);
        tlog_ws_fini(&a->ws);
        tlog_jbatch_free(replay);
        replay = rest;
    }
    tlog_jbatch_free(replay);
    if (rc == 0)
        rc = tlog_journal_rewind(&a->journal, err);
    return rc;
}

/* ---- public API ---- */

int warden_tlog_create(const char *dir, const char *origin, const warden_tlog_signer *s,
                       warden_err *err)
{
    char path[4096];
    warden_buf note;
    warden_tlog_checkpoint cp;
    int rc;
    size_t olen = strlen(origin);
    if (olen == 0 || olen > WARDEN_TLOG_ORIGIN_MAX)
        return warden_err_set(err, WARDEN_EINVAL, "origin must be 1..%d bytes",
                              WARDEN_TLOG_ORIGIN_MAX);
    if ((rc = warden_mkdir_p(dir, err)) != 0)
        return rc;
    if (snprintf(path, sizeof path, "%s/checkpoint", dir) >= (int)sizeof path)
        return warden_err_set(err, WARDEN_EINVAL, "%s: path too long", dir);
    if (access(path, F_OK) == 0)
        return warden_err_set(err, WARDEN_EEXIST, "%s: a log already exists here", path);
    memcpy(cp.origin, origin, olen + 1);
    cp.size = 0;
    warden_tlog_tree_hash(&cp.root, NULL, 0);
    warden_buf_init(&note);
    if ((rc = warden_tlog_checkpoint_sign(&note, &cp, s, err)) != 0) {
        warden_err_prefix(err, "origin");
        if (err != NULL)
            err->code = rc = WARDEN_EINVAL;
        goto out;
    }
    /* A journal left from an earlier log in this directory belongs to no checkpoint: an
     * appender would otherwise replay its entries into the new log. */
    if (snprintf(path, sizeof path, "%s/%s", dir, TLOG_JOURNAL_NAME) >= (int)sizeof path) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: path too long", dir);
        goto out;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        rc = warden_err_set(err, WARDEN_EIO, "%s: remove: %s", path, strerror(errno));
        goto out;
    }
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    rc = warden_file_write_atomic(path, note.p, note.len, 0644, err);
out:
    warden_buf_fini(&note);
    return rc;
}

int warden_tlog_appender_new(warden_tlog_appender **out, const char *dir,
                             const warden_tlog_signer *s, const warden_tlog_appender_opts *opts,
                             warden_err *err)
{
    int rc = 0;
    warden_tlog_verifier *v = NULL;
    warden_buf b;
    warden_tlog_checkpoint cp;
    warden_tlog_appender *a = calloc(1, sizeof *a);
    warden_buf_init(&b);
    if (a == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    a->signer = s;
    a->max_batch = opts && opts->max_batch ? opts->max_batch : 4096;
    if (a->max_batch > WARDEN_TLOG_BATCH_MAX)
        a->max_batch = WARDEN_TLOG_BATCH_MAX;
    a->max_wait_us = opts && opts->max_wait_us ? opts->max_wait_us : 1000;
    a->publish_wait_us = opts && opts->publish_wait_us ? opts->publish_wait_us : 20000;
    if (a->publish_wait_us > 1000000)
        a->publish_wait_us = 1000000;
    warden_buf_init(&a->bundle);
    warden_buf_init(&a->note);
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->queued, &ca);
    pthread_cond_init(&a->pending, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&a->progress, NULL);
    a->jtail = &a->jhead;
    a->journal.fd = -1;
    a->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (a->dirfd < 0) {
        rc = warden_err_set(err, errno == ENOENT ? WARDEN_ENOTFOUND : WARDEN_EIO, "%s: %s", dir,
                            strerror(errno));
        goto out;
    }
    a->pool = tlog_syncpool_new();
    tlog_ws_init(&a->ws, a->dirfd, a->pool);
    if (flock(a->dirfd, LOCK_EX | LOCK_NB) != 0) {
        rc = warden_err_set(err, errno == EWOULDBLOCK ? WARDEN_EDENIED : WARDEN_EIO, "%s: %s", dir,
                            errno == EWOULDBLOCK ? "another appender has this log open"
                                                 : strerror(errno));
        goto out;
    }
    /* Trust nothing but a checkpoint signed by our own key. */
    if ((rc = warden_tlog_signer_vkey(&b, s, err)) != 0 ||
        (rc = warden_tlog_verifier_new(&v, (const char *)b.p, b.len, err)) != 0)
        goto out;
    b.len = 0;
    if ((rc = read_rel(&b, a, "checkpoint", WARDEN_TLOG_NOTE_MAX, err)) != 0) {
        if (rc == WARDEN_ENOTFOUND)
            warden_err_set(err, rc, "%s/checkpoint: no log here (run 'warden log init')", dir);
        goto out;
    }
    if ((rc = warden_tlog_checkpoint_open(&cp, b.p, b.len, v, err)) != 0) {
        warden_err_prefix(err, "%s/checkpoint", dir);
        goto out;
    }
    memcpy(a->origin, cp.origin, sizeof a->origin);
    if ((rc = load_edge(a, &cp, err)) != 0 || (rc = remove_beyond(a, err)) != 0 ||
        (rc = recover_journal(a, dir, err)) != 0)
        goto out;
    a->published = a->journaled = a->size;
    if (pthread_create(&a->ithread, NULL, integrator, a) != 0) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "cannot start the integrator thread");
        goto out;
    }
    a->ithread_started = 1;
    if (pthread_create(&a->thread, NULL, sequencer, a) != 0) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "cannot start the sequencer thread");
        goto out;
    }
    a->thread_started = 1;
    *out = a;
    a = NULL;
out:
    warden_tlog_verifier_free(v);
    warden_buf_fini(&b);
    warden_tlog_appender_free(a);
    return rc;
}

int warden_tlog_append_many(uint64_t *first, warden_tlog_appender *a, const uint8_t *const *entries,
                            const size_t *lens, size_t n, warden_err *err)
{
    if (n == 0 || n > WARDEN_TLOG_BATCH_MAX)
        return warden_err_set(err, WARDEN_EINVAL, "append: %zu entries (want 1..%d)", n,
                              WARDEN_TLOG_BATCH_MAX);
    for (size_t i = 0; i < n; i++)
        if (lens[i] > WARDEN_TLOG_ENTRY_MAX)
            return warden_err_set(err, WARDEN_EINVAL, "append: entry of %zu bytes exceeds %d",
                                  lens[i], WARDEN_TLOG_ENTRY_MAX);
    request r = {.entries = entries, .lens = lens, .n = n};
    if (sem_init(&r.done, 0, 0) != 0)
        return warden_err_set(err, WARDEN_EINTERNAL, "sem_init failed");
    pthread_mutex_lock(&a->mu);
    if (a->failed || a->stopping) {
        pthread_mutex_unlock(&a->mu);
        sem_destroy(&r.done);
        return warden_err_set(err, WARDEN_EIO, "transparency log unavailable (failed closed)");
    }
    if (a->tail != NULL)
        a->tail->next = &r;
    else
        a->head = &r;
    a->tail = &r;
    a->queued_entries += n;
    /* Wake the sequencer only when it has something to do: work after idling, or the fuller
     * batch it waits for (one wakeup per batch, not per caller). */
    if (a->head == &r || (a->wait_target > 0 && a->queued_entries >= a->wait_target))
        pthread_cond_signal(&a->queued);
    pthread_mutex_unlock(&a->mu);
    while (sem_wait(&r.done) != 0)
        ; /* EINTR */
    /* Pass the wakeup on; the kids' callers are still waiting, so their requests exist. */
    for (int k = 0; k < 2; k++)
        if (r.kid[k] != NULL)
            sem_post(&r.kid[k]->done);
    sem_destroy(&r.done);
    if (r.rc != 0) {
        pthread_mutex_lock(&a->mu);
        warden_err fe = a->fail_err;
        pthread_mutex_unlock(&a->mu);
        return warden_err_set(err, WARDEN_EIO, "transparency log failed closed: %s", fe.msg);
    }
    *first = r.first;
    return 0;
}

int warden_tlog_append(uint64_t *index, warden_tlog_appender *a, const uint8_t *entry, size_t len,
                       warden_err *err)
{
    const uint8_t *e[1] = {entry};
    size_t l[1] = {len};
    return warden_tlog_append_many(index, a, e, l, 1, err);
}

uint64_t warden_tlog_appender_size(warden_tlog_appender *a)
{
    pthread_mutex_lock(&a->mu);
    uint64_t n = a->published;
    pthread_mutex_unlock(&a->mu);
    return n;
}

int warden_tlog_appender_sync(warden_tlog_appender *a, warden_err *err)
{
    pthread_mutex_lock(&a->mu);
    uint64_t target = a->journaled;
    a->urgent++;
    pthread_cond_signal(&a->pending);
    while (a->published < target && !a->integ_failed)
        pthread_cond_wait(&a->progress, &a->mu);
    a->urgent--;
    int ok = a->published >= target;
    warden_err fe = a->fail_err;
    pthread_mutex_unlock(&a->mu);
    if (!ok)
        return warden_err_set(err, WARDEN_EIO,
                              "transparency log failed closed before publishing a checkpoint "
                              "(the entries are in its journal; reopening integrates them): %s",
                              fe.msg);
    return 0;
}

void warden_tlog_appender_free(warden_tlog_appender *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    a->stopping = 1;
    a->seq_done |= !a->thread_started; /* so that a lone integrator thread ends */
    pthread_cond_broadcast(&a->queued);
    pthread_cond_signal(&a->pending);
    pthread_mutex_unlock(&a->mu);
    /* The sequencer journals what is queued, then the integrator publishes it all. */
    if (a->thread_started)
        pthread_join(a->thread, NULL);
    if (a->ithread_started)
        pthread_join(a->ithread, NULL);
    tlog_jbatch_free(a->jhead);
    tlog_journal_close(&a->journal);
    if (a->dirfd >= 0) {
        tlog_ws_fini(&a->ws);
        close(a->dirfd); /* releases the flock */
    }
    tlog_syncpool_free(a->pool);
    free(a->wake);
    warden_buf_fini(&a->bundle);
    warden_buf_fini(&a->note);
    pthread_cond_destroy(&a->queued);
    pthread_cond_destroy(&a->pending);
    pthread_cond_destroy(&a->progress);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
