/* The gateway's internals, shared by its files: the route (router.c), the caller's location
 * (location.c), authentication (auth.c), error statuses (errors.c), metrics (metrics.c), the
 * /v1 handlers (handlers.c) and the log server (logserve.c); server.c owns libmicrohttpd.
 * Not part of the public API (include/warden/gateway.h). */
#ifndef WARDEN_GATEWAY_INTERNAL_H
#define WARDEN_GATEWAY_INTERNAL_H

#include "warden/cluster.h"
#include "warden/gateway.h"
#include "warden/keyd.h"
#include "warden/netloc.h"
#include "warden/store.h"
#include "warden/tlog.h"
#include "warden/token.h"
#include "warden/util.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

/* ---- router.c: a pure function from method + raw request target to a route ---- */

typedef enum gw_route_kind {
    GW_R_NONE = 0, /* no route: 404 */
    GW_R_ME_RECORD,
    GW_R_ME_EXPORT,
    GW_R_USER_RECORD,
    GW_R_USER_EXPORT,
    GW_R_LOG,
    GW_R_METRICS,
    GW_R_HEALTHZ,
    GW_R_READYZ,
    GW_R_COUNT
} gw_route_kind;

typedef enum gw_method { GW_M_OTHER = 0, GW_M_GET, GW_M_HEAD, GW_M_PUT, GW_M_DELETE } gw_method;

/* Longest request target the router looks at (bytes); longer is 414. */
#define GW_URI_MAX 2048
#define GW_LOG_PATH_MAX 128

typedef struct gw_route {
    gw_route_kind kind;
    gw_method method;
    int status;        /* 0: dispatch; else the 4xx to answer (400, 404, 405, 414) */
    const char *error; /* static reason when status != 0 */
    const char *allow; /* methods the route takes (Allow header), "" for none */
    char user[WARDEN_STORE_USER_MAX + 1];
    char collection[WARDEN_STORE_COLLECTION_MAX + 1];
    char id[WARDEN_STORE_ID_MAX + 1];
    char log_path[GW_LOG_PATH_MAX]; /* GW_R_LOG: the path under /log/, undecoded */
    size_t path_len;                /* bytes of the target before '?' */
} gw_route;

/* Parses method and the raw request target uri[0..len) (path and optional query, percent-
 * encoded, not NUL-terminated) into r. Never fails: r->status says what to answer. Segments
 * are percent-decoded and must be printable ASCII without '"', '\\' or '/', not "." or "..";
 * collections [A-Za-z0-9_.-]. Non-canonical paths (empty segments, trailing '/') are 404. */
void gw_route_parse(gw_route *r, const char *method, const char *uri, size_t len);

/* The route's name for metrics ("me_record", ..., "none"). */
const char *gw_route_name(gw_route_kind k);

/* ---- errors.c: WARDEN_E* and keyd error kinds to HTTP statuses, in one table ---- */

typedef struct gw_status {
    unsigned status;
    const char *kind; /* the "kind" of the JSON error body */
} gw_status;

/* The status and kind for a WARDEN_E* code. */
gw_status gw_status_for_code(int code);
/* The status and kind for a keyd ERROR reply's "kind" ("not_found", "denied", ...). */
gw_status gw_status_for_keyd_kind(const char *kind);

/* ---- location.c ---- */

typedef struct gw_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned prefix;
} gw_cidr;

/* Parses "a.b.c.d", "a.b.c.d/n", "x::y" or "x::y/n". Errors: WARDEN_EINVAL. */
WARDEN_MUST_USE int gw_cidr_parse(gw_cidr *out, const char *text, warden_err *err);

typedef struct gw_caller {
    char source_ip[64]; /* the address decisions are made on */
    char peer_ip[64];   /* the TCP peer */
    char country[WARDEN_NETLOC_COUNTRY_MAX + 1];
    char site[WARDEN_NETLOC_SITE_MAX + 1];
    bool via_proxy; /* source_ip came from X-Forwarded-For of a trusted proxy */
} gw_caller;

/* Derives the caller's address and location from the connection's peer and, only when the
 * peer is a trusted proxy, the right-most untrusted X-Forwarded-For address. xff is all
 * X-Forwarded-For values joined by ',' (NULL when none). Never fails: an unusable address
 * gives location "unknown". */
void gw_locate(gw_caller *out, const warden_netloc *table, const gw_cidr *proxies, size_t n_proxies,
               const struct sockaddr *peer, const char *xff);

/* ---- metrics.c ---- */

#define GW_LAT_BUCKETS 12
#define GW_STATUS_SLOTS 24

typedef struct gw_metrics {
    atomic_ullong requests[GW_R_COUNT][GW_STATUS_SLOTS];
    atomic_ullong lat_bucket[GW_R_COUNT][GW_LAT_BUCKETS + 1]; /* last: +Inf */
    atomic_ullong lat_sum_ns[GW_R_COUNT];
    atomic_ullong decisions[3]; /* allow, partial, deny */
    atomic_ullong outcomes[4];  /* ok, not_found, key_destroyed, exists */
    atomic_ullong redirects;
    atomic_ullong keyd_failures;
} gw_metrics;

/* Counts one finished request. */
void gw_metrics_request(gw_metrics *m, gw_route_kind k, unsigned status, uint64_t ns);
/* Counts one keyd answer's decision and outcome. */
void gw_metrics_decision(gw_metrics *m, const char *decision, const char *outcome);
/* Renders the Prometheus text exposition into out; log_dirfd < 0 omits the log size.
 * Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int gw_metrics_render(warden_buf *out, gw_metrics *m, int log_dirfd,
                                      const char *region);

/* ---- auth.c: verified tokens remembered by hash ---- */

typedef struct gw_token_cache gw_token_cache;
/* Creates an empty cache. Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int gw_token_cache_new(gw_token_cache **out);
/* Frees; NULL is accepted. */
void gw_token_cache_free(gw_token_cache *c);

/* ---- the gateway ---- */

struct warden_gateway {
    warden_cluster *cluster;
    const warden_cluster_region *region;
    warden_netloc *netloc;
    warden_token_key *token_key;
    gw_token_cache *token_cache;
    gw_cidr *proxies;
    size_t n_proxies;
    warden_keyd_client *keyd;
    char *keyd_socket;
    int log_dirfd; /* -1: no log served */
    size_t max_body;
    struct MHD_Daemon *d;
    uint16_t port;
    char *tls_cert, *tls_key; /* PEM text; the key is wiped on stop */
    size_t tls_key_len;
    gw_metrics metrics;
    uint64_t request_prefix;    /* random, 48 bits: request ids are prefix + sequence */
    atomic_ullong request_seq;
};

/* Per-request state, from the URI callback to the completion callback. */
typedef struct gw_req {
    struct timespec start;
    char uri[GW_URI_MAX + 1];
    size_t uri_len;
    bool uri_too_long;
    bool started;     /* first handler call done */
    bool deferred;    /* no body: routing and answer wait for the next call */
    bool answered;    /* a response is queued */
    bool too_large;   /* body over max_body: 413 once it is in */
    bool waiting;     /* suspended until keyd's answer (handlers.c) is in */
    size_t discarded; /* bytes of an oversized body dropped so far */
    unsigned status;
    gw_route route;
    char request_id[40];
    gw_caller caller;
    warden_token_claims claims;
    warden_buf body; /* PUT body, wiped on free */
    /* the keyd request in flight: filled by the keyd client's I/O thread, which then resumes
     * the connection (resuming orders these writes before the handler's next call) */
    struct MHD_Connection *conn;
    unsigned step;     /* handlers.c: which request of the route's sequence was sent */
    json_t *put_body;  /* PUT: the write, kept to send again after REGISTER */
    int keyd_rc;
    uint16_t keyd_type;
    warden_buf keyd_payload; /* the answer's bytes (plaintext: wiped) */
    warden_err keyd_err;
} gw_req;

/* Queues a JSON response (obj is consumed; its text is wiped after sending) with the common
 * headers (request id, no-store, nosniff) and records the status. */
enum MHD_Result gw_respond_json(struct MHD_Connection *c, gw_req *q, unsigned status, json_t *obj);
/* Queues text[0..len) (a JSON object's text, NUL-terminated, malloc()ed: consumed, and
 * wiped after sending) with status and the common headers. */
enum MHD_Result gw_respond_json_text(struct MHD_Connection *c, gw_req *q, unsigned status,
                                     char *text, size_t len);
/* Queues {"error": msg, "kind": kind, "request_id": ...} with status. */
enum MHD_Result gw_respond_error(struct MHD_Connection *c, gw_req *q, unsigned status,
                                 const char *kind, const char *msg);
/* Queues a response with extra header name: value (Allow, Location, WWW-Authenticate). */
enum MHD_Result gw_respond_error_hdr(struct MHD_Connection *c, gw_req *q, unsigned status,
                                     const char *kind, const char *msg, const char *hname,
                                     const char *hvalue);

/* auth.c: verifies the Authorization: Bearer token of c into *claims. Errors (message is for
 * the client, never echoes the token): WARDEN_EVERIFY (missing or malformed header), those
 * of warden_token_verify. */
WARDEN_MUST_USE int gw_authenticate(warden_token_claims *claims, const warden_gateway *g,
                                    struct MHD_Connection *c, warden_err *err);

/* handlers.c: the /v1 routes, called once the whole request (and body) is in. It sends keyd
 * its request and suspends the connection (q->waiting); once the answer is in, MHD calls the
 * handler again, which calls gw_continue. */
enum MHD_Result gw_handle_v1(warden_gateway *g, struct MHD_Connection *c, gw_req *q);
/* handlers.c: the next step of a request whose keyd answer (or failure) is in: the HTTP
 * answer, or the next keyd request (PUT registers an unknown user, then writes again). */
enum MHD_Result gw_continue(warden_gateway *g, struct MHD_Connection *c, gw_req *q);
/* handlers.c: the checks done on the headers alone (auth, purpose, residency); returns
 * MHD_YES with q->answered false when the request may go on (body reading, then
 * gw_handle_v1). */
enum MHD_Result gw_precheck_v1(warden_gateway *g, struct MHD_Connection *c, gw_req *q);
/* handlers.c: /readyz (keyd STATUS, suspended as gw_handle_v1). */
enum MHD_Result gw_handle_readyz(warden_gateway *g, struct MHD_Connection *c, gw_req *q);

/* logserve.c: GET/HEAD /log/<path>. */
enum MHD_Result gw_handle_log(warden_gateway *g, struct MHD_Connection *c, gw_req *q);

#endif
