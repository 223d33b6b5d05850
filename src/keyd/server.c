/* keyd's unix-socket service: accept, check the peer's uid (SO_PEERCRED), and give each
 * connection a thread (4 MiB stack: the Cedar parser needs ~1 MiB under ASan) that reads
 * frames through the protocol decoder and answers them in order. Pipelined access requests
 * (several frames in one read) share one durable log append and leave in one write; each
 * is still released only after its entry is durable. A protocol violation closes the
 * connection; it is never "recovered". Also the client call used by the CLI. */
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

/* Frames a connection may have in flight at once: one read takes up to this many, their
 * access requests share one durable log append, and their answers leave in one write. */
#define KEYD_PIPELINE_MAX 64
#define KEYD_READ_CHUNK 65536

/* One request of a pipelined group, from its frame to its answer. */
typedef struct pending {
    uint16_t type;
    json_t *body, *answer;
    keyd_access *acc;
    int rc;
    warden_err err;
} pending;

/* Reports a violation on stderr and logs it (refusal.c: header fields only, rate limited). */
static void violation(const conn *c, const uint8_t header[KEYD_FRAME_HEADER], int code,
                      const char *category, const char *why)
{
    fprintf(stderr, "keyd: protocol violation from pid %ld uid %lu: %s; closing\n",
            (long)c->peer.pid, (unsigned long)c->peer.uid, why);
    keyd_violation_log(c->k, &c->peer, header, code, category);
}

/* Access requests q[0..n): decide each, append every audit entry in one group and wait once
 * until all are durable, and only then release each (log-before-release for the group: if
 * the append fails, every one of them answers the error and nothing is performed). */
static void access_group(conn *c, pending *q, size_t n)
{
    const uint8_t *texts[KEYD_PIPELINE_MAX];
    size_t lens[KEYD_PIPELINE_MAX], m = 0;
    for (size_t i = 0; i < n; i++) {
        q[i].rc = keyd_access_begin(&q[i].acc, c->k, q[i].body, &q[i].err);
        if (q[i].rc != 0) /* never decided: log the refusal on its own (refusal.c) */
            q[i].rc = keyd_refusal_log(&q[i].answer, c->k, KEYD_MSG_ACCESS, q[i].body, q[i].rc,
                                       &q[i].err);
        else {
            keyd_access_entry(&texts[m], &lens[m], q[i].acc);
            m++;
        }
    }
    uint64_t first = 0;
    warden_err aerr;
    int arc = m > 0 ? keyd_audit_append_texts(&first, c->k, texts, lens, m, &aerr) : 0;
    for (size_t i = 0; i < n; i++) {
        if (q[i].rc != 0)
            continue;
        if (arc != 0) {
            q[i].rc = arc;
            q[i].err = aerr;
        } else {
            q[i].rc = keyd_access_end(&q[i].answer, q[i].acc, first++, &q[i].err);
        }
    }
}

/* Appends q's answer (or error) frame to out. Returns -1 when even the error cannot be
 * encoded. */
static int encode_answer(warden_buf *out, pending *q)
{
    bool refused = q->rc != 0 && q->answer != NULL;
    if (q->rc == 0 && keyd_frame_encode_json(out, KEYD_MSG_ANSWER, q->answer, &q->err) == 0)
        return 0;
    if (q->rc == 0)
        q->rc = q->err.code;
    json_t *e = json_pack("{s:i, s:s, s:s}", "code", q->rc, "kind", kind(q->rc), "error",
                          q->err.msg);
    if (e != NULL && refused) /* a logged refusal: its decision and log index */
        (void)json_object_update(e, q->answer);
    int ok = e != NULL && keyd_frame_encode_json(out, KEYD_MSG_ERROR, e, &q->err) == 0;
    json_decref(e);
    return ok ? 0 : -1;
}

/* Reads whatever frames the client has sent (at least one), answers them in order and sends
 * the answers in one write. Returns -1 when the connection must close. */
static int serve_some(conn *c, warden_buf *out, warden_buf *in)
{
    pending q[KEYD_PIPELINE_MAX];
    size_t n = 0, used = 0;
    int close_after = 0;
    /* Read until at least one whole frame is buffered; take every whole frame there is. */
    for (;;) {
        warden_cursor cur;
        uint16_t type = 0;
        uint32_t len = 0;
        warden_err err;
        size_t left = in->len - used;
        if (left >= KEYD_FRAME_HEADER) {
            warden_cursor_init(&cur, in->p + used, KEYD_FRAME_HEADER);
            if (keyd_frame_header(&type, &len, &cur, &err) != 0 || type >= KEYD_MSG_ANSWER) {
                bool reply = type >= KEYD_MSG_ANSWER;
                violation(c, in->p + used, reply ? WARDEN_EPARSE : err.code,
                          reply ? "reply type sent as a request" : "bad frame header",
                          reply ? "a reply sent as a request" : err.msg);
                close_after = 1;
                break;
            }
            if (left - KEYD_FRAME_HEADER >= len) {
                const uint8_t *payload = in->p + used + KEYD_FRAME_HEADER;
                pending *p = &q[n];
                memset(p, 0, sizeof *p);
                p->type = type;
                if (keyd_request_decode(&p->body, type, payload, len, &err) != 0) {
                    violation(c, in->p + used, err.code,
                              err.code == WARDEN_EPARSE ? "payload is not a JSON object"
                                                        : "payload fields invalid",
                              err.msg);
                    close_after = 1;
                    break;
                }
                used += KEYD_FRAME_HEADER + (size_t)len;
                if (++n == KEYD_PIPELINE_MAX)
                    break;
                continue;
            }
        }
        if (n > 0)
            break; /* answer what is here before waiting for more */
        /* Need more bytes: the rest of this frame (at most its table maximum), or a chunk. */
        size_t want = left >= KEYD_FRAME_HEADER ? KEYD_FRAME_HEADER + (size_t)len - left : 0;
        if (want < KEYD_READ_CHUNK)
            want = KEYD_READ_CHUNK;
        if (used > 0) {
            memmove(in->p, in->p + used, left);
            in->len = left;
            used = 0;
        }
        if (warden_buf_reserve_wipe(in, want) != 0) /* in may hold a write's document */
            return -1;
        ssize_t r;
        do
            r = read(c->fd, in->p + in->len, in->cap - in->len);
        while (r < 0 && errno == EINTR);
        if (r <= 0)
            return -1; /* peer closed */
        in->len += (size_t)r;
    }
    /* Answer in order; consecutive access requests form one logged group. */
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && q[j].type == KEYD_MSG_ACCESS)
            j++;
        if (j > i) {
            access_group(c, &q[i], j - i);
            i = j;
            continue;
        }
        q[i].rc = warden_keyd_handle(&q[i].answer, c->k, q[i].type, q[i].body, &c->peer,
                                     &q[i].err);
        i++;
    }
    out->len = 0;
    int ret = 0;
    for (size_t i = 0; i < n; i++) {
        if (ret == 0 && encode_answer(out, &q[i]) != 0)
            ret = -1;
        json_decref(q[i].body);
        json_decref(q[i].answer);
        keyd_access_free(q[i].acc);
    }
    if (out->len > 0 && write_full(c->fd, out->p, out->len) != 0)
        ret = -1;
    /* answers carry plaintext: do not leave it in the buffer between requests */
    warden_wipe(out->p, out->len);
    memmove(in->p, in->p + used, in->len - used);
    in->len -= used;
    return close_after ? -1 : ret;
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    warden_buf out, in;
    warden_buf_init(&out);
    warden_buf_init(&in);
    while (serve_some(c, &out, &in) == 0) {
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
