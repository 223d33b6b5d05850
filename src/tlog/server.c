/* Read-only HTTP serving of a log directory (libmicrohttpd). Only the tlog-tiles grammar is
 * served: "checkpoint" and canonical tile/bundle paths that the current checkpoint covers;
 * anything else (dotfiles, temp files, "..", non-canonical spellings, tiles past the
 * checkpoint) is 404 before a layout file is opened. */
#define _GNU_SOURCE
#include "warden/tlog.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct warden_tlog_server {
    int dirfd;
    struct MHD_Daemon *d;
};

/* Size of the tree in the current checkpoint, re-read on every call: a cache keyed by inode
 * went stale because ext4 reuses inode numbers across the appender's renames, and the file is
 * only a few hundred bytes. The signature is not checked: this only decides what is
 * published, and a reader verifies the checkpoint itself. */
static int current_size(int dirfd, uint64_t *size)
{
    int rc = -1;
    int fd = openat(dirfd, "checkpoint", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    uint8_t *buf = malloc(WARDEN_TLOG_NOTE_MAX + 1);
    size_t n = 0;
    ssize_t got = 0;
    while (buf != NULL && n <= WARDEN_TLOG_NOTE_MAX &&
           (got = read(fd, buf + n, WARDEN_TLOG_NOTE_MAX + 1 - n)) > 0)
        n += (size_t)got;
    int ok = buf != NULL && got == 0;
    close(fd);
    size_t tlen = 0;
    warden_tlog_checkpoint cp;
    ok = ok && warden_tlog_note_parse(&tlen, buf, n, NULL) == 0 &&
         warden_tlog_checkpoint_parse(&cp, buf, tlen, NULL) == 0;
    free(buf);
    if (ok) {
        *size = cp.size;
        rc = 0;
    }
    return rc;
}

/* True when the checkpoint of size `size` (or an earlier one) can need this tile: files past
 * it are the leftovers of an unpublished batch and must never be cached as immutable. */
static int published(int level, uint64_t index, unsigned width, uint64_t size)
{
    unsigned lv = level < 0 ? 0 : (unsigned)level;
    unsigned span = 8 * lv; /* log2 of the entries one hash covers */
    if (span + 8 >= 64)
        return width < WARDEN_TLOG_TILE_WIDTH && index == 0 &&
               (uint64_t)width <= (span >= 64 ? 0 : size >> span);
    uint64_t tile_entries = UINT64_C(1) << (span + 8);
    if (index > (UINT64_MAX - tile_entries) / tile_entries)
        return 0;
    uint64_t end = index * tile_entries + ((uint64_t)width << span);
    return end <= size;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status, const char *msg)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(msg), (void *)msg, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, "Allow", "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

int warden_tlog_serve_open(int *fd, uint64_t *size, const char **content_type,
                           const char **cache_control, int dirfd, const char *path)
{
    size_t len = strlen(path);
    int level;
    uint64_t index, cur;
    unsigned width;
    *fd = -1;
    if (strcmp(path, "checkpoint") == 0) {
        *content_type = "text/plain; charset=utf-8";
        *cache_control = "no-cache";
    } else if (warden_tlog_tile_path_parse(&level, &index, &width, path, len) == 0) {
        if (current_size(dirfd, &cur) != 0 || !published(level, index, width, cur))
            return WARDEN_ENOTFOUND;
        *content_type = "application/octet-stream";
        /* A name is immutable; a partial tile may be deleted once its full tile exists. */
        *cache_control = width == WARDEN_TLOG_TILE_WIDTH ? "public, max-age=31536000, immutable"
                                                         : "public, max-age=60";
    } else {
        return WARDEN_ENOTFOUND;
    }
    int f = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (f < 0 || fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (f >= 0)
            close(f);
        return WARDEN_ENOTFOUND;
    }
    *fd = f;
    *size = (uint64_t)st.st_size;
    return 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **state)
{
    warden_tlog_server *s = cls;
    (void)version, (void)upload, (void)upload_len, (void)state;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (url[0] != '/')
        return respond_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    int fd;
    uint64_t size;
    const char *type, *cache;
    if (warden_tlog_serve_open(&fd, &size, &type, &cache, s->dirfd, url + 1) != 0)
        return respond_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    struct MHD_Response *r = MHD_create_response_from_fd64(size, fd);
    if (r == NULL) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", cache);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

int warden_tlog_server_new(warden_tlog_server **out, const char *dir, const char *listen,
                           warden_err *err)
{
    char host[256];
    const char *port;
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int rc = 0;
    warden_tlog_server *s = NULL;
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || colon[1] == '\0')
        return warden_err_set(err, WARDEN_EINVAL, "--listen %s: want HOST:PORT", listen);
    size_t hl = (size_t)(colon - listen);
    const char *h = listen;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']')
        h++, hl -= 2;
    if (hl >= sizeof host)
        return warden_err_set(err, WARDEN_EINVAL, "--listen %s: host too long", listen);
    memcpy(host, h, hl);
    host[hl] = '\0';
    port = colon + 1;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL)
        return warden_err_set(err, WARDEN_EINVAL, "--listen %s: not a numeric address and port",
                              listen);
    if ((s = calloc(1, sizeof *s)) == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        rc = warden_err_set(err, WARDEN_EIO, "%s: %s", dir, strerror(errno));
        goto out;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (s->d == NULL) {
        rc = warden_err_set(err, WARDEN_EIO, "--listen %s: cannot listen (in use?)", listen);
        goto out;
    }
    *out = s;
    s = NULL;
out:
    if (s != NULL) {
        if (s->dirfd >= 0)
            close(s->dirfd);
        free(s);
    }
    freeaddrinfo(ai);
    return rc;
}

void warden_tlog_server_free(warden_tlog_server *s)
{
    if (s == NULL)
        return;
    if (s->d != NULL)
        MHD_stop_daemon(s->d);
    close(s->dirfd);
    free(s);
}
