/* Prometheus text exposition (version 0.0.4) of the gateway's counters: lock-free atomics
 * updated by every request, rendered on each scrape. The log size comes from the region's
 * published checkpoint (what an auditor sees), not from keyd's memory. */
#include "gateway/gateway_internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Upper bounds of the latency buckets, seconds (Prometheus "le"). */
static const double LAT_LE[GW_LAT_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                              0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
/* Statuses counted one by one; the last slot is "other". */
static const unsigned STATUSES[GW_STATUS_SLOTS - 1] = {200, 201, 204, 206, 304, 307, 400, 401,
                                                       403, 404, 405, 409, 410, 411, 413, 414,
                                                       415, 431, 500, 501, 502, 503, 505};
static const char *const DECISIONS[3] = {"allow", "partial", "deny"};
static const char *const OUTCOMES[4] = {"ok", "not_found", "key_destroyed", "exists"};

void gw_metrics_request(gw_metrics *m, gw_route_kind k, unsigned status, uint64_t ns)
{
    if ((unsigned)k >= GW_R_COUNT)
        k = GW_R_NONE;
    size_t slot = GW_STATUS_SLOTS - 1;
    for (size_t i = 0; i < GW_STATUS_SLOTS - 1; i++)
        if (STATUSES[i] == status)
            slot = i;
    atomic_fetch_add_explicit(&m->requests[k][slot], 1, memory_order_relaxed);
    size_t b = 0;
    while (b < GW_LAT_BUCKETS && (double)ns / 1e9 > LAT_LE[b])
        b++;
    atomic_fetch_add_explicit(&m->lat_bucket[k][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->lat_sum_ns[k], ns, memory_order_relaxed);
}

void gw_metrics_decision(gw_metrics *m, const char *decision, const char *outcome)
{
    for (size_t i = 0; decision != NULL && i < 3; i++)
        if (strcmp(decision, DECISIONS[i]) == 0)
            atomic_fetch_add_explicit(&m->decisions[i], 1, memory_order_relaxed);
    for (size_t i = 0; outcome != NULL && i < 4; i++)
        if (strcmp(outcome, OUTCOMES[i]) == 0)
            atomic_fetch_add_explicit(&m->outcomes[i], 1, memory_order_relaxed);
}

/* The tree size of the published checkpoint, or -1. */
static int log_size(uint64_t *size, int dirfd)
{
    warden_buf b;
    warden_buf_init(&b);
    int rc = -1, fd = openat(dirfd, "checkpoint", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    if (warden_buf_reserve(&b, WARDEN_TLOG_NOTE_MAX + 1) == 0) {
        ssize_t r;
        while (b.len <= WARDEN_TLOG_NOTE_MAX &&
               (r = read(fd, b.p + b.len, WARDEN_TLOG_NOTE_MAX + 1 - b.len)) > 0)
            b.len += (size_t)r;
        size_t tlen;
        warden_tlog_checkpoint cp;
        if (b.len <= WARDEN_TLOG_NOTE_MAX && warden_tlog_note_parse(&tlen, b.p, b.len, NULL) == 0 &&
            warden_tlog_checkpoint_parse(&cp, b.p, tlen, NULL) == 0) {
            *size = cp.size;
            rc = 0;
        }
    }
    close(fd);
    warden_buf_fini(&b);
    return rc;
}

#define LOAD(x) ((unsigned long long)atomic_load_explicit(&(x), memory_order_relaxed))

int gw_metrics_render(warden_buf *out, gw_metrics *m, int log_dirfd, const char *region)
{
    int bad = 0;
    bad |= warden_buf_puts(out, "# HELP warden_gateway_requests_total HTTP requests answered, "
                                "by route and status.\n"
                                "# TYPE warden_gateway_requests_total counter\n");
    for (int k = 0; k < GW_R_COUNT; k++)
        for (size_t s = 0; s < GW_STATUS_SLOTS; s++) {
            unsigned long long v = LOAD(m->requests[k][s]);
            if (v == 0)
                continue;
            char st[8];
            if (s < GW_STATUS_SLOTS - 1)
                snprintf(st, sizeof st, "%u", STATUSES[s]);
            else
                snprintf(st, sizeof st, "other");
            bad |= warden_buf_printf(out,
                                     "warden_gateway_requests_total{route=\"%s\",status=\"%s\"} "
                                     "%llu\n",
                                     gw_route_name((gw_route_kind)k), st, v);
        }
    bad |= warden_buf_puts(out, "# HELP warden_gateway_request_duration_seconds Time from "
                                "request line to response completion, by route.\n"
                                "# TYPE warden_gateway_request_duration_seconds histogram\n");
    for (int k = 0; k < GW_R_COUNT; k++) {
        unsigned long long cum = 0;
        const char *r = gw_route_name((gw_route_kind)k);
        for (size_t b = 0; b <= GW_LAT_BUCKETS; b++) {
            cum += LOAD(m->lat_bucket[k][b]);
            if (b < GW_LAT_BUCKETS)
                bad |= warden_buf_printf(out,
                                         "warden_gateway_request_duration_seconds_bucket{route="
                                         "\"%s\",le=\"%g\"} %llu\n",
                                         r, LAT_LE[b], cum);
            else
                bad |= warden_buf_printf(out,
                                         "warden_gateway_request_duration_seconds_bucket{route="
                                         "\"%s\",le=\"+Inf\"} %llu\n",
                                         r, cum);
        }
        bad |= warden_buf_printf(out,
                                 "warden_gateway_request_duration_seconds_sum{route=\"%s\"} %.9f\n",
                                 r, (double)LOAD(m->lat_sum_ns[k]) / 1e9);
        bad |= warden_buf_printf(
            out, "warden_gateway_request_duration_seconds_count{route=\"%s\"} %llu\n", r, cum);
    }
    bad |= warden_buf_puts(out, "# HELP warden_gateway_decisions_total keyd decisions relayed, "
                                "by decision.\n"
                                "# TYPE warden_gateway_decisions_total counter\n");
    for (size_t i = 0; i < 3; i++)
        bad |= warden_buf_printf(out, "warden_gateway_decisions_total{decision=\"%s\"} %llu\n",
                                 DECISIONS[i], LOAD(m->decisions[i]));
    bad |= warden_buf_puts(out, "# HELP warden_gateway_outcomes_total What happened after an "
                                "allowed decision, by outcome.\n"
                                "# TYPE warden_gateway_outcomes_total counter\n");
    for (size_t i = 0; i < 4; i++)
        bad |= warden_buf_printf(out, "warden_gateway_outcomes_total{outcome=\"%s\"} %llu\n",
                                 OUTCOMES[i], LOAD(m->outcomes[i]));
    bad |= warden_buf_printf(out,
                             "# HELP warden_gateway_redirects_total End-user requests sent to "
                             "their home region (307).\n"
                             "# TYPE warden_gateway_redirects_total counter\n"
                             "warden_gateway_redirects_total %llu\n"
                             "# HELP warden_gateway_keyd_failures_total keyd calls that failed "
                             "(unreachable, closed, malformed reply).\n"
                             "# TYPE warden_gateway_keyd_failures_total counter\n"
                             "warden_gateway_keyd_failures_total %llu\n",
                             LOAD(m->redirects), LOAD(m->keyd_failures));
    uint64_t size;
    if (log_dirfd >= 0 && log_size(&size, log_dirfd) == 0)
        bad |= warden_buf_printf(out,
                                 "# HELP warden_log_size Entries in the region's published "
                                 "checkpoint.\n"
                                 "# TYPE warden_log_size gauge\n"
                                 "warden_log_size{region=\"%s\"} %llu\n",
                                 region, (unsigned long long)size);
    return bad != 0 ? WARDEN_ENOMEM : 0;
}
