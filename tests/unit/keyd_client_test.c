/* Tests for src/keyd/client.c against a scripted fake keyd on a unix socket: many requests
 * pipelined on one connection each get their own answer; an unanswered request fails with
 * WARDEN_EIO at its deadline (and so do the others on its connection), after which a fresh
 * connection works; a malformed frame fails the requests behind it; keyd absent is a
 * synchronous error; freeing waits for every callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "keyd/protocol.h"
#include "warden/keyd.h"

#define MAXR 64

/* What the fake keyd does with the frames it reads. */
typedef enum { FAKE_ECHO_ALL, FAKE_SILENT, FAKE_ONE_THEN_JUNK } fake_mode;

typedef struct fake {
    char dir[32], path[64];
    int lfd;
    fake_mode mode;
    int want; /* FAKE_ECHO_ALL: frames to read before answering any (proves pipelining) */
    int conns;
    pthread_t tid;
} fake;

typedef struct results {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    int rc[MAXR];
    char id[MAXR][32];
    char msg[MAXR][WARDEN_ERR_MAX];
} results;

typedef struct slot {
    results *r;
    int i;
} slot;

static void on_done(void *arg, int rc, uint16_t type, warden_buf *payload, const warden_err *err)
{
    slot *s = arg;
    results *r = s->r;
    pthread_mutex_lock(&r->mu);
    r->rc[s->i] = rc;
    if (rc == 0) {
        json_t *j = NULL;
        int is_error = 0;
        warden_err e;
        if (warden_keyd_reply_decode(&j, &is_error, type, payload->p, payload->len, &e) == 0) {
            const char *id = json_string_value(json_object_get(j, "request_id"));
            snprintf(r->id[s->i], sizeof r->id[s->i], "%s", id != NULL ? id : "?");
        }
        json_decref(j);
    } else {
        snprintf(r->msg[s->i], sizeof r->msg[s->i], "%s", err->msg);
    }
    r->n++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static int read_full(int fd, uint8_t *p, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, p + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* Reads one request frame; returns its request_id (or "status" for an empty payload). */
static int read_frame(int fd, char id[32])
{
    uint8_t h[KEYD_FRAME_HEADER], p[4096];
    if (read_full(fd, h, sizeof h) != 0)
        return -1;
    uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (len > sizeof p || read_full(fd, p, len) != 0)
        return -1;
    json_t *j = len > 0 ? json_loadb((const char *)p, len, 0, NULL) : NULL;
    const char *s = json_string_value(json_object_get(j, "request_id"));
    snprintf(id, 32, "%s", s != NULL ? s : "status");
    json_decref(j);
    return 0;
}

static void answer(warden_buf *out, const char *id)
{
    warden_err e;
    json_t *j = json_pack("{s:s, s:s}", "request_id", id, "decision", "allow");
    assert_int_equal(keyd_frame_encode_json(out, KEYD_MSG_ANSWER, j, &e), 0);
    json_decref(j);
}

static void *fake_main(void *arg)
{
    fake *f = arg;
    for (;;) {
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        f->conns++;
        char ids[MAXR][32];
        int n = 0;
        warden_buf out;
        warden_buf_init(&out);
        if (f->mode == FAKE_ECHO_ALL) {
            while (n < f->want && read_frame(fd, ids[n]) == 0)
                n++;
            for (int i = 0; i < n; i++)
                answer(&out, ids[i]);
        } else if (f->mode == FAKE_ONE_THEN_JUNK) {
            while (n < 2 && read_frame(fd, ids[n]) == 0)
                n++;
            answer(&out, ids[0]);
            static const uint8_t JUNK[] = {0, 0, 0, 2, 0, 1, 0, 0, '{', '}'}; /* a request */
            assert_int_equal(warden_buf_append(&out, JUNK, sizeof JUNK), 0);
        }
        if (out.len > 0)
            assert_int_equal(write(fd, out.p, out.len), (ssize_t)out.len);
        warden_buf_fini(&out);
        if (f->mode == FAKE_SILENT) { /* read and never answer, until the client hangs up */
            char id[32];
            while (read_frame(fd, id) == 0) {
            }
        }
        /* hold the connection until the client closes it */
        uint8_t b;
        while (read(fd, &b, 1) > 0) {
        }
        close(fd);
    }
}

static void fake_start(fake *f, fake_mode mode, int want)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/kct.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/s", f->dir);
    f->mode = mode;
    f->want = want;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", f->path);
    f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(f->lfd >= 0);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(f->lfd, 16), 0);
    assert_int_equal(pthread_create(&f->tid, NULL, fake_main, f), 0);
}

static void fake_stop(fake *f)
{
    shutdown(f->lfd, SHUT_RDWR);
    close(f->lfd);
    (void)pthread_join(f->tid, NULL);
    unlink(f->path);
    rmdir(f->dir);
}

static void results_init(results *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void wait_for(results *r, int n)
{
    pthread_mutex_lock(&r->mu);
    while (r->n < n)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

static void submit(warden_keyd_client *c, slot *s, results *r, int i, const char *id)
{
    warden_err e;
    s->r = r;
    s->i = i;
    json_t *b = json_pack("{s:s}", "request_id", id);
    assert_int_equal(warden_keyd_client_submit(c, KEYD_MSG_ACCESS, b, on_done, s, &e), 0);
    json_decref(b);
}

static void keyd_client_pipelines_on_one_connection(void **state)
{
    (void)state;
    fake f;
    results r;
    slot s[50];
    warden_keyd_client *c;
    warden_err e;
    fake_start(&f, FAKE_ECHO_ALL, 50); /* answers only once all 50 are in */
    results_init(&r);
    assert_int_equal(warden_keyd_client_new(&c, f.path, 1, 5000, &e), 0);
    for (int i = 0; i < 50; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        submit(c, &s[i], &r, i, id);
    }
    wait_for(&r, 50);
    for (int i = 0; i < 50; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        assert_int_equal(r.rc[i], 0);
        assert_string_equal(r.id[i], id);
    }
    warden_keyd_client_free(c);
    fake_stop(&f);
    assert_int_equal(f.conns, 1);
}

static void keyd_client_times_out_then_reconnects(void **state)
{
    (void)state;
    fake f;
    results r;
    slot s[4];
    warden_keyd_client *c;
    warden_err e;
    fake_start(&f, FAKE_SILENT, 0);
    results_init(&r);
    assert_int_equal(warden_keyd_client_new(&c, f.path, 1, 300, &e), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 3; i++)
        submit(c, &s[i], &r, i, "late");
    wait_for(&r, 3);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(dt >= 0.25 && dt < 1.5); /* 300 ms + the I/O thread's tick + a loaded machine */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r.rc[i], WARDEN_EIO);
        assert_non_null(strstr(r.msg[i], "did not answer in time"));
    }
    /* the timed-out connection was closed: the next request dials a new one */
    submit(c, &s[3], &r, 3, "again");
    wait_for(&r, 4);
    assert_int_equal(r.rc[3], WARDEN_EIO);
    warden_keyd_client_free(c);
    fake_stop(&f);
    assert_int_equal(f.conns, 2);
}

static void keyd_client_malformed_frame_fails_the_rest(void **state)
{
    (void)state;
    fake f;
    results r;
    slot s[2];
    warden_keyd_client *c;
    warden_err e;
    fake_start(&f, FAKE_ONE_THEN_JUNK, 0);
    results_init(&r);
    assert_int_equal(warden_keyd_client_new(&c, f.path, 1, 5000, &e), 0);
    submit(c, &s[0], &r, 0, "first");
    submit(c, &s[1], &r, 1, "second");
    wait_for(&r, 2);
    assert_int_equal(r.rc[0], 0);
    assert_string_equal(r.id[0], "first");
    assert_int_equal(r.rc[1], WARDEN_EIO);
    assert_non_null(strstr(r.msg[1], "malformed"));
    warden_keyd_client_free(c);
    fake_stop(&f);
}

static void keyd_client_absent_keyd_is_synchronous(void **state)
{
    (void)state;
    warden_keyd_client *c;
    warden_err e;
    results r;
    slot s = {.r = &r, .i = 0};
    results_init(&r);
    assert_int_equal(warden_keyd_client_new(&c, "/nonexistent/keyd.sock", 2, 1000, &e), 0);
    assert_int_equal(warden_keyd_client_submit(c, KEYD_MSG_STATUS, NULL, on_done, &s, &e),
                     WARDEN_EIO);
    assert_non_null(strstr(e.msg, "connect"));
    json_t *reply = NULL;
    int is_error = 0;
    assert_int_equal(warden_keyd_client_call(&reply, &is_error, c, KEYD_MSG_STATUS, NULL, &e),
                     WARDEN_EIO);
    assert_null(reply);
    warden_keyd_client_free(c);
    assert_int_equal(r.n, 0); /* no callback for a refused submit */
    assert_int_equal(warden_keyd_client_new(&c, "/tmp/x", 0, 1000, &e), WARDEN_EINVAL);
    assert_int_equal(warden_keyd_client_new(&c, "/tmp/x", 1, 0, &e), WARDEN_EINVAL);
}

static void keyd_client_free_waits_for_callbacks(void **state)
{
    (void)state;
    fake f;
    results r;
    slot s[5];
    warden_keyd_client *c;
    warden_err e;
    fake_start(&f, FAKE_SILENT, 0);
    results_init(&r);
    assert_int_equal(warden_keyd_client_new(&c, f.path, 2, 200, &e), 0);
    for (int i = 0; i < 5; i++)
        submit(c, &s[i], &r, i, "x");
    warden_keyd_client_free(c);
    assert_int_equal(r.n, 5); /* every request had its callback before free returned */
    fake_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keyd_client_pipelines_on_one_connection),
        cmocka_unit_test(keyd_client_times_out_then_reconnects),
        cmocka_unit_test(keyd_client_malformed_frame_fails_the_rest),
        cmocka_unit_test(keyd_client_absent_keyd_is_synchronous),
        cmocka_unit_test(keyd_client_free_waits_for_callbacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
