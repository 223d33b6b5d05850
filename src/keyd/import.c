/* IMPORT: the migrator's batched write with a read-back done by keyd. For each record it is
 * exactly an ACCESS write (carrying its version: compare-and-set), decided by the same code
 * (keyd_access_prepare_write) and logged as the same decision entry; what a batch changes is
 * the cost: all entries are appended with one durable log batch, and all allowed writes are
 * stored with one store commit. Then keyd reads every written record back from the store
 * (a fresh read of the ciphertext after the commit), decrypts it and answers the SHA-256 of
 * the plaintext, which the migrator compares with its own digest of what it sent.
 *
 * Why the read-back needs no decision of its own: it releases nothing the caller did not
 * send in this very request. The digest is answered only for a write this request made
 * (outcome "ok"); a record that already held another version ("conflict") gets no digest,
 * and the migrator reads it with an ordinary ACCESS read, decided and logged as such.
 *
 * The order is access.c's, for the whole batch: (1) read each owner's jurisdiction, (2)
 * decide every write, (3) append every entry and wait until durable, or answer an error and
 * change nothing, (4) only then unwrap DEKs, encrypt, store, read back and hash. A record
 * whose owner is not registered gets outcome "unknown_user" and no entry (an ACCESS would
 * have been an ERROR). */
#include "keyd/keyd_internal.h"
#include "keyd/protocol.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct item {
    const json_t *rec;
    const char *user, *coll, *id;
    uint64_t version;
    bool known; /* owner registered */
    char jur[WARDEN_STORE_JURISDICTION_MAX + 1];
    size_t eoff, elen; /* the audit entry's text in the batch's entry buffer */
    const char *dec;
    bool allow;
    uint64_t index;
    const char *outcome; /* of the write */
    uint64_t stored;     /* version after the write */
    bool digested;
    uint8_t digest[SHA256_DIGEST_LENGTH]; /* of the plaintext read back */
} item;

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* (3) Appends every entry as one durable batch; assigns each its index. */
static int log_all(warden_keyd *k, item *its, size_t n, const warden_buf *texts, warden_err *err)
{
    const uint8_t **ents = calloc(n, sizeof *ents);
    size_t *lens = calloc(n, sizeof *lens), m = 0;
    int rc = 0;
    if (ents == NULL || lens == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (its[i].known) {
            ents[m] = texts->p + its[i].eoff;
            lens[m++] = its[i].elen;
        }
    uint64_t first = 0;
    if (m > 0 && (rc = keyd_audit_append_texts(&first, k, ents, lens, m, err)) != 0)
        goto out; /* fail closed: WARDEN_EIO, nothing changed */
    for (size_t i = 0, j = 0; i < n; i++)
        if (its[i].known)
            its[i].index = first + j++;
out:
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
    warden_buf text;
    warden_buf_init(&text);
    int rc = 0;
    if (puts == NULL || blobs == NULL || at == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        item *it = &its[i];
        if (!it->known || !it->allow)
            continue;
        if (dek_user == NULL || strcmp(dek_user, it->user) != 0) { /* records come by user */
            keyd_dekcache_put(k->deks, dek);
            dek = NULL;
            if ((rc = keyd_access_dek(&dek, &dek_outcome, k, it->user, true, err)) != 0)
                goto out;
            dek_user = it->user;
        }
        if (dek == NULL) {
            it->outcome = dek_outcome;
            continue;
        }
        /* the canonical text (docs/migrate.md): what the migrator hashes on its side */
        warden_wipe(text.p, text.len);
        text.len = 0;
        warden_record_ref ref = {k->cfg.region, it->user, it->coll, it->id, it->version};
        warden_buf_init(&blobs[np]);
        if ((rc = keyd_json_canon(&text, json_object_get(it->rec, "document"), err)) != 0 ||
            (rc = warden_envelope_encrypt(&blobs[np], dek, &ref, text.p, text.len, err)) != 0)
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
    keyd_dekcache_put(k->deks, dek);
    warden_buf_fini_wipe(&text);
    for (size_t j = 0; blobs != NULL && j < np; j++)
        warden_buf_fini(&blobs[j]);
    free(blobs);
    free(puts);
    free(at);
    return rc;
}

/* (4b) Reads every record this request wrote back from the store, decrypts it and keeps
 * the SHA-256 of the plaintext. A record that is gone, holds another version or does not
 * decrypt gets outcome "readback_failed" (the write stays logged and stored; the migrator
 * does not mark it migrated). */
static int read_back(warden_keyd *k, item *its, size_t n, warden_err *err)
{
    warden_dek *dek = NULL;
    const char *dek_user = NULL;
    warden_store_record rec;
    warden_buf pt;
    warden_store_record_init(&rec);
    warden_buf_init(&pt);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        item *it = &its[i];
        if (it->outcome == NULL || strcmp(it->outcome, "ok") != 0)
            continue;
        if (dek_user == NULL || strcmp(dek_user, it->user) != 0) {
            const char *outcome = NULL;
            keyd_dekcache_put(k->deks, dek);
            dek = NULL;
            dek_user = NULL;
            if ((rc = keyd_access_dek(&dek, &outcome, k, it->user, false, err)) != 0)
                goto out;
            dek_user = it->user;
        }
        warden_store_record_fini(&rec);
        warden_store_record_init(&rec);
        int g = dek == NULL ? WARDEN_ENOTFOUND
                            : warden_store_record_get(k->store, &rec, it->user, it->coll, it->id,
                                                      err);
        if (g != 0 && g != WARDEN_ENOTFOUND) {
            rc = g;
            goto out;
        }
        warden_wipe(pt.p, pt.len);
        pt.len = 0;
        warden_record_ref ref = {k->cfg.region, it->user, it->coll, it->id, rec.version};
        if (g == 0 && rec.version == it->stored &&
            warden_envelope_decrypt(&pt, dek, &ref, rec.blob.p, rec.blob.len, NULL) == 0) {
            SHA256(pt.p, pt.len, it->digest);
            it->digested = true;
        } else {
            it->outcome = "readback_failed";
        }
    }
out:
    keyd_dekcache_put(k->deks, dek);
    warden_buf_fini_wipe(&pt);
    warden_store_record_fini(&rec);
    return rc;
}

/* A batch's answer {outcome, policy_set, request_id, results: []}; *results borrows the
 * empty array it owns. NULL when out of memory. */
static json_t *batch_answer(json_t **results, const keyd_pset *p, const char *request_id)
{
    json_t *ans = json_pack("{s:s, s:s, s:s, s:[]}", "outcome", "ok", "policy_set", p->hash,
                            "request_id", request_id, "results");
    *results = json_object_get(ans, "results");
    return ans;
}

/* One record's result: [decision, log_index, outcome, version, sha256] (docs/keyd-protocol.md). */
static json_t *result(const item *it)
{
    if (!it->known)
        return json_pack("[n, n, s, i, n]", "unknown_user", 0);
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    warden_hex_encode(hex, it->digest, sizeof it->digest);
    const char *out = it->outcome != NULL ? it->outcome : "ok";
    bool versioned = strcmp(out, "ok") == 0 || strcmp(out, "conflict") == 0;
    return json_pack("[s, I, s, I, s?]", it->dec, (json_int_t)it->index, out,
                     (json_int_t)(versioned ? it->stored : 0), it->digested ? hex : NULL);
}

int keyd_do_import(json_t **answer, warden_keyd *k, const json_t *body, warden_err *err)
{
    const json_t *recs = json_object_get(body, "records");
    const char *request_id = str(body, "request_id");
    size_t n = json_array_size(recs);
    item *its = calloc(n, sizeof *its);
    keyd_pset *p = keyd_pset_acquire(k);
    json_t *ans = NULL, *results = NULL; /* results: borrowed from ans */
    warden_buf texts;
    warden_buf_init(&texts);
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
        char rid[KEYD_REQUEST_ID_MAX + 32];
        snprintf(rid, sizeof rid, "%s/%zu/w", request_id, i);
        keyd_access_fields f = {rid, str(body, "principal"), it->user, it->coll, it->id,
                                json_object_get(body, "context")};
        it->eoff = texts.len;
        rc = keyd_access_prepare_write(&texts, &it->dec, &it->allow, k, p, &f, it->jur, err);
        it->elen = texts.len - it->eoff;
    }
    /* (3) durable before anything changes or is released */
    if (rc != 0 || (rc = log_all(k, its, n, &texts, err)) != 0)
        goto out;
    /* (4) */
    if ((rc = write_all(k, its, n, err)) != 0 || (rc = read_back(k, its, n, err)) != 0)
        goto out;
    if ((ans = batch_answer(&results, p, request_id)) == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *r = result(&its[i]);
        if (r == NULL || json_array_append_new(results, r) != 0)
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
out:
    if (rc != 0) {
        json_decref(ans);
        ans = NULL;
    }
    *answer = ans;
    free(its);
    warden_buf_fini(&texts);
    warden_store_user_fini(&u);
    keyd_pset_put(p, k);
    return rc;
}

/* REGISTER_MANY: per user exactly REGISTER's residency decision and entry (request ids
 * <request_id>/<i>), all entries in one durable log batch; then the allowed users not yet
 * registered are registered, each with a fresh DEK wrapped under the KEK, in one store
 * commit. Why the DEK now and not on the first write, as REGISTER does: a migration writes
 * every user it registers right away, and a DEK stored on its own costs a store commit (an
 * fsync) per user. */
int keyd_do_register_many(json_t **answer, warden_keyd *k, const json_t *body, warden_err *err)
{
    const json_t *users = json_object_get(body, "users");
    const char *request_id = str(body, "request_id");
    size_t n = json_array_size(users);
    keyd_pset *p = keyd_pset_acquire(k);
    item *its = calloc(n, sizeof *its);
    warden_store_reg *regs = calloc(n, sizeof *regs);
    warden_store_dek *deks = calloc(n, sizeof *deks);
    warden_buf *wrapped = calloc(n, sizeof *wrapped);
    size_t *at = calloc(n, sizeof *at), nr = 0;
    json_t *ans = NULL, *results = NULL; /* results: borrowed from ans */
    warden_buf texts;
    warden_buf_init(&texts);
    warden_store_user u;
    warden_store_user_init(&u);
    warden_dek *fresh = NULL;
    int rc = its == NULL || regs == NULL || deks == NULL || wrapped == NULL || at == NULL
                 ? warden_err_set(err, WARDEN_ENOMEM, "out of memory")
                 : 0;
    for (size_t i = 0; wrapped != NULL && i < n; i++)
        warden_buf_init(&wrapped[i]);
    /* (2) every decision; nothing to read first: the jurisdiction is the requested one */
    for (size_t i = 0; i < n && rc == 0; i++) {
        item *it = &its[i];
        const json_t *e = json_array_get(users, i);
        it->user = str(e, "user");
        snprintf(it->jur, sizeof it->jur, "%s", str(e, "jurisdiction"));
        it->known = true;
        char rid[KEYD_REQUEST_ID_MAX + 32];
        snprintf(rid, sizeof rid, "%s/%zu", request_id, i);
        keyd_access_fields f = {rid, str(body, "principal"), it->user, NULL, NULL,
                                json_object_get(body, "context")};
        it->eoff = texts.len;
        rc = keyd_register_prepare(&texts, &it->dec, &it->allow, k, p, &f, it->jur, err);
        it->elen = texts.len - it->eoff;
    }
    /* (3) durable before anything changes */
    if (rc != 0 || (rc = log_all(k, its, n, &texts, err)) != 0)
        goto out;
    /* (4) the allowed users that are new, with their DEKs, in one commit */
    for (size_t i = 0; i < n && rc == 0; i++) {
        item *it = &its[i];
        if (!it->allow)
            continue;
        it->outcome = "ok";
        int g = warden_store_user_get(k->store, &u, it->user, err);
        if (g == 0) {
            it->outcome = "exists"; /* as REGISTER answers; its jurisdiction stays */
            continue;
        }
        if (g != WARDEN_ENOTFOUND) {
            rc = g;
            break;
        }
        if ((rc = warden_dek_new(&fresh, err)) != 0 ||
            (rc = warden_kek_wrap(&wrapped[nr], k->kek, fresh, it->user, err)) != 0)
            break;
        warden_dek_free(fresh);
        fresh = NULL;
        deks[nr] = (warden_store_dek){.blob = wrapped[nr].p,
                                      .len = wrapped[nr].len,
                                      .kek_id = warden_kek_id(k->kek),
                                      .kek_version = warden_kek_current_version(k->kek)};
        regs[nr] = (warden_store_reg){it->user, it->jur, &deks[nr], 0};
        at[nr++] = i;
    }
    if (rc == 0 && nr > 0)
        rc = warden_store_user_register_batch(k->store, regs, nr, (int64_t)time(NULL), err);
    for (size_t j = 0; rc == 0 && j < nr; j++) {
        if (regs[j].result == WARDEN_EEXIST)
            its[at[j]].outcome = "exists"; /* registered meanwhile */
        else if (regs[j].result != 0)
            rc = warden_err_set(err, regs[j].result, "user %s: the store refused the registration",
                                its[at[j]].user);
    }
    if (rc != 0)
        goto out;
    if ((ans = batch_answer(&results, p, request_id)) == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    /* one result per user: [decision, log_index, outcome] */
    for (size_t i = 0; i < n && rc == 0; i++) {
        const item *it = &its[i];
        json_t *r = json_pack("[s, I, s]", it->dec, (json_int_t)it->index,
                              it->outcome != NULL ? it->outcome : "ok");
        if (r == NULL || json_array_append_new(results, r) != 0)
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
out:
    if (rc != 0) {
        json_decref(ans);
        ans = NULL;
    }
    *answer = ans;
    warden_dek_free(fresh);
    for (size_t i = 0; wrapped != NULL && i < n; i++)
        warden_buf_fini(&wrapped[i]);
    free(wrapped);
    free(deks);
    free(regs);
    free(at);
    free(its);
    warden_buf_fini(&texts);
    warden_store_user_fini(&u);
    keyd_pset_put(p, k);
    return rc;
}
