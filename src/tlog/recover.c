/* Reopening a log for appending. The appender trusts nothing but a checkpoint that verifies
 * with its own key: it reloads the right edge that checkpoint needs and checks it against the
 * root, deletes whatever an interrupted batch can have left beyond it, and integrates the
 * journal's acknowledged batches past it through the normal path (tlog_integrate). */
#define _GNU_SOURCE
#include "tlog/appender_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads a file under the log directory into b (exact size max when exact). */
int tlog_read_rel(warden_buf *b, warden_tlog_appender *a, const char *path, size_t max,
                  warden_err *err)
{
    int fd = openat(a->dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return warden_err_set(err, errno == ENOENT ? WARDEN_ENOTFOUND : WARDEN_EIO, "%s: %s", path,
                              strerror(errno));
    int rc = 0;
    for (;;) {
        if (warden_buf_reserve(b, 65536) != 0) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            break;
        }
        ssize_t n = read(fd, b->p + b->len, 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = warden_err_set(err, WARDEN_EIO, "%s: read: %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        b->len += (size_t)n;
        if (b->len > max) {
            rc = warden_err_set(err, WARDEN_ECORRUPT, "%s: larger than %zu bytes", path, max);
            break;
        }
    }
    close(fd);
    return rc;
}

/* Loads the right edge that the verified checkpoint cp needs and checks it against cp's root:
 * anything else means someone other than this appender changed the directory. */
static int load_edge(warden_tlog_appender *a, const warden_tlog_checkpoint *cp, warden_err *err)
{
    int rc = 0;
    char path[WARDEN_TLOG_PATH_MAX];
    warden_buf b;
    warden_tlog_bundle *bd = malloc(sizeof *bd);
    warden_buf_init(&b);
    if (bd == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    a->size = cp->size;
    for (int l = 0; l < TLOG_LEVELS; l++) {
        unsigned w = warden_tlog_partial_width(l, cp->size);
        a->count[l] = w;
        if (w == 0)
            continue;
        b.len = 0;
        size_t want = (size_t)w * WARDEN_TLOG_HASH_SIZE;
        if ((rc = tlog_tile_index_path(path, l, cp->size, w)) != 0 ||
            (rc = tlog_read_rel(&b, a, path, want, err)) != 0)
            goto bad;
        if (b.len != want) {
            rc = warden_err_set(err, WARDEN_ECORRUPT, "%s: %zu bytes, expected %zu", path, b.len,
                                want);
            goto out;
        }
        memcpy(a->edge[l], b.p, want);
    }
    unsigned w = warden_tlog_partial_width(0, cp->size);
    if (w > 0) {
        b.len = 0;
        if ((rc = tlog_tile_index_path(path, WARDEN_TLOG_ENTRIES_LEVEL, cp->size, w)) != 0 ||
            (rc = tlog_read_rel(&b, a, path, (size_t)w * (WARDEN_TLOG_ENTRY_MAX + 2), err)) != 0)
            goto bad;
        if ((rc = warden_tlog_bundle_parse(bd, b.p, b.len, w, err)) != 0) {
            rc = warden_err_set(err, WARDEN_ECORRUPT, "%s: malformed bundle", path);
            goto out;
        }
        for (unsigned i = 0; i < w; i++) {
            warden_tlog_hash h;
            warden_tlog_leaf_hash(&h, bd->entry[i], bd->len[i]);
            if (CRYPTO_memcmp(h.b, a->edge[0][i].b, WARDEN_TLOG_HASH_SIZE) != 0) {
                rc = warden_err_set(err, WARDEN_ECORRUPT,
                                    "%s: entry %llu does not match its level 0 tile hash", path,
                                    (unsigned long long)((cp->size & ~UINT64_C(255)) + i));
                goto out;
            }
        }
        if (warden_buf_append(&a->bundle, b.p, b.len) != 0) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
    }
    warden_tlog_hash *edges[TLOG_LEVELS];
    warden_tlog_hash root;
    for (unsigned l = 0; l < TLOG_LEVELS; l++)
        edges[l] = a->edge[l];
    tlog_edge_root(&root, edges, a->count, TLOG_LEVELS);
    if (CRYPTO_memcmp(root.b, cp->root.b, WARDEN_TLOG_HASH_SIZE) != 0) {
        rc = warden_err_set(err, WARDEN_ECORRUPT,
                            "the partial tiles do not hash to the checkpoint's root (size %llu): "
                            "the log directory was changed by something other than warden",
                            (unsigned long long)cp->size);
        goto out;
    }
    goto out;
bad:
    if (rc == WARDEN_ENOTFOUND)
        rc = warden_err_set(err, WARDEN_ECORRUPT,
                            "%s: missing, but the checkpoint (size %llu) "
                            "needs it",
                            path, (unsigned long long)cp->size);
    else if (err != NULL)
        err->code = rc;
out:
    free(bd);
    warden_buf_fini(&b);
    return rc;
}

/* Deletes, in the directory holding tile `probe` of level l, what lies beyond the checkpoint:
 * full tiles at or past t0 (the rightmost, still partial tile), partial tiles wider than w at
 * t0 and any at later indexes, and temp files. */
static int clean_group(warden_tlog_appender *a, int l, uint64_t probe, uint64_t t0, unsigned w,
                       warden_err *err)
{
    char path[WARDEN_TLOG_PATH_MAX + 16];
    int rc = warden_tlog_tile_path(path, WARDEN_TLOG_PATH_MAX, l, probe, 0);
    if (rc != 0)
        return warden_err_set(err, rc, "tile %d/%llu: no path", l, (unsigned long long)probe);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int fd = openat(a->dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0
                               : warden_err_set(err, WARDEN_EIO, "%s: %s", path, strerror(errno));
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return warden_err_set(err, WARDEN_EIO, "%s: %s", path, strerror(errno));
    }
    uint64_t base = probe - probe % 1000;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (!(n[0] >= '0' && n[0] <= '9' && n[1] >= '0' && n[1] <= '9' && n[2] >= '0' &&
              n[2] <= '9'))
            continue; /* ".", "..", and the "x" group directories */
        uint64_t idx = base + (uint64_t)((n[0] - '0') * 100 + (n[1] - '0') * 10 + (n[2] - '0'));
        const char *suffix = n + 3;
        char sub[WARDEN_TLOG_PATH_MAX + 40];
        if (strlen(n) > 16)
            continue; /* not a layout name: "ddd", "ddd.p", "ddd.tmp", "ddd.p.tmp" */
        snprintf(sub, sizeof sub, "%s/%.16s", path, n);
        if (strstr(suffix, ".tmp") != NULL || (suffix[0] == '\0' && idx >= t0))
            rc = tlog_remove(a->dirfd, sub, err);
        else if (strcmp(suffix, ".p") == 0 && idx >= t0)
            rc = tlog_prune_partials(a->dirfd, sub, idx == t0 ? w : 0, err);
    }
    closedir(d);
    return rc;
}

/* Deletes what an interrupted batch can have left beyond the checkpoint. A batch holds at most
 * WARDEN_TLOG_BATCH_MAX entries, so at each level it reached at most `window` tiles past the
 * edge: two directory listings per level cover them. */
static int remove_beyond(warden_tlog_appender *a, warden_err *err)
{
    int rc = tlog_remove(a->dirfd, "checkpoint.tmp", err);
    for (int l = WARDEN_TLOG_ENTRIES_LEVEL; l < TLOG_LEVELS && rc == 0; l++) {
        unsigned shift = 8 * ((l < 0 ? 0 : (unsigned)l) + 1);
        uint64_t t0 = tlog_shr(a->size, shift);
        uint64_t window = tlog_shr(WARDEN_TLOG_BATCH_MAX, shift) + 2;
        unsigned w = warden_tlog_partial_width(l, a->size);
        rc = clean_group(a, l, t0, t0, w, err);
        if (rc == 0 && (t0 + window) / 1000 != t0 / 1000)
            rc = clean_group(a, l, t0 + window, t0, w, err);
    }
    return rc;
}

/* Integrates the batches the journal holds beyond the checkpoint (a crash came between their
 * acknowledgement and their checkpoint) through the normal path, then starts a new journal
 * epoch: every batch in the journal is now covered by a durable checkpoint. */
static int recover_journal(warden_tlog_appender *a, const char *dir, warden_err *err)
{
    tlog_jbatch *replay = NULL;
    int rc = tlog_journal_open(&a->journal, &replay, a->dirfd, a->size, err);
    if (rc != 0) {
        warden_err_prefix(err, "%s", dir);
        return rc;
    }
    while (replay != NULL && rc == 0) {
        tlog_jbatch *last = replay;
        uint64_t taken = last->count;
        while (last->next != NULL && taken + last->next->count <= WARDEN_TLOG_BATCH_MAX) {
            last = last->next;
            taken += last->count;
        }
        tlog_jbatch *rest = last->next;
        last->next = NULL;
        rc = tlog_integrate(a, replay, err);
        tlog_ws_fini(&a->ws);
        tlog_jbatch_free(replay);
        replay = rest;
    }
    tlog_jbatch_free(replay);
    if (rc == 0)
        rc = tlog_journal_rewind(&a->journal, err);
    return rc;
}

int tlog_recover(warden_tlog_appender *a, const warden_tlog_checkpoint *cp, const char *dir,
                 warden_err *err)
{
    int rc = load_edge(a, cp, err);
    if (rc == 0)
        rc = remove_beyond(a, err);
    if (rc == 0)
        rc = recover_journal(a, dir, err);
    return rc;
}
