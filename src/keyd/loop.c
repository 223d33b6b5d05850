/* keyd's worker threads: each serves its connections with one epoll loop (non-blocking
 * sockets), so that 64 clients cost a few threads instead of 64 threads woken one by one.
 *
 * One turn of a worker: read what its ready connections have sent; take the leading access
 * requests of each (up to KEYD_PIPELINE_MAX per connection, KEYD_GROUP_MAX in all), decide
 * them all, append all their audit entries with ONE durable log append, and only after that
 * append returned perform and answer each (log-before-release for the whole group: if the
 * append fails, every request of the group answers "unavailable" and nothing is performed).
 * Then each connection whose next request is of another type gets that one answered on its
 * own. Answers are queued per connection in request order and sent without blocking; what a
 * slow reader does not take waits for EPOLLOUT, and while more than KEYD_OUT_HIGH bytes wait
 * keyd reads nothing more from it, so one stalled client never holds up the others.
 *
 * Every received byte goes through the protocol decoder (protocol.c). A violation is logged
 * (refusal.c) and closes that connection after the answers to its earlier requests are
 * sent; it is never recovered, and no other connection notices. */
#define _GNU_SOURCE
#include "keyd/loop.h"
#include "keyd/protocol.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define KEYD_WORKER_STACK (4u << 20)
/* Frames one connection may have decided in one turn (its pipeline depth per group). */
#define KEYD_PIPELINE_MAX 64
/* Access requests of all connections in one group: one log append. */
#define KEYD_GROUP_MAX 1024
#define KEYD_READ_CHUNK 65536
/* Buffered request bytes above which keyd stops reading a connection (unless one frame
 * needs more: a 32 MiB IMPORT is read whole). */
#define KEYD_IN_HIGH (256u << 10)
/* Unsent answer bytes above which keyd stops reading (and deciding for) a connection. */
#define KEYD_OUT_HIGH (1u << 20)
#define KEYD_EVENTS 128

typedef struct kconn {
    int fd;
    warden_keyd_peer peer;
    warden_buf in; /* received; in.p[in_off..in.len) not yet decoded */
    size_t in_off;
    warden_buf out; /* answers; out.p[out_off..out.len) not yet sent (plaintext: wiped) */
    size_t out_off;
    bool rd_closed;   /* EOF or a violation: read no more, close once out is sent */
    bool dead;        /* I/O error: close now */
    bool ready;       /* in the worker's ready list: may hold a whole frame */
    bool touched;     /* in the worker's touched list: settle() after this turn */
    uint32_t events;  /* the epoll interest set now */
    struct kconn *prev, *next; /* every connection of the worker */
    struct kconn *rnext;       /* ready list */
} kconn;

/* One request of a group, from its frame to its answer. */
typedef struct pending {
    kconn *c;
    uint16_t type;
    json_t *body, *answer;
    keyd_access *acc;
    int rc;
    warden_err err;
} pending;

struct keyd_worker {
    warden_keyd *k;
    pthread_t thread;
    int epfd, wakefd;
    pthread_mutex_t mu; /* guards inbox, n_conns and stop */
    kconn *inbox;
    size_t n_conns;
    int stop;
    kconn *all;   /* worker-only from here on */
    kconn *ready; /* LIFO; order across connections does not matter */
    kconn **touched;
    size_t n_touched;
    pending q[KEYD_GROUP_MAX];
    const uint8_t *texts[KEYD_GROUP_MAX];
    size_t lens[KEYD_GROUP_MAX];
};

static const char *kind(int code)
{
    return code == WARDEN_EDENIED                           ? "denied"
           : code == WARDEN_ENOTFOUND                       ? "not_found"
           : code == WARDEN_EEXIST                          ? "exists"
           : code == WARDEN_EIO                             ? "unavailable"
           : code <= WARDEN_EINVAL && code >= WARDEN_ELIMIT ? "invalid"
                                                            : "internal";
}

static void touch(keyd_worker *w, kconn *c)
{
    if (!c->touched) {
        c->touched = true;
        w->touched[w->n_touched++] = c;
    }
}

static void make_ready(keyd_worker *w, kconn *c)
{
    if (!c->ready) {
        c->ready = true;
        c->rnext = w->ready;
        w->ready = c;
    }
}

/* Reports a violation on stderr, logs it (refusal.c: header fields only, rate limited) and
 * stops reading c: it closes once the answers to its earlier requests are sent. */
static void violation(keyd_worker *w, kconn *c, const uint8_t header[KEYD_FRAME_HEADER], int code,
                      const char *category, const char *why)
{
    fprintf(stderr, "keyd: protocol violation from pid %ld uid %lu: %s; closing\n",
            (long)c->peer.pid, (unsigned long)c->peer.uid, why);
    keyd_violation_log(w->k, &c->peer, header, code, category);
    c->rd_closed = true;
    c->in_off = c->in.len; /* nothing after a violation is ever decoded */
}

enum { FRAME_NONE, FRAME_WHOLE, FRAME_BAD };

/* Looks at c's next frame: FRAME_WHOLE (*type, *len set), FRAME_NONE (not all here yet;
 * *len is the payload length when the header is), or FRAME_BAD (a violation, handled). */
static int frame_peek(keyd_worker *w, kconn *c, uint16_t *type, uint32_t *len)
{
    size_t left = c->in.len - c->in_off;
    *len = 0;
    if (c->rd_closed && c->in_off == c->in.len)
        return FRAME_NONE;
    if (left < KEYD_FRAME_HEADER)
        return FRAME_NONE;
    const uint8_t *h = c->in.p + c->in_off;
    warden_cursor cur;
    warden_err err;
    warden_cursor_init(&cur, h, KEYD_FRAME_HEADER);
    *type = 0;
    if (keyd_frame_header(type, len, &cur, &err) != 0 || *type >= KEYD_MSG_ANSWER) {
        if (*type >= KEYD_MSG_ANSWER)
            violation(w, c, h, WARDEN_EPARSE, "reply type sent as a request",
                      "a reply sent as a request");
        else
            violation(w, c, h, err.code, "bad frame header", err.msg);
        return FRAME_BAD;
    }
    return left - KEYD_FRAME_HEADER >= *len ? FRAME_WHOLE : FRAME_NONE;
}

/* Decodes c's next (whole) frame into p. Returns -1 on a violation (handled). */
static int frame_take(keyd_worker *w, kconn *c, pending *p, uint16_t type, uint32_t len)
{
    const uint8_t *h = c->in.p + c->in_off;
    warden_err err;
    memset(p, 0, sizeof *p);
    p->c = c;
    p->type = type;
    if (keyd_request_decode(&p->body, type, h + KEYD_FRAME_HEADER, len, &err) != 0) {
        violation(w, c, h, err.code,
                  err.code == WARDEN_EPARSE ? "payload is not a JSON object"
                                            : "payload fields invalid",
                  err.msg);
        return -1;
    }
    c->in_off += KEYD_FRAME_HEADER + (size_t)len;
    return 0;
}

/* Appends q's answer (or error) frame to its connection's output. On failure even to encode
 * the error, the connection is dropped: it must never miss an answer and go on. */
static void encode_answer(pending *q)
{
    warden_buf *out = &q->c->out;
    bool refused = q->rc != 0 && q->answer != NULL;
    if (q->rc == 0 && keyd_frame_encode_json(out, KEYD_MSG_ANSWER, q->answer, &q->err) == 0)
        return;
    if (q->rc == 0)
        q->rc = q->err.code;
    json_t *e = json_pack("{s:i, s:s, s:s}", "code", q->rc, "kind", kind(q->rc), "error",
                          q->err.msg);
    if (e != NULL && refused) /* a logged refusal: its decision and log index */
        (void)json_object_update(e, q->answer);
    if (e == NULL || keyd_frame_encode_json(out, KEYD_MSG_ERROR, e, &q->err) != 0)
        q->c->dead = true;
    json_decref(e);
}

static void pending_fini(pending *q)
{
    json_decref(q->body);
    json_decref(q->answer);
    keyd_access_free(q->acc);
    q->body = q->answer = NULL;
    q->acc = NULL;
}

/* Access requests q[0..n) of any connections: decide each, append every audit entry in one
 * group and wait once until all are durable, and only then perform and answer each. If the
 * append fails, every one of them answers the error and nothing is performed. */
static void access_group(keyd_worker *w, pending *q, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        q[i].rc = keyd_access_begin(&q[i].acc, w->k, q[i].body, &q[i].err);
        if (q[i].rc != 0) /* never decided: log the refusal on its own (refusal.c) */
            q[i].rc = keyd_refusal_log(&q[i].answer, w->k, KEYD_MSG_ACCESS, q[i].body, q[i].rc,
                                       &q[i].err);
        else {
            keyd_access_entry(&w->texts[m], &w->lens[m], q[i].acc);
            m++;
        }
    }
    uint64_t first = 0;
    warden_err aerr;
    /* DURABLE: every entry of the group, or none may be released. */
    int arc = m > 0 ? keyd_audit_append_texts(&first, w->k, w->texts, w->lens, m, &aerr) : 0;
    for (size_t i = 0; i < n; i++) {
        if (q[i].rc == 0) {
            if (arc != 0) {
                q[i].rc = arc;
                q[i].err = aerr;
            } else {
                q[i].rc = keyd_access_end(&q[i].answer, q[i].acc, first++, &q[i].err);
            }
        }
        encode_answer(&q[i]);
        pending_fini(&q[i]);
        touch(w, q[i].c);
    }
}

/* One turn over the ready connections: one group of their leading access requests, then at
 * most one request of another type from each connection whose next request is one. */
static void serve_turn(keyd_worker *w)
{
    size_t n = 0;
    kconn *list = w->ready, *keep = NULL, *skip = NULL, *c = list;
    w->ready = NULL;
    for (kconn *r = list; r != NULL; r = r->rnext)
        r->ready = false;
    for (; c != NULL && n < KEYD_GROUP_MAX; c = c->rnext) {
        if (c->dead || c->out.len - c->out_off > KEYD_OUT_HIGH)
            continue; /* a slow reader: resumes when its answers drain (settle) */
        for (size_t taken = 0; taken < KEYD_PIPELINE_MAX && n < KEYD_GROUP_MAX; taken++) {
            uint16_t type;
            uint32_t len;
            if (frame_peek(w, c, &type, &len) != FRAME_WHOLE || type != KEYD_MSG_ACCESS)
                break;
            if (frame_take(w, c, &w->q[n], type, len) != 0)
                break;
            n++;
        }
        touch(w, c);
    }
    kconn *unreached = c; /* the group was full before these: they go first next turn */
    if (n > 0)
        access_group(w, w->q, n);
    /* Requests of other types, one per connection, each on its own (as before the group). */
    bool reached = true;
    for (kconn *next; (c = list) != NULL; list = next) {
        next = c->rnext;
        if (c == unreached)
            reached = false;
        uint16_t type;
        uint32_t len;
        touch(w, c);
        if (c->dead || c->out.len - c->out_off > KEYD_OUT_HIGH)
            continue;
        int f = frame_peek(w, c, &type, &len);
        if (f == FRAME_WHOLE && type != KEYD_MSG_ACCESS) {
            pending *p = &w->q[0];
            if (frame_take(w, c, p, type, len) == 0) {
                p->rc = warden_keyd_handle(&p->answer, w->k, p->type, p->body, &c->peer, &p->err);
                encode_answer(p);
                pending_fini(p);
            }
            f = frame_peek(w, c, &type, &len);
        }
        if (f == FRAME_WHOLE && reached) { /* more to do next turn */
            c->rnext = keep;
            keep = c;
        } else if (f == FRAME_WHOLE) {
            c->rnext = skip;
            skip = c;
        }
    }
    for (kconn *next; (c = keep) != NULL; keep = next) {
        next = c->rnext;
        make_ready(w, c);
    }
    for (kconn *next; (c = skip) != NULL; skip = next) { /* pushed last: first next turn */
        next = c->rnext;
        make_ready(w, c);
    }
}

/* Reads what c has sent, up to KEYD_IN_HIGH buffered bytes or the whole of a larger frame. */
static void fill(keyd_worker *w, kconn *c)
{
    while (!c->rd_closed && !c->dead) {
        size_t left = c->in.len - c->in_off;
        uint16_t type;
        uint32_t len;
        int f = frame_peek(w, c, &type, &len);
        if (f == FRAME_BAD)
            break;
        if (f == FRAME_WHOLE && left >= KEYD_IN_HIGH)
            break; /* enough buffered: decide those first (never while a frame is partial) */
        size_t want = KEYD_READ_CHUNK;
        if (f == FRAME_NONE && left >= KEYD_FRAME_HEADER &&
            KEYD_FRAME_HEADER + (size_t)len - left > want)
            want = KEYD_FRAME_HEADER + (size_t)len - left; /* within the type's table maximum */
        if (c->in_off > 0) {
            memmove(c->in.p, c->in.p + c->in_off, left);
            c->in.len = left;
            c->in_off = 0;
        }
        if (warden_buf_reserve_wipe(&c->in, want) != 0) { /* in may hold a document */
            c->dead = true;
            break;
        }
        size_t room = c->in.cap - c->in.len;
        ssize_t r = read(c->fd, c->in.p + c->in.len, room);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (r <= 0) {
            c->rd_closed = true; /* peer closed (or reset): answer what is whole, then close */
            break;
        }
        c->in.len += (size_t)r;
        /* A short read emptied the socket: skip the read that would only say EAGAIN (epoll is
         * level-triggered, so bytes arriving meanwhile are reported again). */
        if ((size_t)r < room)
            break;
    }
    make_ready(w, c);
    touch(w, c);
}

/* Sends as much of c's queued answers as the socket takes now. */
static void flush(kconn *c)
{
    while (!c->dead && c->out_off < c->out.len) {
        ssize_t s = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (s < 0 && errno == EINTR)
            continue;
        if (s < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (s <= 0) {
            c->dead = true;
            break;
        }
        c->out_off += (size_t)s;
    }
    /* answers carry plaintext: do not leave sent ones in the buffer */
    if (c->out_off == c->out.len || c->dead) {
        warden_wipe(c->out.p, c->out.len);
        c->out.len = c->out_off = 0;
    } else if (c->out_off >= KEYD_OUT_HIGH && c->out_off >= c->out.len - c->out_off) {
        /* compact only once the sent part outweighs the rest: linear in a huge answer */
        size_t left = c->out.len - c->out_off;
        memmove(c->out.p, c->out.p + c->out_off, left);
        warden_wipe(c->out.p + left, c->out.len - left);
        c->out.len = left;
        c->out_off = 0;
    }
}

static void conn_close(keyd_worker *w, kconn *c)
{
    (void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->all = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    warden_buf_fini_wipe(&c->in);
    warden_buf_fini_wipe(&c->out);
    free(c);
    pthread_mutex_lock(&w->mu);
    w->n_conns--;
    pthread_mutex_unlock(&w->mu);
}

/* After a turn: sends c's answers, closes it when it is finished, and sets what epoll
 * watches for it: output space while answers wait, input while it may take more; puts it
 * back on the ready list when a whole frame waits. Returns false when c was closed. */
static bool settle(keyd_worker *w, kconn *c)
{
    c->touched = false;
    flush(c);
    size_t unsent = c->out.len - c->out_off;
    bool whole = false;
    if (!c->dead && unsent <= KEYD_OUT_HIGH) {
        uint16_t type;
        uint32_t len;
        whole = frame_peek(w, c, &type, &len) == FRAME_WHOLE; /* may find a violation */
    }
    if (c->dead || (c->rd_closed && unsent == 0 && !whole)) {
        if (c->ready) { /* unlink from the ready list before freeing */
            kconn **pp = &w->ready;
            while (*pp != c)
                pp = &(*pp)->rnext;
            *pp = c->rnext;
        }
        conn_close(w, c);
        return false;
    }
    uint32_t ev = unsent > 0 ? EPOLLOUT : 0;
    if (!c->rd_closed && unsent <= KEYD_OUT_HIGH &&
        (c->in.len - c->in_off < KEYD_IN_HIGH || !whole))
        ev |= EPOLLIN;
    if (whole)
        make_ready(w, c);
    if (ev != c->events) {
        struct epoll_event e = {.events = ev, .data.ptr = c};
        if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &e) != 0) {
            c->dead = true;
            return settle(w, c);
        }
        c->events = ev;
    }
    return true;
}

static void settle_touched(keyd_worker *w)
{
    size_t n = w->n_touched;
    w->n_touched = 0;
    for (size_t i = 0; i < n; i++)
        (void)settle(w, w->touched[i]);
}

/* Takes the connections the accepting thread handed over. Returns the stop flag. */
static int adopt_inbox(keyd_worker *w)
{
    uint64_t v;
    while (read(w->wakefd, &v, sizeof v) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&w->mu);
    kconn *in = w->inbox;
    w->inbox = NULL;
    int stop = w->stop;
    pthread_mutex_unlock(&w->mu);
    for (kconn *c = in, *next; c != NULL; c = next) {
        next = c->next;
        c->prev = NULL;
        c->next = w->all;
        if (w->all != NULL)
            w->all->prev = c;
        w->all = c;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        c->events = EPOLLIN;
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &e) != 0) {
            c->dead = true;
            touch(w, c);
        }
    }
    return stop;
}

static void *worker_main(void *arg)
{
    keyd_worker *w = arg;
    struct epoll_event ev[KEYD_EVENTS];
    int stop = 0;
    while (!stop) {
        int n = epoll_wait(w->epfd, ev, KEYD_EVENTS, w->ready != NULL ? 0 : -1);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            kconn *c = ev[i].data.ptr;
            if (c == NULL) {
                stop = adopt_inbox(w);
                continue;
            }
            if (ev[i].events & EPOLLOUT) {
                flush(c);
                touch(w, c);
            }
            if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                fill(w, c);
        }
        settle_touched(w); /* closes the finished ones before any turn decides for them */
        if (!stop && w->ready != NULL)
            serve_turn(w);
        settle_touched(w);
    }
    /* Stopping: what is answered is sent if the socket takes it now; then close all. */
    while (w->all != NULL) {
        flush(w->all);
        w->ready = NULL;
        conn_close(w, w->all);
    }
    return NULL;
}

int keyd_worker_start(keyd_worker **out, warden_keyd *k, warden_err *err)
{
    int rc = 0;
    keyd_worker *w = calloc(1, sizeof *w);
    if (w == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    w->k = k;
    w->epfd = w->wakefd = -1;
    pthread_mutex_init(&w->mu, NULL);
    w->touched = calloc(KEYD_MAX_CONNS, sizeof *w->touched);
    if (w->touched == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};
    if (w->epfd < 0 || w->wakefd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &e) != 0) {
        rc = warden_err_set(err, WARDEN_EIO, "epoll: %s", strerror(errno));
        goto out;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, KEYD_WORKER_STACK);
    int tr = pthread_create(&w->thread, &attr, worker_main, w);
    pthread_attr_destroy(&attr);
    if (tr != 0)
        rc = warden_err_set(err, WARDEN_EINTERNAL, "cannot start a keyd worker thread");
out:
    if (rc != 0) {
        if (w->epfd >= 0)
            close(w->epfd);
        if (w->wakefd >= 0)
            close(w->wakefd);
        pthread_mutex_destroy(&w->mu);
        free(w->touched);
        free(w);
        w = NULL;
    }
    *out = w;
    return rc;
}

static void wake(keyd_worker *w)
{
    uint64_t one = 1;
    while (write(w->wakefd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

int keyd_worker_adopt(keyd_worker *w, int fd, const warden_keyd_peer *peer, warden_err *err)
{
    kconn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
    c->fd = fd;
    c->peer = *peer;
    warden_buf_init(&c->in);
    warden_buf_init(&c->out);
    pthread_mutex_lock(&w->mu);
    c->next = w->inbox;
    w->inbox = c;
    w->n_conns++;
    pthread_mutex_unlock(&w->mu);
    wake(w);
    return 0;
}

size_t keyd_worker_conns(keyd_worker *w)
{
    pthread_mutex_lock(&w->mu);
    size_t n = w->n_conns;
    pthread_mutex_unlock(&w->mu);
    return n;
}

void keyd_worker_stop(keyd_worker *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_mutex_unlock(&w->mu);
    wake(w);
    pthread_join(w->thread, NULL);
    /* connections handed over after the last look at the inbox */
    for (kconn *c = w->inbox, *next; c != NULL; c = next) {
        next = c->next;
        close(c->fd);
        free(c);
    }
    close(w->epfd);
    close(w->wakefd);
    pthread_mutex_destroy(&w->mu);
    free(w->touched);
    free(w);
}
