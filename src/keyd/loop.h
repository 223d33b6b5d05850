/* keyd's event loop (loop.c), driven by warden_keyd_serve (server.c): a few worker threads,
 * each owning the connections handed to it and serving them with one epoll loop. */
#ifndef WARDEN_KEYD_LOOP_H
#define WARDEN_KEYD_LOOP_H

#include "keyd/keyd_internal.h"

#include <stddef.h>

/* Connections keyd serves at once (all workers); more are closed as they come. */
#define KEYD_MAX_CONNS 1024

typedef struct keyd_worker keyd_worker;

/* Starts a worker thread (4 MiB stack: the Cedar parser needs ~1 MiB under ASan).
 * Errors: WARDEN_ENOMEM, WARDEN_EIO (epoll or eventfd), WARDEN_EINTERNAL (no thread). */
WARDEN_MUST_USE int keyd_worker_start(keyd_worker **out, warden_keyd *k, warden_err *err);
/* Hands the connected non-blocking socket fd of peer to w, which owns it from then on
 * (also on error: the fd is closed). Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int keyd_worker_adopt(keyd_worker *w, int fd, const warden_keyd_peer *peer,
                                      warden_err *err);
/* Connections w serves now (adopted, not yet closed). */
size_t keyd_worker_conns(keyd_worker *w);
/* Stops w: it finishes the group it is deciding, sends what it can without waiting, closes
 * every connection and exits; then frees w. NULL is accepted. */
void keyd_worker_stop(keyd_worker *w);

#endif
