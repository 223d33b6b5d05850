/* The appender's write-ahead journal: an acknowledged append is durable here after one
 * write + one fdatasync per batch, before the (slower, three-flush) integration into tiles
 * publishes a checkpoint that covers it.
 *
 * The file ".journal" lives in the log directory but outside the tlog-tiles grammar (the
 * server answers 404 for every dotfile), is pre-allocated with real zeroes so that writing a
 * batch changes no metadata, and is written from offset 0 again (a new "epoch") only when
 * every batch in it is covered by a durable checkpoint. A batch is
 *
 *   digest[32] | "WJ01" | epoch nonce[16] | first u64 | count u32 | body_len u64 | body
 *   body = count x (u16 length || entry bytes), all integers big-endian,
 *   digest = SHA-256 of everything after it.
 *
 * Main invariant: batch k+1 is written only after batch k's fdatasync returned, so only the
 * last batch of the current epoch can be torn, and it was never acknowledged. The random
 * epoch nonce (unknown to anyone appending entries) keeps stale batches of an older epoch,
 * and entry bytes crafted to look like a batch, from ever being read as current ones. */
#define _GNU_SOURCE
#include "tlog/tlog_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "WJ01"
#define OFF_MAGIC 32
#define OFF_NONCE 36
#define OFF_FIRST 52
#define OFF_COUNT 60
#define OFF_BODYLEN 64

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* SHA-256 fetched once: with EVP_sha256() every call would fetch the implementation again,
 * and OpenSSL 3.0's fetch races with the integrator thread's Ed25519 fetch ("unsupported
 * algorithm" from EVP_DigestSignInit, seen under load). */
static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int digest(uint8_t out[32], const uint8_t *p, size_t len)
{
    pthread_once(&sha256_once, fetch_sha256);
    return sha256 != NULL && EVP_Digest(p, len, out, NULL, sha256, NULL) == 1 ? 0 : -1;
}

int tlog_jbatch_begin(tlog_jbatch *jb, uint64_t first, warden_err *err)
{
    memset(jb, 0, sizeof *jb);
    warden_buf_init(&jb->b);
    jb->first = first;
    if (warden_buf_reserve(&jb->b, TLOG_JHDR + 4096) != 0)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    memset(jb->b.p, 0, TLOG_JHDR);
    jb->b.len = TLOG_JHDR;
    return 0;
}

int tlog_jbatch_add(tlog_jbatch *jb, const uint8_t *entry, size_t len, warden_err *err)
{
    uint8_t l[2];
    if (len > WARDEN_TLOG_ENTRY_MAX || jb->count >= WARDEN_TLOG_BATCH_MAX)
        return warden_err_set(err, WARDEN_EINVAL, "journal: entry or batch too large");
    put_be(l, len, 2);
    if (warden_buf_reserve(&jb->b, 2 + len) != 0)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    memcpy(jb->b.p + jb->b.len, l, 2);
    if (len > 0)
        memcpy(jb->b.p + jb->b.len + 2, entry, len);
    jb->b.len += 2 + len;
    jb->count++;
    return 0;
}

int tlog_jbatch_seal(tlog_jbatch *jb, const uint8_t nonce[TLOG_JNONCE], warden_err *err)
{
    uint8_t *h = jb->b.p;
    memcpy(h + OFF_MAGIC, MAGIC, 4);
    memcpy(h + OFF_NONCE, nonce, TLOG_JNONCE);
    put_be(h + OFF_FIRST, jb->first, 8);
    put_be(h + OFF_COUNT, jb->count, 4);
    put_be(h + OFF_BODYLEN, jb->b.len - TLOG_JHDR, 8);
    if (digest(h, h + OFF_MAGIC, jb->b.len - OFF_MAGIC) != 0)
        return warden_err_set(err, WARDEN_EINTERNAL, "journal: SHA-256 failed");
    return 0;
}

void tlog_jbatch_body(warden_cursor *c, const tlog_jbatch *jb)
{
    warden_cursor_init(c, jb->b.p + TLOG_JHDR, jb->b.len - TLOG_JHDR);
}

void tlog_jbatch_free(tlog_jbatch *jb)
{
    while (jb != NULL) {
        tlog_jbatch *next = jb->next;
        warden_buf_fini(&jb->b);
        free(jb);
        jb = next;
    }
}

static int pwrite_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* ---- reading the journal on open ---- */

typedef struct jhdr {
    const uint8_t *nonce;
    uint64_t first, count, body_len;
} jhdr;

/* Reads the header at off. Returns 1 when a whole batch with a matching digest is there,
 * 0 when the header is there but the batch is damaged or cut short (h filled), -1 when there
 * is no batch header at all (zeroes, end of file, or a foreign / stale byte pattern). */
static int batch_at(jhdr *h, const uint8_t *p, size_t len, size_t off)
{
    if (len - off < TLOG_JHDR || memcmp(p + off + OFF_MAGIC, MAGIC, 4) != 0)
        return -1;
    const uint8_t *q = p + off;
    h->nonce = q + OFF_NONCE;
    h->first = get_be(q + OFF_FIRST, 8);
    h->count = get_be(q + OFF_COUNT, 4);
    h->body_len = get_be(q + OFF_BODYLEN, 8);
    if (h->body_len > len - off - TLOG_JHDR)
        return 0;
    uint8_t d[32];
    if (digest(d, q + OFF_MAGIC, (size_t)h->body_len + TLOG_JHDR - OFF_MAGIC) != 0 ||
        CRYPTO_memcmp(d, q, 32) != 0)
        return 0;
    return 1;
}

/* Checks that a digest-valid body holds exactly count well-formed entries. */
static int body_ok(const uint8_t *body, uint64_t len, uint64_t count)
{
    warden_cursor c;
    warden_cursor_init(&c, body, (size_t)len);
    if (count == 0 || count > WARDEN_TLOG_BATCH_MAX)
        return 0;
    for (uint64_t i = 0; i < count; i++) {
        uint16_t l;
        const uint8_t *e;
        if (warden_cursor_be16(&c, &l) != 0 || warden_cursor_bytes(&c, &e, l) != 0)
            return 0;
    }
    return warden_cursor_left(&c) == 0;
}

/* Appends copies of the current epoch's batches that hold entries at or past size to *tail. */
static int scan(tlog_jbatch ***tail, const uint8_t *p, size_t len, uint64_t size, warden_err *err)
{
    const uint8_t *epoch = NULL;
    uint64_t expected = 0;
    size_t off = 0;
    jhdr h, h2;
    for (;;) {
        int st = batch_at(&h, p, len, off);
        if (st < 0 || (epoch != NULL && memcmp(h.nonce, epoch, TLOG_JNONCE) != 0))
            return 0; /* end of the current epoch: zeroes or an older epoch's bytes */
        if (st == 0) {
            /* Damaged. If it is the torn tail of a crash, nothing follows it in this epoch
             * (batch k+1 is written only after batch k is durable), and any older epoch's
             * batch after it is covered by the checkpoint (the journal is rewound only then).
             * A successor holding entries past the checkpoint means the damage came later,
             * from outside, to a batch that was acknowledged. (Damage to the length field
             * hides the successor: that case reads as a torn tail.) */
            size_t next = off + TLOG_JHDR + (size_t)h.body_len;
            if (h.body_len <= len - off - TLOG_JHDR && batch_at(&h2, p, len, next) == 1 &&
                h2.first + h2.count > size)
                return warden_err_set(err, WARDEN_ECORRUPT,
                                      ".journal: the batch at byte %zu is damaged but a later "
                                      "batch (entries from %llu) follows it: the journal was "
                                      "changed by something other than warden",
                                      off, (unsigned long long)h2.first);
            return 0; /* a torn tail: never acknowledged */
        }
        if (!body_ok(p + off + TLOG_JHDR, h.body_len, h.count))
            return warden_err_set(err, WARDEN_ECORRUPT, ".journal: malformed batch at byte %zu",
                                  off);
        if (epoch == NULL && h.first > size)
            return warden_err_set(err, WARDEN_ECORRUPT,
                                  ".journal: starts at entry %llu but the checkpoint has only "
                                  "%llu entries: entries in between are lost",
                                  (unsigned long long)h.first, (unsigned long long)size);
        if (epoch != NULL && h.first != expected)
            return warden_err_set(err, WARDEN_ECORRUPT,
                                  ".journal: batch at byte %zu starts at entry %llu, expected %llu",
                                  off, (unsigned long long)h.first, (unsigned long long)expected);
        epoch = h.nonce;
        expected = h.first + h.count;
        size_t blen = TLOG_JHDR + (size_t)h.body_len;
        if (expected > size) {
            tlog_jbatch *jb = calloc(1, sizeof *jb);
            if (jb == NULL)
                return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            warden_buf_init(&jb->b);
            jb->first = h.first;
            jb->count = (uint32_t)h.count;
            **tail = jb;
            *tail = &jb->next;
            if (warden_buf_append(&jb->b, p + off, blen) != 0)
                return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        }
        off += blen;
    }
}

int tlog_journal_open(tlog_journal *j, tlog_jbatch **replay, int dirfd, uint64_t size,
                      warden_err *err)
{
    int rc = 0, created = 0;
    uint8_t *p = NULL;
    struct stat st;
    *replay = NULL;
    j->off = 0;
    j->fd = openat(dirfd, TLOG_JOURNAL_NAME, O_RDWR | O_CLOEXEC);
    if (j->fd < 0 && errno == ENOENT) {
        j->fd = openat(dirfd, TLOG_JOURNAL_NAME, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        created = 1;
    }
    if (j->fd < 0)
        return warden_err_set(err, WARDEN_EIO, "%s: %s", TLOG_JOURNAL_NAME, strerror(errno));
    if (fstat(j->fd, &st) != 0)
        return warden_err_set(err, WARDEN_EIO, "%s: %s", TLOG_JOURNAL_NAME, strerror(errno));
    size_t len = (size_t)st.st_size;
    if (len > 0) {
        if ((p = malloc(len)) == NULL)
            return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        for (size_t got = 0; got < len;) {
            ssize_t n = pread(j->fd, p + got, len - got, (off_t)got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                rc = warden_err_set(err, WARDEN_EIO, "%s: read: %s", TLOG_JOURNAL_NAME,
                                    n < 0 ? strerror(errno) : "file shrank");
                goto out;
            }
            got += (size_t)n;
        }
        tlog_jbatch **tail = replay;
        if ((rc = scan(&tail, p, len, size, err)) != 0)
            goto out;
    }
    j->cap = len > TLOG_JOURNAL_SIZE ? len : TLOG_JOURNAL_SIZE;
    if (len < TLOG_JOURNAL_SIZE) {
        /* Pre-allocate with real zeroes (not fallocate's unwritten extents): overwriting
         * written blocks later needs no metadata, so each batch's fdatasync is data + one
         * device flush. Zeroes read as "end of journal", so a crash while extending is an
         * empty tail. fsync (not fdatasync): the size changed; the directory entry of a new
         * file must be durable too, or a crash could lose acknowledged batches with it. */
        static const uint8_t zero[65536];
        for (uint64_t o = len; o < TLOG_JOURNAL_SIZE; o += sizeof zero) {
            size_t n = TLOG_JOURNAL_SIZE - o < sizeof zero ? TLOG_JOURNAL_SIZE - o : sizeof zero;
            if (pwrite_all(j->fd, zero, n, o) != 0) {
                rc = warden_err_set(err, WARDEN_EIO, "%s: write: %s", TLOG_JOURNAL_NAME,
                                    strerror(errno));
                goto out;
            }
        }
        if (fsync(j->fd) != 0 || (created && fsync(dirfd) != 0)) {
            rc = warden_err_set(err, WARDEN_EIO, "%s: fsync: %s", TLOG_JOURNAL_NAME,
                                strerror(errno));
            goto out;
        }
    }
out:
    free(p);
    if (rc != 0) {
        tlog_jbatch_free(*replay);
        *replay = NULL;
    }
    return rc;
}

int tlog_journal_rewind(tlog_journal *j, warden_err *err)
{
    if (RAND_bytes(j->nonce, TLOG_JNONCE) != 1)
        return warden_err_set(err, WARDEN_EINTERNAL, "journal: no random bytes for the epoch");
    j->off = 0;
    return 0;
}

int tlog_journal_fits(const tlog_journal *j, const tlog_jbatch *jb)
{
    return j->off == 0 || jb->b.len <= j->cap - j->off;
}

int tlog_journal_write(tlog_journal *j, tlog_jbatch *jb, warden_err *err)
{
    int rc = tlog_jbatch_seal(jb, j->nonce, err);
    if (rc != 0)
        return rc;
    if (pwrite_all(j->fd, jb->b.p, jb->b.len, j->off) != 0)
        return warden_err_set(err, WARDEN_EIO, "%s: write: %s", TLOG_JOURNAL_NAME, strerror(errno));
    /* Within the pre-allocated size only data changes; a batch past it (one larger than
     * the whole journal) grows the file, and fdatasync then also commits the new size. */
    if (fdatasync(j->fd) != 0)
        return warden_err_set(err, WARDEN_EIO, "%s: fdatasync: %s", TLOG_JOURNAL_NAME,
                              strerror(errno));
    j->off += jb->b.len;
    if (j->off > j->cap)
        j->cap = j->off;
    return 0;
}

void tlog_journal_close(tlog_journal *j)
{
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
}
