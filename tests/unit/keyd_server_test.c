/* Tests for src/keyd/server.c and loop.c: a real keyd served on a unix socket by two event-loop
 * workers, driven by many raw connections. Each connection must get its own answers in order
 * however frames interleave and split; a client that never reads must not stall the others;
 * a protocol violation closes only its own connection; and when the log fails, every request
 * of a group is refused and nothing is released. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "keyd/keyd_internal.h"
#include "keyd/protocol.h"
#include "warden/crypto.h"
#include "warden/keyd.h"
#include "warden/tlog.h"

typedef struct env {
    char dir[256];
    char sock[108];
    warden_keyd *k;
    pthread_t thread;
    volatile sig_atomic_t stop, reload;
    int serve_rc;
} env;

static void copy_file(const char *from, const char *to)
{
    warden_buf b;
    warden_err e;
    warden_buf_init(&b);
    if (warden_file_read(&b, from, 1 << 20, &e) != 0)
        fail_msg("read %s: %s", from, e.msg);
    if (warden_file_write_atomic(to, b.p, b.len, 0600, &e) != 0)
        fail_msg("write %s: %s", to, e.msg);
    warden_buf_fini(&b);
}

static void *serve_main(void *arg)
{
    env *x = arg;
    warden_err e;
    x->serve_rc = warden_keyd_serve(x->k, &x->stop, &x->reload, &e);
    if (x->serve_rc != 0)
        fprintf(stderr, "serve: %s\n", e.msg);
    return NULL;
}

#define CTX "\"context\":{\"source_ip\":\"10.1.2.3\",\"location\":\"US\",\"purpose\":\"support\"}"
#define ALICE "\"principal\":\"Employee::\\\"alice\\\"\""

/* Appends one ACCESS read of u1's messages/m1 with request id rid. */
static void put_read(warden_buf *b, const char *rid)
{
    char body[512];
    warden_err e;
    int n = snprintf(body, sizeof body,
                     "{\"request_id\":\"%s\"," ALICE ",\"action\":\"read\",\"user\":\"u1\","
                     "\"collection\":\"messages\",\"id\":\"m1\"," CTX "}",
                     rid);
    assert_int_equal(keyd_frame_encode(b, KEYD_MSG_ACCESS, (const uint8_t *)body, (size_t)n, &e),
                     0);
}

static int dial(env *x)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", x->sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static void send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t s = send(fd, p, n, MSG_NOSIGNAL);
        assert_true(s > 0);
        p += s;
        n -= (size_t)s;
    }
}

/* Reads exactly n bytes within 10 s. Returns 0, or -1 at EOF / error / timeout. */
static int recv_all(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 10000) != 1)
            return -1;
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Reads one reply; *type is its type. NULL at EOF. */
static json_t *recv_reply(int fd, uint16_t *type)
{
    uint8_t h[KEYD_FRAME_HEADER];
    if (recv_all(fd, h, sizeof h) != 0)
        return NULL;
    warden_cursor c;
    uint32_t len;
    warden_err e;
    warden_cursor_init(&c, h, sizeof h);
    assert_int_equal(keyd_frame_header(type, &len, &c, &e), 0);
    uint8_t *p = malloc(len + 1);
    assert_non_null(p);
    assert_int_equal(recv_all(fd, p, len), 0);
    json_t *j = NULL;
    assert_int_equal(keyd_reply_decode(&j, *type, p, len, &e), 0);
    free(p);
    return j;
}

/* Sends one request on a fresh connection and returns its ANSWER. */
static json_t *call_ok(env *x, uint16_t type, const char *body)
{
    warden_buf b;
    warden_err e;
    warden_buf_init(&b);
    assert_int_equal(keyd_frame_encode(&b, type, (const uint8_t *)body, strlen(body), &e), 0);
    int fd = dial(x);
    send_all(fd, b.p, b.len);
    uint16_t t;
    json_t *a = recv_reply(fd, &t);
    assert_non_null(a);
    if (t != KEYD_MSG_ANSWER)
        fail_msg("%s: %s", body, json_string_value(json_object_get(a, "error")));
    close(fd);
    warden_buf_fini(&b);
    return a;
}

static int setup(void **state)
{
    env *x = calloc(1, sizeof *x);
    warden_err e;
    char p[512], v[512];
    const char *src = getenv("WARDEN_SOURCE_DIR");
    snprintf(x->dir, sizeof x->dir, "/tmp/keyd_server_XXXXXX");
    if (src == NULL || mkdtemp(x->dir) == NULL)
        return -1;
    const char *files[] = {"policies.cedar", "entities.json", "messages.schema.json"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(v, sizeof v, "%s/tests/vectors/keyd/%s", src, files[i]);
        snprintf(p, sizeof p, "%s/%s", x->dir, files[i]);
        copy_file(v, p);
    }
    snprintf(p, sizeof p, "%s/kek.key", x->dir);
    if (warden_kek_keyfile_create(p, "texas", &e) != 0)
        fail_msg("kek: %s", e.msg);
    snprintf(p, sizeof p, "%s/log.key", x->dir);
    if (warden_tlog_key_generate(p, "warden-test", NULL, &e) != 0)
        fail_msg("log key: %s", e.msg);
    const char *cfg = "{\"region\":\"texas\",\"jurisdictions\":[\"US\"],\"data_dir\":\"data\","
                      "\"keys\":{\"provider\":\"keyfile\",\"path\":\"kek.key\"},"
                      "\"policies\":\"policies.cedar\",\"entities\":\"entities.json\","
                      "\"schemas\":[\"messages.schema.json\"],"
                      "\"log\":{\"dir\":\"log\",\"key\":\"log.key\",\"origin\":\"test/texas\"},"
                      "\"socket\":\"keyd.sock\",\"workers\":2}";
    snprintf(p, sizeof p, "%s/keyd.json", x->dir);
    if (warden_file_write_atomic(p, cfg, strlen(cfg), 0600, &e) != 0)
        return -1;
    if (warden_keyd_open(&x->k, p, &e) != 0)
        fail_msg("open: %s", e.msg);
    snprintf(x->sock, sizeof x->sock, "%s", warden_keyd_socket_path(x->k));
    if (pthread_create(&x->thread, NULL, serve_main, x) != 0)
        return -1;
    /* The socket file exists from bind on, before listen: wait until a connect succeeds. */
    for (int i = 0; i < 500; i++) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", x->sock);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            break;
        usleep(10000);
    }
    *state = x;
    json_t *a = call_ok(x, KEYD_MSG_REGISTER,
                        "{\"request_id\":\"r0\"," ALICE ",\"user\":\"u1\",\"jurisdiction\":\"US\"," CTX
                        "}");
    json_decref(a);
    a = call_ok(x, KEYD_MSG_ACCESS,
                "{\"request_id\":\"w1\"," ALICE ",\"action\":\"write\",\"user\":\"u1\","
                "\"collection\":\"messages\",\"id\":\"m1\",\"document\":{\"title\":\"hi\","
                "\"body\":\"secret text\",\"author\":{\"name\":\"U\",\"phone\":\"555\"}}," CTX "}");
    json_decref(a);
    return 0;
}

static int teardown(void **state)
{
    env *x = *state;
    char cmd[400];
    x->stop = 1;
    pthread_join(x->thread, NULL);
    warden_keyd_free(x->k);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", x->dir);
    if (system(cmd) != 0)
        return -1;
    int rc = x->serve_rc;
    free(x);
    return rc == 0 ? 0 : -1;
}

#define NCONN 16
#define DEPTH 12

/* Many connections, each with DEPTH pipelined reads, sent interleaved across connections in
 * odd-sized pieces that split headers and payloads: each gets exactly its own answers, in
 * order, each with its own log index. */
static void keyd_server_interleaved_pipelines(void **state)
{
    env *x = *state;
    int fds[NCONN];
    warden_buf req[NCONN];
    size_t sent[NCONN] = {0};
    for (int c = 0; c < NCONN; c++) {
        fds[c] = dial(x);
        warden_buf_init(&req[c]);
        for (int i = 0; i < DEPTH; i++) {
            char rid[32];
            snprintf(rid, sizeof rid, "c%d-%d", c, i);
            put_read(&req[c], rid);
        }
    }
    /* round robin, 1..97 bytes at a time */
    for (bool more = true; more;) {
        more = false;
        for (int c = 0; c < NCONN; c++) {
            size_t piece = (size_t)(1 + (c * 31 + (int)sent[c]) % 97);
            if (piece > req[c].len - sent[c])
                piece = req[c].len - sent[c];
            if (piece > 0)
                send_all(fds[c], req[c].p + sent[c], piece);
            sent[c] += piece;
            more |= sent[c] < req[c].len;
        }
    }
    json_t *seen = json_object();
    for (int c = NCONN - 1; c >= 0; c--) { /* read in reverse: answers waited in keyd */
        for (int i = 0; i < DEPTH; i++) {
            uint16_t t;
            json_t *a = recv_reply(fds[c], &t);
            assert_non_null(a);
            assert_int_equal(t, KEYD_MSG_ANSWER);
            char rid[32];
            snprintf(rid, sizeof rid, "c%d-%d", c, i);
            assert_string_equal(json_string_value(json_object_get(a, "request_id")), rid);
            assert_string_equal(json_string_value(json_object_get(a, "decision")), "allow");
            json_t *doc = json_object_get(a, "document");
            assert_string_equal(json_string_value(json_object_get(doc, "body")), "secret text");
            char idx[32];
            snprintf(idx, sizeof idx, "%lld",
                     (long long)json_integer_value(json_object_get(a, "log_index")));
            assert_null(json_object_get(seen, idx)); /* one entry per request */
            json_object_set_new(seen, idx, json_true());
            json_decref(a);
        }
        warden_buf_fini(&req[c]);
        close(fds[c]);
    }
    assert_int_equal(json_object_size(seen), NCONN * DEPTH);
    json_decref(seen);
}

/* A client that sends many requests and never reads its answers: keyd buffers what the
 * socket does not take, stops reading that client, and keeps answering everyone else. */
static void keyd_server_slow_reader(void **state)
{
    env *x = *state;
    int slow = dial(x);
    warden_buf b;
    warden_buf_init(&b);
    for (int i = 0; i < 3000; i++) { /* ~4 MB of answers, far more than the socket holds */
        char rid[32];
        snprintf(rid, sizeof rid, "s%d", i);
        put_read(&b, rid);
    }
    size_t off = 0;
    for (int tries = 0; off < b.len && tries < 200; tries++) {
        ssize_t s = send(slow, b.p + off, b.len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (s > 0)
            off += (size_t)s;
        else
            usleep(5000);
    }
    assert_true(off > 0);
    /* the others are served meanwhile, one at a time and pipelined */
    for (int i = 0; i < 20; i++) {
        json_t *a = call_ok(x, KEYD_MSG_ACCESS,
                            "{\"request_id\":\"fast\"," ALICE ",\"action\":\"read\",\"user\":"
                            "\"u1\",\"collection\":\"messages\",\"id\":\"m1\"," CTX "}");
        assert_string_equal(json_string_value(json_object_get(a, "request_id")), "fast");
        json_decref(a);
    }
    /* the slow client's answers are still all there, in order, when it finally reads */
    for (int i = 0; i < 50; i++) {
        uint16_t t;
        json_t *a = recv_reply(slow, &t);
        assert_non_null(a);
        char rid[32];
        snprintf(rid, sizeof rid, "s%d", i);
        assert_string_equal(json_string_value(json_object_get(a, "request_id")), rid);
        json_decref(a);
    }
    close(slow);
    warden_buf_fini(&b);
    json_t *a = call_ok(x, KEYD_MSG_STATUS, "");
    json_decref(a);
}

/* A violation after two good requests: that connection gets the two answers and is closed;
 * another connection pipelining at the same time gets all of its answers. */
static void keyd_server_violation_isolated(void **state)
{
    env *x = *state;
    int bad = dial(x), good = dial(x);
    warden_buf b, g;
    warden_buf_init(&b);
    warden_buf_init(&g);
    put_read(&b, "b0");
    put_read(&b, "b1");
    static const uint8_t BAD[] = {0, 0, 0, 2, 0, 77, 0, 0, '{', '}'}; /* unknown type 77 */
    assert_int_equal(warden_buf_append(&b, BAD, sizeof BAD), 0);
    put_read(&b, "b2"); /* after the violation: never decided */
    for (int i = 0; i < 8; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "g%d", i);
        put_read(&g, rid);
    }
    send_all(good, g.p, g.len / 2);
    send_all(bad, b.p, b.len);
    send_all(good, g.p + g.len / 2, g.len - g.len / 2);
    uint16_t t;
    for (int i = 0; i < 2; i++) {
        json_t *a = recv_reply(bad, &t);
        assert_non_null(a);
        assert_string_equal(json_string_value(json_object_get(a, "request_id")),
                            i == 0 ? "b0" : "b1");
        json_decref(a);
    }
    assert_null(recv_reply(bad, &t)); /* closed without an answer to the rest */
    for (int i = 0; i < 8; i++) {
        json_t *a = recv_reply(good, &t);
        assert_non_null(a);
        assert_int_equal(t, KEYD_MSG_ANSWER);
        char rid[32];
        snprintf(rid, sizeof rid, "g%d", i);
        assert_string_equal(json_string_value(json_object_get(a, "request_id")), rid);
        json_decref(a);
    }
    close(bad);
    close(good);
    warden_buf_fini(&b);
    warden_buf_fini(&g);
    json_t *a = call_ok(x, KEYD_MSG_STATUS, "");
    json_decref(a);
}

/* The log fails (its entries directory replaced by a file, so integration cannot write):
 * every request of the groups that follow, on every connection, answers "unavailable" and
 * none carries data. */
static void keyd_server_fails_closed(void **state)
{
    env *x = *state;
    warden_err e;
    char p[512], q[512];
    assert_int_equal(warden_keyd_log_sync(x->k, &e), 0);
    snprintf(p, sizeof p, "%s/log/tile/entries", x->dir);
    snprintf(q, sizeof q, "%s/log/tile/entries.moved", x->dir);
    assert_int_equal(rename(p, q), 0);
    assert_int_equal(warden_file_write_atomic(p, "x", 1, 0600, &e), 0);
    /* One more append (acknowledged from the journal), then publishing fails closed. */
    json_t *a = call_ok(x, KEYD_MSG_ACCESS,
                        "{\"request_id\":\"last\"," ALICE ",\"action\":\"read\",\"user\":\"u1\","
                        "\"collection\":\"messages\",\"id\":\"m1\"," CTX "}");
    json_decref(a);
    assert_int_equal(warden_keyd_log_sync(x->k, &e), WARDEN_EIO);
    int fds[4];
    warden_buf b;
    warden_buf_init(&b);
    for (int c = 0; c < 4; c++) {
        fds[c] = dial(x);
        b.len = 0;
        for (int i = 0; i < 8; i++)
            put_read(&b, "f");
        send_all(fds[c], b.p, b.len);
    }
    for (int c = 0; c < 4; c++) {
        for (int i = 0; i < 8; i++) {
            uint16_t t;
            a = recv_reply(fds[c], &t);
            assert_non_null(a);
            assert_int_equal(t, KEYD_MSG_ERROR);
            assert_string_equal(json_string_value(json_object_get(a, "kind")), "unavailable");
            assert_null(json_object_get(a, "document"));
            json_decref(a);
        }
        close(fds[c]);
    }
    warden_buf_fini(&b);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(rename(q, p), 0);
}

/* A frame larger than keyd's read-ahead bound (an ACCESS write of a ~900 KB document),
 * arriving in pieces with pauses, whose last piece is small, followed on the same connection
 * by a pipelined read of it: both answered, the document intact. */
static void keyd_server_large_frame(void **state)
{
    env *x = *state;
    size_t big = 900000;
    warden_buf b;
    warden_err e;
    warden_buf_init(&b);
    assert_int_equal(warden_buf_printf(&b,
                                       "{\"request_id\":\"big\"," ALICE ",\"action\":\"write\","
                                       "\"user\":\"u1\",\"collection\":\"messages\",\"id\":"
                                       "\"m2\"," CTX ",\"document\":{\"title\":\"big\",\"body\":\""),
                     0);
    assert_int_equal(warden_buf_reserve(&b, big), 0);
    memset(b.p + b.len, 'z', big);
    b.len += big;
    assert_int_equal(warden_buf_puts(&b, "\"}}"), 0);
    warden_buf f;
    warden_buf_init(&f);
    assert_int_equal(keyd_frame_encode(&f, KEYD_MSG_ACCESS, b.p, b.len, &e), 0);
    char body[512];
    int n = snprintf(body, sizeof body,
                     "{\"request_id\":\"rb\"," ALICE ",\"action\":\"read\",\"user\":\"u1\","
                     "\"collection\":\"messages\",\"id\":\"m2\"," CTX "}");
    assert_int_equal(keyd_frame_encode(&f, KEYD_MSG_ACCESS, (const uint8_t *)body, (size_t)n, &e),
                     0);
    int fd = dial(x);
    size_t cut[] = {5, 300000, f.len - 1000, f.len}, off = 0;
    for (size_t i = 0; i < 4; i++) {
        send_all(fd, f.p + off, cut[i] - off);
        off = cut[i];
        usleep(20000);
    }
    uint16_t t;
    json_t *a = recv_reply(fd, &t);
    assert_non_null(a);
    assert_int_equal(t, KEYD_MSG_ANSWER);
    assert_string_equal(json_string_value(json_object_get(a, "request_id")), "big");
    json_decref(a);
    a = recv_reply(fd, &t);
    assert_non_null(a);
    assert_int_equal(t, KEYD_MSG_ANSWER);
    assert_string_equal(json_string_value(json_object_get(a, "request_id")), "rb");
    const char *got = json_string_value(json_object_get(json_object_get(a, "document"), "body"));
    assert_non_null(got);
    assert_int_equal(strlen(got), big);
    json_decref(a);
    close(fd);
    warden_buf_fini(&b);
    warden_buf_fini(&f);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(keyd_server_interleaved_pipelines, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_server_slow_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_server_violation_isolated, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_server_fails_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_server_large_frame, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
