/* Load generator for keyd (bench/keyd.sh, tests/keyd/keyd_crash.test.sh): N clients, each on
 * its own connection, send requests back to back and record every answer they receive.
 *
 *   keyd_load SOCKET CLIENTS REQUESTS MODE USER [OUT]
 *
 * MODE read: each client reads messages/bench (must exist). MODE write: client i writes
 * messages/c<i> with {"n": k} for k = 1.. . Each received answer is appended to OUT as
 * "<request_id> <log_index> <decision> <version> <n>\n" (written before the next request, so
 * the file never claims an answer that the client did not get). A client stops at the first
 * failed call (keyd killed). Prints "requests R seconds S rate X p50_us P p99_us Q".
 * Env KEYD_LOAD_PIPELINE=D (default 1): each client sends D requests in one write, then reads
 * their D answers (replies come in order), and repeats; a request's latency runs from that
 * write to its own answer. */
#include "keyd/protocol.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *g_sock, *g_mode, *g_user;
static long g_requests, g_depth = 1;
static int g_out = -1;

typedef struct client {
    int id;
    long done;
    double *lat; /* microseconds */
} client;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int io_full(int fd, void *p, size_t n, int wr)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t r = wr ? send(fd, b, n, MSG_NOSIGNAL) : read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

static void *run(void *arg)
{
    client *c = arg;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", g_sock);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        goto out;
    warden_buf b;
    warden_buf_init(&b);
    bool is_write = strcmp(g_mode, "write") == 0;
    for (long k0 = 1; k0 <= g_requests; k0 += g_depth) {
        long kn = k0 + g_depth - 1 <= g_requests ? k0 + g_depth - 1 : g_requests;
        warden_err err;
        char rid[64], id[32];
        b.len = 0;
        int rc = 0;
        for (long k = k0; k <= kn && rc == 0; k++) {
            snprintf(rid, sizeof rid, "p%ld-c%d-%ld", (long)getpid(), c->id, k);
            snprintf(id, sizeof id, "c%d", c->id);
            json_t *body = json_pack(
                "{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "request_id", rid, "principal",
                "Employee::\"alice\"", "action", is_write ? "write" : "read", "user", g_user,
                "collection", "messages", "id", is_write ? id : "bench", "context", "source_ip",
                "10.0.0.9", "location", "US", "purpose", "support");
            if (is_write)
                json_object_set_new(body, "document", json_pack("{s:I}", "n", (json_int_t)k));
            rc = keyd_frame_encode_json(&b, KEYD_MSG_ACCESS, body, &err);
            json_decref(body);
        }
        double t0 = now_us();
        if (rc != 0 || io_full(fd, b.p, b.len, 1) != 0)
            break;
        bool failed = false;
        for (long k = k0; k <= kn && !failed; k++) {
            uint8_t h[KEYD_FRAME_HEADER];
            warden_cursor cur;
            uint16_t type;
            uint32_t len;
            failed = true;
            if (io_full(fd, h, sizeof h, 0) != 0)
                break;
            warden_cursor_init(&cur, h, sizeof h);
            if (keyd_frame_header(&type, &len, &cur, &err) != 0)
                break;
            b.len = 0;
            if (warden_buf_reserve(&b, len) != 0 || io_full(fd, b.p, len, 0) != 0)
                break;
            c->lat[c->done++] = now_us() - t0;
            json_t *a = NULL;
            if (type != KEYD_MSG_ANSWER || keyd_reply_decode(&a, type, b.p, len, &err) != 0) {
                json_decref(a);
                break;
            }
            snprintf(rid, sizeof rid, "p%ld-c%d-%ld", (long)getpid(), c->id, k);
            const char *got = json_string_value(json_object_get(a, "request_id"));
            if (got == NULL || strcmp(got, rid) != 0) {
                fprintf(stderr, "keyd_load: answer for %s arrived in the place of %s\n",
                        got != NULL ? got : "(none)", rid);
                json_decref(a);
                exit(1);
            }
            if (g_out >= 0) {
                char line[256];
                int n = snprintf(line, sizeof line, "%s %lld %s %lld %ld\n", rid,
                                 (long long)json_integer_value(json_object_get(a, "log_index")),
                                 json_string_value(json_object_get(a, "decision")),
                                 (long long)json_integer_value(json_object_get(a, "version")), k);
                if (write(g_out, line, (size_t)n) != n)
                    abort();
            }
            json_decref(a);
            failed = false;
        }
        if (failed)
            break;
    }
    warden_buf_fini(&b);
out:
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: keyd_load SOCKET CLIENTS REQUESTS read|write USER [OUT]\n");
        return 2;
    }
    g_sock = argv[1];
    uint64_t nc = 0, nr = 0;
    if (warden_parse_u64(&nc, argv[2], strlen(argv[2])) != 0 ||
        warden_parse_u64(&nr, argv[3], strlen(argv[3])) != 0 || nc == 0 || nc > 4096 ||
        nr > 100000000) {
        fprintf(stderr, "keyd_load: CLIENTS and REQUESTS must be numbers\n");
        return 2;
    }
    int n = (int)nc;
    g_requests = (long)nr;
    g_mode = argv[4];
    g_user = argv[5];
    uint64_t depth = 1;
    const char *d = getenv("KEYD_LOAD_PIPELINE");
    if (d != NULL && (warden_parse_u64(&depth, d, strlen(d)) != 0 || depth == 0 || depth > 64)) {
        fprintf(stderr, "keyd_load: KEYD_LOAD_PIPELINE must be 1..64\n");
        return 2;
    }
    g_depth = (long)depth;
    if (argc > 6 && (g_out = open(argv[6], O_WRONLY | O_CREAT | O_APPEND, 0644)) < 0)
        return 1;
    client *cs = calloc((size_t)n, sizeof *cs);
    pthread_t *ts = calloc((size_t)n, sizeof *ts);
    double t0 = now_us();
    for (int i = 0; i < n; i++) {
        cs[i].id = i;
        cs[i].lat = calloc((size_t)g_requests, sizeof(double));
        pthread_create(&ts[i], NULL, run, &cs[i]);
    }
    long total = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(ts[i], NULL);
        total += cs[i].done;
    }
    double secs = (now_us() - t0) / 1e6;
    double *all = calloc((size_t)total + 1, sizeof(double));
    long k = 0;
    for (int i = 0; i < n; i++) {
        memcpy(all + k, cs[i].lat, (size_t)cs[i].done * sizeof(double));
        k += cs[i].done;
        free(cs[i].lat);
    }
    qsort(all, (size_t)total, sizeof(double), cmp);
    printf("requests %ld seconds %.3f rate %.0f p50_us %.0f p99_us %.0f\n", total, secs,
           (double)total / secs, total ? all[total / 2] : 0.0,
           total ? all[(long)((double)total * 0.99)] : 0.0);
    free(all);
    free(cs);
    free(ts);
    if (g_out >= 0)
        close(g_out);
    return 0;
}
