/* A pool of persistent unix-socket connections to keyd for long-lived clients (the gateway).
 * Invariant: a connection is either idle in the pool or owned by exactly one call; a call
 * that fails on it mid-exchange closes it (the stream position is unknown), so a pooled
 * connection is always at a frame boundary. Framing and reply checks are protocol.h's. */
#include "keyd/keyd_internal.h"
#include "keyd/protocol.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

_Static_assert((int)WARDEN_KEYD_MSG_ACCESS == (int)KEYD_MSG_ACCESS &&
                   (int)WARDEN_KEYD_MSG_REGISTER == (int)KEYD_MSG_REGISTER &&
                   (int)WARDEN_KEYD_MSG_SHRED == (int)KEYD_MSG_SHRED &&
                   (int)WARDEN_KEYD_MSG_STATUS == (int)KEYD_MSG_STATUS &&
                   (int)WARDEN_KEYD_MSG_INVENTORY == (int)KEYD_MSG_INVENTORY,
               "public message numbers must match the protocol table");

struct warden_keyd_client {
    struct sockaddr_un sa;
    pthread_mutex_t mu;
    pthread_cond_t freed;
    unsigned max, open; /* open: connections that exist, idle or in use */
    int *idle;          /* stack of idle fds */
    unsigned n_idle;
};

int warden_keyd_client_new(warden_keyd_client **out, const char *socket_path, unsigned max_conns,
                           warden_err *err)
{
    *out = NULL;
    size_t n = strlen(socket_path);
    warden_keyd_client *c;
    if (max_conns == 0)
        return warden_err_set(err, WARDEN_EINVAL, "keyd client: max_conns must be at least 1");
    if (n == 0 || n >= sizeof c->sa.sun_path)
        return warden_err_set(err, WARDEN_EINVAL, "socket path too long or empty: %.200s",
                              socket_path);
    if ((c = calloc(1, sizeof *c)) == NULL ||
        (c->idle = calloc(max_conns, sizeof *c->idle)) == NULL) {
        free(c);
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
    c->sa.sun_family = AF_UNIX;
    memcpy(c->sa.sun_path, socket_path, n + 1);
    c->max = max_conns;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->freed, NULL);
    *out = c;
    return 0;
}

void warden_keyd_client_free(warden_keyd_client *c)
{
    if (c == NULL)
        return;
    for (unsigned i = 0; i < c->n_idle; i++)
        close(c->idle[i]);
    pthread_cond_destroy(&c->freed);
    pthread_mutex_destroy(&c->mu);
    free(c->idle);
    free(c);
}

/* Takes an idle connection (*fd >= 0, *reused true) or the right to open one (*fd = -1). */
static void take(warden_keyd_client *c, int *fd, bool *reused)
{
    pthread_mutex_lock(&c->mu);
    while (c->n_idle == 0 && c->open >= c->max)
        pthread_cond_wait(&c->freed, &c->mu);
    if (c->n_idle > 0) {
        *fd = c->idle[--c->n_idle];
        *reused = true;
    } else {
        c->open++;
        *fd = -1;
        *reused = false;
    }
    pthread_mutex_unlock(&c->mu);
}

/* Returns a connection to the pool, or (fd < 0) gives up its slot. */
static void give(warden_keyd_client *c, int fd)
{
    pthread_mutex_lock(&c->mu);
    if (fd >= 0)
        c->idle[c->n_idle++] = fd;
    else
        c->open--;
    pthread_cond_signal(&c->freed);
    pthread_mutex_unlock(&c->mu);
}

static int dial(warden_keyd_client *c, warden_err *err)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&c->sa, sizeof c->sa) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return warden_err_set(err, WARDEN_EIO, "connect to %s: %s", c->sa.sun_path, strerror(e));
    }
    return fd;
}

/* Sends b and reads one reply frame into b. *got_any tells whether any reply byte came. */
static int exchange(uint16_t *rt, warden_buf *b, bool *got_any, int fd, warden_err *err)
{
    const uint8_t *p = b->p;
    size_t n = b->len;
    *got_any = false;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return warden_err_set(err, WARDEN_EIO, "keyd closed the connection");
        p += w;
        n -= (size_t)w;
    }
    uint8_t h[KEYD_FRAME_HEADER];
    size_t got = 0;
    uint32_t len = 0;
    while (got < sizeof h) {
        ssize_t r = read(fd, h + got, sizeof h - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return warden_err_set(err, WARDEN_EIO, "keyd closed the connection");
        got += (size_t)r;
        *got_any = true;
    }
    warden_cursor cur;
    warden_cursor_init(&cur, h, sizeof h);
    int rc = keyd_frame_header(rt, &len, &cur, err);
    if (rc != 0)
        return rc;
    if (*rt != KEYD_MSG_ANSWER && *rt != KEYD_MSG_ERROR)
        return warden_err_set(err, WARDEN_EPARSE, "keyd sent a request frame as a reply");
    b->len = 0;
    if (warden_buf_reserve(b, len) != 0)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    for (got = 0; got < len;) {
        ssize_t r = read(fd, b->p + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return warden_err_set(err, WARDEN_EIO, "keyd closed the connection mid-reply");
        got += (size_t)r;
    }
    b->len = len;
    return 0;
}

int warden_keyd_client_call(json_t **reply, int *is_error, warden_keyd_client *c, uint16_t type,
                            const json_t *body, warden_err *err)
{
    warden_buf req, b;
    warden_buf_init(&req);
    warden_buf_init(&b);
    *reply = NULL;
    *is_error = 0;
    int fd = -1, rc;
    bool reused = false, got_any = false;
    uint16_t rt = 0;
    if ((rc = body != NULL ? keyd_frame_encode_json(&req, type, body, err)
                           : keyd_frame_encode(&req, type, NULL, 0, err)) != 0) {
        warden_buf_fini_wipe(&req);
        return rc;
    }
    take(c, &fd, &reused);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (fd < 0 && (fd = dial(c, err)) < 0) {
            rc = fd;
            fd = -1;
            goto out;
        }
        b.len = 0;
        if ((rc = warden_buf_append(&b, req.p, req.len)) != 0) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
        rc = exchange(&rt, &b, &got_any, fd, err);
        if (rc == 0)
            break;
        close(fd);
        fd = -1;
        /* Only a pooled connection that keyd closed while idle (before any reply byte) is
         * retried: then keyd never read the request or never answered it. */
        if (!reused || got_any || rc != WARDEN_EIO)
            goto out;
        reused = false;
    }
    if (rc != 0)
        goto out;
    if ((rc = keyd_reply_decode(reply, rt, b.p, b.len, err)) != 0)
        goto out;
    *is_error = rt == KEYD_MSG_ERROR;
out:
    if (rc != 0 && fd >= 0) {
        close(fd);
        fd = -1;
    }
    give(c, fd);
    /* requests and answers carry plaintext */
    warden_buf_fini_wipe(&req);
    warden_buf_fini_wipe(&b);
    return rc;
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
