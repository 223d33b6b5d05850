/* fsync_rate: the baseline for bench/tlog.sh — how many "write one small record, then
 * fdatasync" rounds per second this disk does, i.e. the rate of a log that makes each
 * entry durable on its own, without group commit. Writes in a temp file inside DIR so
 * that it measures the same filesystem as the log.
 *
 * usage: fsync_rate DIR [SECONDS] [RECORD_BYTES]
 * prints: fsync_rate <writes/s> writes/s (<n> writes in <s> s, <bytes> B each) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_pos(const char *s, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v <= 0)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    long seconds = 2, size = 256;
    int rc = 1, fd = -1;
    char path[4096];
    char *rec = NULL;
    if (argc < 2 || argc > 4 || (argc > 2 && parse_pos(argv[2], &seconds) != 0) ||
        (argc > 3 && parse_pos(argv[3], &size) != 0) || size > 1 << 20) {
        fprintf(stderr, "usage: fsync_rate DIR [SECONDS] [RECORD_BYTES]\n");
        return 2;
    }
    if (snprintf(path, sizeof path, "%s/fsync-rate.XXXXXX", argv[1]) >= (int)sizeof path) {
        fprintf(stderr, "fsync_rate: path too long\n");
        return 2;
    }
    rec = malloc((size_t)size);
    if (rec == NULL)
        goto out;
    memset(rec, 'r', (size_t)size);
    fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "fsync_rate: %s: %s\n", path, strerror(errno));
        goto out;
    }
    unlink(path);
    long n = 0;
    double start = now(), t = start;
    while (t - start < (double)seconds) {
        if (write(fd, rec, (size_t)size) != (ssize_t)size || fdatasync(fd) != 0) {
            fprintf(stderr, "fsync_rate: write/fdatasync: %s\n", strerror(errno));
            goto out;
        }
        n++;
        t = now();
    }
    printf("fsync_rate %.0f writes/s (%ld writes in %.2f s, %ld B each)\n", (double)n / (t - start),
           n, t - start, size);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(rec);
    return rc;
}
