/* tlog_killat: an LD_PRELOAD shim for tests/interop/tlog_killpoint.test.sh. It counts
 * the calls that order data on disk (fsync, fdatasync, sync_file_range, rename,
 * renameat, renameat2, unlink, unlinkat) and SIGKILLs its own process at the N-th one,
 * just before it runs (KILLAT_WHEN=before) or just after it returned (after). Sweeping
 * N over every such call of a run kills the appender at each durable step in turn,
 * where the random-time crash test only samples them.
 *
 * env: KILLAT_N (1-based call number; unset or 0: never kill, only count),
 *      KILLAT_WHEN (before | after; default before),
 *      KILLAT_COUNT_FILE (when set, the number of calls seen is written there at exit:
 *      used to learn how many kill points a run has).
 * Built by the script with the system C compiler (a shared object, not a test tool). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_long calls;
static long kill_at = -1;
static int after;

__attribute__((constructor)) static void killat_init(void)
{
    const char *n = getenv("KILLAT_N"), *w = getenv("KILLAT_WHEN");
    kill_at = n != NULL ? strtol(n, NULL, 10) : 0;
    after = w != NULL && strcmp(w, "after") == 0;
}

__attribute__((destructor)) static void killat_fini(void)
{
    const char *f = getenv("KILLAT_COUNT_FILE");
    if (f != NULL) {
        FILE *fp = fopen(f, "w");
        if (fp != NULL) {
            fprintf(fp, "%ld\n", atomic_load(&calls));
            fclose(fp);
        }
    }
}

static void point(int is_after, long n)
{
    if (kill_at > 0 && n == kill_at && is_after == after)
        kill(getpid(), SIGKILL);
}

#define NEXT(name) ((name##_fn)dlsym(RTLD_NEXT, #name))

#define WRAP(ret, name, params, args)                                                              \
    typedef ret(*name##_fn) params;                                                                \
    ret name params                                                                                \
    {                                                                                              \
        long n = atomic_fetch_add(&calls, 1) + 1;                                                  \
        point(0, n);                                                                               \
        ret r = NEXT(name) args;                                                                   \
        point(1, n);                                                                               \
        return r;                                                                                  \
    }

WRAP(int, fsync, (int fd), (fd))
WRAP(int, fdatasync, (int fd), (fd))
WRAP(int, sync_file_range, (int fd, off64_t off, off64_t nbytes, unsigned int flags),
     (fd, off, nbytes, flags))
WRAP(int, rename, (const char *a, const char *b), (a, b))
WRAP(int, renameat, (int fa, const char *a, int fb, const char *b), (fa, a, fb, b))
WRAP(int, renameat2, (int fa, const char *a, int fb, const char *b, unsigned int fl),
     (fa, a, fb, b, fl))
WRAP(int, unlink, (const char *p), (p))
WRAP(int, unlinkat, (int fd, const char *p, int fl), (fd, p, fl))
