/* Helper for bench/migrate.sh: the raw write rate of the region store (LMDB, durable
 * commits) for N records of SIZE bytes, "batch" as warden_store_record_put_batch commits of
 * 1000 puts (the store's best case), "single" one commit per put. No keyd, no log, no
 * crypto: the floor under any verified migration. Prints "records/s R". */
#include "warden/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    warden_err err;
    warden_store *st = NULL;
    uint64_t n = 0, size = 0;
    if (argc != 5 || warden_parse_u64(&n, argv[3], strlen(argv[3])) != 0 ||
        warden_parse_u64(&size, argv[4], strlen(argv[4])) != 0 || size == 0 ||
        (strcmp(argv[1], "batch") != 0 && strcmp(argv[1], "single") != 0)) {
        fprintf(stderr, "usage: lmdb_rate batch|single DIR N SIZE\n");
        return 2;
    }
    bool batch = strcmp(argv[1], "batch") == 0;
    warden_store_lmdb_config cfg = {.dir = argv[2],
                                    .map_size = (size_t)(n * (size + 256) * 2 + (64u << 20))};
    uint8_t *blob = malloc(size);
    warden_store_put *puts = calloc(1000, sizeof *puts);
    char(*ids)[32] = calloc(1000, sizeof *ids);
    if (blob == NULL || puts == NULL || ids == NULL ||
        warden_store_lmdb_open(&st, &cfg, &err) != 0 ||
        warden_store_user_register(st, "bench", "US", 1700000000, NULL, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    for (uint64_t i = 0; i < size; i++)
        blob[i] = (uint8_t)(i * 131 + 7);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t i = 0; i < n;) {
        size_t k = batch ? (n - i < 1000 ? (size_t)(n - i) : 1000) : 1;
        for (size_t j = 0; j < k; j++) {
            snprintf(ids[j], sizeof ids[j], "r%llu", (unsigned long long)(i + j));
            puts[j] = (warden_store_put){"bench", "messages", ids[j], 1, blob, (size_t)size, 0};
        }
        int rc = batch ? warden_store_record_put_batch(st, puts, k, &err)
                       : warden_store_record_put(st, "bench", "messages", ids[0], 1, blob,
                                                 (size_t)size, &err);
        for (size_t j = 0; rc == 0 && batch && j < k; j++)
            rc = puts[j].result;
        if (rc != 0) {
            fprintf(stderr, "put: %s\n", err.msg);
            return 1;
        }
        i += k;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("records/s %.0f\n", (double)n / dt);
    warden_store_free(st);
    free(blob);
    free(puts);
    free(ids);
    return 0;
}
