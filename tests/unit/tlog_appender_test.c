/* The appender: concurrent appends get unique contiguous indexes, the log verifies and proves
 * what was appended, reopening restores the edge, repairs interrupted batches and integrates
 * what the journal holds beyond the checkpoint (but not a torn last batch), outside
 * corruption is refused, and a write failure fails the appender closed. */
#include "tlog/tlog_internal.h" /* TLOG_JHDR: where journal batches start */
#include "tlog_testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

typedef struct env {
    char dir[1024];
    char key[1100];
    warden_tlog_signer *s;
    warden_tlog_verifier *v;
} env;

static int setup(void **state)
{
    env *x = calloc(1, sizeof *x);
    warden_err e;
    warden_buf vk;
    snprintf(x->dir, sizeof x->dir, "%s", scratch_dir("appender"));
    snprintf(x->key, sizeof x->key, "%s.key", x->dir);
    unlink(x->key);
    assert_int_equal(warden_tlog_key_generate(x->key, "test.example/log", x->dir, &e), 0);
    assert_int_equal(warden_tlog_signer_load(&x->s, x->key, &e), 0);
    warden_buf_init(&vk);
    assert_int_equal(warden_tlog_signer_vkey(&vk, x->s, &e), 0);
    assert_int_equal(warden_tlog_verifier_new(&x->v, (char *)vk.p, vk.len, &e), 0);
    warden_buf_fini(&vk);
    assert_int_equal(warden_tlog_create(x->dir, "test.example/log", x->s, &e), 0);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    env *x = *state;
    warden_tlog_signer_free(x->s);
    warden_tlog_verifier_free(x->v);
    char cmd[4000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s.crash' '%s.crash0' '%s.t'", x->dir, x->dir, x->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "teardown: %s failed\n", cmd);
    remove_tree(x->dir);
    unlink(x->key);
    free(x);
    return 0;
}

static uint64_t verify_dir(env *x)
{
    warden_tlog_source *src = NULL;
    warden_tlog_checkpoint cp;
    warden_err e;
    assert_int_equal(warden_tlog_source_dir_new(&src, x->dir, &e), 0);
    if (warden_tlog_verify(&cp, src, x->v, &e) != 0)
        fail_msg("verify: %s", e.msg);
    warden_tlog_source_free(src);
    return cp.size;
}

/* Entry i of the tests' logs: its bytes are a function of i, so any index can be checked. */
static size_t entry_bytes(uint8_t *out, uint64_t tag)
{
    size_t len = (size_t)(tag % 300);
    for (size_t k = 0; k < len; k++)
        out[k] = (uint8_t)(tag * 31 + k);
    memcpy(out + len, &tag, sizeof tag);
    return len + sizeof tag;
}

#define THREADS 16
#define PER_THREAD 300

typedef struct worker {
    warden_tlog_appender *a;
    int id;
    uint64_t index[PER_THREAD];
    uint64_t tag[PER_THREAD];
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    uint8_t buf[400];
    warden_err e;
    for (int i = 0; i < PER_THREAD;) {
        if (i % 7 == 3 && i + 3 <= PER_THREAD) { /* some multi-entry appends */
            uint8_t b[3][400];
            const uint8_t *ents[3] = {b[0], b[1], b[2]};
            size_t lens[3];
            uint64_t first;
            for (int k = 0; k < 3; k++)
                lens[k] = entry_bytes(b[k], (uint64_t)w->id * 100000 + (uint64_t)(i + k));
            if (warden_tlog_append_many(&first, w->a, ents, lens, 3, &e) != 0)
                return e.msg[0] ? (void *)1 : (void *)1;
            for (int k = 0; k < 3; k++) {
                w->index[i + k] = first + (uint64_t)k;
                w->tag[i + k] = (uint64_t)w->id * 100000 + (uint64_t)(i + k);
            }
            i += 3;
            continue;
        }
        w->tag[i] = (uint64_t)w->id * 100000 + (uint64_t)i;
        size_t len = entry_bytes(buf, w->tag[i]);
        if (warden_tlog_append(&w->index[i], w->a, buf, len, &e) != 0)
            return (void *)1;
        i++;
    }
    return NULL;
}

static void tlog_appender_concurrent(void **state)
{
    env *x = *state;
    warden_err e;
    warden_tlog_appender *a = NULL;
    warden_tlog_appender_opts o = {.max_batch = 64, .max_wait_us = 100};
    assert_int_equal(warden_tlog_appender_new(&a, x->dir, x->s, &o, &e), 0);
    static worker w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i].a = a;
        w[i].id = i;
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        assert_null(ret);
    }
    const uint64_t total = THREADS * PER_THREAD;
    /* Acknowledged appends are journaled; sync waits for the checkpoint that covers them. */
    assert_true(warden_tlog_appender_size(a) <= total);
    assert_int_equal(warden_tlog_appender_sync(a, &e), 0);
    assert_int_equal(warden_tlog_appender_size(a), total);
    warden_tlog_appender_free(a);
    /* Every index used exactly once, each holding exactly the bytes its caller appended. */
    uint64_t *tag_at = calloc(total, sizeof *tag_at);
    uint8_t *seen = calloc(total, 1);
    for (int i = 0; i < THREADS; i++)
        for (int k = 0; k < PER_THREAD; k++) {
            assert_true(w[i].index[k] < total);
            assert_int_equal(seen[w[i].index[k]], 0);
            seen[w[i].index[k]] = 1;
            tag_at[w[i].index[k]] = w[i].tag[k];
        }
    assert_int_equal(verify_dir(x), total);
    warden_tlog_source *src = NULL;
    warden_buf ent;
    warden_buf_init(&ent);
    assert_int_equal(warden_tlog_source_dir_new(&src, x->dir, &e), 0);
    for (uint64_t i = 0; i < total; i += 37) {
        uint8_t want[400];
        size_t len = entry_bytes(want, tag_at[i]);
        ent.len = 0;
        assert_int_equal(warden_tlog_source_entry(&ent, src, total, i, &e), 0);
        assert_int_equal(ent.len, len);
        assert_memory_equal(ent.p, want, len);
    }
    warden_buf_fini(&ent);
    warden_tlog_source_free(src);
    free(tag_at);
    free(seen);
}

/* Appends n entries with tags from `from`, via the CLI's path (one append_many, then sync so
 * that the published checkpoint covers them). */
static void append_tags(warden_tlog_appender *a, uint64_t from, size_t n)
{
    warden_err e;
    uint8_t(*b)[400] = malloc(n * 400);
    const uint8_t **ents = malloc(n * sizeof *ents);
    size_t *lens = malloc(n * sizeof *lens);
    uint64_t first;
    for (size_t i = 0; i < n; i++) {
        lens[i] = entry_bytes(b[i], from + i);
        ents[i] = b[i];
    }
    if (warden_tlog_append_many(&first, a, ents, lens, n, &e) != 0)
        fail_msg("append: %s", e.msg);
    assert_int_equal(first, from);
    if (warden_tlog_appender_sync(a, &e) != 0)
        fail_msg("sync: %s", e.msg);
    assert_int_equal(warden_tlog_appender_size(a), from + n);
    free(b);
    free(ents);
    free(lens);
}

/* Proofs from the tiles on disk match a tree computed in memory, across tile levels. */
static void tlog_appender_proofs_and_reopen(void **state)
{
    env *x = *state;
    warden_err e;
    warden_tlog_appender *a = NULL;
    const uint64_t sizes[] = {1, 255, 256, 257, 1000, 65535, 65536, 66000};
    uint64_t done = 0;
    enum { MAX = 66000 };
    warden_tlog_hash *leaves = malloc(MAX * sizeof *leaves);
    for (uint64_t i = 0; i < MAX; i++) {
        uint8_t b[400];
        warden_tlog_leaf_hash(&leaves[i], b, entry_bytes(b, i));
    }
    warden_tlog_hash roots[8];
    for (size_t k = 0; k < 8; k++) {
        /* Reopen between every step: the edge must come back from disk. */
        assert_int_equal(warden_tlog_appender_new(&a, x->dir, x->s, NULL, &e), 0);
        assert_int_equal(warden_tlog_appender_size(a), done);
        while (done < sizes[k]) {
            size_t n = sizes[k] - done > 20000 ? 20000 : (size_t)(sizes[k] - done);
            append_tags(a, done, n);
            done += n;
        }
        warden_tlog_appender_free(a);
        warden_tlog_tree_hash(&roots[k], leaves, sizes[k]);
        warden_tlog_source *src = NULL;
        warden_tlog_checkpoint cp;
        warden_tlog_hash_reader r;
        warden_tlog_hash proof[WARDEN_TLOG_PROOF_MAX];
        size_t n;
        assert_int_equal(warden_tlog_source_dir_new(&src, x->dir, &e), 0);
        assert_int_equal(warden_tlog_source_checkpoint(&cp, src, x->v, &e), 0);
        assert_int_equal(cp.size, sizes[k]);
        assert_memory_equal(cp.root.b, roots[k].b, 32);
        warden_tlog_source_reader(&r, src, cp.size);
        for (uint64_t i = 0; i < cp.size; i += cp.size / 7 + 1) {
            if (warden_tlog_prove_inclusion(proof, &n, i, cp.size, &r, &e) != 0)
                fail_msg("prove %llu/%llu: %s", (unsigned long long)i, (unsigned long long)cp.size,
                         e.msg);
            assert_int_equal(
                warden_tlog_verify_inclusion(&leaves[i], i, cp.size, &roots[k], proof, n, &e), 0);
        }
        for (size_t j = 0; j <= k; j++) {
            if (warden_tlog_prove_consistency(proof, &n, sizes[j], cp.size, &r, &e) != 0)
                fail_msg("consistency %llu->%llu: %s", (unsigned long long)sizes[j],
                         (unsigned long long)cp.size, e.msg);
            assert_int_equal(warden_tlog_verify_consistency(sizes[j], cp.size, &roots[j], &roots[k],
                                                            proof, n, &e),
                             0);
        }
        warden_tlog_source_free(src);
    }
    assert_int_equal(verify_dir(x), 66000);
    /* Superseded partial tiles are gone once their full tile exists. */
    struct stat st;
    char p[1200];
    snprintf(p, sizeof p, "%s/tile/0/000.p", x->dir);
    assert_int_not_equal(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/tile/1/000", x->dir);
    assert_int_equal(stat(p, &st), 0);
    free(leaves);
}

static void write_file(const char *dir, const char *rel, const char *data)
{
    char p[1200];
    warden_err e;
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    assert_int_equal(warden_mkdir_p(p, &e), 0);
    *slash = '/';
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static int exists(const char *dir, const char *rel)
{
    char p[1200];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return stat(p, &st) == 0;
}

/* Files an interrupted batch leaves beyond the checkpoint are removed on reopen; files the
 * checkpoint needs stay. */
static void tlog_appender_repairs_interrupted_batch(void **state)
{
    env *x = *state;
    warden_err e;
    warden_tlog_appender *a = NULL;
    assert_int_equal(warden_tlog_appender_new(&a, x->dir, x->s, NULL, &e), 0);
    append_tags(a, 0, 300); /* bundle 000 full, 001.p/44 */
    warden_tlog_appender_free(a);
    const char *stale[] = {"tile/entries/001", "tile/0/001",
                           "tile/0/002",       "tile/0/001.p/45",
                           "tile/0/001.p/100", "tile/entries/001.p/60",
                           "tile/0/003.p/1",   "tile/entries/001.p/50.tmp",
                           "checkpoint.tmp",   "tile/1/000.p/3",
                           "tile/1/001",       "tile/0/x001/000"};
    for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++)
        write_file(x->dir, stale[i], "garbage");
    assert_int_equal(warden_tlog_appender_new(&a, x->dir, x->s, NULL, &e), 0);
    for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++)
        if (exists(x->dir, stale[i]) && strcmp(stale[i], "tile/0/x001/000") != 0)
            fail_msg("%s survived recovery", stale[i]);
    assert_true(exists(x->dir, "tile/0/001.p/44"));
    assert_true(exists(x->dir, "tile/entries/001.p/44"));
    assert_true(exists(x->dir, "tile/1/000.p/1"));
    append_tags(a, 300, 600);
    warden_tlog_appender_free(a);
    assert_int_equal(verify_dir(x), 900);
}

static void flip_byte(const char *dir, const char *rel, long off)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "r+");
    assert_non_null(f);
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ 0x20, f);
    fclose(f);
}

/* Someone else changed the directory: reopening refuses, naming what is wrong. */
static void tlog_appender_refuses_corruption(void **state)
{
    env *x = *state;
    warden_err e;
    warden_tlog_appender *a = NULL, *b = NULL;
    assert_int_equal(warden_tlog_appender_new(&a, x->dir, x->s, NULL, &e), 0);
    assert_int_equal(warden_tlog_appender_new(&b, x->dir, x->s, NULL, &e), WARDEN_EDENIED);
    append_tags(a, 0, 300);
    warden_tlog_appender_free(a);

    flip_byte(x->dir, "tile/0/001.p/44", 100);
    assert_int_equal(warden_tlog_appender_new(&a, x->dir, x->s, NULL, &e), WARDEN_ECORRUPT);
    flip_byte(x->dir, "tile/0/001.p/44", 100);
    flip_byte(x->dir, "tile/entries/001.p/44", 5);
    assert_int_equal(warden_tlog_appender_new(&a, x->dir, x->s, NULL, &e), WARDEN_ECORRUPT);
    assert_non_null(strstr(e.msg, "tile/entries/001.p/44"));
    flip_byte(x->dir, "tile/entries/001.p/44", 5);
    flip_byte(x->dir, "tile/1/000.p/1", 0);
    assert_int_equal(warden_tlog_appender_new(&a, x->dir, x->s, NULL, &e), WARDEN_ECORRUPT);
    flip_byte(x->dir, "tile/1/000.p/1", 0);
    char p[1200];
    snprintf(p, sizeof p, "%s/tile/0/001.p/44", x->dir);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(warden_tlog_appender_new(&a, x->dir, x->s, NULL, &e), WARDEN_ECORRUPT);
    assert_non_null(strstr(e.msg, "tile/0/001.p/44"));

    /* A checkpoint from another key is not ours to extend. */
    char other[1200];
    warden_tlog_signer *s2 = NULL;
    snprintf(other, sizeof other, "%s.other.key", x->dir);
    unlink(other);
    assert_int_equal(warden_tlog_key_generate(other, "test.example/log", NULL, &e), 0);
    assert_int_equal(warden_tlog_signer_load(&s2, other, &e), 0);
    assert_int_equal(warden_tlog_appender_new(&a, x->dir, s2, NULL, &e), WARDEN_EVERIFY);
    warden_tlog_signer_free(s2);
    unlink(other);
    assert_int_equal(warden_tlog_create(x->dir, "again", x->s, &e), WARDEN_EEXIST);
}

/* When integration fails the appender fails closed: sync and every later append is
 * WARDEN_EIO; an append acknowledged before (it is in the journal) is published on reopen. */
static void tlog_appender_fails_closed(void **state)
{
    env *x = *state;
    warden_err e;
    warden_tlog_appender *a = NULL;
    uint64_t idx;
    assert_int_equal(warden_tlog_appender_new(&a, x->dir, x->s, NULL, &e), 0);
    assert_int_equal(warden_tlog_append(&idx, a, (const uint8_t *)"", 0, &e), 0);
    assert_int_equal(idx, 0);
    assert_int_equal(warden_tlog_appender_sync(a, &e), 0);
    uint8_t big[65536] = {0};
    assert_int_equal(warden_tlog_append(&idx, a, big, sizeof big, &e), WARDEN_EINVAL);
    /* Replace the entries directory with a file: the next integration cannot be written. */
    char p[1200], q[1200];
    snprintf(p, sizeof p, "%s/tile/entries", x->dir);
    snprintf(q, sizeof q, "%s/tile/entries.moved", x->dir);
    assert_int_equal(rename(p, q), 0);
    write_file(x->dir, "tile/entries", "not a directory");
    assert_int_equal(warden_tlog_append(&idx, a, (const uint8_t *)"x", 1, &e), 0);
    assert_int_equal(idx, 1);
    assert_int_equal(warden_tlog_appender_sync(a, &e), WARDEN_EIO);
    unlink(p);
    assert_int_equal(rename(q, p), 0);
    assert_int_equal(warden_tlog_append(&idx, a, (const uint8_t *)"y", 1, &e), WARDEN_EIO);
    assert_int_equal(warden_tlog_appender_size(a), 1);
    warden_tlog_appender_free(a);
    /* The published log is intact; reopening publishes "x" from the journal and continues. */
    assert_int_equal(verify_dir(x), 1);
    assert_int_equal(warden_tlog_appender_new(&a, x->dir, x->s, NULL, &e), 0);
    assert_int_equal(warden_tlog_appender_size(a), 2);
    assert_int_equal(warden_tlog_append(&idx, a, (const uint8_t *)"z", 1, &e), 0);
    assert_int_equal(idx, 2);
    warden_tlog_appender_free(a);
    assert_int_equal(verify_dir(x), 3);
    warden_tlog_source *src = NULL;
    warden_buf b;
    warden_buf_init(&b);
    assert_int_equal(warden_tlog_source_dir_new(&src, x->dir, &e), 0);
    assert_int_equal(warden_tlog_source_entry(&b, src, 3, 1, &e), 0);
    assert_int_equal(b.len, 1);
    assert_int_equal(b.p[0], 'x');
    warden_buf_fini(&b);
    warden_tlog_source_free(src);
}

/* A reader holding an older checkpoint still verifies after the partial tiles it names were
 * superseded and deleted: the full tiles stand in for them (tlog-tiles allows the deletion). */
static void tlog_appender_old_checkpoint_still_verifies(void **state)
{
    env *x = *state;
    warden_err e;
    warden_tlog_appender *a = NULL;
    char cp[1200], saved[1300], cmd[6000];
    snprintf(cp, sizeof cp, "%s/checkpoint", x->dir);
    snprintf(saved, sizeof saved, "%s.old-checkpoint", x->dir);
    assert_int_equal(warden_tlog_appender_new(&a, x->dir, x->s, NULL, &e), 0);
    append_tags(a, 0, 300);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", cp, saved);
    assert_int_equal(system(cmd), 0);
    append_tags(a, 300, 300);
    warden_tlog_appender_free(a);
    assert_false(exists(x->dir, "tile/0/001.p/44"));
    assert_false(exists(x->dir, "tile/entries/001.p/44"));
    /* Serve the old checkpoint, as a reader that fetched it earlier sees the log. */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s.new' && cp '%s' '%s'", cp, saved, saved, cp);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(verify_dir(x), 300);
    warden_tlog_source *src = NULL;
    warden_buf b;
    warden_buf_init(&b);
    assert_int_equal(warden_tlog_source_dir_new(&src, x->dir, &e), 0);
    assert_int_equal(warden_tlog_source_entry(&b, src, 300, 299, &e), 0);
    uint8_t want[400];
    size_t len = entry_bytes(want, 299);
    assert_int_equal(b.len, len);
    assert_memory_equal(b.p, want, len);
    warden_buf_fini(&b);
    warden_tlog_source_free(src);
    snprintf(cmd, sizeof cmd, "mv '%s.new' '%s' && rm -f '%s'", saved, cp, saved);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(verify_dir(x), 600);
}

/* ---- the write-ahead journal ---- */

static void sh(const char *cmd)
{
    assert_int_equal(system(cmd), 0);
}

/* Builds x->dir.crash: a log "crashed after journaling entries 5..8, before integrating
 * them": its checkpoint covers entries 0..4 and its .journal holds the single-entry batches
 * 5, 6, 7, 8 from byte 0. *last_start / *last_end bound batch 8 in the journal. Also
 * x->dir.crash0: the same journal next to the empty log's checkpoint. */
static void make_crashed_log(env *x, size_t *last_start, size_t *last_end)
{
    warden_err e;
    warden_tlog_appender *a = NULL;
    char cmd[6000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s.crash' '%s.crash0' && cp -a '%s' '%s.crash0'", x->dir,
             x->dir, x->dir, x->dir);
    sh(cmd);
    assert_int_equal(warden_tlog_appender_new(&a, x->dir, x->s, NULL, &e), 0);
    append_tags(a, 0, 5);
    warden_tlog_appender_free(a);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s.crash'", x->dir, x->dir);
    sh(cmd);
    /* A new appender starts a journal epoch at byte 0; a lone append is a batch of its own. */
    assert_int_equal(warden_tlog_appender_new(&a, x->dir, x->s, NULL, &e), 0);
    size_t off = 0;
    for (uint64_t t = 5; t <= 8; t++) {
        uint8_t b[400];
        uint64_t idx;
        size_t len = entry_bytes(b, t);
        assert_int_equal(warden_tlog_append(&idx, a, b, len, &e), 0);
        assert_int_equal(idx, t);
        *last_start = off;
        off += TLOG_JHDR + 2 + len;
        *last_end = off;
    }
    warden_tlog_appender_free(a);
    snprintf(cmd, sizeof cmd, "cp '%s/.journal' '%s.crash/' && cp '%s/.journal' '%s.crash0/'",
             x->dir, x->dir, x->dir, x->dir);
    sh(cmd);
}

/* Opens a fresh copy (x->dir.t) of x->dir.crash whose journal went through `edit` (a shell
 * command run in the copy), returning what warden_tlog_appender_new returned. */
static int open_copy(env *x, warden_tlog_appender **a, const char *edit, warden_err *e)
{
    char cmd[6000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s.t' && cp -a '%s.crash' '%s.t' && cd '%s.t' && %s", x->dir,
             x->dir, x->dir, x->dir, edit);
    sh(cmd);
    snprintf(cmd, sizeof cmd, "%s.t", x->dir);
    return warden_tlog_appender_new(a, cmd, x->s, NULL, e);
}

static void clean_copies(env *x)
{
    char cmd[6000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s.crash' '%s.crash0' '%s.t'", x->dir, x->dir, x->dir);
    sh(cmd);
}

/* Checks x->dir.t: it verifies with size n and entry i holds tag i. */
static void check_copy(env *x, uint64_t n)
{
    env y = *x;
    snprintf(y.dir, sizeof y.dir, "%.1000s.t", x->dir);
    assert_int_equal(verify_dir(&y), n);
    warden_tlog_source *src = NULL;
    warden_buf b;
    warden_err e;
    warden_buf_init(&b);
    assert_int_equal(warden_tlog_source_dir_new(&src, y.dir, &e), 0);
    for (uint64_t i = 0; i < n; i++) {
        uint8_t want[400];
        size_t len = entry_bytes(want, i);
        b.len = 0;
        assert_int_equal(warden_tlog_source_entry(&b, src, n, i, &e), 0);
        assert_int_equal(b.len, len);
        assert_memory_equal(b.p, want, len);
    }
    warden_buf_fini(&b);
    warden_tlog_source_free(src);
}

/* A crash between the journal's fdatasync (callers answered) and the checkpoint: reopening
 * publishes the journaled entries, with their indexes and bytes, through the normal path. */
static void tlog_appender_journal_replayed(void **state)
{
    env *x = *state;
    warden_err e;
    warden_tlog_appender *a = NULL;
    size_t s0, s1;
    make_crashed_log(x, &s0, &s1);
    if (open_copy(x, &a, "true", &e) != 0)
        fail_msg("open: %s", e.msg);
    assert_int_equal(warden_tlog_appender_size(a), 9);
    append_tags(a, 9, 300); /* and the log goes on from there */
    warden_tlog_appender_free(a);
    check_copy(x, 309);
    /* Reopening again replays nothing twice (the journal's new epoch starts at 9). */
    char t[1100];
    snprintf(t, sizeof t, "%s.t", x->dir);
    assert_int_equal(warden_tlog_appender_new(&a, t, x->s, NULL, &e), 0);
    assert_int_equal(warden_tlog_appender_size(a), 309);
    warden_tlog_appender_free(a);
    check_copy(x, 309);
    clean_copies(x);
}

/* A crash during the last batch's write: the journal ends anywhere inside that batch (file
 * cut short, or the pre-allocated zeroes left after some of its bytes). That batch was never
 * acknowledged and is not replayed; every earlier one is. */
static void tlog_appender_journal_torn_tail(void **state)
{
    env *x = *state;
    warden_err e;
    warden_tlog_appender *a = NULL;
    size_t start, end;
    make_crashed_log(x, &start, &end);
    for (size_t cut = start; cut < end; cut++) {
        char edit[200];
        if (cut % 2 == 0)
            snprintf(edit, sizeof edit, "truncate -s %zu .journal", cut);
        else /* the rest of the batch is older bytes: the size stays pre-allocated */
            snprintf(edit, sizeof edit,
                     "head -c %zu /dev/zero | tr '\\0' '\\252' | "
                     "dd of=.journal bs=1 seek=%zu conv=notrunc status=none",
                     end - cut, cut);
        if (open_copy(x, &a, edit, &e) != 0)
            fail_msg("cut at %zu: %s", cut, e.msg);
        if (warden_tlog_appender_size(a) != 8)
            fail_msg("cut at %zu: size %llu, want 8", cut,
                     (unsigned long long)warden_tlog_appender_size(a));
        warden_tlog_appender_free(a);
    }
    check_copy(x, 8);
    /* The whole batch present: replayed. */
    assert_int_equal(open_copy(x, &a, "true", &e), 0);
    assert_int_equal(warden_tlog_appender_size(a), 9);
    warden_tlog_appender_free(a);
    clean_copies(x);
}

/* A shell command that flips every bit of the journal byte at offset %zu (given twice):
 * writing a fixed value would change nothing when the byte (a digest or the random epoch
 * nonce) happens to hold it already, about once in 256 runs. */
#define FLIP_BYTE                                                                               \
    "b=$(od -An -tu1 -j %zu -N1 .journal); printf \"$(printf '\\\\%%03o' $((b ^ 255)))\" | "  \
    "dd of=.journal bs=1 seek=%zu conv=notrunc status=none"

/* Damage no crash can cause is refused, naming the journal: a changed batch that later
 * batches follow (only the last batch can be torn), or a journal that starts past the
 * checkpoint (entries in between are lost). */
static void tlog_appender_journal_refuses_corruption(void **state)
{
    env *x = *state;
    warden_err e;
    warden_tlog_appender *a = NULL;
    size_t start, end;
    char edit[300];
    make_crashed_log(x, &start, &end);
    size_t second = TLOG_JHDR + 2 + entry_bytes((uint8_t[400]){0}, 5); /* batch of entry 6 */
    const size_t offs[] = {0, 40, second + 5, second + TLOG_JHDR + 3};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        snprintf(edit, sizeof edit, FLIP_BYTE, offs[i], offs[i]);
        assert_int_equal(open_copy(x, &a, edit, &e), WARDEN_ECORRUPT);
        if (strstr(e.msg, ".journal") == NULL)
            fail_msg("byte %zu: %s", offs[i], e.msg);
    }
    /* The same change in the last batch looks exactly like a torn write: not replayed. */
    snprintf(edit, sizeof edit, FLIP_BYTE, start + TLOG_JHDR + 1, start + TLOG_JHDR + 1);
    assert_int_equal(open_copy(x, &a, edit, &e), 0);
    assert_int_equal(warden_tlog_appender_size(a), 8);
    warden_tlog_appender_free(a);
    /* Journal of entries 5..8 next to the empty log's checkpoint: 0..4 are missing. */
    char cmd[4000];
    snprintf(cmd, sizeof cmd, "%s.crash0", x->dir);
    assert_int_equal(warden_tlog_appender_new(&a, cmd, x->s, NULL, &e), WARDEN_ECORRUPT);
    assert_non_null(strstr(e.msg, "lost"));
    clean_copies(x);
}

/* A new log created where an old one was removed does not inherit the old journal's entries
 * (its epoch starts at entry 0, which the new empty checkpoint would otherwise accept). */
static void tlog_appender_create_drops_old_journal(void **state)
{
    env *x = *state;
    warden_err e;
    warden_tlog_appender *a = NULL;
    char cmd[4000];
    assert_int_equal(warden_tlog_appender_new(&a, x->dir, x->s, NULL, &e), 0);
    append_tags(a, 0, 5);
    warden_tlog_appender_free(a);
    assert_true(exists(x->dir, ".journal"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s/checkpoint' '%s/tile'", x->dir, x->dir);
    sh(cmd);
    assert_int_equal(warden_tlog_create(x->dir, "test.example/log", x->s, &e), 0);
    assert_false(exists(x->dir, ".journal"));
    assert_int_equal(warden_tlog_appender_new(&a, x->dir, x->s, NULL, &e), 0);
    assert_int_equal(warden_tlog_appender_size(a), 0);
    warden_tlog_appender_free(a);
    assert_int_equal(verify_dir(x), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(tlog_appender_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(tlog_appender_proofs_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(tlog_appender_repairs_interrupted_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(tlog_appender_refuses_corruption, setup, teardown),
        cmocka_unit_test_setup_teardown(tlog_appender_fails_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(tlog_appender_old_checkpoint_still_verifies, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(tlog_appender_journal_replayed, setup, teardown),
        cmocka_unit_test_setup_teardown(tlog_appender_journal_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(tlog_appender_journal_refuses_corruption, setup, teardown),
        cmocka_unit_test_setup_teardown(tlog_appender_create_drops_old_journal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
