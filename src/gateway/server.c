/* The gateway's HTTP server: libmicrohttpd with an internal thread pool, bounded in every
 * dimension a hostile client controls (connections, idle time, header memory per connection,
 * request target, body), and the request life cycle: URI callback (state, request id, clock)
 * -> route -> checks on headers -> body -> handler -> completion callback (metrics, wipe). */
#include "gateway/gateway_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define GW_DEFAULT_MAX_CONNECTIONS 1024
#define GW_DEFAULT_TIMEOUT_S 30
#define GW_DEFAULT_MAX_BODY (1u << 20)
#define GW_DEFAULT_THREADS 2
/* keyd connections: each carries many pipelined requests, and keyd serves each on its own
 * thread, so a few keep both keyd's threads and its log batches busy */
#define GW_DEFAULT_KEYD_CONNECTIONS 4
#define GW_DEFAULT_KEYD_TIMEOUT_S 10
/* Per-connection memory pool: request line and headers must fit (else MHD answers 431).
 * 32 KiB is nginx's default ceiling for headers and holds a maximal token and
 * X-Forwarded-For many times over; MHD zeroes the pool between keep-alive requests, so a
 * larger one costs every request (64 KiB cost about 2 us of CPU each). */
#define GW_CONNECTION_MEMORY (32u << 10)
#define GW_XFF_MAX 2048
/* Bytes of an oversized chunked body read and dropped before the connection is cut. */
#define GW_DISCARD_MAX (8u << 20)

/* ---- responses ---- */

static void wipe_free(void *p)
{
    warden_wipe(p, strlen(p));
    free(p);
}

static void common_headers(struct MHD_Response *r, const gw_req *q)
{
    (void)MHD_add_response_header(r, "Cache-Control", "no-store");
    (void)MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    (void)MHD_add_response_header(r, "Warden-Request-Id", q->request_id);
}

static enum MHD_Result queue(struct MHD_Connection *c, gw_req *q, unsigned status,
                             struct MHD_Response *r)
{
    q->status = status;
    q->answered = true;
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_json_hdr(struct MHD_Connection *c, gw_req *q, unsigned status,
                                        json_t *obj, const char *hname, const char *hvalue)
{
    char *text = obj != NULL ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(obj);
    if (text == NULL) {
        static const char OOM[] = "{\"error\":\"out of memory\",\"kind\":\"unavailable\"}";
        struct MHD_Response *r =
            MHD_create_response_from_buffer(sizeof OOM - 1, (void *)OOM, MHD_RESPMEM_PERSISTENT);
        if (r == NULL)
            return MHD_NO;
        common_headers(r, q);
        return queue(c, q, 503, r);
    }
    /* the text may hold decrypted fields: wiped when MHD is done with it */
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(strlen(text), text, wipe_free);
    if (r == NULL) {
        wipe_free(text);
        return MHD_NO;
    }
    (void)MHD_add_response_header(r, "Content-Type", "application/json");
    common_headers(r, q);
    if (hname != NULL)
        (void)MHD_add_response_header(r, hname, hvalue);
    return queue(c, q, status, r);
}

enum MHD_Result gw_respond_json_text(struct MHD_Connection *c, gw_req *q, unsigned status,
                                     char *text, size_t len)
{
    /* the text may hold decrypted fields: wiped when MHD is done with it */
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(len, text, wipe_free);
    if (r == NULL) {
        wipe_free(text);
        return MHD_NO;
    }
    (void)MHD_add_response_header(r, "Content-Type", "application/json");
    common_headers(r, q);
    return queue(c, q, status, r);
}

enum MHD_Result gw_respond_json(struct MHD_Connection *c, gw_req *q, unsigned status, json_t *obj)
{
    return respond_json_hdr(c, q, status, obj, NULL, NULL);
}

enum MHD_Result gw_respond_error_hdr(struct MHD_Connection *c, gw_req *q, unsigned status,
                                     const char *kind, const char *msg, const char *hname,
                                     const char *hvalue)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s}", "error", msg, "kind", kind, "request_id", q->request_id);
    if (o != NULL && hname != NULL && strcmp(hname, "Location") == 0)
        (void)json_object_set_new(o, "location", json_string(hvalue));
    return respond_json_hdr(c, q, status, o, hname, hvalue);
}

enum MHD_Result gw_respond_error(struct MHD_Connection *c, gw_req *q, unsigned status,
                                 const char *kind, const char *msg)
{
    return gw_respond_error_hdr(c, q, status, kind, msg, NULL, NULL);
}

/* ---- request life cycle ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    warden_gateway *g = cls;
    (void)c;
    gw_req *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    clock_gettime(CLOCK_MONOTONIC, &q->start);
    size_t n = strlen(uri);
    if (n > GW_URI_MAX)
        q->uri_too_long = true;
    else
        memcpy(q->uri, uri, n + 1);
    q->uri_len = n > GW_URI_MAX ? 0 : n;
    /* "gw-" + this gateway's random 48-bit prefix + a 48-bit sequence number: unique for
     * correlation (ids are not secrets; they are returned and logged) without a DRBG call */
    static const char HEX[] = "0123456789abcdef";
    uint64_t seq = atomic_fetch_add_explicit(&g->request_seq, 1, memory_order_relaxed);
    uint64_t parts[2] = {g->request_prefix, seq};
    char *p = q->request_id;
    memcpy(p, "gw-", 3);
    p += 3;
    for (int k = 0; k < 2; k++)
        for (int sh = 44; sh >= 0; sh -= 4)
            *p++ = HEX[(parts[k] >> sh) & 0xf];
    *p = '\0';
    warden_buf_init(&q->body);
    warden_buf_init(&q->keyd_payload);
    return q;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode toe)
{
    warden_gateway *g = cls;
    gw_req *q = *state;
    (void)c, (void)toe;
    if (q == NULL)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ns =
        (int64_t)(now.tv_sec - q->start.tv_sec) * 1000000000 + (now.tv_nsec - q->start.tv_nsec);
    if (q->answered)
        gw_metrics_request(&g->metrics, q->route.kind, q->status, ns > 0 ? (uint64_t)ns : 0);
    warden_buf_fini_wipe(&q->body);
    json_decref(q->put_body);
    warden_buf_fini_wipe(&q->keyd_payload);
    warden_wipe(&q->claims, sizeof q->claims);
    free(q);
    *state = NULL;
}

typedef struct xff_acc {
    char buf[GW_XFF_MAX + 1];
    size_t len;
    bool any, overflow;
} xff_acc;

static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    xff_acc *a = cls;
    (void)kind;
    if (key == NULL || strcasecmp(key, "X-Forwarded-For") != 0 || value == NULL)
        return MHD_YES;
    size_t n = strlen(value);
    if (a->len + n + 1 > GW_XFF_MAX) {
        a->overflow = true;
        return MHD_NO;
    }
    if (a->any)
        a->buf[a->len++] = ',';
    memcpy(a->buf + a->len, value, n);
    a->len += n;
    a->buf[a->len] = '\0';
    a->any = true;
    return MHD_YES;
}

static void locate(warden_gateway *g, struct MHD_Connection *c, gw_req *q)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    /* X-Forwarded-For counts only from a trusted proxy: without any, do not collect it */
    xff_acc *a = g->n_proxies > 0 ? calloc(1, sizeof *a) : NULL;
    if (a != NULL)
        (void)MHD_get_connection_values(c, MHD_HEADER_KIND, collect_xff, a);
    /* an overlong chain cannot be read from the right reliably: treat it as garbage */
    const char *xff = a == NULL ? NULL : a->overflow ? "invalid" : a->any ? a->buf : NULL;
    gw_locate(&q->caller, g->netloc, g->proxies, g->n_proxies, ci != NULL ? ci->client_addr : NULL,
              xff);
    free(a);
}

static enum MHD_Result serve_metrics(warden_gateway *g, struct MHD_Connection *c, gw_req *q)
{
    warden_buf b;
    warden_buf_init(&b);
    if (gw_metrics_render(&b, &g->metrics, g->log_dirfd, g->region->name) != 0) {
        warden_buf_fini(&b);
        return gw_respond_error(c, q, 503, "unavailable", "out of memory");
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(b.len, b.p, MHD_RESPMEM_MUST_COPY);
    warden_buf_fini(&b);
    if (r == NULL)
        return MHD_NO;
    (void)MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    common_headers(r, q);
    return queue(c, q, 200, r);
}

/* First call for a request: headers are in, no body yet. */
static enum MHD_Result start_request(warden_gateway *g, struct MHD_Connection *c, gw_req *q,
                                     const char *method)
{
    if (q->uri_too_long)
        return gw_respond_error(c, q, 414, "too_large", "request target too long");
    gw_route_parse(&q->route, method, q->uri, q->uri_len);
    if (q->route.status == 405)
        return gw_respond_error_hdr(c, q, 405, "method_not_allowed", q->route.error, "Allow",
                                    q->route.allow);
    if (q->route.status != 0)
        return gw_respond_error(c, q, (unsigned)q->route.status,
                                q->route.status == 404 ? "not_found" : "invalid", q->route.error);
    locate(g, c, q);
    switch (q->route.kind) {
    case GW_R_HEALTHZ:
        return gw_respond_json(c, q, 200, json_pack("{s:s}", "status", "alive"));
    case GW_R_METRICS:
        return serve_metrics(g, c, q);
    case GW_R_READYZ:
        return gw_handle_readyz(g, c, q);
    case GW_R_LOG:
        return gw_handle_log(g, c, q);
    default:
        break;
    }
    enum MHD_Result r = gw_precheck_v1(g, c, q);
    if (r != MHD_YES || q->answered)
        return r;
    if (q->route.method != GW_M_PUT)
        return gw_handle_v1(g, c, q);
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t n = 0;
    if (cl != NULL && warden_parse_u64(&n, cl, strlen(cl)) == 0 && n > g->max_body) {
        q->too_large = true;
        return gw_respond_error(c, q, 413, "too_large", "request body too large");
    }
    return MHD_YES; /* read the body */
}

static bool has_body(struct MHD_Connection *c)
{
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
               NULL ||
           (cl != NULL && strcmp(cl, "0") != 0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **state)
{
    warden_gateway *g = cls;
    gw_req *q = *state;
    (void)url, (void)version;
    if (q == NULL)
        return MHD_NO; /* out of memory in on_uri: drop the connection */
    if (q->waiting) { /* resumed: keyd's answer is in */
        *upload_len = 0; /* the body of a GET /readyz: not read */
        return gw_continue(g, c, q);
    }
    if (!q->started) {
        q->started = true;
        /* A response queued before MHD has seen the (empty) body costs the keep-alive, so a
         * request without a body is answered on the next call; one with a body is checked
         * now, before its body is read (refusing it then closes the connection). */
        if (!has_body(c)) {
            q->deferred = true;
            return MHD_YES;
        }
        return start_request(g, c, q, method);
    }
    if (q->deferred && *upload_len == 0) {
        q->deferred = false;
        enum MHD_Result r = start_request(g, c, q, method);
        if (r != MHD_YES || q->answered || q->waiting)
            return r;
        return gw_handle_v1(g, c, q); /* a PUT without a body: refused as malformed JSON */
    }
    if (*upload_len > 0) {
        size_t n = *upload_len;
        *upload_len = 0;
        if (q->answered)
            return MHD_YES; /* discard the rest of a refused body */
        if (q->too_large || n > g->max_body - q->body.len) {
            /* MHD can only answer once the body is in (or before it starts): discard it, up to
             * a bound, so a client streaming without end is cut off instead of served */
            if (!q->too_large) {
                q->too_large = true;
                warden_buf_fini_wipe(&q->body);
                warden_buf_init(&q->body);
            }
            q->discarded += n;
            return q->discarded > GW_DISCARD_MAX ? MHD_NO : MHD_YES;
        }
        if (warden_buf_append(&q->body, upload, n) != 0)
            return MHD_NO;
        return MHD_YES;
    }
    if (q->too_large && !q->answered)
        return gw_respond_error(c, q, 413, "too_large", "request body too large");
    if (q->answered)
        return MHD_YES;
    return gw_handle_v1(g, c, q);
}

/* ---- start and stop ---- */

static int parse_listen(struct addrinfo **ai, const char *listen, warden_err *err)
{
    char host[256];
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM};
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || colon[1] == '\0')
        return warden_err_set(err, WARDEN_EINVAL, "listen %s: want HOST:PORT", listen);
    size_t hl = (size_t)(colon - listen);
    const char *h = listen;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']')
        h++, hl -= 2;
    if (hl >= sizeof host)
        return warden_err_set(err, WARDEN_EINVAL, "listen %s: host too long", listen);
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (getaddrinfo(host, colon + 1, &hints, ai) != 0 || *ai == NULL)
        return warden_err_set(err, WARDEN_EINVAL, "listen %s: not a numeric address and port",
                              listen);
    return 0;
}

static int read_pem(char **out, size_t *len, const char *path, bool secret, warden_err *err)
{
    warden_buf b;
    warden_buf_init(&b);
    int rc = warden_file_read(&b, path, 1u << 20, err);
    if (rc == 0 && warden_buf_cstr(&b) != 0)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    if (rc != 0) {
        if (secret)
            warden_buf_fini_wipe(&b);
        else
            warden_buf_fini(&b);
        return rc;
    }
    *out = (char *)b.p;
    *len = b.len;
    return 0;
}

void warden_gateway_stop(warden_gateway *g)
{
    if (g == NULL)
        return;
    if (g->d != NULL) {
        /* stop accepting, then let the pool threads finish what they are serving */
        (void)MHD_quiesce_daemon(g->d);
        /* every connection suspended on keyd is resumed before MHD may stop (its rule) */
        warden_keyd_client_close(g->keyd);
        MHD_stop_daemon(g->d);
    }
    warden_keyd_client_free(g->keyd);
    if (g->log_dirfd >= 0)
        close(g->log_dirfd);
    warden_token_key_free(g->token_key);
    gw_token_cache_free(g->token_cache);
    warden_netloc_free(g->netloc);
    warden_cluster_free(g->cluster);
    free(g->proxies);
    free(g->keyd_socket);
    free(g->tls_cert);
    if (g->tls_key != NULL) {
        warden_wipe(g->tls_key, g->tls_key_len);
        free(g->tls_key);
    }
    free(g);
}

uint16_t warden_gateway_port(const warden_gateway *g)
{
    return g->port;
}

/* Loads everything the gateway needs before it listens. */
static int load(warden_gateway *g, const warden_gateway_options *o, char **log_dir, warden_err *err)
{
    int rc;
    if ((rc = warden_cluster_load(&g->cluster, o->cluster_path, err)) != 0)
        return rc;
    g->region = warden_cluster_region_find(g->cluster, o->region);
    if (g->region == NULL)
        return warden_err_set(err, WARDEN_EINVAL, "%s: no region named \"%s\"", o->cluster_path,
                              o->region);
    if ((rc = warden_netloc_load(&g->netloc, g->cluster->networks, err)) != 0 ||
        (rc = warden_token_key_load(&g->token_key, g->cluster->token_key, err)) != 0)
        return rc;
    if (gw_token_cache_new(&g->token_cache) != 0)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    if (g->cluster->n_trusted_proxies > 0) {
        g->proxies = calloc(g->cluster->n_trusted_proxies, sizeof *g->proxies);
        if (g->proxies == NULL)
            return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        for (size_t i = 0; i < g->cluster->n_trusted_proxies; i++)
            if ((rc = gw_cidr_parse(&g->proxies[i], g->cluster->trusted_proxies[i], err)) != 0)
                return rc;
        g->n_proxies = g->cluster->n_trusted_proxies;
    }
    char *sock = NULL;
    if (o->keyd_socket == NULL || o->log_dir == NULL) {
        if ((rc = warden_keyd_config_paths(&sock, log_dir, g->region->keyd_config, err)) != 0)
            return rc;
    }
    if (o->keyd_socket != NULL) {
        free(sock);
        sock = strdup(o->keyd_socket);
    }
    if (o->log_dir != NULL) {
        free(*log_dir);
        *log_dir = strdup(o->log_dir);
    }
    g->keyd_socket = sock;
    if (sock == NULL || *log_dir == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    g->log_dirfd = open(*log_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (g->log_dirfd < 0)
        return warden_err_set(err, WARDEN_EIO, "log directory %s: %s", *log_dir, strerror(errno));
    unsigned timeout_s = o->keyd_timeout_s != 0 ? o->keyd_timeout_s : GW_DEFAULT_KEYD_TIMEOUT_S;
    if ((rc = warden_keyd_client_new(&g->keyd, sock,
                                     o->keyd_connections != 0 ? o->keyd_connections
                                                              : GW_DEFAULT_KEYD_CONNECTIONS,
                                     timeout_s * 1000u, err)) != 0)
        return rc;
    if ((o->tls_cert != NULL) != (o->tls_key != NULL))
        return warden_err_set(err, WARDEN_EINVAL, "TLS needs both a certificate and a key");
    if (o->tls_cert != NULL) {
        size_t n;
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
            return warden_err_set(err, WARDEN_EINVAL, "this libmicrohttpd has no TLS support");
        if ((rc = read_pem(&g->tls_cert, &n, o->tls_cert, false, err)) != 0 ||
            (rc = read_pem(&g->tls_key, &g->tls_key_len, o->tls_key, true, err)) != 0)
            return rc;
    }
    return 0;
}

int warden_gateway_start(warden_gateway **out, const warden_gateway_options *o, warden_err *err)
{
    *out = NULL;
    if (o == NULL || o->cluster_path == NULL || o->region == NULL)
        return warden_err_set(err, WARDEN_EINVAL, "gateway: cluster and region are required");
    /* Answers pass decrypted fields through jansson; as in keyd, only the process-wide
     * allocation hook can wipe its blocks on free (idempotent, so serve may call it twice). */
    warden_json_wipe_on_free();
    warden_gateway *g = calloc(1, sizeof *g);
    struct addrinfo *ai = NULL;
    char *log_dir = NULL;
    int rc;
    if (g == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    g->log_dirfd = -1;
    uint8_t rnd[6];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        memset(rnd, 0, sizeof rnd); /* ids are for correlation, not security */
    for (size_t i = 0; i < sizeof rnd; i++)
        g->request_prefix = g->request_prefix << 8 | rnd[i];
    atomic_init(&g->request_seq, 0);
    g->max_body = o->max_body != 0 ? o->max_body : GW_DEFAULT_MAX_BODY;
    if ((rc = load(g, o, &log_dir, err)) != 0)
        goto out;
    const char *listen = o->listen != NULL ? o->listen : g->region->listen;
    if ((rc = parse_listen(&ai, listen, err)) != 0)
        goto out;
    /* suspend/resume: a request waiting for keyd is parked, not a blocked thread */
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (g->tls_cert != NULL)
        flags |= MHD_USE_TLS;
    unsigned threads = o->threads != 0 ? o->threads : GW_DEFAULT_THREADS;
    struct MHD_OptionItem tls[] = {
        {g->tls_cert != NULL ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, g->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, g->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    g->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, g, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
        o->max_connections != 0 ? o->max_connections : GW_DEFAULT_MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s != 0 ? o->timeout_s : GW_DEFAULT_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)GW_CONNECTION_MEMORY,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, g, MHD_OPTION_NOTIFY_COMPLETED, on_completed, g,
        MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_LISTEN_BACKLOG_SIZE, 511u, MHD_OPTION_ARRAY,
        tls, MHD_OPTION_END);
    if (g->d == NULL) {
        rc = warden_err_set(err, WARDEN_EIO, "listen %s: cannot listen (in use, or bad TLS files?)",
                            listen);
        goto out;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(g->d, MHD_DAEMON_INFO_BIND_PORT);
    g->port = di != NULL ? di->port : 0;
    *out = g;
    g = NULL;
out:
    if (ai != NULL)
        freeaddrinfo(ai);
    free(log_dir);
    warden_gateway_stop(g);
    return rc;
}
