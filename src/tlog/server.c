/* Read-only HTTP serving of a log directory (libmicrohttpd). Only the tlog-tiles grammar is
 * served: "checkpoint" and canonical tile/bundle paths; anything else (dotfiles, temp files,
 * "..", non-canonical spellings) is 404 before the file system is touched. */
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
    const char *path = url + 1;
    size_t len = strlen(path);
    const char *type = "application/octet-stream";
    const char *cache;
    int level;
    uint64_t index;
    unsigned width;
    if (strcmp(path, "checkpoint") == 0) {
        type = "text/plain; charset=utf-8";
        cache = "no-cache";
    } else if (warden_tlog_tile_path_parse(&level, &index, &width, path, len) == 0) {
        /* A name is immutable; a partial tile may be deleted once its full tile exists. */
        cache = width == WARDEN_TLOG_TILE_WIDTH ? "public, max-age=31536000, immutable"
                                                : "public, max-age=60";
    } else {
        return respond_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    int fd = openat(s->dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return respond_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    struct MHD_Response *r = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
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
