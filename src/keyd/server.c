/* keyd's unix-socket service: this thread accepts, checks the peer's uid (SO_PEERCRED) and
 * hands each connection to the worker (loop.c) that serves the fewest; it also runs reloads
 * and the shutdown. The workers decide, log and answer. Also the client call of the CLI. */
#define _GNU_SOURCE /* accept4, struct ucred */
#include "keyd/loop.h"
#include "keyd/protocol.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int read_full(int fd, void *p, size_t n)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static bool peer_allowed(const warden_keyd *k, uid_t uid)
{
    if (k->cfg.n_uids == 0)
        return uid == geteuid();
    for (size_t i = 0; i < k->cfg.n_uids; i++)
        if (k->cfg.uids[i] == uid)
            return true;
    return false;
}

static int listen_on(int *out, const char *path, warden_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return warden_err_set(err, WARDEN_EINVAL, "socket path too long: %s", path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return warden_err_set(err, WARDEN_EEXIST, "%s exists and is not a socket", path);
        if (unlink(path) != 0)
            return warden_err_set(err, WARDEN_EIO, "unlink %s: %s", path, strerror(errno));
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return warden_err_set(err, WARDEN_EIO, "socket: %s", strerror(errno));
    /* Created 0660 from the start: no window in which others could connect. */
    mode_t old = umask(0117);
    int b = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (b != 0 || chmod(path, 0660) != 0 || listen(fd, 128) != 0) {
        int e = errno;
        close(fd);
        return warden_err_set(err, WARDEN_EIO, "listen on %s: %s", path, strerror(e));
    }
    *out = fd;
    return 0;
}

/* Worker threads: the config's "workers", else one per online CPU (at most 8). */
static size_t worker_count(const warden_keyd *k)
{
    if (k->cfg.workers > 0)
        return k->cfg.workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 8 ? 8 : (size_t)n;
}

static void reload_now(warden_keyd *k)
{
    uint64_t idx;
    warden_err rerr;
    char hash[72];
    if (warden_keyd_reload(&idx, k, &rerr) != 0) {
        fprintf(stderr, "keyd: reload refused, old policies stay: %s\n", rerr.msg);
    } else {
        warden_keyd_policy_hash(hash, k);
        fprintf(stderr, "keyd: reloaded policy set %s (log index %llu)\n", hash,
                (unsigned long long)idx);
    }
}

int warden_keyd_serve(warden_keyd *k, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload,
                      warden_err *err)
{
    if (k->cfg.socket_path == NULL)
        return warden_err_set(err, WARDEN_EINVAL, "the config names no \"socket\"");
    size_t nw = worker_count(k), started = 0;
    keyd_worker **ws = calloc(nw, sizeof *ws);
    int lfd = -1;
    int rc = ws == NULL ? warden_err_set(err, WARDEN_ENOMEM, "out of memory") : 0;
    while (rc == 0 && started < nw && (rc = keyd_worker_start(&ws[started], k, err)) == 0)
        started++;
    if (rc == 0)
        rc = listen_on(&lfd, k->cfg.socket_path, err);
    while (rc == 0 && !*stop) {
        if (*reload) {
            *reload = 0;
            reload_now(k);
        }
        struct pollfd pfd = {.fd = lfd, .events = POLLIN};
        int pr = poll(&pfd, 1, 200);
        if (pr <= 0)
            continue; /* timeout or EINTR (a signal): look at the flags again */
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            continue;
        struct ucred cred;
        socklen_t cl = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 ||
            !peer_allowed(k, cred.uid)) {
            fprintf(stderr, "keyd: refused a connection from uid %ld\n",
                    cl == sizeof cred ? (long)cred.uid : -1L);
            close(fd);
            continue;
        }
        size_t total = 0, best = 0, best_n = SIZE_MAX;
        for (size_t i = 0; i < started; i++) {
            size_t n = keyd_worker_conns(ws[i]);
            total += n;
            if (n < best_n)
                best = i, best_n = n;
        }
        if (total >= KEYD_MAX_CONNS) {
            close(fd);
            continue;
        }
        warden_keyd_peer peer = {cred.uid, cred.pid};
        warden_err aerr;
        if (keyd_worker_adopt(ws[best], fd, &peer, &aerr) != 0) /* it closed fd */
            fprintf(stderr, "keyd: dropped a connection: %s\n", aerr.msg);
    }
    if (lfd >= 0) {
        close(lfd);
        (void)unlink(k->cfg.socket_path);
    }
    /* Each worker finishes the group it decides, sends what it can and closes its
     * connections. */
    for (size_t i = 0; i < started; i++)
        keyd_worker_stop(ws[i]);
    free(ws);
    return rc;
}

int warden_keyd_call(json_t **reply, int *is_error, const char *socket_path, uint16_t type,
                     const json_t *body, warden_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    warden_buf b;
    warden_buf_init(&b);
    int fd = -1, rc;
    *reply = NULL;
    *is_error = 0;
    if (strlen(socket_path) >= sizeof sa.sun_path)
        return warden_err_set(err, WARDEN_EINVAL, "socket path too long: %s", socket_path);
    memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
    if ((rc = body != NULL ? keyd_frame_encode_json(&b, type, body, err)
                           : keyd_frame_encode(&b, type, NULL, 0, err)) != 0)
        goto out;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        rc = warden_err_set(err, WARDEN_EIO, "connect to %s: %s", socket_path, strerror(errno));
        goto out;
    }
    uint8_t h[KEYD_FRAME_HEADER];
    if (write_full(fd, b.p, b.len) != 0 || read_full(fd, h, sizeof h) != 0) {
        rc = warden_err_set(err, WARDEN_EIO, "keyd closed the connection");
        goto out;
    }
    warden_cursor c;
    uint16_t rt;
    uint32_t len;
    warden_cursor_init(&c, h, sizeof h);
    if ((rc = keyd_frame_header(&rt, &len, &c, err)) != 0)
        goto out;
    b.len = 0;
    if (warden_buf_reserve_wipe(&b, len) != 0) { /* b held the request (a document?) */
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if (len > 0 && read_full(fd, b.p, len) != 0) {
        rc = warden_err_set(err, WARDEN_EIO, "keyd closed the connection mid-reply");
        goto out;
    }
    if ((rc = keyd_reply_decode(reply, rt, b.p, len, err)) != 0)
        goto out;
    *is_error = rt == KEYD_MSG_ERROR;
out:
    if (fd >= 0)
        close(fd);
    warden_buf_fini_wipe(&b);
    return rc;
}
