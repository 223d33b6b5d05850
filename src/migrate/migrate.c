/* `warden migrate`: the run. Order of durable steps and what a crash at each means
 * (docs/migrate.md has the full argument):
 *   1. source pass: Merkle root over the source set (one snapshot)   -> nothing written
 *   2. start statement (signed, ATTEST)   crash after: a rerun logs another start statement
 *   3. per batch: progress "pending" (commit) -> keyd writes -> read-backs -> batch
 *      statement (ATTEST) -> progress "done" (commit). A crash anywhere leaves the batch
 *      pending: the rerun reads those records first and writes only what is missing, with
 *      compare-and-set versions, so nothing is written twice and nothing is lost.
 *   4. end statement (counts, roots)      crash after: the rerun finds everything done and
 *      logs the end statement again
 *   5. deletion: lock the table, check every done row still hashes as migrated (a row
 *      changed since goes back to 3), log the deletion statement, DELETE, commit. */
#include "migrate/migrate_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUNDS 5

typedef struct run {
    const warden_migrate_opts *o;
    warden_migrate_stats *st;
    mig_pg *pg;
    mig_jsonl *jl;
    mig_dest d;
    warden_tlog_signer *signer;
    char source[256];
    mig_rec *recs, *next; /* the batch being worked on, the one being fetched */
    size_t cap;
    mig_merkle jl_dest; /* JSON Lines: the root over what this invocation found migrated */
} run;

static void batch_free(mig_rec *recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mig_rec_fini(&recs[i]);
}

/* The source is read by a second thread one batch ahead, so that PostgreSQL (or the file)
 * and the parsing of the next batch overlap with keyd's work on this one. It only reads:
 * the order of durable steps is the main thread's alone. */
typedef struct prefetch {
    run *x;
    mig_rec *recs;
    size_t n;
    int rc;
    warden_err err;
    pthread_t th;
    bool started;
} prefetch;

static void *prefetch_main(void *arg)
{
    prefetch *f = arg;
    run *x = f->x;
    f->n = 0;
    f->rc = x->pg != NULL ? mig_pg_scan_next(x->pg, f->recs, x->cap, &f->n, &f->err)
                          : mig_jsonl_next(x->jl, f->recs, x->cap, &f->n, &f->err);
    return NULL;
}

static int prefetch_start(prefetch *f, run *x, mig_rec *recs, warden_err *err)
{
    *f = (prefetch){.x = x, .recs = recs};
    if (pthread_create(&f->th, NULL, prefetch_main, f) != 0)
        return warden_err_set(err, WARDEN_EINTERNAL, "pthread_create failed");
    f->started = true;
    return 0;
}

/* Waits for the batch being fetched; *n records are in f->recs (freed by the caller, also
 * on error). */
static int prefetch_wait(size_t *n, prefetch *f, warden_err *err)
{
    *n = 0;
    if (!f->started)
        return 0;
    pthread_join(f->th, NULL);
    f->started = false;
    *n = f->n;
    if (f->rc != 0 && err != NULL)
        *err = f->err;
    return f->rc;
}

/* Makes the fetched batch current and starts fetching the one after it. */
static int next_batch(size_t *n, run *x, prefetch *f, warden_err *err)
{
    int rc = prefetch_wait(n, f, err);
    mig_rec *t = x->recs;
    x->recs = x->next;
    x->next = t;
    if (rc == 0 && *n > 0)
        rc = prefetch_start(f, x, x->next, err);
    return rc;
}

/* Stops the fetching thread (after an error or at the end) and frees what it read. */
static void prefetch_stop(run *x, prefetch *f)
{
    size_t n = 0;
    (void)prefetch_wait(&n, f, NULL);
    batch_free(x->next, n);
}

static int rewind_source(run *x, bool new_snapshot, bool digests, warden_err *err)
{
    return x->pg != NULL ? mig_pg_scan_begin(x->pg, new_snapshot, digests, err)
                         : mig_jsonl_rewind(x->jl, err);
}

static void progress(run *x, bool final)
{
    if (x->o->progress != NULL)
        x->o->progress(x->o->progress_ctx, x->st, final);
}

/* Pass 1: the source root, and what a pass would do. */
static int source_pass(run *x, warden_err *err)
{
    mig_merkle m;
    mig_merkle_init(&m);
    warden_migrate_stats *st = x->st;
    prefetch f = {0};
    int rc = prefetch_start(&f, x, x->next, err);
    for (;;) {
        size_t n = 0;
        if (rc != 0 || (rc = next_batch(&n, x, &f, err)) != 0) {
            batch_free(x->recs, n);
            break;
        }
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            mig_rec *r = &x->recs[i];
            st->total++;
            if (!mig_rec_check(r)) {
                /* invalid records are part of the source set too (docs/migrate.md) */
                warden_tlog_hash h;
                warden_tlog_leaf_hash(&h, "invalid", 7);
                mig_merkle_add(&m, &h);
                st->invalid++;
                continue;
            }
            mig_merkle_add(&m, &r->leaf);
            if (r->prev == MIG_PREV_NONE)
                st->fresh++;
            else if (r->prev == MIG_PREV_PENDING)
                st->pending++;
            else if (memcmp(r->leaf.b, r->prev_leaf.b, sizeof r->leaf.b) == 0)
                st->already++;
            else
                st->changed++;
        }
        batch_free(x->recs, n);
    }
    prefetch_stop(x, &f);
    if (rc == 0)
        mig_merkle_root(&st->source_root, &m);
    return rc;
}

static int attest(uint64_t *index, run *x, mig_statement *s, warden_err *err)
{
    warden_buf b;
    warden_buf_init(&b);
    snprintf(s->run, sizeof s->run, "%s", x->st->run);
    snprintf(s->source, sizeof s->source, "%s", x->source);
    snprintf(s->destination, sizeof s->destination, "%s", x->st->destination);
    int rc = mig_statement_sign(&b, s, x->signer, err);
    if (rc == 0 && warden_buf_cstr(&b) != 0)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    if (rc == 0)
        rc = mig_dest_attest(index, &x->d, (const char *)b.p, err);
    warden_buf_fini(&b);
    return rc;
}

static void report(run *x, const mig_rec *r)
{
    static const char *const WHAT[] = {"", "", "", "refused", "invalid", "conflict", "failed"};
    if (x->o->report != NULL && r->outcome >= MIG_O_REFUSED && r->outcome <= MIG_O_FAILED)
        fprintf(x->o->report, "%s %s/%s/%s: %s\n", WHAT[r->outcome], r->user, r->coll, r->id,
                r->why);
}

/* Pass 2: migrate every record that is not migrated and unchanged. */
static int migrate_pass(run *x, warden_err *err)
{
    warden_migrate_stats *st = x->st;
    bool jsonl = x->pg == NULL;
    int rc = 0;
    st->seen = 0;
    mig_merkle_init(&x->jl_dest);
    prefetch f = {0};
    if ((rc = prefetch_start(&f, x, x->next, err)) != 0)
        return rc;
    for (;;) {
        size_t n = 0;
        if ((rc = next_batch(&n, x, &f, err)) != 0 || n == 0)
            goto next;
        for (size_t i = 0; i < n; i++) {
            mig_rec *r = &x->recs[i];
            if (!mig_rec_check(r))
                r->outcome = MIG_O_INVALID;
            else if (r->prev == MIG_PREV_DONE &&
                     memcmp(r->leaf.b, r->prev_leaf.b, sizeof r->leaf.b) == 0) {
                r->outcome = MIG_O_SKIP;
                r->version = r->prev_version; /* kept if its row digest is recorded again */
            }
            else
                r->preread = jsonl || r->prev == MIG_PREV_PENDING;
        }
        if ((rc = mig_dest_register(&x->d, x->recs, n, err)) != 0)
            goto next;
        if (!jsonl && (rc = mig_pg_mark_pending(x->pg, x->recs, n, err)) != 0)
            goto next;
        if ((rc = mig_dest_apply(&x->d, x->recs, n, err)) != 0)
            goto next;
        /* the batch statement is logged before "done" commits: every done record is named
         * in the log (a crash in between only repeats the statement) */
        if ((rc = mig_dest_attest_batch(&x->d, x->recs, n, err)) != 0)
            goto next;
        if (!jsonl && (rc = mig_pg_mark_done(x->pg, x->recs, n, err)) != 0)
            goto next;
        for (size_t i = 0; i < n; i++) {
            mig_rec *r = &x->recs[i];
            switch (r->outcome) {
            case MIG_O_SKIP:
                break;
            case MIG_O_DONE:
                st->migrated++;
                if (jsonl)
                    mig_merkle_add(&x->jl_dest, &r->leaf);
                break;
            case MIG_O_REFUSED:
                st->refused++;
                break;
            case MIG_O_CONFLICT:
                st->conflicts++;
                break;
            case MIG_O_FAILED:
                st->failed++;
                break;
            default:
                break;
            }
            report(x, r);
        }
        st->seen += n;
        progress(x, false);
    next:
        batch_free(x->recs, n);
        if (rc != 0 || n == 0)
            break;
    }
    prefetch_stop(x, &f);
    return rc;
}

static void source_name(run *x)
{
    const warden_migrate_opts *o = x->o;
    if (o->source_name != NULL) {
        snprintf(x->source, sizeof x->source, "%s", o->source_name);
    } else if (x->pg != NULL) {
        mig_pg_name(x->source, sizeof x->source, x->pg);
    } else {
        const char *base = strrchr(o->jsonl_path, '/');
        snprintf(x->source, sizeof x->source, "jsonl:%s", base != NULL ? base + 1 : o->jsonl_path);
    }
    for (char *p = x->source; *p != '\0'; p++) /* one line of a note */
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

/* JSON Lines runs have no progress table: their id is derived from source and destination. */
static void derive_run(run *x)
{
    warden_tlog_hash h;
    char in[400], hex[65];
    snprintf(in, sizeof in, "warden-migrate\n%s\n%s", x->source, x->st->destination);
    warden_tlog_leaf_hash(&h, in, strlen(in));
    mig_hex(hex, &h);
    snprintf(x->st->run, sizeof x->st->run, "%.16s", hex);
}

static int finish_and_delete(run *x, bool *again, warden_err *err)
{
    warden_migrate_stats *st = x->st;
    mig_statement s = {.kind = "end"};
    int rc;
    *again = false;
    if (x->pg != NULL) {
        if ((rc = mig_pg_done_root(&st->dest_root, &st->done_total, x->pg, err)) != 0)
            return rc;
    } else {
        mig_merkle_root(&st->dest_root, &x->jl_dest);
        st->done_total = x->jl_dest.n;
    }
    s.records = st->total;
    s.source_root = st->source_root;
    s.migrated = st->done_total;
    s.refused = st->refused + st->invalid;
    s.conflicts = st->conflicts;
    s.failed = st->failed;
    s.dest_root = st->dest_root;
    if ((rc = attest(&st->end_index, x, &s, err)) != 0)
        return rc;
    if (x->pg == NULL || x->o->keep_source)
        return 0;
    uint64_t deletable, changed, kept;
    if ((rc = mig_pg_delete_check(x->pg, &deletable, &changed, &kept, err)) != 0)
        return rc;
    if (changed > 0) {
        *again = true; /* rows changed after they were migrated: migrate them again first */
        return 0;
    }
    mig_statement d = {.kind = "delete", .deleted = deletable, .kept = kept};
    /* logged before the commit: if we die in between, the rows are still there and the
     * rerun deletes (and logs) again */
    if ((rc = attest(&st->delete_index, x, &d, err)) != 0) {
        (void)mig_pg_rollback(x->pg, NULL);
        return rc;
    }
    if ((rc = mig_pg_delete_commit(x->pg, deletable, err)) != 0)
        return rc;
    st->deleted = deletable;
    return 0;
}

int warden_migrate_run(warden_migrate_stats *st, const warden_migrate_opts *o, warden_err *err)
{
    run x = {.o = o, .st = st};
    memset(st, 0, sizeof *st);
    int rc = 0;
    if ((o->pg_conninfo == NULL) == (o->jsonl_path == NULL))
        return warden_err_set(err, WARDEN_EINVAL,
                              "give exactly one source: PostgreSQL or JSON Lines");
    if (!o->dry_run && (o->socket == NULL || o->key_path == NULL))
        return warden_err_set(err, WARDEN_EINVAL, "a migration needs --socket and --key");
    x.cap = o->batch != 0 ? o->batch : 2000;
    if (x.cap > 10000)
        x.cap = 10000;
    x.recs = calloc(x.cap, sizeof *x.recs);
    x.next = calloc(x.cap, sizeof *x.next);
    if (x.recs == NULL || x.next == NULL) {
        free(x.recs);
        free(x.next);
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
    x.d.principal = o->principal != NULL ? o->principal : "Service::\"migrator\"";
    x.d.purpose = o->purpose != NULL ? o->purpose : "migration";
    x.d.source_ip = o->source_ip != NULL ? o->source_ip : "127.0.0.1";
    x.d.location = o->location != NULL ? o->location : "US";
    x.d.report = o->report;
    x.d.single = o->single_writes;
    if (o->pg_conninfo != NULL)
        rc = mig_pg_open(&x.pg, o->pg_conninfo, o->table != NULL ? o->table : "legacy_records",
                         !o->dry_run, err);
    else
        rc = mig_jsonl_open(&x.jl, o->jsonl_path, err);
    if (rc != 0)
        goto out;
    source_name(&x);
    if (!o->dry_run) {
        unsigned nc = o->connections != 0 ? o->connections : 4;
        if ((rc = warden_tlog_signer_load(&x.signer, o->key_path, err)) != 0 ||
            (rc = mig_dest_open(&x.d, o->socket, nc > MIG_MAX_CONNS ? MIG_MAX_CONNS : nc, err)) !=
                0 ||
            (rc = mig_dest_region(st->destination, &x.d, err)) != 0)
            goto out;
        if (x.pg != NULL && (rc = mig_pg_run(st->run, x.pg, st->destination, err)) != 0)
            goto out;
    }
    /* one snapshot for the root and the first migration pass */
    if ((rc = rewind_source(&x, true, false, err)) != 0 || (rc = source_pass(&x, err)) != 0)
        goto out;
    if (x.pg != NULL && (rc = mig_pg_scan_end(x.pg, o->dry_run, err)) != 0)
        goto out;
    progress(&x, false);
    if (o->dry_run)
        goto out;
    if (x.pg == NULL)
        derive_run(&x);
    snprintf(x.d.run, sizeof x.d.run, "%s", st->run);
    mig_statement s = {.kind = "start", .records = st->total, .source_root = st->source_root};
    if ((rc = attest(&st->start_index, &x, &s, err)) != 0)
        goto out;
    for (int round = 0; round < MAX_ROUNDS; round++) {
        bool again = false;
        if (round > 0 || x.pg == NULL)
            rc = rewind_source(&x, round > 0, true, err);
        else
            rc = mig_pg_scan_begin(x.pg, false, true, err);
        if (rc != 0 || (rc = migrate_pass(&x, err)) != 0)
            goto out;
        if (x.pg != NULL && (rc = mig_pg_scan_end(x.pg, true, err)) != 0)
            goto out;
        if ((rc = finish_and_delete(&x, &again, err)) != 0)
            goto out;
        if (!again)
            goto out;
    }
    rc = warden_err_set(err, WARDEN_EIO,
                        "the source keeps changing: %d passes did not catch up; nothing deleted",
                        MAX_ROUNDS);
out:
    progress(&x, true);
    mig_dest_close(&x.d);
    warden_tlog_signer_free(x.signer);
    mig_pg_free(x.pg);
    mig_jsonl_free(x.jl);
    free(x.recs);
    free(x.next);
    return rc;
}
