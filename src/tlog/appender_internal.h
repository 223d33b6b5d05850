/* The appender's state, shared by its files: appender.c (the threads and the public calls),
 * integrate.c (publishing journaled batches: the crash argument lives there) and recover.c
 * (reopening: trusting only the checkpoint, cleaning up, replaying the journal). */
#ifndef WARDEN_TLOG_APPENDER_INTERNAL_H
#define WARDEN_TLOG_APPENDER_INTERNAL_H

#include "tlog/tlog_internal.h"

#include <pthread.h>
#include <semaphore.h>

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
    size_t queued_reqs; /* callers in head..tail */
    size_t wait_target; /* while the sequencer waits for a fuller batch: callers it waits for */
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

/* Path of the tile of level (WARDEN_TLOG_ENTRIES_LEVEL: the bundle) holding leaf size, of
 * width width (0: full). Errors: those of warden_tlog_tile_path. */
int tlog_tile_index_path(char *path, int level, uint64_t size, unsigned width);
/* Integrates journaled batches (at most WARDEN_TLOG_BATCH_MAX entries in all) and publishes
 * the checkpoint that covers them (integrate.c). Entries below a->size are skipped. On error
 * the in-memory edge is no longer trustworthy: the caller fails the appender closed. */
int tlog_integrate(warden_tlog_appender *a, const tlog_jbatch *batch, warden_err *err);
/* Reads a file under the log directory into b (at most max bytes). Errors: WARDEN_ENOTFOUND,
 * WARDEN_EIO, WARDEN_ENOMEM, WARDEN_ECORRUPT (larger than max). */
int tlog_read_rel(warden_buf *b, warden_tlog_appender *a, const char *path, size_t max,
                  warden_err *err);
/* Reopening after the verified checkpoint cp of the log in dir: loads and checks the right
 * edge, deletes what an interrupted batch left beyond it, integrates the journal's batches
 * past it and starts a new journal epoch (recover.c). Errors: WARDEN_ECORRUPT (naming the
 * file), WARDEN_EIO, WARDEN_ENOMEM, WARDEN_EINTERNAL. */
int tlog_recover(warden_tlog_appender *a, const warden_tlog_checkpoint *cp, const char *dir,
                 warden_err *err);

#endif
