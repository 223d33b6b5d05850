/* fsync_rate: the baseline for bench/tlog.sh — how many "write one small record, then
 * fdatasync" rounds per second this disk does, i.e. the rate of a log that makes each
 * entry durable on its own, without group commit. Writes in a temp file inside DIR so
 * that it measures the same filesystem as the log.
 *
 * With "publish" it instead measures the atomic publication of a small file the way a
 * tile or checkpoint is published: write a temp file, fdatasync, rename over the final
 * name, fsync the directory. That is the floor under one group-commit batch.
 *
 * usage: fsync_rate DIR [SECONDS] [RECORD_BYTES] [publish]
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

/* temp file + fdatasync + rename + directory fsync, in a loop */
static int publish_rate(const char *dir, long seconds, long size)
{
    char tmp[4096], fin[4096], rec[4096];
    int dfd = open(dir, O_RDONLY | O_DIRECTORY), rc = 1;
    long n = 0;
    if (dfd < 0 || size > (long)sizeof rec ||
        snprintf(tmp, sizeof tmp, "%s/publish-rate.tmp", dir) >= (int)sizeof tmp ||
        snprintf(fin, sizeof fin, "%s/publish-rate", dir) >= (int)sizeof fin) {
        fprintf(stderr, "fsync_rate: %s: cannot open (or record too large)\n", dir);
        goto out;
    }
    memset(rec, 'p', (size_t)size);
    double start = now(), t = start;
    while (t - start < (double)seconds) {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, rec, (size_t)size) != (ssize_t)size || fdatasync(fd) != 0 ||
            close(fd) != 0 || rename(tmp, fin) != 0 || fsync(dfd) != 0) {
            fprintf(stderr, "fsync_rate: publish: %s\n", strerror(errno));
            goto out;
        }
        n++;
        t = now();
    }
    printf("fsync_rate %.0f publishes/s (%ld in %.2f s, %ld B each)\n", (double)n / (t - start), n,
           t - start, size);
    rc = 0;
out:
    unlink(fin);
    if (dfd >= 0)
        close(dfd);
    return rc;
}

int main(int argc, char **argv)
{
    long seconds = 2, size = 256;
    int rc = 1, fd = -1;
    char path[4096];
    char *rec = NULL;
    int publish = argc == 5 && strcmp(argv[4], "publish") == 0;
    if (argc < 2 || argc > 5 || (argc > 2 && parse_pos(argv[2], &seconds) != 0) ||
        (argc > 3 && parse_pos(argv[3], &size) != 0) || size > 1 << 20 ||
        (argc == 5 && !publish)) {
        fprintf(stderr, "usage: fsync_rate DIR [SECONDS] [RECORD_BYTES] [publish]\n");
        return 2;
    }
    if (publish)
        return publish_rate(argv[1], seconds, size);
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
