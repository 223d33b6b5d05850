/* Secret memory: locked so it is never swapped, excluded from core dumps, wiped on
 * free. Each allocation gets its own mapping so that madvise/mlock cover exactly it. */
#define _GNU_SOURCE
#include "warden/util.h"

#include <openssl/crypto.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

/* A header in front of the user's bytes records the mapping length. */
#define SECRET_HDR 64

void *warden_secret_alloc(size_t len)
{
    if (len > SIZE_MAX - SECRET_HDR)
        return NULL;
    size_t total = len + SECRET_HDR;
    void *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
#ifdef MADV_DONTDUMP
    (void)madvise(m, total, MADV_DONTDUMP);
#endif
    /* mlock may fail under RLIMIT_MEMLOCK; the memory is still excluded from dumps and
     * wiped, and keyd additionally disables core dumps, so we do not fail the caller. */
    (void)mlock(m, total);
    memcpy(m, &total, sizeof total);
    return (uint8_t *)m + SECRET_HDR;
}

void warden_secret_free(void *p, size_t len)
{
    (void)len;
    if (p == NULL)
        return;
    uint8_t *m = (uint8_t *)p - SECRET_HDR;
    size_t total;
    memcpy(&total, m, sizeof total);
    OPENSSL_cleanse(m, total);
    (void)munlock(m, total);
    (void)munmap(m, total);
}

void warden_wipe(void *p, size_t len)
{
    if (p != NULL && len > 0)
        OPENSSL_cleanse(p, len);
}

bool warden_ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

int warden_disable_core_dumps(warden_err *err)
{
    struct rlimit rl = {0, 0};
    if (setrlimit(RLIMIT_CORE, &rl) != 0)
        return warden_err_set(err, WARDEN_EIO, "cannot disable core dumps: %s", strerror(errno));
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return warden_err_set(err, WARDEN_EIO, "cannot mark process non-dumpable: %s",
                              strerror(errno));
    return 0;
}

int warden_secret_read_fd(uint8_t **out, size_t *len, size_t *cap, int fd, size_t size,
                          const char *path, warden_err *err)
{
    /* one byte more than expected, so that a file that grew is noticed, not cut short */
    size_t want = size + 1, got = 0;
    uint8_t *p = warden_secret_alloc(want);
    int rc = 0;
    if (p == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of locked memory reading %s", path);
    while (got < want) {
        ssize_t n = read(fd, p + got, want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = warden_err_set(err, WARDEN_EIO, "%s: read: %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (rc == 0 && got != size)
        rc = warden_err_set(err, WARDEN_EIO, "%s: changed while being read", path);
    if (rc != 0) {
        warden_secret_free(p, want);
        return rc;
    }
    *out = p;
    *len = got;
    *cap = want;
    return 0;
}
