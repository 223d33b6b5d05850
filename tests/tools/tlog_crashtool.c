/* tlog_crashtool: the two halves of the tlog crash test (tests/interop/tlog_crash.test.sh).
 *
 *   tlog_crashtool run DIR KEYFILE ACKFILE THREADS RUN
 *     opens the appender on DIR and lets THREADS threads append distinct entries
 *     "r<RUN>-t<thread>-<seq>-<padding>" until killed (or for at most 3 s). A thread
 *     writes "ack <index> <entry>\n" to ACKFILE (O_APPEND, one write(2) per line) only
 *     after warden_tlog_append returned success, so every ack line names an entry
 *     the library promised was durable. Env TLOG_MAX_BATCH and TLOG_MAX_WAIT_US set the
 *     appender's group-commit options.
 *
 *   tlog_crashtool gen RUN N
 *     prints the entries r<RUN>-t0-0.. r<RUN>-t0-<N-1> one per line, to prefill a log
 *     through `warden log append` (so that kills land near tile boundaries).
 *
 *   tlog_crashtool check DIR KEYFILE ACKFILE
 *     reopens the appender (which runs recovery), closes it, then reads the
 *     checkpoint size and the entry bundles itself (its own C2SP path code, not the
 *     library's) and checks: every ack's index is below the tree size and the entry
 *     there has exactly the acked bytes; a thread's entries of one run are at
 *     increasing indexes in seq order; no entry occurs twice in the log; every
 *     entry is one this tool could have written.
 *     prints "checked <n> acks, tree size <N>".
 *
 * A kill can land inside the write(2) of an ack line: a fatal signal may cut a write to
 * a regular file short at a page boundary. Such a torn last line is dropped (by `run`
 * before it appends, by `check` when reading): dropping an ack only weakens the check,
 * and the line was never complete anyway. */
#include "warden/common.h"
#include "warden/tlog.h"
#include "warden/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 256
#define RUN_SECONDS 3
#define MAX_ENTRY 512

static warden_tlog_appender *g_app;
static int g_ackfd = -1;
static long g_run;
static atomic_int g_failed;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The entry for (run, thread, seq): the padding length varies so that bundles hold
 * entries of many sizes, and is derived from the triple so the checker can rebuild it. */
static size_t make_entry(char *out, size_t cap, long run, long thread, long seq)
{
    int n = snprintf(out, cap, "r%ld-t%ld-%ld-", run, thread, seq);
    size_t pad = (size_t)((run * 131 + thread * 31 + seq * 7) % 200);
    if (n < 0 || (size_t)n + pad >= cap)
        abort();
    memset(out + n, 'a' + (int)(seq % 26), pad);
    return (size_t)n + pad;
}

static void *appender_thread(void *arg)
{
    long t = (long)(intptr_t)arg;
    char entry[MAX_ENTRY], line[MAX_ENTRY + 64];
    double end = now() + RUN_SECONDS;
    for (long seq = 0; now() < end; seq++) {
        size_t len = make_entry(entry, sizeof entry, g_run, t, seq);
        uint64_t index = 0;
        warden_err err = {0};
        if (warden_tlog_append(&index, g_app, (const uint8_t *)entry, len, &err) != 0) {
            fprintf(stderr, "thread %ld: append: %s\n", t, err.msg);
            atomic_store(&g_failed, 1);
            return NULL;
        }
        int n = snprintf(line, sizeof line, "ack %" PRIu64 " %.*s\n", index, (int)len, entry);
        if (n < 0 || (size_t)n >= sizeof line || write(g_ackfd, line, (size_t)n) != n) {
            fprintf(stderr, "thread %ld: writing ack: %s\n", t, strerror(errno));
            atomic_store(&g_failed, 1);
            return NULL;
        }
    }
    return NULL;
}

static warden_tlog_signer *g_signer;

static int open_appender(const char *dir, const char *keyfile)
{
    warden_err err = {0};
    warden_tlog_appender_opts opts = {0};
    /* The crash test varies the group-commit options between runs. */
    if (getenv("TLOG_MAX_BATCH") != NULL)
        opts.max_batch = (size_t)strtoul(getenv("TLOG_MAX_BATCH"), NULL, 10);
    if (getenv("TLOG_MAX_WAIT_US") != NULL)
        opts.max_wait_us = (unsigned)strtoul(getenv("TLOG_MAX_WAIT_US"), NULL, 10);
    if (g_signer == NULL && warden_tlog_signer_load(&g_signer, keyfile, &err) != 0) {
        fprintf(stderr, "tlog_crashtool: %s: %s\n", keyfile, err.msg);
        return -1;
    }
    if (warden_tlog_appender_new(&g_app, dir, g_signer, &opts, &err) != 0) {
        fprintf(stderr, "tlog_crashtool: opening %s: %s\n", dir, err.msg);
        return -1;
    }
    return 0;
}

/* Truncates the ack file after its last newline, dropping a line a kill tore. */
static int drop_torn_line(int fd)
{
    off_t end = lseek(fd, 0, SEEK_END), keep = end;
    char c;
    while (keep > 0) {
        if (pread(fd, &c, 1, keep - 1) != 1)
            return -1;
        if (c == '\n')
            break;
        keep--;
    }
    return keep == end ? 0 : ftruncate(fd, keep);
}

static int cmd_run(char **argv)
{
    long threads = strtol(argv[4], NULL, 10);
    g_run = strtol(argv[5], NULL, 10);
    pthread_t tids[MAX_THREADS];
    long started = 0;
    int rc = 1;
    if (threads < 1 || threads > MAX_THREADS) {
        fprintf(stderr, "tlog_crashtool: THREADS must be 1..%d\n", MAX_THREADS);
        return 2;
    }
    g_ackfd = open(argv[3], O_RDWR | O_APPEND | O_CREAT, 0644);
    if (g_ackfd < 0 || drop_torn_line(g_ackfd) != 0) {
        fprintf(stderr, "tlog_crashtool: %s: %s\n", argv[3], strerror(errno));
        return 1;
    }
    if (open_appender(argv[1], argv[2]) != 0)
        goto out;
    for (; started < threads; started++)
        if (pthread_create(&tids[started], NULL, appender_thread, (void *)(intptr_t)started) != 0)
            goto out;
    rc = 0;
out:
    for (long i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    warden_tlog_appender_free(g_app);
    warden_tlog_signer_free(g_signer);
    close(g_ackfd);
    return rc != 0 || atomic_load(&g_failed) ? 1 : 0;
}

/* ---- check: an independent reader of the C2SP layout ---- */

/* C2SP tlog-tiles index path: 3-digit groups, all but the last prefixed with "x". */
static void index_path(char *out, size_t cap, uint64_t n)
{
    char groups[8][8];
    int k = 0;
    do {
        snprintf(groups[k++], sizeof groups[0], "%03u", (unsigned)(n % 1000));
        n /= 1000;
    } while (n > 0);
    size_t off = 0;
    for (int i = k - 1; i >= 0; i--)
        off += (size_t)snprintf(out + off, cap - off, "%s%s%s", i == k - 1 ? "" : "/",
                                i > 0 ? "x" : "", groups[i]);
}

typedef struct {
    uint8_t *data; /* all entries, back to back */
    size_t *off;   /* entry i is data[off[i] .. off[i+1]) */
    uint64_t size;
} log_entries;

static int read_log(log_entries *le, const char *dir)
{
    char path[4096], ip[128];
    warden_buf b, all;
    warden_err err = {0};
    int rc = -1;
    warden_buf_init(&b);
    warden_buf_init(&all);
    memset(le, 0, sizeof *le);
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    if (warden_file_read(&b, path, 1 << 16, &err) != 0) {
        fprintf(stderr, "check: %s\n", err.msg);
        goto out;
    }
    /* origin line, then the decimal size */
    warden_cursor c;
    const uint8_t *line;
    size_t len;
    warden_cursor_init(&c, b.p, b.len);
    if (warden_cursor_until(&c, '\n', &line, &len) != 0 ||
        warden_cursor_until(&c, '\n', &line, &len) != 0 ||
        warden_parse_u64(&le->size, (const char *)line, len) != 0) {
        fprintf(stderr, "check: %s: cannot read the tree size\n", path);
        goto out;
    }
    le->off = calloc(le->size + 1, sizeof *le->off);
    if (le->off == NULL)
        goto out;
    uint64_t i = 0;
    for (uint64_t n = 0; n * 256 < le->size; n++) {
        uint64_t w = le->size - n * 256 < 256 ? le->size - n * 256 : 256;
        index_path(ip, sizeof ip, n);
        if (w == 256)
            snprintf(path, sizeof path, "%s/tile/entries/%s", dir, ip);
        else
            snprintf(path, sizeof path, "%s/tile/entries/%s.p/%" PRIu64, dir, ip, w);
        b.len = 0;
        if (warden_file_read(&b, path, 256 * 65537, &err) != 0) {
            fprintf(stderr, "check: %s\n", err.msg);
            goto out;
        }
        warden_cursor_init(&c, b.p, b.len);
        for (uint64_t k = 0; k < w; k++, i++) {
            uint16_t elen;
            const uint8_t *e;
            if (warden_cursor_be16(&c, &elen) != 0 || warden_cursor_bytes(&c, &e, elen) != 0) {
                fprintf(stderr, "check: %s: truncated at entry %" PRIu64 "\n", path, i);
                goto out;
            }
            le->off[i] = all.len;
            if (warden_buf_append(&all, e, elen) != 0)
                goto out;
        }
        if (warden_cursor_left(&c) != 0) {
            fprintf(stderr, "check: %s: %zu bytes after the last entry\n", path,
                    warden_cursor_left(&c));
            goto out;
        }
    }
    le->off[le->size] = all.len;
    le->data = all.p;
    all.p = NULL;
    rc = 0;
out:
    warden_buf_fini(&b);
    warden_buf_fini(&all);
    return rc;
}

/* parse "r<run>-t<thread>-<seq>-" at the start of e; returns 0 if well-formed and the
 * padding is exactly what make_entry gives. */
static int parse_entry(const uint8_t *e, size_t len, long *run, long *thread, long *seq)
{
    char buf[MAX_ENTRY + 1], want[MAX_ENTRY];
    if (len == 0 || len > MAX_ENTRY)
        return -1;
    memcpy(buf, e, len);
    buf[len] = '\0';
    if (sscanf(buf, "r%ld-t%ld-%ld-", run, thread, seq) != 3 || *thread < 0 ||
        *thread >= MAX_THREADS || *seq < 0)
        return -1;
    size_t wl = make_entry(want, sizeof want, *run, *thread, *seq);
    return wl == len && memcmp(want, e, len) == 0 ? 0 : -1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmd_check(char **argv)
{
    log_entries le = {0};
    warden_buf acks;
    warden_err err = {0};
    uint64_t *keys = NULL, n_acks = 0;
    int rc = 1;
    warden_buf_init(&acks);
    /* Reopen: runs the appender's recovery exactly as a restarted service would. */
    if (open_appender(argv[1], argv[2]) != 0)
        goto out;
    warden_tlog_appender_free(g_app);
    g_app = NULL;
    if (read_log(&le, argv[1]) != 0)
        goto out;
    /* No duplicates, nothing foreign: key each entry as (run, thread, seq). */
    keys = calloc(le.size + 1, sizeof *keys);
    if (keys == NULL)
        goto out;
    for (uint64_t i = 0; i < le.size; i++) {
        long run, thread, seq;
        if (parse_entry(le.data + le.off[i], le.off[i + 1] - le.off[i], &run, &thread, &seq) != 0) {
            fprintf(stderr, "check: entry %" PRIu64 " was not written by this tool: %.*s\n", i,
                    (int)(le.off[i + 1] - le.off[i] > 80 ? 80 : le.off[i + 1] - le.off[i]),
                    (const char *)le.data + le.off[i]);
            goto out;
        }
        keys[i] = ((uint64_t)run << 40) | ((uint64_t)thread << 32) | (uint64_t)seq;
    }
    qsort(keys, le.size, sizeof *keys, cmp_u64);
    for (uint64_t i = 1; i < le.size; i++)
        if (keys[i] == keys[i - 1]) {
            fprintf(stderr, "check: entry r%" PRIu64 "-t%" PRIu64 "-%" PRIu64 " occurs twice\n",
                    keys[i] >> 40, (keys[i] >> 32) & 0xff, keys[i] & 0xffffffff);
            goto out;
        }
    /* Every ack is there, with its bytes; per (run, thread), indexes grow with seq. */
    if (warden_file_read(&acks, argv[3], (size_t)1 << 30, &err) != 0) {
        fprintf(stderr, "check: %s\n", err.msg);
        goto out;
    }
    static uint64_t last_index[1 << 16];
    static long last_run[1 << 16];
    memset(last_run, 0xff, sizeof last_run);
    warden_cursor c;
    warden_cursor_init(&c, acks.p, acks.len);
    while (warden_cursor_left(&c) > 0) {
        const uint8_t *line;
        size_t len;
        uint64_t index;
        long run, thread, seq;
        if (warden_cursor_until(&c, '\n', &line, &len) != 0) {
            break; /* torn last line: see the top of the file */
        }
        size_t sp = 4;
        while (sp < len && line[sp] != ' ')
            sp++;
        if (len < 6 || memcmp(line, "ack ", 4) != 0 || sp >= len ||
            warden_parse_u64(&index, (const char *)line + 4, sp - 4) != 0) {
            fprintf(stderr, "check: %s: bad line %.*s\n", argv[3], (int)len, (const char *)line);
            goto out;
        }
        const uint8_t *e = line + sp + 1;
        size_t elen = len - sp - 1;
        if (parse_entry(e, elen, &run, &thread, &seq) != 0) {
            fprintf(stderr, "check: %s: bad entry in %.*s\n", argv[3], (int)len, (const char *)line);
            goto out;
        }
        if (index >= le.size) {
            fprintf(stderr, "check: LOST: acked entry %.*s at index %" PRIu64 " but tree size is %" PRIu64 "\n",
                    (int)elen, (const char *)e, index, le.size);
            goto out;
        }
        size_t have = le.off[index + 1] - le.off[index];
        if (have != elen || memcmp(le.data + le.off[index], e, elen) != 0) {
            fprintf(stderr, "check: WRONG: index %" PRIu64 " acked as %.*s holds %.*s\n", index,
                    (int)elen, (const char *)e, (int)(have > 80 ? 80 : have),
                    (const char *)le.data + le.off[index]);
            goto out;
        }
        unsigned slot = (unsigned)((run & 0xff) << 8 | thread);
        if (last_run[slot] == run && index <= last_index[slot]) {
            fprintf(stderr, "check: ORDER: %.*s at %" PRIu64 " is not after index %" PRIu64 "\n",
                    (int)elen, (const char *)e, index, last_index[slot]);
            goto out;
        }
        last_run[slot] = run;
        last_index[slot] = index;
        n_acks++;
    }
    printf("checked %" PRIu64 " acks, tree size %" PRIu64 "\n", n_acks, le.size);
    rc = 0;
out:
    warden_tlog_signer_free(g_signer);
    free(keys);
    free(le.data);
    free(le.off);
    warden_buf_fini(&acks);
    return rc;
}

static int cmd_gen(char **argv)
{
    char entry[MAX_ENTRY];
    long run = strtol(argv[0], NULL, 10), n = strtol(argv[1], NULL, 10);
    for (long seq = 0; seq < n; seq++) {
        size_t len = make_entry(entry, sizeof entry, run, 0, seq);
        if (fwrite(entry, 1, len, stdout) != len || putchar('\n') == EOF)
            return 1;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "gen") == 0)
        return cmd_gen(argv + 2);
    if (argc == 7 && strcmp(argv[1], "run") == 0)
        return cmd_run(argv + 1);
    if (argc == 5 && strcmp(argv[1], "check") == 0)
        return cmd_check(argv + 1);
    fprintf(stderr, "usage: tlog_crashtool run DIR KEYFILE ACKFILE THREADS RUN\n"
                    "       tlog_crashtool gen RUN N\n"
                    "       tlog_crashtool check DIR KEYFILE ACKFILE\n");
    return 2;
}
