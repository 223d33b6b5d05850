/* The LMDB backend's operations (the environment is in lmdb_env.c):
 *   users:   key(user)           -> user value  (codec.c)
 *   records: key(user, coll, id) -> record value (live, or a tombstone keeping the version)
 * Every call is one LMDB transaction (a batch of puts too); a write commits with
 * fdatasync before returning, so an acknowledged write survives a crash. LMDB serializes
 * writers; readers run concurrently.
 * Invariant: every byte read from the map goes through codec.c's checked decoders, and
 * the decoded pointers are used only before the transaction ends. */
#include "store/lmdb_internal.h"

#include <string.h>

static MDB_val val_of(const warden_buf *b)
{
    MDB_val v = {b->len, b->p};
    return v;
}

/* ---- users ---- */

/* Reads and decodes user's value inside txn. Errors: WARDEN_ENOTFOUND, and decoding's. */
static int user_read(store_user_val *v, MDB_txn *txn, lmdb_store *ls, const warden_buf *key,
                     const char *user, warden_err *err)
{
    MDB_val k = val_of(key), d;
    int rc = mdb_get(txn, ls->users, &k, &d);
    if (rc == MDB_NOTFOUND)
        return warden_err_set(err, WARDEN_ENOTFOUND, "user %s is not registered", user);
    if (rc != 0)
        return store_lmdb_fail(err, ls, rc, "reading a user");
    rc = store_user_decode(v, key->p, key->len, d.mv_data, d.mv_size, err);
    return rc != 0 ? warden_err_prefix(err, "user %s", user) : 0;
}

static int user_write(MDB_txn *txn, lmdb_store *ls, const warden_buf *key, const store_user_val *v,
                      unsigned flags, warden_err *err)
{
    warden_buf val;
    warden_buf_init(&val);
    int rc = store_user_encode(&val, key->p, key->len, v, err);
    if (rc == 0) {
        MDB_val k = val_of(key), d = val_of(&val);
        rc = mdb_put(txn, ls->users, &k, &d, flags);
        if (rc != 0)
            rc = store_lmdb_fail(err, ls, rc, "writing a user");
    }
    warden_buf_fini(&val);
    return rc;
}

static void set_dek(store_user_val *v, const warden_store_dek *dek)
{
    if (dek == NULL) {
        v->kek_id[0] = '\0';
        v->kek_version = 0;
        v->blob = NULL;
        v->blob_len = 0;
        return;
    }
    snprintf(v->kek_id, sizeof v->kek_id, "%s", dek->kek_id);
    v->kek_version = dek->kek_version;
    v->blob = dek->blob;
    v->blob_len = dek->len;
}

static int ls_user_register(void *state, const char *user, const char *jurisdiction,
                            int64_t created, const warden_store_dek *dek, warden_err *err)
{
    lmdb_store *ls = state;
    MDB_txn *txn = NULL;
    warden_buf key;
    store_user_val v, old;
    warden_buf_init(&key);
    int rc = store_key_user(&key, user, err);
    if (rc != 0)
        goto out;
    if ((rc = store_lmdb_begin(&txn, ls, true, "registering a user", err)) != 0)
        goto out;
    rc = user_read(&old, txn, ls, &key, user, err);
    if (rc == 0) {
        rc = strcmp(old.jurisdiction, jurisdiction) != 0
                 ? warden_err_set(err, WARDEN_EEXIST,
                                  "user %s is registered with home jurisdiction %s, fixed at "
                                  "registration: refusing %s",
                                  user, old.jurisdiction, jurisdiction)
                 : warden_err_set(err, WARDEN_EEXIST, "user %s is already registered%s", user,
                                  old.state == WARDEN_USER_SHREDDED ? " (and shredded)" : "");
        goto out;
    }
    if (rc != WARDEN_ENOTFOUND)
        goto out;
    memset(&v, 0, sizeof v);
    v.state = WARDEN_USER_ACTIVE;
    v.created = created;
    snprintf(v.jurisdiction, sizeof v.jurisdiction, "%s", jurisdiction);
    set_dek(&v, dek);
    if ((rc = user_write(txn, ls, &key, &v, MDB_NOOVERWRITE, err)) != 0)
        goto out;
    rc = store_lmdb_commit(txn, ls, "registering a user", err);
    txn = NULL;
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    warden_buf_fini(&key);
    return rc;
}

/* One write transaction for all registrations: one fsync. A user already registered gets
 * WARDEN_EEXIST and is left as it is; an LMDB failure aborts the whole batch. */
static int ls_user_register_batch(void *state, warden_store_reg *regs, size_t n, int64_t created,
                                  warden_err *err)
{
    lmdb_store *ls = state;
    MDB_txn *txn = NULL;
    warden_buf key;
    warden_buf_init(&key);
    int rc = store_lmdb_begin(&txn, ls, true, "registering users", err);
    for (size_t i = 0; i < n && rc == 0; i++) {
        warden_store_reg *r = &regs[i];
        store_user_val v, old;
        warden_err item;
        if (r->result != 0)
            continue; /* refused by the argument checks */
        key.len = 0;
        if ((rc = store_key_user(&key, r->user, err)) != 0)
            break;
        int got = user_read(&old, txn, ls, &key, r->user, &item);
        if (got == 0) {
            r->result = WARDEN_EEXIST;
            continue;
        }
        if (got != WARDEN_ENOTFOUND) {
            rc = got;
            *err = item;
            break;
        }
        memset(&v, 0, sizeof v);
        v.state = WARDEN_USER_ACTIVE;
        v.created = created;
        snprintf(v.jurisdiction, sizeof v.jurisdiction, "%s", r->jurisdiction);
        set_dek(&v, r->dek);
        rc = user_write(txn, ls, &key, &v, MDB_NOOVERWRITE, err);
    }
    if (rc == 0) {
        rc = store_lmdb_commit(txn, ls, "registering users", err);
        txn = NULL;
    }
    if (txn != NULL)
        mdb_txn_abort(txn);
    warden_buf_fini(&key);
    return rc;
}

static int ls_user_get(void *state, warden_store_user *out, const char *user, warden_err *err)
{
    lmdb_store *ls = state;
    MDB_txn *txn = NULL;
    warden_buf key;
    store_user_val v;
    warden_buf_init(&key);
    int rc = store_key_user(&key, user, err);
    if (rc == 0)
        rc = store_lmdb_begin(&txn, ls, false, "reading a user", err);
    if (rc == 0)
        rc = user_read(&v, txn, ls, &key, user, err);
    if (rc == 0 && warden_buf_append(&out->wrapped, v.blob, v.blob_len) != 0)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory reading user %s", user);
    if (rc == 0) {
        memcpy(out->jurisdiction, v.jurisdiction, sizeof out->jurisdiction);
        memcpy(out->kek_id, v.kek_id, sizeof out->kek_id);
        out->state = v.state;
        out->created = v.created;
        out->shredded = v.shredded;
        out->kek_version = v.kek_version;
        out->has_dek = v.blob_len != 0;
    }
    if (txn != NULL)
        mdb_txn_abort(txn);
    warden_buf_fini(&key);
    return rc;
}

static int ls_user_set_dek(void *state, const char *user, const uint8_t *old, size_t old_len,
                           const warden_store_dek *dek, warden_err *err)
{
    lmdb_store *ls = state;
    MDB_txn *txn = NULL;
    warden_buf key;
    store_user_val v;
    warden_buf_init(&key);
    int rc = store_key_user(&key, user, err);
    if (rc != 0)
        goto out;
    if ((rc = store_lmdb_begin(&txn, ls, true, "storing a DEK", err)) != 0)
        goto out;
    if ((rc = user_read(&v, txn, ls, &key, user, err)) != 0)
        goto out;
    if (v.state == WARDEN_USER_SHREDDED) {
        rc = warden_err_set(err, WARDEN_ENOTFOUND,
                            "user %s was shredded: their key is destroyed and never comes back",
                            user);
        goto out;
    }
    if (old == NULL && v.blob_len != 0) {
        rc = warden_err_set(err, WARDEN_EEXIST, "user %s already has a DEK: re-read and use it",
                            user);
        goto out;
    }
    if (old != NULL && v.blob_len == 0) {
        rc = warden_err_set(err, WARDEN_ENOTFOUND, "user %s has no DEK to re-wrap yet", user);
        goto out;
    }
    if (old != NULL && (v.blob_len != old_len || memcmp(v.blob, old, old_len) != 0)) {
        rc = warden_err_set(err, WARDEN_EEXIST,
                            "user %s's wrapped DEK changed since it was read: re-read it", user);
        goto out;
    }
    set_dek(&v, dek);
    if ((rc = user_write(txn, ls, &key, &v, 0, err)) != 0)
        goto out;
    rc = store_lmdb_commit(txn, ls, "storing a DEK", err);
    txn = NULL;
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    warden_buf_fini(&key);
    return rc;
}

static int ls_user_shred(void *state, const char *user, int64_t now, warden_err *err)
{
    lmdb_store *ls = state;
    MDB_txn *txn = NULL;
    warden_buf key;
    store_user_val v;
    warden_buf_init(&key);
    int rc = store_key_user(&key, user, err);
    if (rc != 0)
        goto out;
    if ((rc = store_lmdb_begin(&txn, ls, true, "shredding a user", err)) != 0)
        goto out;
    if ((rc = user_read(&v, txn, ls, &key, user, err)) != 0)
        goto out;
    if (v.state == WARDEN_USER_SHREDDED) {
        rc = warden_err_set(err, WARDEN_ENOTFOUND, "user %s was already shredded at %lld", user,
                            (long long)v.shredded);
        goto out;
    }
    v.state = WARDEN_USER_SHREDDED;
    v.shredded = now;
    set_dek(&v, NULL);
    if ((rc = user_write(txn, ls, &key, &v, 0, err)) != 0)
        goto out;
    rc = store_lmdb_commit(txn, ls, "shredding a user", err);
    txn = NULL;
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    warden_buf_fini(&key);
    return rc;
}

/* Positions cur at the first key after `after` (or at the first key >= start when after is
 * NULL). Returns 0 with k and d set, MDB_NOTFOUND at the end, or an LMDB error. */
static int seek_after(MDB_cursor *cur, MDB_val *k, MDB_val *d, const warden_buf *start,
                      const warden_buf *after)
{
    const warden_buf *from = after != NULL ? after : start;
    *k = val_of(from);
    int rc = mdb_cursor_get(cur, k, d, from->len != 0 ? MDB_SET_RANGE : MDB_FIRST);
    if (rc == 0 && after != NULL && k->mv_size == after->len &&
        memcmp(k->mv_data, after->p, after->len) == 0)
        rc = mdb_cursor_get(cur, k, d, MDB_NEXT);
    return rc;
}

static int ls_user_list(void *state, warden_store_page *out, const char *after, size_t max,
                        warden_err *err)
{
    lmdb_store *ls = state;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, d;
    warden_buf start, akey;
    char user[WARDEN_STORE_USER_MAX + 1];
    warden_buf_init(&start);
    warden_buf_init(&akey);
    int rc = after != NULL ? store_key_user(&akey, after, err) : 0;
    if (rc != 0 || (rc = store_lmdb_begin(&txn, ls, false, "listing users", err)) != 0)
        goto out;
    if ((rc = mdb_cursor_open(txn, ls->users, &cur)) != 0) {
        rc = store_lmdb_fail(err, ls, rc, "listing users");
        goto out;
    }
    int mrc = seek_after(cur, &k, &d, &start, after != NULL ? &akey : NULL);
    while (mrc == 0 && out->n < max) {
        if ((rc = store_key_user_parse(user, k.mv_data, k.mv_size, err)) != 0 ||
            (rc = warden_store_page_add(out, user, NULL, NULL, 0, NULL, 0, err)) != 0)
            goto out;
        mrc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = store_lmdb_fail(err, ls, mrc, "listing users");
        goto out;
    }
    out->more = mrc == 0;
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    warden_buf_fini(&start);
    warden_buf_fini(&akey);
    return rc;
}

/* ---- records ---- */

/* Reads the record at key: *found false if absent, else *v decoded (live or tombstone). */
static int rec_read(store_rec_val *v, bool *found, MDB_txn *txn, lmdb_store *ls,
                    const warden_buf *key, warden_err *err)
{
    MDB_val k = val_of(key), d;
    int rc = mdb_get(txn, ls->records, &k, &d);
    *found = false;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return store_lmdb_fail(err, ls, rc, "reading a record");
    *found = true;
    return store_rec_decode(v, key->p, key->len, d.mv_data, d.mv_size, err);
}

static int rec_write(MDB_txn *txn, lmdb_store *ls, const warden_buf *key, const store_rec_val *v,
                     warden_err *err)
{
    warden_buf val;
    warden_buf_init(&val);
    int rc = store_rec_encode(&val, key->p, key->len, v, err);
    if (rc == 0) {
        MDB_val k = val_of(key), d = val_of(&val);
        rc = mdb_put(txn, ls->records, &k, &d, 0);
        if (rc != 0)
            rc = store_lmdb_fail(err, ls, rc, "writing a record");
    }
    warden_buf_fini(&val);
    return rc;
}

/* rec_read, with errors naming the record. */
static int rec_read_named(store_rec_val *v, bool *found, MDB_txn *txn, lmdb_store *ls,
                          const warden_buf *key, const char *user, const char *collection,
                          const char *id, warden_err *err)
{
    int rc = rec_read(v, found, txn, ls, key, err);
    if (rc != 0)
        warden_err_prefix(err, "record %s/%s/%s", user, collection, id);
    return rc;
}

/* Encodes the record's key into key, begins a transaction (*txn, which the caller aborts or
 * commits even on error) and reads the record's current value. */
static int rec_begin(MDB_txn **txn, warden_buf *key, store_rec_val *v, bool *found, lmdb_store *ls,
                     bool write, const char *what, const char *user, const char *collection,
                     const char *id, warden_err *err)
{
    int rc = store_key_record(key, user, collection, id, err);
    if (rc != 0 || (rc = store_lmdb_begin(txn, ls, write, what, err)) != 0)
        return rc;
    return rec_read_named(v, found, *txn, ls, key, user, collection, id, err);
}

/* One record write inside a write transaction: the user must be active and version the
 * next one. LMDB failures are ELIMIT/EIO/ENOMEM (the transaction must then be aborted);
 * ENOTFOUND, EEXIST and a corrupt stored value concern only this record. */
static int put_in_txn(MDB_txn *txn, lmdb_store *ls, const char *user, const char *collection,
                      const char *id, uint64_t version, const uint8_t *blob, size_t len,
                      warden_err *err)
{
    warden_buf ukey, key;
    store_user_val u;
    store_rec_val v;
    bool found;
    warden_buf_init(&ukey);
    warden_buf_init(&key);
    int rc = store_key_user(&ukey, user, err);
    if (rc != 0 || (rc = store_key_record(&key, user, collection, id, err)) != 0)
        goto out;
    if ((rc = user_read(&u, txn, ls, &ukey, user, err)) != 0)
        goto out;
    if (u.state == WARDEN_USER_SHREDDED) {
        rc = warden_err_set(err, WARDEN_ENOTFOUND,
                            "user %s was shredded: no record of theirs can be written", user);
        goto out;
    }
    if ((rc = rec_read_named(&v, &found, txn, ls, &key, user, collection, id, err)) != 0)
        goto out;
    uint64_t current = found ? v.version : 0;
    if (current == UINT64_MAX || version != current + 1) {
        rc = warden_err_set(err, WARDEN_EEXIST,
                            "version conflict: record %s/%s/%s is at version %llu%s, so the next "
                            "write is %llu, not %llu",
                            user, collection, id, (unsigned long long)current,
                            found && v.flags == STORE_REC_TOMBSTONE ? " (deleted)" : "",
                            (unsigned long long)(current + 1), (unsigned long long)version);
        goto out;
    }
    v.flags = STORE_REC_LIVE;
    v.version = version;
    v.blob = blob;
    v.blob_len = len;
    rc = rec_write(txn, ls, &key, &v, err);
out:
    warden_buf_fini(&ukey);
    warden_buf_fini(&key);
    return rc;
}

static bool txn_broken(int rc)
{
    return rc == WARDEN_ELIMIT || rc == WARDEN_EIO || rc == WARDEN_ENOMEM || rc == WARDEN_EINTERNAL;
}

static int ls_record_put(void *state, const char *user, const char *collection, const char *id,
                         uint64_t version, const uint8_t *blob, size_t len, warden_err *err)
{
    lmdb_store *ls = state;
    MDB_txn *txn = NULL;
    int rc = store_lmdb_begin(&txn, ls, true, "writing a record", err);
    if (rc != 0)
        return rc;
    rc = put_in_txn(txn, ls, user, collection, id, version, blob, len, err);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return store_lmdb_commit(txn, ls, "writing a record", err);
}

/* Group commit: every put is tried in one write transaction and one fdatasync covers all
 * the ones that succeeded. A put that fails on its own (conflict, unknown user) is simply
 * not part of the commit; an LMDB failure aborts the whole batch. */
static int ls_record_put_batch(void *state, warden_store_put *puts, size_t n, warden_err *err)
{
    lmdb_store *ls = state;
    MDB_txn *txn = NULL;
    warden_err item;
    int rc = store_lmdb_begin(&txn, ls, true, "writing a batch of records", err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        warden_store_put *p = &puts[i];
        if (p->result != 0)
            continue; /* refused by the argument checks */
        p->result =
            put_in_txn(txn, ls, p->user, p->collection, p->id, p->version, p->blob, p->len, &item);
        if (txn_broken(p->result)) {
            mdb_txn_abort(txn);
            *err = item;
            return item.code;
        }
    }
    return store_lmdb_commit(txn, ls, "writing a batch of records", err);
}

static int ls_record_get(void *state, warden_store_record *out, const char *user,
                         const char *collection, const char *id, warden_err *err)
{
    lmdb_store *ls = state;
    MDB_txn *txn = NULL;
    warden_buf key;
    store_rec_val v;
    bool found;
    warden_buf_init(&key);
    int rc =
        rec_begin(&txn, &key, &v, &found, ls, false, "reading a record", user, collection, id, err);
    if (rc != 0)
        goto out;
    if (!found || v.flags == STORE_REC_TOMBSTONE) {
        rc = warden_err_set(err, WARDEN_ENOTFOUND, "record %s/%s/%s %s", user, collection, id,
                            found ? "was deleted" : "does not exist");
        goto out;
    }
    if (warden_buf_append(&out->blob, v.blob, v.blob_len) != 0) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory reading a record");
        goto out;
    }
    out->version = v.version;
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    warden_buf_fini(&key);
    return rc;
}

static int ls_record_head(void *state, uint64_t *version, bool *live, const char *user,
                          const char *collection, const char *id, warden_err *err)
{
    lmdb_store *ls = state;
    MDB_txn *txn = NULL;
    warden_buf key;
    store_rec_val v;
    bool found;
    warden_buf_init(&key);
    int rc =
        rec_begin(&txn, &key, &v, &found, ls, false, "reading a record", user, collection, id, err);
    if (rc != 0)
        goto out;
    *version = found ? v.version : 0;
    *live = found && v.flags == STORE_REC_LIVE;
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    warden_buf_fini(&key);
    return rc;
}

static int ls_record_delete(void *state, const char *user, const char *collection, const char *id,
                            uint64_t expected, warden_err *err)
{
    lmdb_store *ls = state;
    MDB_txn *txn = NULL;
    warden_buf key;
    store_rec_val v;
    bool found;
    warden_buf_init(&key);
    int rc =
        rec_begin(&txn, &key, &v, &found, ls, true, "deleting a record", user, collection, id, err);
    if (rc != 0)
        goto out;
    if (!found || v.flags == STORE_REC_TOMBSTONE) {
        rc = warden_err_set(err, WARDEN_ENOTFOUND, "record %s/%s/%s %s", user, collection, id,
                            found ? "was already deleted" : "does not exist");
        goto out;
    }
    if (expected != 0 && v.version != expected) {
        rc = warden_err_set(
            err, WARDEN_EEXIST, "version conflict: record %s/%s/%s is at version %llu, not %llu",
            user, collection, id, (unsigned long long)v.version, (unsigned long long)expected);
        goto out;
    }
    v.flags = STORE_REC_TOMBSTONE;
    v.blob = NULL;
    v.blob_len = 0;
    if ((rc = rec_write(txn, ls, &key, &v, err)) != 0)
        goto out;
    rc = store_lmdb_commit(txn, ls, "deleting a record", err);
    txn = NULL;
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    warden_buf_fini(&key);
    return rc;
}

static int ls_record_list(void *state, warden_store_page *out, const char *user,
                          const char *after_collection, const char *after_id, size_t max,
                          warden_err *err)
{
    lmdb_store *ls = state;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, d;
    warden_buf prefix, akey;
    store_rec_val v;
    char u[WARDEN_STORE_USER_MAX + 1], coll[WARDEN_STORE_COLLECTION_MAX + 1],
        id[WARDEN_STORE_ID_MAX + 1];
    warden_buf_init(&prefix);
    warden_buf_init(&akey);
    int rc = store_key_user(&prefix, user, err);
    if (rc == 0 && after_collection != NULL)
        rc = store_key_record(&akey, user, after_collection, after_id, err);
    if (rc != 0 || (rc = store_lmdb_begin(&txn, ls, false, "listing records", err)) != 0)
        goto out;
    if ((rc = mdb_cursor_open(txn, ls->records, &cur)) != 0) {
        rc = store_lmdb_fail(err, ls, rc, "listing records");
        goto out;
    }
    int mrc = seek_after(cur, &k, &d, &prefix, after_collection != NULL ? &akey : NULL);
    for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        warden_cursor c;
        const uint8_t *head;
        warden_cursor_init(&c, k.mv_data, k.mv_size);
        if (warden_cursor_bytes(&c, &head, prefix.len) != 0 ||
            memcmp(head, prefix.p, prefix.len) != 0)
            break; /* past this user's records */
        if (out->n == max)
            break; /* more = true below */
        if ((rc = store_key_record_parse(u, coll, id, k.mv_data, k.mv_size, err)) != 0 ||
            (rc = store_rec_decode(&v, k.mv_data, k.mv_size, d.mv_data, d.mv_size, err)) != 0) {
            warden_err_prefix(err, "listing records of %s", user);
            goto out;
        }
        if (v.flags == STORE_REC_TOMBSTONE)
            continue;
        if ((rc = warden_store_page_add(out, NULL, coll, id, v.version, v.blob, v.blob_len, err)) !=
            0)
            goto out;
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = store_lmdb_fail(err, ls, mrc, "listing records");
        goto out;
    }
    out->more = mrc == 0 && out->n == max;
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    warden_buf_fini(&prefix);
    warden_buf_fini(&akey);
    return rc;
}

const warden_store_ops store_lmdb_ops = {
    .name = "lmdb",
    .close = store_lmdb_close,
    .user_register = ls_user_register,
    .user_get = ls_user_get,
    .user_set_dek = ls_user_set_dek,
    .user_shred = ls_user_shred,
    .user_list = ls_user_list,
    .record_put = ls_record_put,
    .record_put_batch = ls_record_put_batch,
    .user_register_batch = ls_user_register_batch,
    .record_get = ls_record_get,
    .record_head = ls_record_head,
    .record_delete = ls_record_delete,
    .record_list = ls_record_list,
    .backup = store_lmdb_backup,
};
