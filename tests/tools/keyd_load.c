/* Load generator for keyd (bench/keyd.sh, tests/keyd/keyd_crash.test.sh): N concurrent
 * clients, each on its own connection with one request outstanding at a time, all driven
 * by ONE thread with epoll (so that on a small machine the client does not take the CPU
 * keyd is measured on, and no client thread is woken per answer).
 *
 *   keyd_load SOCKET CLIENTS REQUESTS MODE USER [OUT]
 *
 * MODE read: each client reads messages/bench (must exist). MODE write: client i writes
 * messages/c<i> with {"n": k} for k = 1.. . Each received answer is appended to OUT as
 * "<request_id> <log_index> <decision> <version> <n>\n" (written before the next request, so
 * the file never claims an answer that the client did not get). A client stops at the first
 * failed call (keyd killed). Prints "requests R seconds S rate X p50_us P p99_us Q".
 * Env KEYD_LOAD_PIPELINE=D (default 1): each client sends D requests in one write, then waits
 * for their D answers (replies come in order), and repeats; a request's latency runs from
 * that write to its own answer. Every answer must be an ANSWER carrying its own request_id
 * in its place; with OUT it is parsed with jansson, without OUT (the benchmark) the
 * canonical reply is only searched for "request_id":"<id>". */
#define _GNU_SOURCE /* memmem */
#include "keyd/protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *g_mode, *g_user;
static long g_requests, g_depth = 1;
static int g_out = -1;
static bool g_write;

typedef struct client {
    int id, fd;
    long next;      /* number of the next request to send (1-based) */
    long burst_end; /* last request of the burst in flight */
    long acked;     /* answers received */
    double t0;      /* when the burst was sent */
    warden_buf out, in;
    size_t out_off, in_off;
    uint32_t events; /* epoll interest now */
    long done;
    double *lat; /* microseconds */
} client;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void rid_of(char *rid, size_t cap, const client *c, long k)
{
    snprintf(rid, cap, "p%ld-c%d-%ld", (long)getpid(), c->id, k);
}

/* Appends request k of c as a frame. The text is the canonical form keyd_frame_encode_json
 * would write (sorted keys): building it with jansson per request cost the client as much
 * CPU as the keyd it measures. */
static int encode(client *c, long k)
{
    char rid[64], body[512];
    rid_of(rid, sizeof rid, c, k);
    int n;
    if (g_write)
        n = snprintf(body, sizeof body,
                     "{\"action\":\"write\",\"collection\":\"messages\",\"context\":{\"location\":"
                     "\"US\",\"purpose\":\"support\",\"source_ip\":\"10.0.0.9\"},\"document\":{"
                     "\"n\":%ld},\"id\":\"c%d\",\"principal\":\"Employee::\\\"alice\\\"\","
                     "\"request_id\":\"%s\",\"user\":\"%s\"}",
                     k, c->id, rid, g_user);
    else
        n = snprintf(body, sizeof body,
                     "{\"action\":\"read\",\"collection\":\"messages\",\"context\":{\"location\":"
                     "\"US\",\"purpose\":\"support\",\"source_ip\":\"10.0.0.9\"},\"id\":\"bench\","
                     "\"principal\":\"Employee::\\\"alice\\\"\",\"request_id\":\"%s\",\"user\":\""
                     "%s\"}",
                     rid, g_user);
    warden_err err;
    return n < 0 || (size_t)n >= sizeof body
               ? -1
               : keyd_frame_encode(&c->out, KEYD_MSG_ACCESS, (const uint8_t *)body, (size_t)n,
                                   &err);
}

/* Sends what c has queued. Returns -1 when the connection failed. */
static int pump(client *c)
{
    while (c->out_off < c->out.len) {
        ssize_t s = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (s < 0 && errno == EINTR)
            continue;
        if (s < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (s <= 0)
            return -1;
        c->out_off += (size_t)s;
    }
    c->out.len = c->out_off = 0;
    return 0;
}

/* Queues and sends the next burst of up to D requests. Returns -1 on failure. */
static int burst(client *c)
{
    c->burst_end = c->next + g_depth - 1 <= g_requests ? c->next + g_depth - 1 : g_requests;
    for (; c->next <= c->burst_end; c->next++)
        if (encode(c, c->next) != 0)
            return -1;
    c->t0 = now_us();
    return pump(c);
}

/* Checks the answer to request k. Returns -1 when the client must stop. */
static int answer(client *c, long k, uint16_t type, const uint8_t *p, uint32_t len)
{
    char rid[64], want[96];
    rid_of(rid, sizeof rid, c, k);
    if (type != KEYD_MSG_ANSWER)
        return -1;
    if (g_out < 0) {
        int n = snprintf(want, sizeof want, "\"request_id\":\"%s\"", rid);
        if (memmem(p, len, want, (size_t)n) == NULL) {
            fprintf(stderr, "keyd_load: the answer in the place of %s is not its own\n", rid);
            exit(1);
        }
        return 0;
    }
    json_t *a = NULL;
    warden_err err;
    if (keyd_reply_decode(&a, type, p, len, &err) != 0)
        return -1;
    const char *got = json_string_value(json_object_get(a, "request_id"));
    if (got == NULL || strcmp(got, rid) != 0) {
        fprintf(stderr, "keyd_load: answer for %s arrived in the place of %s\n",
                got != NULL ? got : "(none)", rid);
        exit(1);
    }
    char line[256];
    int n = snprintf(line, sizeof line, "%s %lld %s %lld %ld\n", rid,
                     (long long)json_integer_value(json_object_get(a, "log_index")),
                     json_string_value(json_object_get(a, "decision")),
                     (long long)json_integer_value(json_object_get(a, "version")), k);
    if (write(g_out, line, (size_t)n) != n)
        abort();
    json_decref(a);
    return 0;
}

/* Reads what keyd sent c and handles every whole answer; starts the next burst when the
 * current one is answered. Returns 1 when c is finished, -1 when it failed, else 0. */
static int receive(client *c)
{
    for (;;) {
        if (warden_buf_reserve(&c->in, 65536) != 0)
            return -1;
        size_t room = c->in.cap - c->in.len;
        ssize_t r = read(c->fd, c->in.p + c->in.len, room);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (r <= 0)
            return -1;
        c->in.len += (size_t)r;
        if ((size_t)r < room)
            break; /* drained; epoll reports more (saves a read that says EAGAIN) */
    }
    while (c->in.len - c->in_off >= KEYD_FRAME_HEADER) {
        warden_cursor cur;
        uint16_t type;
        uint32_t len;
        warden_err err;
        warden_cursor_init(&cur, c->in.p + c->in_off, KEYD_FRAME_HEADER);
        if (keyd_frame_header(&type, &len, &cur, &err) != 0)
            return -1;
        if (c->in.len - c->in_off - KEYD_FRAME_HEADER < len)
            break;
        if (c->acked >= c->burst_end)
            return -1; /* an answer nobody asked for */
        c->lat[c->done++] = now_us() - c->t0;
        if (answer(c, ++c->acked, type, c->in.p + c->in_off + KEYD_FRAME_HEADER, len) != 0)
            return -1;
        c->in_off += KEYD_FRAME_HEADER + (size_t)len;
    }
    memmove(c->in.p, c->in.p + c->in_off, c->in.len - c->in_off);
    c->in.len -= c->in_off;
    c->in_off = 0;
    if (c->acked == c->burst_end) {
        if (c->acked == g_requests)
            return 1;
        if (burst(c) != 0)
            return -1;
    }
    return 0;
}

static int connect_to(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void drop(int ep, client *c, int *live)
{
    (void)epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    (*live)--;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: keyd_load SOCKET CLIENTS REQUESTS read|write USER [OUT]\n");
        return 2;
    }
    uint64_t nc = 0, nr = 0;
    if (warden_parse_u64(&nc, argv[2], strlen(argv[2])) != 0 ||
        warden_parse_u64(&nr, argv[3], strlen(argv[3])) != 0 || nc == 0 || nc > 4096 ||
        nr == 0 || nr > 100000000) {
        fprintf(stderr, "keyd_load: CLIENTS and REQUESTS must be numbers\n");
        return 2;
    }
    int n = (int)nc;
    g_requests = (long)nr;
    g_mode = argv[4];
    g_write = strcmp(g_mode, "write") == 0;
    g_user = argv[5];
    for (const char *u = g_user; *u != '\0'; u++)
        if (!((*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z') || (*u >= '0' && *u <= '9') ||
              *u == '-' || *u == '_')) {
            fprintf(stderr, "keyd_load: USER must be [A-Za-z0-9_-]\n");
            return 2;
        }
    uint64_t depth = 1;
    const char *d = getenv("KEYD_LOAD_PIPELINE");
    if (d != NULL && (warden_parse_u64(&depth, d, strlen(d)) != 0 || depth == 0 || depth > 64)) {
        fprintf(stderr, "keyd_load: KEYD_LOAD_PIPELINE must be 1..64\n");
        return 2;
    }
    g_depth = (long)depth;
    if (argc > 6 && (g_out = open(argv[6], O_WRONLY | O_CREAT | O_APPEND, 0644)) < 0)
        return 1;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    client *cs = calloc((size_t)n, sizeof *cs);
    if (ep < 0 || cs == NULL)
        return 1;
    int live = 0;
    double t0 = now_us();
    for (int i = 0; i < n; i++) {
        client *c = &cs[i];
        c->id = i;
        c->next = 1;
        c->lat = calloc((size_t)g_requests, sizeof(double));
        warden_buf_init(&c->out);
        warden_buf_init(&c->in);
        if (c->lat == NULL || (c->fd = connect_to(argv[1])) < 0) {
            c->fd = -1;
            continue;
        }
        c->events = EPOLLIN | EPOLLOUT;
        struct epoll_event e = {.events = c->events, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e) != 0) {
            close(c->fd);
            c->fd = -1;
            continue;
        }
        live++;
        if (burst(c) != 0)
            drop(ep, c, &live);
    }
    struct epoll_event ev[256];
    while (live > 0) {
        int k = epoll_wait(ep, ev, 256, -1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            break;
        for (int i = 0; i < k; i++) {
            client *c = ev[i].data.ptr;
            if (c->fd < 0)
                continue;
            int rc = 0;
            if (ev[i].events & EPOLLOUT)
                rc = pump(c);
            if (rc == 0 && (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                rc = receive(c);
            if (rc != 0) {
                drop(ep, c, &live);
                continue;
            }
            /* Watch for output space only while a request is not fully sent. */
            uint32_t want = EPOLLIN | (c->out.len > 0 ? EPOLLOUT : 0);
            struct epoll_event e = {.events = want, .data.ptr = c};
            if (want != c->events && epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e) == 0)
                c->events = want;
        }
    }
    double secs = (now_us() - t0) / 1e6;
    long total = 0;
    for (int i = 0; i < n; i++)
        total += cs[i].done;
    double *all = calloc((size_t)total + 1, sizeof(double));
    long k = 0;
    for (int i = 0; i < n; i++) {
        memcpy(all + k, cs[i].lat, (size_t)cs[i].done * sizeof(double));
        k += cs[i].done;
        free(cs[i].lat);
        warden_buf_fini(&cs[i].out);
        warden_buf_fini(&cs[i].in);
    }
    qsort(all, (size_t)total, sizeof(double), cmp);
    printf("requests %ld seconds %.3f rate %.0f p50_us %.0f p99_us %.0f\n", total, secs,
           (double)total / secs, total ? all[total / 2] : 0.0,
           total ? all[(long)((double)total * 0.99)] : 0.0);
    free(all);
    free(cs);
    close(ep);
    if (g_out >= 0)
        close(g_out);
    return 0;
}
