/* The JSON Lines source: a plain export, one record per line
 * {"user","jurisdiction","collection","id","document"[,"updated"]}, sorted by
 * (user, collection, id) in byte order (the order the roots are defined in; an export made
 * with ORDER BY ... COLLATE "C" has it). Read line by line: memory does not grow with the
 * file. Blank lines are skipped; anything else that is not such an object stops the run
 * with file:line:col. */
#include "migrate/migrate_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mig_jsonl {
    FILE *f;
    char *path;
    char *line;
    size_t cap;
    uint64_t lineno;
    char *last_user, *last_coll, *last_id; /* the previous record, for the order check */
};

int mig_jsonl_open(mig_jsonl **out, const char *path, warden_err *err)
{
    *out = NULL;
    mig_jsonl *j = calloc(1, sizeof *j);
    if (j == NULL || (j->path = strdup(path)) == NULL) {
        free(j);
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
    j->f = fopen(path, "r");
    if (j->f == NULL) {
        int e = errno;
        mig_jsonl_free(j);
        return warden_err_set(err, e == ENOENT ? WARDEN_ENOTFOUND : WARDEN_EIO, "%s: %s", path,
                              strerror(e));
    }
    *out = j;
    return 0;
}

static void forget_last(mig_jsonl *j)
{
    free(j->last_user);
    free(j->last_coll);
    free(j->last_id);
    j->last_user = j->last_coll = j->last_id = NULL;
}

void mig_jsonl_free(mig_jsonl *j)
{
    if (j == NULL)
        return;
    if (j->f != NULL)
        fclose(j->f);
    forget_last(j);
    free(j->line);
    free(j->path);
    free(j);
}

int mig_jsonl_rewind(mig_jsonl *j, warden_err *err)
{
    if (fseek(j->f, 0, SEEK_SET) != 0)
        return warden_err_set(err, WARDEN_EIO, "%s: %s", j->path, strerror(errno));
    j->lineno = 0;
    forget_last(j);
    return 0;
}

static char *field(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return strdup(s != NULL ? s : "");
}

int mig_jsonl_next(mig_jsonl *j, mig_rec *recs, size_t max, size_t *n, warden_err *err)
{
    *n = 0;
    while (*n < max) {
        errno = 0;
        ssize_t len = getline(&j->line, &j->cap, j->f);
        if (len < 0) {
            if (errno != 0)
                return warden_err_set(err, WARDEN_EIO, "%s: %s", j->path, strerror(errno));
            return 0;
        }
        j->lineno++;
        size_t k = (size_t)len;
        while (k > 0 && (j->line[k - 1] == '\n' || j->line[k - 1] == '\r'))
            k--;
        if (k == 0)
            continue;
        json_error_t je;
        json_t *o = json_loadb(j->line, k, JSON_REJECT_DUPLICATES, &je);
        if (o == NULL)
            return warden_err_set(err, WARDEN_EPARSE, "%s:%llu:%d: %s", j->path,
                                  (unsigned long long)j->lineno, je.column, je.text);
        const char *key;
        json_t *v;
        json_object_foreach(o, key, v)
        {
            bool known = strcmp(key, "document") == 0 || strcmp(key, "updated") == 0 ||
                         strcmp(key, "user") == 0 || strcmp(key, "jurisdiction") == 0 ||
                         strcmp(key, "collection") == 0 || strcmp(key, "id") == 0;
            bool is_str = json_is_string(v) || strcmp(key, "document") == 0;
            if (!known || !is_str) {
                json_decref(o);
                return warden_err_set(err, WARDEN_EPARSE, "%s:%llu:1: %s \"%.40s\"", j->path,
                                      (unsigned long long)j->lineno,
                                      known ? "not a string:" : "unknown field", key);
            }
        }
        mig_rec *r = &recs[*n];
        memset(r, 0, sizeof *r);
        r->user = field(o, "user");
        r->jur = field(o, "jurisdiction");
        r->coll = field(o, "collection");
        r->id = field(o, "id");
        r->doc = json_incref(json_object_get(o, "document"));
        json_decref(o);
        (*n)++;
        if (r->user == NULL || r->jur == NULL || r->coll == NULL || r->id == NULL)
            return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        if (j->last_user != NULL &&
            mig_key_cmp(j->last_user, j->last_coll, j->last_id, r->user, r->coll, r->id) >= 0)
            return warden_err_set(err, WARDEN_ECORRUPT,
                                  "%s:%llu: not sorted by (user, collection, id) after the "
                                  "previous line, or a duplicate",
                                  j->path, (unsigned long long)j->lineno);
        forget_last(j);
        j->last_user = strdup(r->user);
        j->last_coll = strdup(r->coll);
        j->last_id = strdup(r->id);
        if (j->last_user == NULL || j->last_coll == NULL || j->last_id == NULL)
            return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
    return 0;
}
