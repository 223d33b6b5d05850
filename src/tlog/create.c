/* Creating an empty log: the signed checkpoint of the empty tree (warden log init). */
#include "tlog/tlog_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int warden_tlog_create(const char *dir, const char *origin, const warden_tlog_signer *s,
                       warden_err *err)
{
    char path[4096];
    warden_buf note;
    warden_tlog_checkpoint cp;
    int rc;
    size_t olen = strlen(origin);
    if (olen == 0 || olen > WARDEN_TLOG_ORIGIN_MAX)
        return warden_err_set(err, WARDEN_EINVAL, "origin must be 1..%d bytes",
                              WARDEN_TLOG_ORIGIN_MAX);
    if ((rc = warden_mkdir_p(dir, err)) != 0)
        return rc;
    if (snprintf(path, sizeof path, "%s/checkpoint", dir) >= (int)sizeof path)
        return warden_err_set(err, WARDEN_EINVAL, "%s: path too long", dir);
    if (access(path, F_OK) == 0)
        return warden_err_set(err, WARDEN_EEXIST, "%s: a log already exists here", path);
    memcpy(cp.origin, origin, olen + 1);
    cp.size = 0;
    warden_tlog_tree_hash(&cp.root, NULL, 0);
    warden_buf_init(&note);
    if ((rc = warden_tlog_checkpoint_sign(&note, &cp, s, err)) != 0) {
        warden_err_prefix(err, "origin");
        if (err != NULL)
            err->code = rc = WARDEN_EINVAL;
        goto out;
    }
    /* A journal left from an earlier log in this directory belongs to no checkpoint: an
     * appender would otherwise replay its entries into the new log. */
    if (snprintf(path, sizeof path, "%s/%s", dir, TLOG_JOURNAL_NAME) >= (int)sizeof path) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: path too long", dir);
        goto out;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        rc = warden_err_set(err, WARDEN_EIO, "%s: remove: %s", path, strerror(errno));
        goto out;
    }
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    rc = warden_file_write_atomic(path, note.p, note.len, 0644, err);
out:
    warden_buf_fini(&note);
    return rc;
}
