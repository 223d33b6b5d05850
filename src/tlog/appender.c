/* The log's sequencer: many threads append, one thread journals batches (group commit) and
 * acknowledges them, a second thread integrates journaled batches into tiles and checkpoints.
 *
 * An append is acknowledged once its batch is in the write-ahead journal (journal.c): one
 * write + one fdatasync per batch. tlog_integrate (integrate.c) then publishes a checkpoint
 * covering it (three ordered flushes), while the sequencer already journals the next batch;
 * a checkpoint lags the acknowledged appends by at most publish_wait_us plus one
 * integration. integrate.c is the core and the place to read the crash argument. Recovery
 * (appender_new -> tlog_recover, recover.c) reuses the normal path.
 *
 * Memory is the right edge only: for each tile level, the hashes of its rightmost partial
 * tile (at most 255 each), plus the entries of the rightmost partial bundle; and the journaled
 * batches not yet integrated (at most the journal's size plus one batch). */
#define _GNU_SOURCE
#include "tlog/appender_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

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
         * another); wait, at most max_wait_us, until as many callers are queued as that batch
         * had (or a full batch), so that batches stay large instead of alternating large and
         * small. Callers, not entries: a caller that brings many entries (keyd's event-loop
         * workers bring a whole group each) must not wait for entries nobody is bringing.
         * A lone caller never waits: its previous batch had one caller. */
        size_t target = prev_batch;
        if (a->queued_reqs < target && a->queued_entries < a->max_batch && !a->stopping) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += (long)a->max_wait_us * 1000;
            until.tv_sec += until.tv_nsec / 1000000000;
            until.tv_nsec %= 1000000000;
            a->wait_target = target;
            while (a->queued_reqs < target && a->queued_entries < a->max_batch && !a->stopping &&
                   pthread_cond_timedwait(&a->queued, &a->mu, &until) == 0)
                ;
            a->wait_target = 0;
        }
        /* Take whole requests up to max_batch entries (a larger single request goes alone). */
        request *batch = a->head, *last = a->head;
        size_t taken = last->n, callers = 1;
        while (last->next != NULL && taken + last->next->n <= a->max_batch) {
            last = last->next;
            taken += last->n;
            callers++;
        }
        a->head = last->next;
        if (a->head == NULL)
            a->tail = NULL;
        last->next = NULL;
        a->queued_entries -= taken;
        a->queued_reqs -= callers;
        prev_batch = callers;
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
         * covered by a durable checkpoint (tlog_integrate step 4). Wait for the integrator. */
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
            int rc = tlog_integrate(a, list, &e);
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

/* ---- public API ---- */

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
    if ((rc = tlog_read_rel(&b, a, "checkpoint", WARDEN_TLOG_NOTE_MAX, err)) != 0) {
        if (rc == WARDEN_ENOTFOUND)
            warden_err_set(err, rc, "%s/checkpoint: no log here (run 'warden log init')", dir);
        goto out;
    }
    if ((rc = warden_tlog_checkpoint_open(&cp, b.p, b.len, v, err)) != 0) {
        warden_err_prefix(err, "%s/checkpoint", dir);
        goto out;
    }
    memcpy(a->origin, cp.origin, sizeof a->origin);
    if ((rc = tlog_recover(a, &cp, dir, err)) != 0)
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
    a->queued_reqs++;
    /* Wake the sequencer only when it has something to do: work after idling, or the fuller
     * batch it waits for (one wakeup per batch, not per caller). */
    if (a->head == &r || (a->wait_target > 0 && (a->queued_reqs >= a->wait_target ||
                                                 a->queued_entries >= a->max_batch)))
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
