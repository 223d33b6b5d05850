/* A persistent keyd client connection with pipelining: requests are queued and written
 * together, replies read in order (keyd answers each request exactly once, in order). The
 * caller keeps the number of queued requests small (a few dozen) so that neither side can
 * fill its socket buffer while the other waits: see migrate.c. */
#include "keyd/protocol.h"
#include "migrate/migrate_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int mig_conn_open(mig_conn *c, const char *socket_path, warden_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memset(c, 0, sizeof *c);
    c->fd = -1;
    warden_buf_init(&c->out);
    warden_buf_init(&c->in);
    if (strlen(socket_path) >= sizeof sa.sun_path)
        return warden_err_set(err, WARDEN_EINVAL, "socket path too long: %s", socket_path);
    memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        return warden_err_set(err, WARDEN_EIO, "connect to keyd at %s: %s", socket_path,
                              strerror(e));
    }
    return 0;
}

void mig_conn_close(mig_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    warden_buf_fini_wipe(&c->out); /* documents */
    warden_buf_fini_wipe(&c->in);
}

static int write_full(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_full(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int flush(mig_conn *c, warden_err *err)
{
    if (c->out.len == 0)
        return 0;
    int rc = write_full(c->fd, c->out.p, c->out.len);
    warden_wipe(c->out.p, c->out.len);
    c->out.len = 0;
    return rc == 0 ? 0 : warden_err_set(err, WARDEN_EIO, "keyd closed the connection");
}

int mig_conn_send(mig_conn *c, uint16_t type, const json_t *body, warden_err *err)
{
    int rc = body != NULL ? keyd_frame_encode_json(&c->out, type, body, err)
                          : keyd_frame_encode(&c->out, type, NULL, 0, err);
    if (rc != 0)
        return rc;
    c->queued++;
    return c->out.len > (64u << 10) ? flush(c, err) : 0;
}

int mig_conn_send_raw(mig_conn *c, uint16_t type, const uint8_t *payload, size_t len,
                      warden_err *err)
{
    int rc = keyd_frame_encode(&c->out, type, payload, len, err);
    if (rc != 0)
        return rc;
    c->queued++;
    return c->out.len > (64u << 10) ? flush(c, err) : 0;
}

int mig_conn_recv(json_t **reply, int *is_error, mig_conn *c, warden_err *err)
{
    uint8_t h[KEYD_FRAME_HEADER];
    *reply = NULL;
    *is_error = 0;
    int rc = flush(c, err);
    if (rc != 0)
        return rc;
    if (c->queued == 0)
        return warden_err_set(err, WARDEN_EINTERNAL, "no request awaits a reply");
    if (read_full(c->fd, h, sizeof h) != 0)
        return warden_err_set(err, WARDEN_EIO, "keyd closed the connection");
    warden_cursor cur;
    uint16_t type;
    uint32_t len;
    warden_cursor_init(&cur, h, sizeof h);
    if ((rc = keyd_frame_header(&type, &len, &cur, err)) != 0)
        return rc;
    c->in.len = 0;
    if (warden_buf_reserve(&c->in, len) != 0)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    if (len > 0 && read_full(c->fd, c->in.p, len) != 0)
        return warden_err_set(err, WARDEN_EIO, "keyd closed the connection mid-reply");
    c->in.len = len;
    rc = keyd_reply_decode(reply, type, c->in.p, len, err);
    warden_wipe(c->in.p, c->in.len);
    if (rc != 0)
        return rc;
    c->queued--;
    *is_error = type == KEYD_MSG_ERROR;
    return 0;
}

int mig_conn_call(json_t **reply, mig_conn *c, uint16_t type, const json_t *body, warden_err *err)
{
    int is_error = 0;
    int rc = mig_conn_send(c, type, body, err);
    if (rc == 0)
        rc = mig_conn_recv(reply, &is_error, c, err);
    if (rc == 0 && is_error) {
        json_int_t code = json_integer_value(json_object_get(*reply, "code"));
        rc = warden_err_set(err, code < 0 && code > -100 ? (int)code : WARDEN_EINTERNAL,
                            "keyd: %.200s", json_string_value(json_object_get(*reply, "error")));
        json_decref(*reply);
        *reply = NULL;
    }
    return rc;
}
