/* tlog_bench: the measurements behind bench/tlog.sh.
 *
 *   tlog_bench append DIR KEYFILE THREADS SECONDS ENTRY_BYTES
 *     THREADS threads append ENTRY_BYTES-byte entries through the group-commit
 *     appender for SECONDS; only appends that returned (entry durable, checkpoint
 *     published) count. Env TLOG_MAX_BATCH / TLOG_MAX_WAIT_US set the appender options.
 *     prints: append <entries/s> entries/s (<n> entries in <s> s, p50 <us> us, p99 <us> us)
 *
 *   tlog_bench integrate SECONDS
 *     in-memory integration, single thread: for each 256-byte entry the RFC 6962 leaf
 *     hash, then the right-edge merges (node hashes) that tree integration performs,
 *     with each new hash stored into an in-memory tile as the tiler does; no disk.
 *     The library has no in-memory integration entry point, so this times its hashing
 *     functions (warden_tlog_leaf_hash, warden_tlog_node_hash) in the same pattern,
 *     and checks the resulting root against warden_tlog_tree_hash so that the loop
 *     cannot measure wrong work.
 *     prints: integrate <leaves/s> leaves/s (<n> leaves in <s> s, <h> hashes/leaf) */
#include "warden/common.h"
#include "warden/tlog.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 1024
#define LAT_BUCKETS 64 /* latency histogram: bucket k holds [2^k, 2^(k+1)) microseconds */

static warden_tlog_appender *g_app;
static double g_end;
static size_t g_entry_bytes;
static atomic_uint_fast64_t g_count;
static atomic_int g_failed;
static atomic_uint_fast64_t g_lat[LAT_BUCKETS];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long arg_long(const char *s, long min, long max, const char *what)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "tlog_bench: %s must be %ld..%ld\n", what, min, max);
        exit(2);
    }
    return v;
}

static void *append_thread(void *arg)
{
    long t = (long)(intptr_t)arg;
    uint8_t entry[65535];
    uint64_t n = 0;
    for (double t0 = now(); t0 < g_end; n++) {
        int k = snprintf((char *)entry, sizeof entry, "bench t%ld n%" PRIu64 " ", t, n);
        memset(entry + k, 'b', g_entry_bytes - (size_t)k);
        uint64_t index;
        warden_err err = {0};
        if (warden_tlog_append(&index, g_app, entry, g_entry_bytes, &err) != 0) {
            fprintf(stderr, "tlog_bench: thread %ld: %s\n", t, err.msg);
            atomic_store(&g_failed, 1);
            return NULL;
        }
        double t1 = now();
        uint64_t us = (uint64_t)((t1 - t0) * 1e6);
        int b = 0;
        while (b < LAT_BUCKETS - 1 && (us >> (b + 1)) != 0)
            b++;
        atomic_fetch_add(&g_lat[b], 1);
        atomic_fetch_add(&g_count, 1);
        t0 = t1;
    }
    return NULL;
}

/* upper bound (us) of the bucket holding the q-quantile */
static uint64_t quantile(double q, uint64_t total)
{
    uint64_t seen = 0;
    for (int b = 0; b < LAT_BUCKETS; b++) {
        seen += atomic_load(&g_lat[b]);
        if ((double)seen >= q * (double)total)
            return (uint64_t)1 << (b + 1);
    }
    return 0;
}

static int cmd_append(char **argv)
{
    long threads = arg_long(argv[2], 1, MAX_THREADS, "THREADS");
    long secs = arg_long(argv[3], 1, 3600, "SECONDS");
    g_entry_bytes = (size_t)arg_long(argv[4], 32, 65535, "ENTRY_BYTES");
    warden_tlog_signer *signer = NULL;
    warden_tlog_appender_opts opts = {0};
    warden_err err = {0};
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    long started = 0;
    int rc = 1;
    if (getenv("TLOG_MAX_BATCH"))
        opts.max_batch = (size_t)arg_long(getenv("TLOG_MAX_BATCH"), 1, WARDEN_TLOG_BATCH_MAX, "TLOG_MAX_BATCH");
    if (getenv("TLOG_MAX_WAIT_US"))
        opts.max_wait_us = (unsigned)arg_long(getenv("TLOG_MAX_WAIT_US"), 0, 1000000, "TLOG_MAX_WAIT_US");
    if (tids == NULL)
        goto out;
    if (warden_tlog_signer_load(&signer, argv[1], &err) != 0 ||
        warden_tlog_appender_new(&g_app, argv[0], signer, &opts, &err) != 0) {
        fprintf(stderr, "tlog_bench: %s\n", err.msg);
        goto out;
    }
    double start = now();
    g_end = start + (double)secs;
    for (; started < threads; started++)
        if (pthread_create(&tids[started], NULL, append_thread, (void *)(intptr_t)started) != 0) {
            fprintf(stderr, "tlog_bench: cannot start thread %ld\n", started);
            goto out;
        }
    for (long i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    started = 0;
    double el = now() - start;
    uint64_t n = atomic_load(&g_count);
    if (atomic_load(&g_failed))
        goto out;
    printf("append %.0f entries/s (%" PRIu64 " entries in %.2f s, p50 <%" PRIu64 " us, p99 <%" PRIu64
           " us, tree size %" PRIu64 ")\n",
           (double)n / el, n, el, quantile(0.5, n), quantile(0.99, n),
           warden_tlog_appender_size(g_app));
    rc = 0;
out:
    for (long i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    warden_tlog_appender_free(g_app);
    warden_tlog_signer_free(signer);
    free(tids);
    return rc;
}

/* One integration step of leaf number i (0-based): the leaf hash, then one node hash per
 * trailing 1 bit of i, each stored in its level's in-memory tile. Returns hashes done. */
static unsigned integrate_one(warden_tlog_hash *edge, warden_tlog_hash (*tiles)[256], uint64_t i,
                              const uint8_t *entry, size_t len)
{
    warden_tlog_hash h;
    unsigned hashes = 1, level = 0;
    warden_tlog_leaf_hash(&h, entry, len);
    tiles[0][i & 255] = h;
    for (uint64_t j = i; j & 1; j >>= 1) {
        warden_tlog_node_hash(&h, &edge[level], &h);
        hashes++;
        level++;
        /* level-l node number (i >> l) lives in tile level l/8 at hash (i >> l) & 255; only
         * every 8th level is stored in tiles, the rest is recomputable. */
        if (level % 8 == 0)
            tiles[level / 8][(i >> level) & 255] = h;
    }
    edge[level] = h;
    return hashes;
}

/* Root from the right edge (RFC 6962: fold the edge's complete subtrees right to left). */
static void edge_root(warden_tlog_hash *out, const warden_tlog_hash *edge, uint64_t n)
{
    int have = 0;
    for (unsigned l = 0; l < 64; l++) {
        if (!((n >> l) & 1))
            continue;
        if (!have) {
            *out = edge[l];
            have = 1;
        } else {
            warden_tlog_node_hash(out, &edge[l], out);
        }
    }
}

static int cmd_integrate(char **argv)
{
    long secs = arg_long(argv[0], 1, 3600, "SECONDS");
    static warden_tlog_hash edge[65], tiles[9][256];
    uint8_t entry[256];
    memset(entry, 'e', sizeof entry);

    /* Correctness first: 1000 leaves through the loop must give the library's root. */
    enum { CHECK_N = 1000 };
    static warden_tlog_hash leaves[CHECK_N];
    for (uint64_t i = 0; i < CHECK_N; i++) {
        memcpy(entry, &i, sizeof i);
        integrate_one(edge, tiles, i, entry, sizeof entry);
        warden_tlog_leaf_hash(&leaves[i], entry, sizeof entry);
    }
    warden_tlog_hash a, b;
    edge_root(&a, edge, CHECK_N);
    warden_tlog_tree_hash(&b, leaves, CHECK_N);
    if (memcmp(&a, &b, sizeof a) != 0) {
        fprintf(stderr, "tlog_bench: integration loop disagrees with warden_tlog_tree_hash\n");
        return 1;
    }

    memset(edge, 0, sizeof edge);
    uint64_t n = 0, hashes = 0;
    double start = now(), el = 0;
    do {
        for (int k = 0; k < 4096; k++, n++) {
            memcpy(entry, &n, sizeof n);
            hashes += integrate_one(edge, tiles, n, entry, sizeof entry);
        }
        el = now() - start;
    } while (el < (double)secs);
    edge_root(&a, edge, n);
    printf("integrate %.0f leaves/s (%" PRIu64 " leaves of 256 B in %.2f s, %.2f hashes/leaf, root %02x%02x..)\n",
           (double)n / el, n, el, (double)hashes / (double)n, a.b[0], a.b[1]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 7 && strcmp(argv[1], "append") == 0)
        return cmd_append(argv + 2);
    if (argc == 3 && strcmp(argv[1], "integrate") == 0)
        return cmd_integrate(argv + 2);
    fprintf(stderr, "usage: tlog_bench append DIR KEYFILE THREADS SECONDS ENTRY_BYTES\n"
                    "       tlog_bench integrate SECONDS\n");
    return 2;
}
