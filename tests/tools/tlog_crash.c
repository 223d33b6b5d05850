/* Crash-test driver for the tlog appender (tests/tlog/tlog_crash.test.sh).
 *
 *   tlog_crash append DIR KEY RUN   appends from 8 threads until killed; after each append
 *                                   returns, prints "index tag" (one write per line)
 *   tlog_crash check DIR KEY ACKS...  reopens the log (recovery), verifies it, and checks that
 *                                   every acknowledged index holds exactly its tag's bytes
 *                                   (ACKS: one file per append run; a last line without
 *                                   newline was cut by the kill and is skipped)
 *
 * An entry's bytes are a function of its tag, so a check needs only the acknowledgements. */
#include "warden/tlog.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 8

static warden_tlog_appender *A;
static uint64_t run_id;

static size_t entry_bytes(uint8_t *out, uint64_t tag)
{
    size_t len = 8 + (size_t)(tag % 300);
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(tag >> (56 - 8 * i));
    for (size_t k = 8; k < len; k++)
        out[k] = (uint8_t)(tag * 131 + k);
    return len;
}

static void *work(void *arg)
{
    uint64_t t = (uint64_t)(uintptr_t)arg;
    uint8_t b[400];
    warden_err e;
    for (uint64_t i = 0;; i++) {
        uint64_t tag = run_id << 40 | t << 32 | i, idx;
        if (warden_tlog_append(&idx, A, b, entry_bytes(b, tag), &e) != 0) {
            fprintf(stderr, "append: %s\n", e.msg);
            exit(1);
        }
        char line[64];
        int n = snprintf(line, sizeof line, "%llu %llu\n", (unsigned long long)idx,
                         (unsigned long long)tag);
        if (write(1, line, (size_t)n) != n)
            exit(1);
    }
    return NULL;
}

static int check(const char *dir, const warden_tlog_signer *s, char **acks, int nacks)
{
    warden_err e;
    warden_buf vk, got;
    warden_tlog_verifier *v = NULL;
    warden_tlog_source *src = NULL;
    warden_tlog_checkpoint cp;
    warden_buf_init(&vk);
    warden_buf_init(&got);
    /* Reopening runs recovery, which must publish every acknowledged entry: those past the
     * checkpoint the kill left come from the journal. */
    uint64_t before = 0;
    if (warden_tlog_source_dir_new(&src, dir, &e) == 0 &&
        warden_tlog_source_checkpoint(&cp, src, NULL, &e) == 0)
        before = cp.size;
    warden_tlog_source_free(src);
    src = NULL;
    if (warden_tlog_appender_new(&A, dir, s, NULL, &e) != 0) {
        fprintf(stderr, "reopen: %s\n", e.msg);
        return 1;
    }
    warden_tlog_appender_free(A);
    if (warden_tlog_signer_vkey(&vk, s, &e) != 0 ||
        warden_tlog_verifier_new(&v, (char *)vk.p, vk.len, &e) != 0 ||
        warden_tlog_source_dir_new(&src, dir, &e) != 0 ||
        warden_tlog_verify(&cp, src, v, &e) != 0) {
        fprintf(stderr, "verify: %s\n", e.msg);
        return 1;
    }
    unsigned long long idx, tag, n = 0;
    char line[128];
    for (int k = 0; k < nacks; k++) {
        FILE *f = fopen(acks[k], "r");
        if (f == NULL)
            return 1;
        while (fgets(line, sizeof line, f) != NULL) {
            if (strchr(line, '\n') == NULL || sscanf(line, "%llu %llu", &idx, &tag) != 2)
                continue; /* a line cut by the kill */
            uint8_t want[400];
            size_t len = entry_bytes(want, tag);
            got.len = 0;
            if (idx >= cp.size) {
                fprintf(stderr, "acknowledged index %llu is past the log's size %llu\n", idx,
                        (unsigned long long)cp.size);
                return 1;
            }
            if (warden_tlog_source_entry(&got, src, cp.size, idx, &e) != 0 || got.len != len ||
                memcmp(got.p, want, len) != 0) {
                fprintf(stderr, "acknowledged index %llu does not hold tag %llu\n", idx, tag);
                return 1;
            }
            n++;
        }
        fclose(f);
    }
    printf("%llu acknowledged entries present in a log of %llu that verifies; %llu replayed "
           "from the journal\n",
           n, (unsigned long long)cp.size, (unsigned long long)(cp.size - before));
    warden_tlog_source_free(src);
    warden_tlog_verifier_free(v);
    warden_buf_fini(&vk);
    warden_buf_fini(&got);
    return 0;
}

int main(int argc, char **argv)
{
    warden_err e;
    warden_tlog_signer *s = NULL;
    if (argc < 5)
        return 2;
    if (access(argv[3], F_OK) != 0 && warden_tlog_key_generate(argv[3], "crash.test", NULL, &e))
        goto fail;
    if (warden_tlog_signer_load(&s, argv[3], &e) != 0)
        goto fail;
    if (strcmp(argv[1], "check") == 0) {
        int rc = check(argv[2], s, argv + 4, argc - 4);
        warden_tlog_signer_free(s);
        return rc;
    }
    run_id = strtoull(argv[4], NULL, 10);
    int rc = warden_tlog_create(argv[2], "crash.test", s, &e);
    if (rc != 0 && rc != WARDEN_EEXIST)
        goto fail;
    warden_tlog_appender_opts o = {.max_batch = 32};
    if (warden_tlog_appender_new(&A, argv[2], s, &o, &e) != 0)
        goto fail;
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, work, (void *)i) != 0)
            return 1;
    pause(); /* until killed */
    return 0;
fail:
    fprintf(stderr, "tlog_crash: %s\n", e.msg);
    return 1;
}
