/* The gateway: warden's network face for one region. HTTP/1.1 (libmicrohttpd, optional
 * TLS), JSON under /v1/, bearer tokens (warden/token.h), caller location from the source
 * address (warden/netloc.h), routing by the cluster file (warden/cluster.h). It holds no
 * key and no state: every data request becomes one keyd request over keyd's unix socket.
 * It also serves the region's log read-only under /log/, /metrics, /healthz and /readyz.
 * The HTTP API is documented in docs/gateway.md. */
#ifndef WARDEN_GATEWAY_H
#define WARDEN_GATEWAY_H

#include "warden/common.h"

#include <stddef.h>
#include <stdint.h>

typedef struct warden_gateway warden_gateway;

/* What to serve; strings are borrowed for the duration of warden_gateway_start. NULL or 0
 * fields take the defaults named. */
typedef struct warden_gateway_options {
    const char *cluster_path; /* required */
    const char *region;       /* required: this region's name in the cluster */
    const char *listen;       /* default: the region's "listen" */
    const char *keyd_socket;  /* default: the socket of the region's keyd config */
    const char *log_dir;      /* default: the log dir of the region's keyd config */
    const char *tls_cert;     /* PEM; TLS only when both cert and key are set */
    const char *tls_key;
    unsigned max_connections; /* default 1024 */
    unsigned timeout_s;       /* idle connection timeout, default 30 */
    size_t max_body;          /* request body bytes, default 1 MiB */
    unsigned threads;         /* HTTP threads, default 2 */
    unsigned keyd_connections; /* pipelined keyd connections, default 4 */
    unsigned keyd_timeout_s;  /* a keyd answer later than this is a 503, default 10 */
} warden_gateway_options;

/* Loads the cluster, networks table and token key, and starts serving. Errors:
 * WARDEN_EINVAL (missing option, unknown region), those of warden_cluster_load,
 * warden_netloc_load and warden_token_key_load, WARDEN_EIO (cannot listen). */
WARDEN_MUST_USE int warden_gateway_start(warden_gateway **out, const warden_gateway_options *o,
                                         warden_err *err);

/* The TCP port actually listened on (useful with port 0). */
uint16_t warden_gateway_port(const warden_gateway *g);

/* Stops accepting, finishes requests in flight, and frees; NULL is accepted. */
void warden_gateway_stop(warden_gateway *g);

#endif
