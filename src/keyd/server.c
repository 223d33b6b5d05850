/* keyd's unix-socket service: accept, check the peer's uid (SO_PEERCRED), and give each
 * connection a thread (4 MiB stack: the Cedar parser needs ~1 MiB under ASan) that reads
 * frames through the protocol decoder and answers them in order. A protocol violation
 * closes the connection; it is never "recovered". Also the client call used by the CLI. */
#define _GNU_SOURCE /* accept4, struct ucred */
#include "keyd/keyd_internal.h"
#include "keyd/protocol.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define KEYD_MAX_CONNS 1024
#define KEYD_THREAD_STACK (4u << 20)

typedef struct conn_set {
    pthread_mutex_t mu;
    pthread_cond_t idle;
    int fds[KEYD_MAX_CONNS];
    size_t n;
} conn_set;

typedef struct conn {
    warden_keyd *k;
    conn_set *set;
    int fd;
    warden_keyd_peer peer;
} conn;

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

static const char *kind(int code)
{
    return code == WARDEN_EDENIED                           ? "denied"
           : code == WARDEN_ENOTFOUND                       ? "not_found"
           : code == WARDEN_EEXIST                          ? "exists"
           : code == WARDEN_EIO                             ? "unavailable"
           : code <= WARDEN_EINVAL && code >= WARDEN_ELIMIT ? "invalid"
                                                            : "internal";
}

/* Reads and answers one frame. Returns -1 when the connection must close. */
static int serve_one(conn *c, warden_buf *out, warden_buf *in)
{
    uint8_t h[KEYD_FRAME_HEADER];
    warden_cursor cur;
    warden_err err;
    uint16_t type = 0;
    uint32_t len = 0;
    json_t *body = NULL, *answer = NULL;
    int ret = -1;
    if (read_full(c->fd, h, sizeof h) != 0)
        return -1; /* peer closed */
    warden_cursor_init(&cur, h, sizeof h);
    if (keyd_frame_header(&type, &len, &cur, &err) != 0 || type >= KEYD_MSG_ANSWER) {
        fprintf(stderr, "keyd: protocol violation from pid %ld uid %lu: %s; closing\n",
                (long)c->peer.pid, (unsigned long)c->peer.uid,
                type >= KEYD_MSG_ANSWER ? "a reply sent as a request" : err.msg);
        keyd_violation_log(c->k, &c->peer, h, type >= KEYD_MSG_ANSWER ? WARDEN_EPARSE : err.code,
                           type >= KEYD_MSG_ANSWER ? "reply type sent as a request"
                                                   : "bad frame header");
        return -1;
    }
    in->len = 0;
    if (warden_buf_reserve_wipe(in, len) != 0) /* in may hold an earlier write's document */
        return -1;
    if (len > 0 && read_full(c->fd, in->p, len) != 0)
        return -1;
    in->len = len;
    if (keyd_request_decode(&body, type, in->p, len, &err) != 0) {
        fprintf(stderr, "keyd: protocol violation from pid %ld uid %lu: %s; closing\n",
                (long)c->peer.pid, (unsigned long)c->peer.uid, err.msg);
        keyd_violation_log(c->k, &c->peer, h, err.code,
                           err.code == WARDEN_EPARSE ? "payload is not a JSON object"
                                                     : "payload fields invalid");
        goto out;
    }
    out->len = 0;
    int rc = warden_keyd_handle(&answer, c->k, type, body, &c->peer, &err);
    if (rc == 0) {
        rc = keyd_frame_encode_json(out, KEYD_MSG_ANSWER, answer, &err);
    }
    if (rc != 0) {
        json_t *e = json_pack("{s:i, s:s, s:s}", "code", rc, "kind", kind(rc), "error", err.msg);
        if (e != NULL && answer != NULL) /* a logged refusal: its index */
            (void)json_object_update(e, answer);
        out->len = 0;
        if (e == NULL || keyd_frame_encode_json(out, KEYD_MSG_ERROR, e, &err) != 0) {
            json_decref(e);
            goto out;
        }
        json_decref(e);
    }
    ret = write_full(c->fd, out->p, out->len);
out:
    json_decref(body);
    json_decref(answer);
    return ret;
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    warden_buf out, in;
    warden_buf_init(&out);
    warden_buf_init(&in);
    while (serve_one(c, &out, &in) == 0) {
    }
    /* answers carry plaintext */
    warden_buf_fini_wipe(&out);
    warden_buf_fini_wipe(&in);
    pthread_mutex_lock(&c->set->mu);
    for (size_t i = 0; i < c->set->n; i++)
        if (c->set->fds[i] == c->fd) {
            c->set->fds[i] = c->set->fds[--c->set->n];
            break;
        }
    if (c->set->n == 0)
        pthread_cond_broadcast(&c->set->idle);
    pthread_mutex_unlock(&c->set->mu);
    close(c->fd);
    free(c);
    return NULL;
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

int warden_keyd_serve(warden_keyd *k, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload,
                      warden_err *err)
{
    if (k->cfg.socket_path == NULL)
        return warden_err_set(err, WARDEN_EINVAL, "the config names no \"socket\"");
    conn_set set = {.n = 0};
    pthread_mutex_init(&set.mu, NULL);
    pthread_cond_init(&set.idle, NULL);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, KEYD_THREAD_STACK);
    int lfd = -1;
    int rc = listen_on(&lfd, k->cfg.socket_path, err);
    while (rc == 0 && !*stop) {
        if (*reload) {
            *reload = 0;
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
        struct pollfd pfd = {.fd = lfd, .events = POLLIN};
        int pr = poll(&pfd, 1, 200);
        if (pr <= 0)
            continue; /* timeout or EINTR (a signal): look at the flags again */
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
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
        conn *c = calloc(1, sizeof *c);
        pthread_mutex_lock(&set.mu);
        bool room = set.n < KEYD_MAX_CONNS;
        if (room && c != NULL)
            set.fds[set.n++] = fd;
        pthread_mutex_unlock(&set.mu);
        if (!room || c == NULL) {
            free(c);
            close(fd);
            continue;
        }
        *c = (conn){.k = k, .set = &set, .fd = fd, .peer = {cred.uid, cred.pid}};
        pthread_t t;
        if (pthread_create(&t, &attr, conn_main, c) != 0) {
            pthread_mutex_lock(&set.mu);
            set.fds[--set.n] = -1;
            pthread_mutex_unlock(&set.mu);
            close(fd);
            free(c);
        }
    }
    if (lfd >= 0) {
        close(lfd);
        (void)unlink(k->cfg.socket_path);
    }
    /* Wake every connection blocked in read, then wait until all have finished. */
    pthread_mutex_lock(&set.mu);
    for (size_t i = 0; i < set.n; i++)
        (void)shutdown(set.fds[i], SHUT_RDWR);
    while (set.n > 0)
        pthread_cond_wait(&set.idle, &set.mu);
    pthread_mutex_unlock(&set.mu);
    pthread_attr_destroy(&attr);
    pthread_cond_destroy(&set.idle);
    pthread_mutex_destroy(&set.mu);
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
