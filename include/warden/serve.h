/* warden serve: one region of a cluster in one process — its custodian (keyd, serving its
 * unix socket from a thread) and its gateway (HTTP) in front of it. Stopping order is the
 * reverse of starting: the gateway stops taking requests and finishes those in flight
 * before keyd stops, so no request is cut between a logged decision and its answer. */
#ifndef WARDEN_SERVE_H
#define WARDEN_SERVE_H

#include "warden/common.h"

#include <signal.h>

/* What to serve; strings are borrowed for the duration of warden_serve_run. */
typedef struct warden_serve_options {
    const char *cluster_path; /* required: the cluster file (warden/cluster.h) */
    const char *region;       /* required: a region name in it */
    const char *listen;       /* NULL: the region's "listen" from the cluster */
} warden_serve_options;

/* Opens the region's keyd (its "keyd" config in the cluster), serves keyd's socket from a
 * thread, starts the gateway on the region's listen address, then runs until *stop becomes
 * non-zero (a signal handler sets it) and shuts down gateway first, keyd second. When
 * *reload becomes non-zero keyd re-reads its policies and entities (then resets it).
 * Returns 0 after a clean stop. Errors: WARDEN_EINVAL (missing option, unknown region),
 * those of warden_cluster_load, warden_keyd_open and warden_gateway_start, WARDEN_EIO
 * (keyd's socket did not come up, or keyd's service stopped on its own: the message says
 * why). */
WARDEN_MUST_USE int warden_serve_run(const warden_serve_options *o, volatile sig_atomic_t *stop,
                                     volatile sig_atomic_t *reload, warden_err *err);

#endif
