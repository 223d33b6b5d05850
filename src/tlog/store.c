/* Durable file writes for the appender: temp name, writeback, fdatasync, rename, directory
 * fsync, done for a whole batch at once so that the batch costs a few journal commits, not
 * a few per file. All paths are relative to the log directory's fd. */
#define _GNU_SOURCE
#include "tlog/tlog_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void tlog_ws_init(tlog_writeset *ws, int dirfd, tlog_syncpool *pool)
{
    memset(ws, 0, sizeof *ws);
    ws->dirfd = dirfd;
    ws->pool = pool;
}

void tlog_ws_fini(tlog_writeset *ws)
{
    for (size_t i = 0; i < ws->n; i++) {
        if (ws->f[i].fd >= 0) {
            char tmp[WARDEN_TLOG_PATH_MAX + 8];
            close(ws->f[i].fd);
            snprintf(tmp, sizeof tmp, "%s.tmp", ws->f[i].path);
            unlinkat(ws->dirfd, tmp, 0);
        }
    }
    free(ws->f);
    free(ws->dirs);
    int fd = ws->dirfd;
    tlog_syncpool *pool = ws->pool;
    memset(ws, 0, sizeof *ws);
    ws->dirfd = fd;
    ws->pool = pool;
}

static int note_dir(tlog_writeset *ws, const char *dir, size_t len, warden_err *err)
{
    if (len >= WARDEN_TLOG_PATH_MAX)
        return warden_err_set(err, WARDEN_EINTERNAL, "directory path too long");
    for (size_t i = 0; i < ws->ndirs; i++)
        if (strlen(ws->dirs[i]) == len && memcmp(ws->dirs[i], dir, len) == 0)
            return 0;
    if (ws->ndirs == ws->dcap) {
        size_t cap = ws->dcap ? ws->dcap * 2 : 16;
        void *p = realloc(ws->dirs, cap * sizeof ws->dirs[0]);
        if (p == NULL)
            return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        ws->dirs = p;
        ws->dcap = cap;
    }
    memcpy(ws->dirs[ws->ndirs], dir, len);
    ws->dirs[ws->ndirs][len] = '\0';
    ws->ndirs++;
    return 0;
}

/* Creates the parents of path; a directory we create makes its parent's entries change. */
static int make_parents(tlog_writeset *ws, const char *path, warden_err *err)
{
    char tmp[WARDEN_TLOG_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdirat(ws->dirfd, tmp, 0755) == 0) {
            char *up = strrchr(tmp, '/');
            int rc = up ? note_dir(ws, tmp, (size_t)(up - tmp), err) : note_dir(ws, ".", 1, err);
            if (rc != 0)
                return rc;
        } else if (errno != EEXIST) {
            return warden_err_set(err, WARDEN_EIO, "%s: mkdir: %s", tmp, strerror(errno));
        }
        *p = '/';
    }
    return 0;
}

int tlog_ws_add(tlog_writeset *ws, const char *path, const void *data, size_t len, warden_err *err)
{
    char tmp[WARDEN_TLOG_PATH_MAX + 8];
    int rc;
    if (strlen(path) >= WARDEN_TLOG_PATH_MAX)
        return warden_err_set(err, WARDEN_EINTERNAL, "%s: path too long", path);
    if (ws->n == ws->cap) {
        size_t cap = ws->cap ? ws->cap * 2 : 16;
        void *p = realloc(ws->f, cap * sizeof ws->f[0]);
        if (p == NULL)
            return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        ws->f = p;
        ws->cap = cap;
    }
    if ((rc = make_parents(ws, path, err)) != 0)
        return rc;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = openat(ws->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return warden_err_set(err, WARDEN_EIO, "%s: create: %s", tmp, strerror(errno));
    tlog_wfile *f = &ws->f[ws->n++];
    snprintf(f->path, sizeof f->path, "%s", path);
    f->fd = fd;
    if (warden_write_all(fd, data, len) != 0)
        return warden_err_set(err, WARDEN_EIO, "%s: write: %s", tmp, strerror(errno));
    /* Start writeback now, so that the fdatasyncs in tlog_ws_sync find the data on its way
     * and the journal commits the whole batch's allocations together. */
    if (sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) != 0 && errno != ENOSYS && errno != EINVAL)
        return warden_err_set(err, WARDEN_EIO, "%s: writeback: %s", tmp, strerror(errno));
    return 0;
}

int tlog_ws_sync(tlog_writeset *ws, tlog_writeset *also, warden_err *err)
{
    /* Both sets' temp files in one go: one journal commit for the whole batch. */
    tlog_writeset *sets[2] = {ws, also};
    int fds[64];
    tlog_wfile *who[64];
    size_t k = 0;
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; sets[s] != NULL && i < sets[s]->n; i++) {
            fds[k] = sets[s]->f[i].fd;
            who[k++] = &sets[s]->f[i];
            if (k < 64)
                continue;
            long bad = tlog_sync_fds(ws->pool, fds, k, 1);
            if (bad >= 0)
                return warden_err_set(err, WARDEN_EIO, "%s.tmp: fdatasync: %s", who[bad]->path,
                                      strerror(errno));
            k = 0;
        }
    }
    long bad = k > 0 ? tlog_sync_fds(ws->pool, fds, k, 1) : -1;
    if (bad >= 0)
        return warden_err_set(err, WARDEN_EIO, "%s.tmp: fdatasync: %s", who[bad]->path,
                              strerror(errno));
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; sets[s] != NULL && i < sets[s]->n; i++) {
            tlog_wfile *f = &sets[s]->f[i];
            int fd = f->fd;
            f->fd = -1;
            if (close(fd) != 0)
                return warden_err_set(err, WARDEN_EIO, "%s.tmp: close: %s", f->path,
                                      strerror(errno));
        }
    }
    return 0;
}

int tlog_ws_publish(tlog_writeset *ws, warden_err *err)
{
    int rc;
    for (size_t i = 0; i < ws->n; i++) {
        char tmp[WARDEN_TLOG_PATH_MAX + 8];
        const char *path = ws->f[i].path;
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        if (renameat(ws->dirfd, tmp, ws->dirfd, path) != 0)
            return warden_err_set(err, WARDEN_EIO, "%s: rename: %s", path, strerror(errno));
        const char *slash = strrchr(path, '/');
        rc = slash ? note_dir(ws, path, (size_t)(slash - path), err) : note_dir(ws, ".", 1, err);
        if (rc != 0)
            return rc;
    }
    /* All changed directories at once (see syncpool.c). */
    for (size_t start = 0; start < ws->ndirs; start += 64) {
        int fds[64];
        size_t k = ws->ndirs - start < 64 ? ws->ndirs - start : 64, opened = 0;
        rc = 0;
        for (; opened < k; opened++) {
            const char *dir = ws->dirs[start + opened];
            fds[opened] = openat(ws->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fds[opened] < 0) {
                rc =
                    warden_err_set(err, WARDEN_EIO, "%s: open directory: %s", dir, strerror(errno));
                break;
            }
        }
        if (rc == 0) {
            long bad = tlog_sync_fds(ws->pool, fds, k, 0);
            if (bad >= 0)
                rc = warden_err_set(err, WARDEN_EIO, "%s: fsync directory: %s",
                                    ws->dirs[start + (size_t)bad], strerror(errno));
        }
        for (size_t i = 0; i < opened; i++)
            close(fds[i]);
        if (rc != 0)
            return rc;
    }
    ws->n = 0;
    ws->ndirs = 0;
    return 0;
}

int tlog_remove(int dirfd, const char *path, warden_err *err)
{
    if (unlinkat(dirfd, path, 0) != 0 && errno != ENOENT)
        return warden_err_set(err, WARDEN_EIO, "%s: remove: %s", path, strerror(errno));
    return 0;
}

int tlog_prune_partials(int dirfd, const char *dirpath, unsigned keep, warden_err *err)
{
    int fd = openat(dirfd, dirpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return warden_err_set(err, WARDEN_EIO, "%s: open directory: %s", dirpath, strerror(errno));
    }
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return warden_err_set(err, WARDEN_EIO, "%s: %s", dirpath, strerror(errno));
    }
    int rc = 0, left = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
            continue;
        char *end = NULL;
        unsigned long w = strtoul(n, &end, 10);
        int is_tmp = strstr(n, ".tmp") != NULL;
        if (is_tmp || (end != n && *end == '\0' && w > keep)) {
            if (unlinkat(fd, n, 0) != 0 && errno != ENOENT) {
                rc = warden_err_set(err, WARDEN_EIO, "%s/%s: remove: %s", dirpath, n,
                                    strerror(errno));
                break;
            }
        } else {
            left++;
        }
    }
    closedir(d);
    if (rc == 0 && left == 0 && unlinkat(dirfd, dirpath, AT_REMOVEDIR) != 0 && errno != ENOENT)
        rc = warden_err_set(err, WARDEN_EIO, "%s: remove directory: %s", dirpath, strerror(errno));
    return rc;
}
