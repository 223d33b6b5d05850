/* Whole-file I/O. Writes are atomic and durable: temp name, fsync, rename, fsync dir,
 * so a reader never sees a half-written file under its final name. */
#define _GNU_SOURCE
#include "warden/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int warden_file_read(warden_buf *b, const char *path, size_t max, warden_err *err)
{
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int code = errno == ENOENT ? WARDEN_ENOTFOUND : WARDEN_EIO;
        return warden_err_set(err, code, "%s: %s", path, strerror(errno));
    }
    size_t total = 0;
    for (;;) {
        if ((rc = warden_buf_reserve(b, 65536)) != 0) {
            warden_err_set(err, rc, "%s: out of memory", path);
            goto out;
        }
        ssize_t n = read(fd, b->p + b->len, 65536);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = warden_err_set(err, WARDEN_EIO, "%s: read: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        total += (size_t)n;
        b->len += (size_t)n;
        if (total > max) {
            rc = warden_err_set(err, WARDEN_ELIMIT, "%s: larger than the limit of %zu bytes",
                                path, max);
            goto out;
        }
    }
out:
    close(fd);
    return rc;
}

int warden_dir_sync(const char *path, warden_err *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return warden_err_set(err, WARDEN_EIO, "%s: open directory: %s", path, strerror(errno));
    int rc = 0;
    if (fsync(fd) != 0)
        rc = warden_err_set(err, WARDEN_EIO, "%s: fsync directory: %s", path, strerror(errno));
    close(fd);
    return rc;
}

int warden_write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int warden_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
                             warden_err *err)
{
    int rc = 0;
    int fd = -1;
    char tmp[PATH_MAX];
    char dir[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return warden_err_set(err, WARDEN_EINVAL, "%s: path too long", path);
    fd = mkstemp(tmp);
    if (fd < 0)
        return warden_err_set(err, WARDEN_EIO, "%s: create temporary file: %s", path,
                              strerror(errno));
    if (fchmod(fd, (mode_t)mode) != 0 || warden_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        rc = warden_err_set(err, WARDEN_EIO, "%s: write: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = warden_err_set(err, WARDEN_EIO, "%s: close: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = warden_err_set(err, WARDEN_EIO, "%s: rename: %s", path, strerror(errno));
        goto out;
    }
    snprintf(dir, sizeof dir, "%s", path);
    rc = warden_dir_sync(dirname(dir), err);
    return rc;
out:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}

int warden_mkdir_p(const char *path, warden_err *err)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return warden_err_set(err, WARDEN_EINVAL, "%s: path too long", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return warden_err_set(err, WARDEN_EIO, "%s: mkdir: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return warden_err_set(err, WARDEN_EIO, "%s: mkdir: %s", tmp, strerror(errno));
    return 0;
}

int warden_parse_u64(uint64_t *out, const char *s, size_t len)
{
    if (len == 0 || len > 20)
        return len == 0 ? WARDEN_EINVAL : WARDEN_ELIMIT;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return WARDEN_EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return WARDEN_ELIMIT;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}
