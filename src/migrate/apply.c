/* The destination side of a migration: registration (keyd's residency decision), then for
 * every record a compare-and-set write, a read-back and a comparison of canonical hashes,
 * spread over several keyd connections (keyd's group commit makes one fsync serve many
 * connections) and pipelined on each (DEPTH requests in flight: small enough that neither
 * side can fill a socket buffer while the other waits).
 *
 * Why a rerun never writes twice: a record that an earlier pass may have written (progress
 * "pending") is read first; if the destination already holds it, it is done without a
 * write. Every write names its version, so even a write still in flight from a killed
 * pass cannot make a second copy: one of the two gets "conflict", and the read-back then
 * finds the same content. */
#include "keyd/keyd_internal.h" /* keyd_json_canon_str: the IMPORT body is canonical text */
#include "keyd/protocol.h"
#include "migrate/migrate_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEPTH 32
#define BATCH_STATEMENT_MAX 40000
#define IMPORT_BYTES (16u << 20) /* an IMPORT frame may hold 32 MiB; its answer 64 MiB */

int mig_dest_open(mig_dest *d, const char *socket, unsigned n, warden_err *err)
{
    d->n = 0;
    d->pid = (long)getpid();
    d->last_user[0] = '\0';
    for (unsigned i = 0; i < n && i < MIG_MAX_CONNS; i++) {
        int rc = mig_conn_open(&d->conns[i], socket, err);
        if (rc != 0) {
            mig_dest_close(d);
            return rc;
        }
        d->n = i + 1;
    }
    return 0;
}

void mig_dest_close(mig_dest *d)
{
    for (unsigned i = 0; i < d->n; i++)
        mig_conn_close(&d->conns[i]);
    d->n = 0;
}

static void next_id(char out[96], mig_dest *d, const char *kind)
{
    unsigned long long k = __atomic_fetch_add(&d->reqno, 1, __ATOMIC_RELAXED);
    snprintf(out, 96, "mig-%s-%s-%ld-%llu", d->run, kind, d->pid, k);
}

static json_t *context(const mig_dest *d)
{
    return json_pack("{s:s, s:s, s:s}", "source_ip", d->source_ip, "location", d->location,
                     "purpose", d->purpose);
}

static json_t *access_req(mig_dest *d, const char *action, const mig_rec *r)
{
    char id[96];
    next_id(id, d, action);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "request_id", id, "principal",
                          d->principal, "action", action, "user", r->user, "collection", r->coll,
                          "id", r->id, "context", context(d));
    if (j != NULL && strcmp(action, "write") == 0 &&
        (json_object_set(j, "document", r->doc) != 0 ||
         json_object_set_new(j, "version", json_integer((json_int_t)r->want)) != 0)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int mig_dest_region(char out[72], mig_dest *d, warden_err *err)
{
    json_t *a = NULL;
    int rc = mig_conn_call(&a, &d->conns[0], KEYD_MSG_STATUS, NULL, err);
    if (rc != 0)
        return rc;
    const char *r = json_string_value(json_object_get(a, "region"));
    if (r == NULL || strlen(r) >= 72)
        rc = warden_err_set(err, WARDEN_ECORRUPT, "keyd STATUS without a region");
    else
        snprintf(out, 72, "%s", r);
    json_decref(a);
    return rc;
}

int mig_dest_attest(uint64_t *index, mig_dest *d, const char *statement, warden_err *err)
{
    char id[96];
    next_id(id, d, "attest");
    json_t *a = NULL;
    json_t *b = json_pack("{s:s, s:s, s:s, s:o}", "request_id", id, "principal", d->principal,
                          "statement", statement, "context", context(d));
    if (b == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    int rc = mig_conn_call(&a, &d->conns[0], KEYD_MSG_ATTEST, b, err);
    json_decref(b);
    if (rc != 0)
        return rc;
    const char *dec = json_string_value(json_object_get(a, "decision"));
    if (dec == NULL || strcmp(dec, "allow") != 0)
        rc = warden_err_set(err, WARDEN_EDENIED,
                            "keyd refused to log the migration statement (Cedar: %s may not "
                            "\"attest\" with purpose \"%s\")",
                            d->principal, d->purpose);
    else
        *index = (uint64_t)json_integer_value(json_object_get(a, "log_index"));
    json_decref(a);
    return rc;
}

/* Registers the users first[0..nu) of recs with REGISTER_MANY requests of up to
 * KEYD_REGISTER_MANY_MAX users: one log batch and one store commit each. */
static int register_many(mig_dest *d, const mig_rec *recs, const size_t *first, int *ok,
                         size_t nu, warden_err *err)
{
    int rc = 0;
    for (size_t k = 0; k < nu && rc == 0; k += KEYD_REGISTER_MANY_MAX) {
        size_t m = nu - k < KEYD_REGISTER_MANY_MAX ? nu - k : KEYD_REGISTER_MANY_MAX;
        char id[96];
        next_id(id, d, "register");
        json_t *list = json_array(), *a = NULL;
        json_t *b = json_pack("{s:s, s:s, s:o, s:o}", "request_id", id, "principal", d->principal,
                              "context", context(d), "users", list);
        for (size_t j = 0; b != NULL && j < m; j++) {
            const mig_rec *r = &recs[first[k + j]];
            if (json_array_append_new(list, json_pack("{s:s, s:s}", "user", r->user,
                                                      "jurisdiction", r->jur)) != 0) {
                json_decref(b);
                b = NULL;
            }
        }
        rc = b == NULL ? warden_err_set(err, WARDEN_ENOMEM, "out of memory")
                       : mig_conn_call(&a, &d->conns[0], KEYD_MSG_REGISTER_MANY, b, err);
        json_decref(b);
        const json_t *res = json_object_get(a, "results");
        if (rc == 0 && json_array_size(res) != m)
            rc = warden_err_set(err, WARDEN_ECORRUPT, "keyd REGISTER_MANY: %zu results for %zu",
                                json_array_size(res), m);
        for (size_t j = 0; rc == 0 && j < m; j++) {
            const char *dec = json_string_value(json_array_get(json_array_get(res, j), 0));
            if (dec == NULL)
                rc = warden_err_set(err, WARDEN_ECORRUPT, "keyd REGISTER_MANY: result %zu", j);
            ok[k + j] = dec != NULL && strcmp(dec, "allow") == 0;
        }
        json_decref(a);
    }
    return rc;
}

int mig_dest_register(mig_dest *d, mig_rec *recs, size_t n, warden_err *err)
{
    size_t *first = calloc(n + 1, sizeof *first);
    int *ok = calloc(n + 1, sizeof *ok);
    size_t nu = 0;
    int rc = 0;
    if (first == NULL || ok == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    /* one registration per user not decided yet (records are sorted by user) */
    const char *prev = d->last_user;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].outcome != MIG_O_TODO || strcmp(recs[i].user, prev) == 0)
            continue;
        first[nu++] = i;
        prev = recs[i].user;
    }
    if ((rc = register_many(d, recs, first, ok, nu, err)) != 0)
        goto out;
    /* apply per user, walking exactly as above; the cache carries the last user into the
     * next batch */
    size_t u = 0;
    int cur = d->last_ok;
    for (size_t i = 0; i < n; i++) {
        mig_rec *r = &recs[i];
        if (r->outcome != MIG_O_TODO)
            continue;
        if (u < nu && first[u] == i)
            cur = ok[u++];
        if (!cur) {
            r->outcome = MIG_O_REFUSED;
            snprintf(r->why, sizeof r->why,
                     "residency: the destination may not hold users of jurisdiction %.16s", r->jur);
        }
        snprintf(d->last_user, sizeof d->last_user, "%s", r->user);
        d->last_ok = cur;
    }
out:
    free(first);
    free(ok);
    return rc;
}

/* A read answer: 1 present (leaf, version), 0 not found, -1 unusable (why). */
static int read_result(warden_tlog_hash *h, uint64_t *v, const json_t *a, int is_error,
                       const mig_rec *r, char *why, size_t cap)
{
    const char *dec = json_string_value(json_object_get(a, "decision"));
    const char *out = json_string_value(json_object_get(a, "outcome"));
    if (is_error) {
        snprintf(why, cap, "keyd: %.120s", json_string_value(json_object_get(a, "error")));
        return -1;
    }
    if (dec == NULL || strcmp(dec, "allow") != 0) {
        snprintf(why, cap, "read-back %s: the migrator must be allowed to read every field",
                 dec != NULL ? dec : "malformed");
        return -1;
    }
    if (out != NULL && strcmp(out, "not_found") == 0)
        return 0;
    const json_t *doc = json_object_get(a, "document");
    if (out == NULL || strcmp(out, "ok") != 0 || !json_is_object(doc) ||
        json_array_size(json_object_get(a, "withheld")) != 0) {
        snprintf(why, cap, "read-back outcome %s", out != NULL ? out : "missing");
        return -1;
    }
    if (!mig_leaf(h, r->user, r->jur, r->coll, r->id, doc)) {
        snprintf(why, cap, "out of memory");
        return -1;
    }
    *v = (uint64_t)json_integer_value(json_object_get(a, "version"));
    return 1;
}

static bool same(const warden_tlog_hash *a, const warden_tlog_hash *b)
{
    return memcmp(a->b, b->b, sizeof a->b) == 0;
}

enum { S_PREREAD, S_WRITE, S_READBACK, S_VERIFY, S_IMPORT };

static bool wanted(int stage, const mig_rec *r)
{
    if (stage == S_VERIFY)
        return true;
    if (r->outcome != MIG_O_TODO)
        return false;
    if (stage == S_PREREAD)
        return r->preread;
    if (stage == S_WRITE || stage == S_IMPORT)
        return r->want != 0;
    return r->written || r->conflict_read;
}

static void handle(int stage, mig_rec *r, const json_t *a, int is_error)
{
    warden_tlog_hash h;
    uint64_t v = 0;
    int present;
    switch (stage) {
    case S_PREREAD:
        present = read_result(&h, &v, a, is_error, r, r->why, sizeof r->why);
        if (present < 0) {
            r->outcome = MIG_O_FAILED;
        } else if (present == 0) {
            r->want = 1;
        } else if (same(&h, &r->leaf)) {
            r->outcome = MIG_O_DONE; /* an earlier pass wrote it: no second write */
            r->version = v;
        } else if ((r->prev != MIG_PREV_NONE && same(&h, &r->prev_leaf)) ||
                   (r->prev_version != 0 && v == r->prev_version)) {
            r->want = v + 1; /* our older copy: the source changed since */
        } else {
            r->outcome = MIG_O_CONFLICT;
            snprintf(r->why, sizeof r->why,
                     "the destination holds another copy (version %llu) that this migration "
                     "did not write",
                     (unsigned long long)v);
        }
        break;
    case S_WRITE: {
        const char *dec = json_string_value(json_object_get(a, "decision"));
        const char *out = json_string_value(json_object_get(a, "outcome"));
        if (is_error) {
            r->outcome = MIG_O_FAILED;
            snprintf(r->why, sizeof r->why, "keyd: %.120s",
                     json_string_value(json_object_get(a, "error")));
        } else if (dec == NULL || strcmp(dec, "allow") != 0) {
            r->outcome = MIG_O_REFUSED;
            snprintf(r->why, sizeof r->why, "the destination's policy denied the write");
        } else if (out != NULL && strcmp(out, "conflict") == 0) {
            r->conflict_read = true;
        } else if (out != NULL && strcmp(out, "ok") == 0) {
            r->written = true;
            r->version = (uint64_t)json_integer_value(json_object_get(a, "version"));
        } else {
            r->outcome = MIG_O_FAILED;
            snprintf(r->why, sizeof r->why, "write outcome %s", out != NULL ? out : "missing");
        }
        break;
    }
    case S_READBACK:
    case S_VERIFY:
        present = read_result(&h, &v, a, is_error, r, r->why, sizeof r->why);
        if (stage == S_VERIFY) {
            r->outcome = present == 1 ? MIG_O_DONE : MIG_O_FAILED;
            r->leaf = h;
            r->version = v;
            if (present == 0)
                snprintf(r->why, sizeof r->why, "not found in the destination");
        } else if (present == 1 && same(&h, &r->leaf) && (r->conflict_read || v == r->version)) {
            r->outcome = MIG_O_DONE;
            r->version = v;
        } else if (present >= 0) {
            r->outcome = r->conflict_read ? MIG_O_CONFLICT : MIG_O_FAILED;
            snprintf(r->why, sizeof r->why, "%s",
                     r->conflict_read ? "the destination holds another copy (a concurrent writer)"
                                      : "read-back does not match what was written");
        } else {
            r->outcome = MIG_O_FAILED;
        }
        break;
    }
}

/* One IMPORT result, [decision, log_index, outcome, version, sha256]: the write's part as
 * S_WRITE would take it; for a write this request made, keyd's read-back digest must equal
 * the SHA-256 of the canonical document sent. A conflict gets no digest: its record is read
 * back with an ordinary ACCESS read (S_READBACK) afterwards. */
static void handle_import(mig_rec *r, const json_t *res)
{
    const char *dec = json_string_value(json_array_get(res, 0));
    const char *out = json_string_value(json_array_get(res, 2));
    const char *sum = json_string_value(json_array_get(res, 4));
    if (out != NULL && strcmp(out, "unknown_user") == 0) {
        r->outcome = MIG_O_FAILED;
        snprintf(r->why, sizeof r->why, "the user is not registered in the destination");
        return;
    }
    json_t *w = json_pack("{s:s?, s:s?, s:O?}", "decision", dec, "outcome", out, "version",
                          json_array_get(res, 3));
    if (w == NULL) {
        r->outcome = MIG_O_FAILED;
        snprintf(r->why, sizeof r->why, "out of memory");
        return;
    }
    handle(S_WRITE, r, w, 0);
    json_decref(w);
    if (!r->written)
        return; /* refused, failed, or a conflict to read back */
    warden_tlog_hash got, want;
    memcpy(want.b, r->docsum, sizeof want.b);
    if (mig_unhex(&got, sum) && same(&got, &want)) {
        r->outcome = MIG_O_DONE;
    } else {
        r->outcome = MIG_O_FAILED;
        snprintf(r->why, sizeof r->why, "%s",
                 sum == NULL ? "read-back failed in the destination"
                             : "read-back does not match what was written");
    }
}

typedef struct slice {
    mig_dest *d;
    mig_conn *c;
    mig_rec *recs;
    size_t n;
    int stages[3];
    size_t nstages;
    int rc;
    warden_err err;
} slice;

static int run_stage(slice *s, int stage)
{
    size_t idx[DEPTH];
    size_t i = 0;
    int rc = 0;
    while (i < s->n) {
        size_t m = 0;
        for (; i < s->n && m < DEPTH; i++)
            if (wanted(stage, &s->recs[i]))
                idx[m++] = i;
        for (size_t j = 0; j < m && rc == 0; j++) {
            json_t *b = access_req(s->d, stage == S_WRITE ? "write" : "read", &s->recs[idx[j]]);
            rc = b == NULL ? warden_err_set(&s->err, WARDEN_ENOMEM, "out of memory")
                           : mig_conn_send(s->c, KEYD_MSG_ACCESS, b, &s->err);
            json_decref(b);
        }
        for (size_t j = 0; j < m && rc == 0; j++) {
            json_t *a = NULL;
            int is_error;
            if ((rc = mig_conn_recv(&a, &is_error, s->c, &s->err)) == 0)
                handle(stage, &s->recs[idx[j]], a, is_error);
            json_decref(a);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The IMPORT body of the records idx[0..m), written as canonical JSON text: every document
 * is already in canonical form (mig_rec_check), so none is serialised again. */
static int import_body(warden_buf *b, slice *s, const size_t *idx, size_t m)
{
    char id[96];
    next_id(id, s->d, "import");
    int rc = warden_buf_puts(b, "{\"context\":{\"location\":");
    if (rc == 0)
        rc = keyd_json_canon_str(b, s->d->location);
    if (rc == 0)
        rc = warden_buf_puts(b, ",\"purpose\":");
    if (rc == 0)
        rc = keyd_json_canon_str(b, s->d->purpose);
    if (rc == 0)
        rc = warden_buf_puts(b, ",\"source_ip\":");
    if (rc == 0)
        rc = keyd_json_canon_str(b, s->d->source_ip);
    if (rc == 0)
        rc = warden_buf_puts(b, "},\"principal\":");
    if (rc == 0)
        rc = keyd_json_canon_str(b, s->d->principal);
    if (rc == 0)
        rc = warden_buf_puts(b, ",\"records\":[");
    for (size_t j = 0; rc == 0 && j < m; j++) {
        const mig_rec *r = &s->recs[idx[j]];
        rc = warden_buf_puts(b, j > 0 ? ",{\"collection\":" : "{\"collection\":");
        if (rc == 0)
            rc = keyd_json_canon_str(b, r->coll);
        if (rc == 0)
            rc = warden_buf_puts(b, ",\"document\":");
        if (rc == 0)
            rc = warden_buf_append(b, r->canon.p, r->canon.len);
        if (rc == 0)
            rc = warden_buf_puts(b, ",\"id\":");
        if (rc == 0)
            rc = keyd_json_canon_str(b, r->id);
        if (rc == 0)
            rc = warden_buf_puts(b, ",\"user\":");
        if (rc == 0)
            rc = keyd_json_canon_str(b, r->user);
        if (rc == 0)
            rc = warden_buf_printf(b, ",\"version\":%llu}", (unsigned long long)r->want);
    }
    if (rc == 0)
        rc = warden_buf_puts(b, "],\"request_id\":");
    if (rc == 0)
        rc = keyd_json_canon_str(b, id);
    if (rc == 0)
        rc = warden_buf_puts(b, "}");
    return rc == 0 ? 0 : warden_err_set(&s->err, rc, "IMPORT body: out of memory");
}

/* IMPORT batches of up to KEYD_IMPORT_MAX records, one in flight per connection. */
static int run_import(slice *s)
{
    size_t i = 0;
    size_t *idx = calloc(KEYD_IMPORT_MAX, sizeof *idx);
    warden_buf b;
    warden_buf_init(&b);
    int rc = idx == NULL ? warden_err_set(&s->err, WARDEN_ENOMEM, "out of memory") : 0;
    while (rc == 0 && i < s->n) {
        size_t m = 0, bytes = 0;
        for (; i < s->n && m < KEYD_IMPORT_MAX && bytes < IMPORT_BYTES; i++)
            if (wanted(S_IMPORT, &s->recs[i])) {
                idx[m++] = i;
                bytes += s->recs[i].canon.len + 512;
            }
        if (m == 0)
            break;
        json_t *a = NULL;
        int is_error = 0;
        warden_wipe(b.p, b.len); /* documents */
        b.len = 0;
        if ((rc = import_body(&b, s, idx, m)) != 0 ||
            (rc = mig_conn_send_raw(s->c, KEYD_MSG_IMPORT, b.p, b.len, &s->err)) != 0 ||
            (rc = mig_conn_recv(&a, &is_error, s->c, &s->err)) != 0)
            break;
        const json_t *res = json_object_get(a, "results");
        if (is_error)
            rc = warden_err_set(&s->err, WARDEN_EIO, "keyd IMPORT: %.200s",
                                json_string_value(json_object_get(a, "error")));
        else if (json_array_size(res) != m)
            rc = warden_err_set(&s->err, WARDEN_ECORRUPT, "keyd IMPORT: %zu results for %zu",
                                json_array_size(res), m);
        for (size_t j = 0; rc == 0 && j < m; j++)
            handle_import(&s->recs[idx[j]], json_array_get(res, j));
        json_decref(a);
    }
    warden_buf_fini_wipe(&b);
    free(idx);
    return rc;
}

static void *slice_main(void *arg)
{
    slice *s = arg;
    s->rc = 0;
    for (size_t k = 0; k < s->nstages && s->rc == 0; k++)
        s->rc = s->stages[k] == S_IMPORT ? run_import(s) : run_stage(s, s->stages[k]);
    return NULL;
}

static int parallel(mig_dest *d, mig_rec *recs, size_t n, const int *stages, size_t nstages,
                    warden_err *err)
{
    slice sl[MIG_MAX_CONNS];
    pthread_t th[MIG_MAX_CONNS];
    size_t ns = d->n;
    if (ns > (n + DEPTH - 1) / DEPTH)
        ns = (n + DEPTH - 1) / DEPTH;
    if (ns == 0)
        return 0;
    size_t per = (n + ns - 1) / ns, started = 0;
    int rc = 0;
    for (size_t i = 0; i < ns; i++) {
        size_t lo = i * per, hi = lo + per < n ? lo + per : n;
        sl[i] = (slice){.d = d,
                        .c = &d->conns[i],
                        .recs = recs + lo,
                        .n = hi > lo ? hi - lo : 0,
                        .nstages = nstages};
        memcpy(sl[i].stages, stages, nstages * sizeof *stages);
        if (i == 0)
            continue; /* the calling thread works on slice 0 */
        if (pthread_create(&th[i], NULL, slice_main, &sl[i]) != 0) {
            rc = warden_err_set(err, WARDEN_EINTERNAL, "pthread_create failed");
            break;
        }
        started = i;
    }
    if (rc == 0)
        slice_main(&sl[0]);
    for (size_t i = 1; i <= started; i++)
        pthread_join(th[i], NULL);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < ns; i++)
        if (sl[i].rc != 0) {
            if (err != NULL)
                *err = sl[i].err;
            return sl[i].rc;
        }
    return 0;
}

int mig_dest_apply(mig_dest *d, mig_rec *recs, size_t n, warden_err *err)
{
    for (size_t i = 0; i < n; i++) {
        mig_rec *r = &recs[i];
        if (r->outcome != MIG_O_TODO || r->preread)
            continue;
        r->want = r->prev == MIG_PREV_DONE ? r->prev_version + 1 : 1;
    }
    static const int STAGES[] = {S_PREREAD, S_WRITE, S_READBACK};
    static const int BATCHED[] = {S_PREREAD, S_IMPORT, S_READBACK};
    int rc =
        d->single ? parallel(d, recs, n, STAGES, 3, err) : parallel(d, recs, n, BATCHED, 3, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (recs[i].outcome == MIG_O_TODO) {
            recs[i].outcome = MIG_O_FAILED;
            snprintf(recs[i].why, sizeof recs[i].why, "no answer decided this record");
        }
    return 0;
}

int mig_dest_read_all(mig_dest *d, mig_rec *recs, size_t n, warden_err *err)
{
    static const int STAGES[] = {S_VERIFY};
    return parallel(d, recs, n, STAGES, 1, err);
}

static int flush_batch(mig_dest *d, json_t *list, warden_err *err)
{
    if (json_array_size(list) == 0)
        return 0;
    json_t *j = json_pack("{s:s, s:i, s:s, s:O}", "type", MIG_BATCH_TYPE, "v", 1, "run", d->run,
                          "records", list);
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII) : NULL;
    uint64_t idx;
    int rc = s == NULL ? warden_err_set(err, WARDEN_ENOMEM, "out of memory")
                       : mig_dest_attest(&idx, d, s, err);
    free(s);
    json_decref(j);
    json_array_clear(list);
    return rc;
}

int mig_dest_attest_batch(mig_dest *d, const mig_rec *recs, size_t n, warden_err *err)
{
    json_t *list = json_array();
    size_t bytes = 0;
    int rc = list == NULL ? warden_err_set(err, WARDEN_ENOMEM, "out of memory") : 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const mig_rec *r = &recs[i];
        if (r->outcome != MIG_O_DONE)
            continue;
        /* names are printable ASCII without quotes or backslashes: no escaping */
        size_t sz = strlen(r->user) + strlen(r->coll) + strlen(r->id) + strlen(r->jur) + 12;
        if (bytes + sz > BATCH_STATEMENT_MAX) {
            rc = flush_batch(d, list, err);
            bytes = 0;
        }
        if (rc == 0 && json_array_append_new(
                           list, json_pack("[s, s, s, s]", r->user, r->coll, r->id, r->jur)) != 0)
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        bytes += sz;
    }
    if (rc == 0)
        rc = flush_batch(d, list, err);
    json_decref(list);
    return rc;
}
