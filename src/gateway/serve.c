/* warden serve: keyd and the gateway of one region in one process (include/warden/serve.h).
 * keyd's socket service runs in its own thread; the gateway starts only once keyd answers
 * a STATUS request, so the region never takes HTTP traffic it cannot decide. Shutdown is
 * gateway first (requests in flight finish against a live keyd), keyd second. */
#include "warden/serve.h"

#include "warden/cluster.h"
#include "warden/gateway.h"
#include "warden/keyd.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

/* keyd's service thread: its own stop flag, so the gateway can be stopped before it. */
typedef struct keyd_thread {
    warden_keyd *k;
    volatile sig_atomic_t stop;
    volatile sig_atomic_t *reload;
    atomic_int done; /* set when warden_keyd_serve returned */
    int rc;
    warden_err err;
} keyd_thread;

static void *keyd_main(void *arg)
{
    keyd_thread *t = arg;
    t->rc = warden_keyd_serve(t->k, &t->stop, t->reload, &t->err);
    atomic_store(&t->done, 1);
    return NULL;
}

static void nap_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    (void)nanosleep(&ts, NULL); /* EINTR (a signal) just ends the nap early */
}

/* Waits until keyd answers STATUS on its socket (up to about 10 s). */
static int wait_keyd(keyd_thread *t, const char *socket_path, warden_err *err)
{
    warden_err cerr;
    warden_err_clear(&cerr);
    for (int i = 0; i < 500 && !atomic_load(&t->done); i++) {
        json_t *reply = NULL;
        int is_error = 0;
        int rc =
            warden_keyd_call(&reply, &is_error, socket_path, WARDEN_KEYD_MSG_STATUS, NULL, &cerr);
        json_decref(reply);
        if (rc == 0 && !is_error)
            return 0;
        nap_ms(20);
    }
    if (atomic_load(&t->done))
        return warden_err_set(err, WARDEN_EIO, "keyd stopped: %s", t->err.msg);
    return warden_err_set(err, WARDEN_EIO, "keyd did not answer on %s: %s", socket_path, cerr.msg);
}

int warden_serve_run(const warden_serve_options *o, volatile sig_atomic_t *stop,
                     volatile sig_atomic_t *reload, warden_err *err)
{
    warden_cluster *c = NULL;
    warden_gateway *g = NULL;
    keyd_thread t = {.k = NULL, .stop = 0, .reload = reload, .rc = 0};
    atomic_init(&t.done, 0);
    pthread_t tid;
    int started = 0, rc;
    if (o == NULL || o->cluster_path == NULL || o->region == NULL)
        return warden_err_set(err, WARDEN_EINVAL, "serve needs a cluster file and a region");
    warden_err_clear(&t.err);
    if ((rc = warden_cluster_load(&c, o->cluster_path, err)) != 0)
        goto out;
    const warden_cluster_region *r = warden_cluster_region_find(c, o->region);
    if (r == NULL) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: no region named \"%s\"", o->cluster_path,
                            o->region);
        goto out;
    }
    if ((rc = warden_keyd_open(&t.k, r->keyd_config, err)) != 0) {
        (void)warden_err_prefix(err, "region %s: keyd", r->name);
        goto out;
    }
    if (pthread_create(&tid, NULL, keyd_main, &t) != 0) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "cannot start keyd's thread");
        goto out;
    }
    started = 1;
    const char *sock = warden_keyd_socket_path(t.k);
    if ((rc = wait_keyd(&t, sock, err)) != 0)
        goto out;
    warden_gateway_options go = {.cluster_path = o->cluster_path,
                                 .region = r->name,
                                 .listen = o->listen,
                                 .keyd_socket = sock};
    if ((rc = warden_gateway_start(&g, &go, err)) != 0)
        goto out;
    char hash[72];
    warden_keyd_policy_hash(hash, t.k);
    fprintf(stderr, "warden serve: region %s: keyd on %s (policy set %s), gateway on port %u\n",
            r->name, sock, hash, (unsigned)warden_gateway_port(g));
    while (!*stop && !atomic_load(&t.done))
        nap_ms(100);
    if (atomic_load(
            &t.done)) /* keyd's service ended by itself: the region cannot decide any more */
        rc = warden_err_set(err, WARDEN_EIO, "region %s: keyd stopped: %s", r->name,
                            t.rc != 0 ? t.err.msg : "no reason given");
out:
    warden_gateway_stop(g); /* in-flight HTTP requests finish while keyd still serves */
    if (started) {
        t.stop = 1;
        (void)pthread_join(tid, NULL);
    }
    warden_keyd_free(t.k);
    warden_cluster_free(c);
    return rc;
}
