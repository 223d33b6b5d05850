/* A pipelining client of keyd for long-lived callers (the gateway): a few persistent unix-
 * socket connections, each carrying many requests at once, and one I/O thread that reads the
 * answers and hands each to its caller's callback. keyd answers a connection's requests in
 * order, so each connection keeps a FIFO of the requests it has sent; an answer belongs to the
 * FIFO's head and nothing else.
 * Invariants: only the I/O thread reads a connection or closes it; any failure on a connection
 * (send or read error, EOF, a malformed frame, an answer nobody asked for, the head request
 * past its deadline) closes it and fails every request in its FIFO with WARDEN_EIO, since the
 * stream position is then unknown; every submitted request gets exactly one callback. */
#include "keyd/keyd_internal.h"
#include "keyd/protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

_Static_assert((int)WARDEN_KEYD_MSG_ACCESS == (int)KEYD_MSG_ACCESS &&
                   (int)WARDEN_KEYD_MSG_REGISTER == (int)KEYD_MSG_REGISTER &&
                   (int)WARDEN_KEYD_MSG_SHRED == (int)KEYD_MSG_SHRED &&
                   (int)WARDEN_KEYD_MSG_STATUS == (int)KEYD_MSG_STATUS &&
                   (int)WARDEN_KEYD_MSG_INVENTORY == (int)KEYD_MSG_INVENTORY,
               "public message numbers must match the protocol table");

/* Bytes the I/O thread asks for per read: many pipelined answers at once. */
#define KC_READ_CHUNK 65536
#define KC_EVENTS 32
#define KC_TICK_MS 100

/* One request sent and not yet answered. */
typedef struct kc_req {
    struct kc_req *next;
    warden_keyd_done_fn *done;
    void *arg;
    int64_t deadline_ms; /* CLOCK_MONOTONIC */
} kc_req;

typedef struct kc_conn {
    pthread_mutex_t mu;
    int fd;              /* -1: not connected (dialled by the next submit) */
    bool broken;         /* a send failed: the I/O thread closes it */
    bool want_out;       /* EPOLLOUT armed: out holds bytes keyd has not taken yet */
    kc_req *head, *tail; /* sent, in order */
    atomic_uint n;       /* requests in the FIFO */
    warden_buf out;      /* frames not yet sent (requests carry documents: wiped) */
    warden_buf in;       /* the I/O thread's: answer bytes not yet consumed (wiped) */
} kc_conn;

struct warden_keyd_client {
    struct sockaddr_un sa;
    unsigned timeout_ms;
    int ep, evfd;
    pthread_t io;
    bool io_started;
    kc_conn *conns;
    unsigned n_conns;
    pthread_mutex_t mu; /* guards in_flight, closing, stop */
    pthread_cond_t drained;
    unsigned long in_flight; /* submitted and not yet called back */
    bool closing;            /* no new submits */
    bool stop;               /* the I/O thread exits */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wake(warden_keyd_client *c)
{
    uint64_t one = 1;
    ssize_t w = write(c->evfd, &one, sizeof one);
    (void)w; /* a full counter already means "wake up" */
}

/* One request fewer in flight. */
static void release(warden_keyd_client *c)
{
    pthread_mutex_lock(&c->mu);
    if (--c->in_flight == 0)
        pthread_cond_broadcast(&c->drained);
    pthread_mutex_unlock(&c->mu);
}

/* Calls r back (payload: the answer's bytes, or NULL on failure) and frees it. */
static void finish(warden_keyd_client *c, kc_req *r, int rc, uint16_t type, warden_buf *payload,
                   const warden_err *err)
{
    r->done(r->arg, rc, type, payload, err);
    free(r);
    release(c);
}

/* Closes k's connection and fails every request it carried with why. I/O thread only. */
static void conn_fail(warden_keyd_client *c, kc_conn *k, const char *why)
{
    warden_err err;
    warden_err_set(&err, WARDEN_EIO, "keyd connection lost: %s", why);
    pthread_mutex_lock(&k->mu);
    kc_req *r = k->head;
    k->head = k->tail = NULL;
    atomic_store(&k->n, 0);
    if (k->fd >= 0) {
        (void)epoll_ctl(c->ep, EPOLL_CTL_DEL, k->fd, NULL);
        close(k->fd);
    }
    k->fd = -1;
    k->broken = k->want_out = false;
    warden_wipe(k->out.p, k->out.len);
    k->out.len = 0;
    pthread_mutex_unlock(&k->mu);
    warden_wipe(k->in.p, k->in.len);
    k->in.len = 0;
    while (r != NULL) {
        kc_req *next = r->next;
        finish(c, r, WARDEN_EIO, 0, NULL, &err);
        r = next;
    }
}

/* Sends what k->out holds without blocking; arms EPOLLOUT for the rest. Under k->mu. */
static void conn_flush(warden_keyd_client *c, kc_conn *k, uint32_t idx)
{
    size_t off = 0;
    while (off < k->out.len) {
        ssize_t w = send(k->fd, k->out.p + off, k->out.len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w <= 0) {
            k->broken = true;
            wake(c);
            return;
        }
        off += (size_t)w;
    }
    warden_wipe(k->out.p, off);
    memmove(k->out.p, k->out.p + off, k->out.len - off);
    k->out.len -= off;
    bool want = k->out.len > 0;
    if (want != k->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.u32 = idx + 1};
        if (epoll_ctl(c->ep, EPOLL_CTL_MOD, k->fd, &ev) != 0) {
            k->broken = true;
            wake(c);
            return;
        }
        k->want_out = want;
    }
}

/* Hands out every whole answer frame in k->in to the head of k's FIFO. Returns NULL, or why
 * the connection must close. I/O thread only. */
static const char *conn_deliver(warden_keyd_client *c, kc_conn *k)
{
    size_t used = 0;
    const char *why = NULL;
    while (k->in.len - used >= KEYD_FRAME_HEADER) {
        warden_cursor cur;
        uint16_t rt = 0;
        uint32_t len = 0;
        warden_err err;
        warden_cursor_init(&cur, k->in.p + used, KEYD_FRAME_HEADER);
        if (keyd_frame_header(&rt, &len, &cur, &err) != 0 ||
            (rt != KEYD_MSG_ANSWER && rt != KEYD_MSG_ERROR)) {
            why = "keyd sent a malformed frame";
            break;
        }
        if (k->in.len - used - KEYD_FRAME_HEADER < len)
            break;
        pthread_mutex_lock(&k->mu);
        kc_req *r = k->head;
        if (r != NULL) {
            k->head = r->next;
            if (k->head == NULL)
                k->tail = NULL;
            atomic_fetch_sub(&k->n, 1);
        }
        pthread_mutex_unlock(&k->mu);
        if (r == NULL) {
            why = "keyd sent an answer nobody asked for";
            break;
        }
        /* the caller decodes (warden_keyd_reply_decode) on its own thread */
        warden_buf payload;
        warden_buf_init(&payload);
        if (warden_buf_append(&payload, k->in.p + used + KEYD_FRAME_HEADER, len) != 0) {
            warden_err_set(&err, WARDEN_ENOMEM, "out of memory");
            finish(c, r, WARDEN_ENOMEM, 0, NULL, &err);
        } else {
            finish(c, r, 0, rt, &payload, NULL);
        }
        warden_buf_fini_wipe(&payload); /* unless the callee took it */
        used += KEYD_FRAME_HEADER + (size_t)len;
    }
    /* answers carry plaintext: wipe what was consumed */
    warden_wipe(k->in.p, used);
    memmove(k->in.p, k->in.p + used, k->in.len - used);
    warden_wipe(k->in.p + (k->in.len - used), used);
    k->in.len -= used;
    return why;
}

/* Reads what keyd has sent on k. Returns NULL, or why the connection must close. */
static const char *conn_read(warden_keyd_client *c, kc_conn *k, int fd)
{
    size_t want = KC_READ_CHUNK;
    if (k->in.len >= KEYD_FRAME_HEADER) { /* the rest of a large frame, in one go */
        uint32_t len = (uint32_t)k->in.p[0] << 24 | (uint32_t)k->in.p[1] << 16 |
                       (uint32_t)k->in.p[2] << 8 | k->in.p[3];
        if (KEYD_FRAME_HEADER + (size_t)len > k->in.len + want)
            want = KEYD_FRAME_HEADER + (size_t)len - k->in.len;
    }
    if (warden_buf_reserve_wipe(&k->in, want) != 0)
        return "out of memory";
    ssize_t r;
    do
        r = read(fd, k->in.p + k->in.len, k->in.cap - k->in.len);
    while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return NULL;
    if (r == 0)
        return "keyd closed the connection";
    if (r < 0)
        return "read error";
    k->in.len += (size_t)r;
    return conn_deliver(c, k);
}

static void *io_main(void *arg)
{
    warden_keyd_client *c = arg;
    struct epoll_event ev[KC_EVENTS];
    for (;;) {
        /* wait until the earliest deadline of a FIFO head (heads are the oldest), or at most
         * KC_TICK_MS: a request sent to an empty FIFO meanwhile does not wake this thread, so
         * a deadline may be noticed up to that late */
        int64_t now = now_ms(), wait_ms = KC_TICK_MS;
        for (unsigned i = 0; i < c->n_conns; i++) {
            kc_conn *k = &c->conns[i];
            pthread_mutex_lock(&k->mu);
            if (k->head != NULL && k->head->deadline_ms - now < wait_ms)
                wait_ms = k->head->deadline_ms - now;
            pthread_mutex_unlock(&k->mu);
        }
        int n = epoll_wait(c->ep, ev, KC_EVENTS, wait_ms < 0 ? 0 : (int)wait_ms + 1);
        for (int e = 0; e < n; e++) {
            uint32_t id = ev[e].data.u32;
            if (id == 0) {
                uint64_t v;
                ssize_t r = read(c->evfd, &v, sizeof v);
                (void)r;
                continue;
            }
            kc_conn *k = &c->conns[id - 1];
            pthread_mutex_lock(&k->mu);
            int fd = k->fd;
            if (fd >= 0 && (ev[e].events & EPOLLOUT) && k->want_out)
                conn_flush(c, k, id - 1);
            pthread_mutex_unlock(&k->mu);
            const char *why = NULL;
            if (fd >= 0 && (ev[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                why = conn_read(c, k, fd);
            if (why != NULL)
                conn_fail(c, k, why);
        }
        now = now_ms();
        for (unsigned i = 0; i < c->n_conns; i++) {
            kc_conn *k = &c->conns[i];
            pthread_mutex_lock(&k->mu);
            bool broken = k->broken;
            bool late = k->head != NULL && k->head->deadline_ms <= now;
            pthread_mutex_unlock(&k->mu);
            if (broken)
                conn_fail(c, k, "cannot send to keyd");
            else if (late)
                conn_fail(c, k, "keyd did not answer in time");
        }
        pthread_mutex_lock(&c->mu);
        bool stop = c->stop;
        pthread_mutex_unlock(&c->mu);
        if (stop)
            break;
    }
    for (unsigned i = 0; i < c->n_conns; i++)
        conn_fail(c, &c->conns[i], "the client is closing");
    return NULL;
}

int warden_keyd_client_new(warden_keyd_client **out, const char *socket_path, unsigned max_conns,
                           unsigned timeout_ms, warden_err *err)
{
    *out = NULL;
    size_t n = strlen(socket_path);
    warden_keyd_client *c;
    int rc = 0;
    if (max_conns == 0 || max_conns > 1024 || timeout_ms == 0)
        return warden_err_set(err, WARDEN_EINVAL,
                              "keyd client: connections must be 1..1024 and the timeout > 0");
    if (n == 0 || n >= sizeof c->sa.sun_path)
        return warden_err_set(err, WARDEN_EINVAL, "socket path too long or empty: %.200s",
                              socket_path);
    if ((c = calloc(1, sizeof *c)) == NULL ||
        (c->conns = calloc(max_conns, sizeof *c->conns)) == NULL) {
        free(c);
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
    c->sa.sun_family = AF_UNIX;
    memcpy(c->sa.sun_path, socket_path, n + 1);
    c->n_conns = max_conns;
    c->timeout_ms = timeout_ms;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->drained, NULL);
    for (unsigned i = 0; i < max_conns; i++) {
        pthread_mutex_init(&c->conns[i].mu, NULL);
        c->conns[i].fd = -1;
        atomic_init(&c->conns[i].n, 0);
        warden_buf_init(&c->conns[i].out);
        warden_buf_init(&c->conns[i].in);
    }
    c->ep = epoll_create1(EPOLL_CLOEXEC);
    c->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
    if (c->ep < 0 || c->evfd < 0 || epoll_ctl(c->ep, EPOLL_CTL_ADD, c->evfd, &ev) != 0) {
        rc = warden_err_set(err, WARDEN_EIO, "keyd client: epoll: %s", strerror(errno));
        goto out;
    }
    if (pthread_create(&c->io, NULL, io_main, c) != 0) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "keyd client: cannot start its I/O thread");
        goto out;
    }
    c->io_started = true;
    *out = c;
    c = NULL;
out:
    warden_keyd_client_free(c);
    return rc;
}

void warden_keyd_client_close(warden_keyd_client *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->closing = true;
    /* each request in flight ends by its deadline at the latest */
    while (c->in_flight > 0)
        pthread_cond_wait(&c->drained, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

void warden_keyd_client_free(warden_keyd_client *c)
{
    if (c == NULL)
        return;
    warden_keyd_client_close(c);
    if (c->io_started) {
        pthread_mutex_lock(&c->mu);
        c->stop = true;
        pthread_mutex_unlock(&c->mu);
        wake(c);
        (void)pthread_join(c->io, NULL);
    }
    for (unsigned i = 0; i < c->n_conns; i++) {
        kc_conn *k = &c->conns[i];
        if (k->fd >= 0)
            close(k->fd);
        warden_buf_fini_wipe(&k->out);
        warden_buf_fini_wipe(&k->in);
        pthread_mutex_destroy(&k->mu);
    }
    if (c->ep >= 0)
        close(c->ep);
    if (c->evfd >= 0)
        close(c->evfd);
    pthread_cond_destroy(&c->drained);
    pthread_mutex_destroy(&c->mu);
    free(c->conns);
    free(c);
}

/* Connects k (under k->mu) and registers it with the I/O thread. */
static int conn_dial(warden_keyd_client *c, kc_conn *k, uint32_t idx, warden_err *err)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&c->sa, sizeof c->sa) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        /* a non-blocking connect to a unix socket completes at once or fails (EAGAIN: keyd's
         * backlog is full, so it is not keeping up) */
        return warden_err_set(err, WARDEN_EIO, "connect to %s: %s", c->sa.sun_path, strerror(e));
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = idx + 1};
    if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        return warden_err_set(err, WARDEN_EIO, "keyd client: epoll: %s", strerror(errno));
    }
    k->fd = fd;
    k->want_out = false;
    return 0;
}

int warden_keyd_client_submit(warden_keyd_client *c, uint16_t type, const json_t *body,
                              warden_keyd_done_fn *done, void *arg, warden_err *err)
{
    warden_buf req;
    warden_buf_init(&req);
    kc_req *r = NULL;
    int rc;
    if ((rc = body != NULL ? keyd_frame_encode_json(&req, type, body, err)
                           : keyd_frame_encode(&req, type, NULL, 0, err)) != 0)
        goto out;
    if ((r = calloc(1, sizeof *r)) == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    r->done = done;
    r->arg = arg;
    r->deadline_ms = now_ms() + c->timeout_ms;
    pthread_mutex_lock(&c->mu);
    bool closing = c->closing;
    if (!closing)
        c->in_flight++;
    pthread_mutex_unlock(&c->mu);
    if (closing) {
        rc = warden_err_set(err, WARDEN_EIO, "the gateway is shutting down");
        goto out;
    }
    /* the least busy connection: one alone while load is light, all evenly under load */
    unsigned best = 0, best_n = atomic_load(&c->conns[0].n);
    for (unsigned i = 1; i < c->n_conns && best_n > 0; i++) {
        unsigned n = atomic_load(&c->conns[i].n);
        if (n < best_n)
            best = i, best_n = n;
    }
    kc_conn *k = &c->conns[best];
    pthread_mutex_lock(&k->mu);
    if (k->broken) /* the I/O thread has not closed it yet */
        rc = warden_err_set(err, WARDEN_EIO, "keyd connection lost: cannot send to keyd");
    else if (k->fd < 0)
        rc = conn_dial(c, k, best, err);
    if (rc == 0 && warden_buf_append(&k->out, req.p, req.len) != 0)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    if (rc == 0) {
        if (k->tail != NULL)
            k->tail->next = r;
        else
            k->head = r;
        k->tail = r;
        atomic_fetch_add(&k->n, 1);
        r = NULL; /* the I/O thread's now */
        if (!k->want_out)
            conn_flush(c, k, best);
    }
    pthread_mutex_unlock(&k->mu);
    if (rc != 0)
        release(c);
out:
    free(r);
    warden_buf_fini_wipe(&req); /* requests carry documents */
    return rc;
}

/* warden_keyd_client_call's rendezvous with the I/O thread. */
typedef struct kc_sync {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int rc;
    uint16_t type;
    warden_buf payload;
    warden_err err;
} kc_sync;

static void sync_done(void *arg, int rc, uint16_t type, warden_buf *payload, const warden_err *err)
{
    kc_sync *s = arg;
    pthread_mutex_lock(&s->mu);
    s->rc = rc;
    s->type = type;
    if (payload != NULL) {
        s->payload = *payload;
        warden_buf_init(payload);
    }
    if (err != NULL)
        s->err = *err;
    s->done = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int warden_keyd_client_call(json_t **reply, int *is_error, warden_keyd_client *c, uint16_t type,
                            const json_t *body, warden_err *err)
{
    kc_sync s = {.done = false};
    warden_buf_init(&s.payload);
    *reply = NULL;
    *is_error = 0;
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    int rc = warden_keyd_client_submit(c, type, body, sync_done, &s, err);
    if (rc == 0) {
        pthread_mutex_lock(&s.mu);
        while (!s.done)
            pthread_cond_wait(&s.cv, &s.mu);
        pthread_mutex_unlock(&s.mu);
        rc = s.rc;
        if (rc != 0 && err != NULL)
            *err = s.err;
        if (rc == 0)
            rc = warden_keyd_reply_decode(reply, is_error, s.type, s.payload.p, s.payload.len, err);
    }
    warden_buf_fini_wipe(&s.payload);
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
    return rc;
}

int warden_keyd_reply_decode(json_t **reply, int *is_error, uint16_t type, const uint8_t *p,
                             size_t len, warden_err *err)
{
    *is_error = type == KEYD_MSG_ERROR;
    return keyd_reply_decode(reply, type, p, len, err);
}

int warden_keyd_config_paths(char **socket_path, char **log_dir, const char *config_path,
                             warden_err *err)
{
    keyd_config cfg;
    *socket_path = *log_dir = NULL;
    int rc = keyd_config_load(&cfg, config_path, err);
    if (rc != 0)
        return rc;
    if (cfg.socket_path == NULL) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: names no \"socket\"", config_path);
    } else if ((*socket_path = strdup(cfg.socket_path)) == NULL ||
               (*log_dir = strdup(cfg.log_dir)) == NULL) {
        free(*socket_path);
        *socket_path = NULL;
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
    keyd_config_fini(&cfg);
    return rc;
}
