/* IMPORT: the migrator's batched write + read-back. For each record it is exactly an ACCESS
 * write (carrying its version: compare-and-set) followed by an ACCESS read, decided by the
 * same code (keyd_access_prepare) and logged as the same two decision entries; what a batch
 * changes is only the cost: all entries are appended with one durable log batch, and all
 * allowed writes are stored with one store commit, instead of one fsync of each per record.
 *
 * The order is access.c's, for the whole batch: (1) read each owner's jurisdiction, (2)
 * decide every write and every read, (3) append every entry and wait until durable, or
 * answer an error and change nothing, (4) only then unwrap DEKs, encrypt, store, read back,
 * decrypt and redact. A record whose owner is not registered gets outcome "unknown_user"
 * and no entry (an ACCESS would have been an ERROR). */
#include "keyd/keyd_internal.h"
#include "keyd/protocol.h"

#include <stdlib.h>
#include <string.h>

typedef struct item {
    const json_t *rec;
    const char *user, *coll, *id;
    uint64_t version;
    bool known; /* owner registered */
    char jur[WARDEN_STORE_JURISDICTION_MAX + 1];
    json_t *went, *rent; /* audit entries: write, read */
    const char *wdec, *rdec;
    bool wallow[2], rallow[2];
    uint64_t windex, rindex;
    const char *outcome; /* of the write */
    uint64_t stored;     /* version after the write */
} item;

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The ACCESS body record i stands for (action "write" or "read"). */
static json_t *access_body(const json_t *body, const item *it, size_t i, const char *action)
{
    char rid[KEYD_REQUEST_ID_MAX + 32];
    snprintf(rid, sizeof rid, "%s/%zu/%c", str(body, "request_id"), i, action[0]);
    json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "request_id", rid, "principal",
                          str(body, "principal"), "action", action, "user", it->user, "collection",
                          it->coll, "id", it->id, "context", json_object_get(body, "context"));
    if (b != NULL && action[0] == 'w' &&
        (json_object_set(b, "document", json_object_get(it->rec, "document")) != 0 ||
         json_object_set_new(b, "version", json_integer((json_int_t)it->version)) != 0)) {
        json_decref(b);
        return NULL;
    }
    return b;
}

/* (3) Appends every entry as one durable batch; assigns each its index. */
static int log_all(warden_keyd *k, item *its, size_t n, warden_err *err)
{
    const uint8_t **ents = calloc(2 * n, sizeof *ents);
    size_t *lens = calloc(2 * n, sizeof *lens), m = 0;
    char **owned = calloc(2 * n, sizeof *owned);
    int rc = 0;
    if (ents == NULL || lens == NULL || owned == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!its[i].known)
            continue;
        json_t *e[2] = {its[i].went, its[i].rent};
        for (size_t j = 0; j < 2; j++) {
            char *s = json_dumps(e[j], JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
            if (s == NULL) {
                rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
                goto out;
            }
            owned[m] = s;
            ents[m] = (const uint8_t *)s;
            lens[m] = strlen(s);
            if (lens[m] > WARDEN_TLOG_ENTRY_MAX) {
                rc = warden_err_set(err, WARDEN_ELIMIT, "record %zu: audit entry too large", i);
                goto out;
            }
            m++;
        }
    }
    uint64_t first = 0;
    if (m > 0 && (rc = warden_tlog_append_many(&first, k->log, ents, lens, m, err)) != 0) {
        (void)warden_err_prefix(err, "audit log unwritable, refusing");
        if (err != NULL)
            err->code = WARDEN_EIO;
        rc = WARDEN_EIO; /* fail closed, as keyd_audit_append */
        goto out;
    }
    for (size_t i = 0, j = 0; i < n; i++)
        if (its[i].known) {
            its[i].windex = first + j++;
            its[i].rindex = first + j++;
        }
out:
    for (size_t i = 0; owned != NULL && i < m; i++)
        free(owned[i]);
    free(owned);
    free(ents);
    free(lens);
    return rc;
}

/* (4a) Encrypts and stores every allowed write in one commit. */
static int write_all(warden_keyd *k, item *its, size_t n, warden_err *err)
{
    warden_store_put *puts = calloc(n, sizeof *puts);
    warden_buf *blobs = calloc(n, sizeof *blobs);
    size_t *at = calloc(n, sizeof *at), np = 0;
    warden_dek *dek = NULL;
    const char *dek_user = NULL, *dek_outcome = NULL;
    int rc = 0;
    if (puts == NULL || blobs == NULL || at == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        item *it = &its[i];
        if (!it->known || !it->wallow[0])
            continue;
        if (dek_user == NULL || strcmp(dek_user, it->user) != 0) { /* records come by user */
            warden_dek_free(dek);
            dek = NULL;
            if ((rc = keyd_access_dek(&dek, &dek_outcome, k, it->user, true, err)) != 0)
                goto out;
            dek_user = it->user;
        }
        if (dek == NULL) {
            it->outcome = dek_outcome;
            continue;
        }
        char *text =
            json_dumps(json_object_get(it->rec, "document"), JSON_COMPACT | JSON_SORT_KEYS);
        warden_record_ref ref = {k->cfg.region, it->user, it->coll, it->id, it->version};
        warden_buf_init(&blobs[np]);
        rc = text == NULL ? warden_err_set(err, WARDEN_ENOMEM, "out of memory")
                          : warden_envelope_encrypt(&blobs[np], dek, &ref, (const uint8_t *)text,
                                                    strlen(text), err);
        if (text != NULL) {
            warden_wipe(text, strlen(text));
            free(text);
        }
        if (rc != 0)
            goto out;
        puts[np] = (warden_store_put){it->user,    it->coll,      it->id, it->version,
                                      blobs[np].p, blobs[np].len, 0};
        at[np++] = i;
    }
    if (np > 0 && (rc = warden_store_record_put_batch(k->store, puts, np, err)) != 0)
        goto out;
    for (size_t j = 0; j < np; j++) {
        item *it = &its[at[j]];
        if (puts[j].result == 0) {
            it->outcome = "ok";
            it->stored = it->version;
        } else if (puts[j].result == WARDEN_EEXIST) {
            bool live;
            it->outcome = "conflict"; /* the version was not the next one: nothing changed */
            if ((rc = warden_store_record_head(k->store, &it->stored, &live, it->user, it->coll,
                                               it->id, err)) != 0)
                goto out;
        } else if (puts[j].result == WARDEN_ENOTFOUND) {
            it->outcome = "key_destroyed"; /* shredded meanwhile */
        } else {
            rc = warden_err_set(err, puts[j].result, "record %s/%s: store refused the write",
                                it->coll, it->id);
            goto out;
        }
    }
out:
    warden_dek_free(dek);
    for (size_t j = 0; blobs != NULL && j < np; j++)
        warden_buf_fini(&blobs[j]);
    free(blobs);
    free(puts);
    free(at);
    return rc;
}

/* (4b) The read-back of record it into r, as an ACCESS read answers; *dek caches the last
 * owner's DEK (records come by user). */
static int read_one(json_t *r, warden_dek **dek, const char **dek_user, warden_keyd *k,
                    const item *it, warden_err *err)
{
    const char *outcome = NULL;
    warden_store_record rec;
    warden_store_record_init(&rec);
    int rc = 0;
    if (*dek_user == NULL || strcmp(*dek_user, it->user) != 0) {
        warden_dek_free(*dek);
        *dek = NULL;
        *dek_user = NULL;
        if ((rc = keyd_access_dek(dek, &outcome, k, it->user, false, err)) != 0)
            goto out;
        if (*dek != NULL)
            *dek_user = it->user;
    }
    if (*dek == NULL && outcome == NULL)
        outcome = "not_found";
    if (outcome == NULL) {
        rc = warden_store_record_get(k->store, &rec, it->user, it->coll, it->id, err);
        if (rc == WARDEN_ENOTFOUND) {
            outcome = "not_found";
            rc = 0;
        } else if (rc == 0) {
            rc = keyd_access_open(r, k, *dek, it->user, it->coll, it->id, rec.version, &rec.blob,
                                  it->rallow, err);
        }
    }
    if (rc == 0 && json_object_set_new(r, "outcome", json_string(outcome ? outcome : "ok")) != 0)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
out:
    warden_store_record_fini(&rec);
    return rc;
}

static json_t *result(const item *it)
{
    if (!it->known)
        return json_pack("{s:s}", "outcome", "unknown_user");
    json_t *r = json_pack("{s:s, s:I, s:s, s:{s:s, s:I}}", "decision", it->wdec, "log_index",
                          (json_int_t)it->windex, "outcome", it->outcome ? it->outcome : "ok",
                          "read", "decision", it->rdec, "log_index", (json_int_t)it->rindex);
    if (r != NULL && it->outcome != NULL &&
        (strcmp(it->outcome, "ok") == 0 || strcmp(it->outcome, "conflict") == 0))
        (void)json_object_set_new(r, "version", json_integer((json_int_t)it->stored));
    return r;
}

int keyd_do_import(json_t **answer, warden_keyd *k, const json_t *body, warden_err *err)
{
    const json_t *recs = json_object_get(body, "records");
    size_t n = json_array_size(recs);
    item *its = calloc(n, sizeof *its);
    keyd_pset *p = keyd_pset_acquire(k);
    json_t *ans = NULL, *results = NULL;
    warden_store_user u;
    warden_store_user_init(&u);
    int rc = its == NULL ? warden_err_set(err, WARDEN_ENOMEM, "out of memory") : 0;
    /* (1) + (2): the owners' jurisdictions, then every decision */
    for (size_t i = 0; i < n && rc == 0; i++) {
        item *it = &its[i];
        it->rec = json_array_get(recs, i);
        it->user = str(it->rec, "user");
        it->coll = str(it->rec, "collection");
        it->id = str(it->rec, "id");
        it->version = (uint64_t)json_integer_value(json_object_get(it->rec, "version"));
        if (i > 0 && its[i - 1].known && strcmp(its[i - 1].user, it->user) == 0) {
            memcpy(it->jur, its[i - 1].jur, sizeof it->jur);
        } else {
            rc = warden_store_user_get(k->store, &u, it->user, err);
            if (rc == WARDEN_ENOTFOUND) {
                rc = 0;
                continue;
            }
            if (rc != 0)
                break;
            snprintf(it->jur, sizeof it->jur, "%s", u.jurisdiction);
        }
        it->known = true;
        json_t *wb = access_body(body, it, i, "write"), *rb = access_body(body, it, i, "read");
        rc = wb == NULL || rb == NULL ? warden_err_set(err, WARDEN_ENOMEM, "out of memory") : 0;
        if (rc == 0)
            rc = keyd_access_prepare(&it->went, &it->wdec, it->wallow, k, p, wb, it->jur, err);
        if (rc == 0)
            rc = keyd_access_prepare(&it->rent, &it->rdec, it->rallow, k, p, rb, it->jur, err);
        json_decref(wb);
        json_decref(rb);
    }
    /* (3) durable before anything changes or is released */
    if (rc != 0 || (rc = log_all(k, its, n, err)) != 0)
        goto out;
    /* (4) */
    if ((rc = write_all(k, its, n, err)) != 0)
        goto out;
    results = json_array();
    ans = json_pack("{s:s, s:s, s:s}", "outcome", "ok", "policy_set", p->hash, "request_id",
                    str(body, "request_id"));
    if (results == NULL || ans == NULL || json_object_set(ans, "results", results) != 0) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    warden_dek *dek = NULL;
    const char *dek_user = NULL;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *r = result(&its[i]);
        if (r == NULL || json_array_append_new(results, r) != 0) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            break;
        }
        if (its[i].known && strcmp(its[i].rdec, "deny") != 0)
            rc = read_one(json_object_get(r, "read"), &dek, &dek_user, k, &its[i], err);
    }
    warden_dek_free(dek);
out:
    if (rc != 0) {
        json_decref(ans);
        ans = NULL;
    }
    *answer = ans;
    json_decref(results);
    for (size_t i = 0; its != NULL && i < n; i++) {
        json_decref(its[i].went);
        json_decref(its[i].rent);
    }
    free(its);
    warden_store_user_fini(&u);
    keyd_pset_put(p, k);
    return rc;
}
