/* Helper for tests/store/store_crash.test.sh: "write DIR" increments one record forever by
 * compare-and-set and prints each version once its put has returned (is acknowledged);
 * "verify DIR N" checks that the store opens cleanly and holds at least version N with the
 * matching content, i.e. no acknowledged write was lost and nothing is half-written. */
#include "warden/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: store_crash write DIR | verify DIR ACKED\n");
    return 2;
}

int main(int argc, char **argv)
{
    warden_err err;
    warden_store *st = NULL;
    uint64_t v = 0, acked = 0;
    bool live = false;
    char blob[64];
    if (argc < 3)
        return usage();
    warden_store_lmdb_config cfg = {.dir = argv[2]};
    if (warden_store_lmdb_open(&st, &cfg, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    int rc = warden_store_user_register(st, "crash", "US", 1700000000, NULL, &err);
    if (rc != 0 && rc != WARDEN_EEXIST) {
        fprintf(stderr, "register: %s\n", err.msg);
        return 1;
    }
    if (warden_store_record_head(st, &v, &live, "crash", "counter", "c", &err) != 0) {
        fprintf(stderr, "head: %s\n", err.msg);
        return 1;
    }
    if (strcmp(argv[1], "verify") == 0 && argc == 4) {
        if (warden_parse_u64(&acked, argv[3], strlen(argv[3])) != 0)
            return usage();
        if (v < acked) {
            fprintf(stderr, "lost acknowledged writes: store at %llu, acknowledged %llu\n",
                    (unsigned long long)v, (unsigned long long)acked);
            return 1;
        }
        if (v > 0) {
            warden_store_record r;
            warden_store_record_init(&r);
            snprintf(blob, sizeof blob, "version %llu", (unsigned long long)v);
            if (warden_store_record_get(st, &r, "crash", "counter", "c", &err) != 0 ||
                r.version != v || r.blob.len != strlen(blob) ||
                memcmp(r.blob.p, blob, r.blob.len) != 0) {
                fprintf(stderr, "record at version %llu is wrong: %s\n", (unsigned long long)v,
                        err.msg);
                return 1;
            }
            warden_store_record_fini(&r);
        }
        printf("%llu\n", (unsigned long long)v);
        warden_store_free(st);
        return 0;
    }
    if (strcmp(argv[1], "write") != 0)
        return usage();
    for (;;) {
        v++;
        snprintf(blob, sizeof blob, "version %llu", (unsigned long long)v);
        if (warden_store_record_put(st, "crash", "counter", "c", v, (const uint8_t *)blob,
                                    strlen(blob), &err) != 0) {
            fprintf(stderr, "put: %s\n", err.msg);
            return 1;
        }
        printf("%llu\n", (unsigned long long)v);
        fflush(stdout);
    }
}
