/* A few threads that fsync a batch's files in parallel. Issued together, the fsyncs of one
 * durable step share a journal commit and a device flush instead of paying one each; the
 * appender has three such steps per batch whatever its size. (glibc's POSIX AIO would do the
 * same but creates threads behind our back, which ThreadSanitizer cannot follow.) */
#include "tlog/tlog_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define POOL_THREADS 4

struct tlog_syncpool {
    pthread_t th[POOL_THREADS];
    size_t nthreads;
    pthread_mutex_t mu;
    pthread_cond_t work; /* a job was posted or stopping */
    pthread_cond_t done; /* the job's last fsync finished */
    const int *fds;      /* the job: fds[0..n) */
    size_t n, next, finished;
    int data_only;
    long failed; /* first failing index, -1 */
    int failed_errno;
    int stop;
};

static int sync_one(int fd, int data_only)
{
    return data_only ? fdatasync(fd) : fsync(fd);
}

/* Takes and runs items of the current job until none is left; called with mu held. */
static void run_items(tlog_syncpool *p)
{
    while (p->fds != NULL && p->next < p->n) {
        size_t i = p->next++;
        int fd = p->fds[i], data_only = p->data_only;
        pthread_mutex_unlock(&p->mu);
        int rc = sync_one(fd, data_only);
        int e = errno;
        pthread_mutex_lock(&p->mu);
        if (rc != 0 && (p->failed < 0 || (long)i < p->failed)) {
            p->failed = (long)i;
            p->failed_errno = e;
        }
        if (++p->finished == p->n)
            pthread_cond_signal(&p->done);
    }
}

static void *worker(void *arg)
{
    tlog_syncpool *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        run_items(p);
        if (!p->stop)
            pthread_cond_wait(&p->work, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

tlog_syncpool *tlog_syncpool_new(void)
{
    tlog_syncpool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    for (; p->nthreads < POOL_THREADS; p->nthreads++)
        if (pthread_create(&p->th[p->nthreads], NULL, worker, p) != 0)
            break; /* fewer helpers only means less parallelism */
    return p;
}

void tlog_syncpool_free(tlog_syncpool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->nthreads; i++)
        pthread_join(p->th[i], NULL);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

long tlog_sync_fds(tlog_syncpool *p, const int *fds, size_t n, int data_only)
{
    if (p == NULL || n < 2) {
        for (size_t i = 0; i < n; i++)
            if (sync_one(fds[i], data_only) != 0)
                return (long)i;
        return -1;
    }
    pthread_mutex_lock(&p->mu);
    p->fds = fds;
    p->n = n;
    p->next = 0;
    p->finished = 0;
    p->data_only = data_only;
    p->failed = -1;
    /* Wake only as many helpers as there are items beyond the one this thread takes. */
    for (size_t i = 1; i < n && i <= p->nthreads; i++)
        pthread_cond_signal(&p->work);
    run_items(p); /* the caller works too */
    while (p->finished < p->n)
        pthread_cond_wait(&p->done, &p->mu);
    long failed = p->failed;
    if (failed >= 0)
        errno = p->failed_errno;
    p->fds = NULL;
    pthread_mutex_unlock(&p->mu);
    return failed;
}
