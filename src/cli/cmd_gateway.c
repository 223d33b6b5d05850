/* `warden gateway`: serves one region's HTTP API until SIGTERM or SIGINT. Only argument
 * handling lives here; see include/warden/gateway.h and docs/gateway.md. */
#include "cli/cli.h"
#include "warden/gateway.h"
#include "warden/util.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void cmd_gateway_usage(FILE *out)
{
    fprintf(out,
            "usage: warden gateway --cluster FILE --region NAME [--listen HOST:PORT]\n"
            "                      [--keyd-socket PATH] [--log-dir DIR] [--threads N]\n"
            "                      [--tls-cert PEM --tls-key PEM] [--max-body BYTES]\n"
            "                      [--max-connections N] [--timeout SECONDS]\n"
            "                      [--keyd-connections N] [--keyd-timeout SECONDS]\n\n"
            "Serves region NAME of the cluster file over HTTP (HTTPS with a certificate and\n"
            "key): the /v1 API for end users and employees, the region's log under /log/,\n"
            "/metrics, /healthz and /readyz. It holds no key: every data request goes to the\n"
            "region's keyd (socket and log directory default to those of the region's keyd\n"
            "config). --listen defaults to the region's listen address; port 0 picks a free\n"
            "port. Prints 'listening on port N' on stdout once it serves. SIGTERM or SIGINT\n"
            "stops it after the requests in flight. --threads: HTTP threads (default 2);\n"
            "requests waiting for keyd hold no thread: they share --keyd-connections\n"
            "pipelined connections (default 4) and get 503 when keyd has not answered within\n"
            "--keyd-timeout (default 10). The API is described in docs/gateway.md.\n");
}

static int parse_unsigned(unsigned *out, const char *s, unsigned max)
{
    uint64_t v;
    if (warden_parse_u64(&v, s, strlen(s)) != 0 || v == 0 || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int cmd_gateway(int argc, char **argv)
{
    enum {
        CLUSTER, REGION, LISTEN, SOCK, LOGDIR, CERT, KEY, THREADS, BODY, CONNS, TIMEOUT,
        KCONNS, KTIMEOUT, N
    };
    static const char *const NAMES[N] = {"cluster",  "region",          "listen",  "keyd-socket",
                                         "log-dir",  "tls-cert",        "tls-key", "threads",
                                         "max-body", "max-connections", "timeout",
                                         "keyd-connections", "keyd-timeout"};
    const char *v[N] = {0};
    for (int i = 1; i < argc; i++) {
        int k = -1;
        if (strncmp(argv[i], "--", 2) == 0)
            for (int j = 0; j < N; j++)
                if (strcmp(argv[i] + 2, NAMES[j]) == 0)
                    k = j;
        if (k < 0 || i + 1 >= argc) {
            fprintf(stderr, "warden gateway: %s '%s'\n",
                    k < 0 ? "unknown argument" : "missing value for", argv[i]);
            cmd_gateway_usage(stderr);
            return 2;
        }
        v[k] = argv[++i];
    }
    warden_gateway_options o = {.cluster_path = v[CLUSTER],
                                .region = v[REGION],
                                .listen = v[LISTEN],
                                .keyd_socket = v[SOCK],
                                .log_dir = v[LOGDIR],
                                .tls_cert = v[CERT],
                                .tls_key = v[KEY]};
    unsigned body = 0;
    if (v[CLUSTER] == NULL || v[REGION] == NULL ||
        (v[THREADS] != NULL && parse_unsigned(&o.threads, v[THREADS], 1024) != 0) ||
        (v[CONNS] != NULL && parse_unsigned(&o.max_connections, v[CONNS], 1u << 20) != 0) ||
        (v[TIMEOUT] != NULL && parse_unsigned(&o.timeout_s, v[TIMEOUT], 86400) != 0) ||
        (v[KCONNS] != NULL && parse_unsigned(&o.keyd_connections, v[KCONNS], 1024) != 0) ||
        (v[KTIMEOUT] != NULL && parse_unsigned(&o.keyd_timeout_s, v[KTIMEOUT], 3600) != 0) ||
        (v[BODY] != NULL && parse_unsigned(&body, v[BODY], 64u << 20) != 0)) {
        cmd_gateway_usage(stderr);
        return 2;
    }
    o.max_body = body;
    warden_err err;
    /* responses carry decrypted fields for a moment: keep them out of core files */
    if (warden_disable_core_dumps(&err) != 0) {
        fprintf(stderr, "warden gateway: %s\n", err.msg);
        return 1;
    }
    cli_signals_catch(false);
    warden_gateway *g = NULL;
    if (warden_gateway_start(&g, &o, &err) != 0) {
        fprintf(stderr, "warden gateway: %s\n", err.msg);
        return 1;
    }
    printf("listening on port %u\n", (unsigned)warden_gateway_port(g));
    fflush(stdout);
    /* a timed wait, not pause(): a signal between the test and pause() would be lost */
    while (!cli_stop) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    warden_gateway_stop(g);
    return 0;
}
