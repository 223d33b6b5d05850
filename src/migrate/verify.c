/* `warden migrate verify`: the auditor's check of a finished migration from the verified
 * log and the destination alone, with no access to the (possibly deleted) source and no
 * trust in the migrator's own report. The log is verified in full first; its attest
 * entries then give the signed start/end/delete statements (accepted only under the
 * migration key) and the batch statements naming every migrated record; each of those is
 * read back through keyd and the Merkle root over their canonical forms must equal the
 * signed destination root. */
#include "migrate/migrate_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUNDLE_MAX (WARDEN_TLOG_TILE_WIDTH * (WARDEN_TLOG_ENTRY_MAX + 2))

typedef struct key4 {
    char *user, *coll, *id, *jur;
} key4;

typedef struct vstate {
    const warden_migrate_verify_opts *o;
    warden_tlog_verifier *mv;
    char run[20];
    bool have_end, have_start, have_delete;
    mig_statement end, del;
    uint64_t end_index;
    key4 *keys;
    size_t nkeys, cap;
} vstate;

/* Calls fn for every allowed attest entry's statement, in log order. */
static int each_statement(warden_tlog_source *src, uint64_t size,
                          int (*fn)(vstate *, uint64_t, const char *, size_t, warden_err *),
                          vstate *vs, warden_err *err)
{
    warden_buf b;
    warden_buf_init(&b);
    int rc = 0;
    for (uint64_t n = 0; n * WARDEN_TLOG_TILE_WIDTH < size && rc == 0; n++) {
        uint64_t left = size - n * WARDEN_TLOG_TILE_WIDTH;
        unsigned w = left >= WARDEN_TLOG_TILE_WIDTH ? WARDEN_TLOG_TILE_WIDTH : (unsigned)left;
        char path[WARDEN_TLOG_PATH_MAX];
        warden_tlog_bundle bd;
        b.len = 0;
        unsigned got = w;
        if ((rc = warden_tlog_tile_path(path, sizeof path, WARDEN_TLOG_ENTRIES_LEVEL, n, w)) != 0)
            break;
        rc = warden_tlog_source_get(&b, src, path, BUNDLE_MAX, err);
        if (rc == WARDEN_ENOTFOUND && w < WARDEN_TLOG_TILE_WIDTH) {
            /* A live log: the partial bundle was superseded by the full one since the
             * checkpoint (tlog-tiles lets the server delete it); its first w entries are
             * the same. */
            b.len = 0;
            got = WARDEN_TLOG_TILE_WIDTH;
            if ((rc = warden_tlog_tile_path(path, sizeof path, WARDEN_TLOG_ENTRIES_LEVEL, n, 0)) ==
                0)
                rc = warden_tlog_source_get(&b, src, path, BUNDLE_MAX, err);
        }
        if (rc != 0 || (rc = warden_tlog_bundle_parse(&bd, b.p, b.len, got, err)) != 0)
            break;
        for (size_t i = 0; i < bd.count && i < w && rc == 0; i++) {
            json_t *e = json_loadb((const char *)bd.entry[i], bd.len[i], 0, NULL);
            const char *action = json_string_value(json_object_get(e, "action"));
            const char *dec = json_string_value(json_object_get(e, "decision"));
            const json_t *s = json_object_get(e, "statement");
            if (action != NULL && strcmp(action, "attest") == 0 && dec != NULL &&
                strcmp(dec, "allow") == 0 && json_is_string(s))
                rc = fn(vs, n * WARDEN_TLOG_TILE_WIDTH + i, json_string_value(s),
                        json_string_length(s), err);
            json_decref(e);
        }
    }
    warden_buf_fini(&b);
    return rc;
}

/* Pass 1: the signed statements. A note that the migration key did not sign is ignored,
 * as signed-note verifiers ignore unknown signers. */
static int find_statements(vstate *vs, uint64_t index, const char *text, size_t len,
                           warden_err *err)
{
    (void)err;
    mig_statement st;
    if (!mig_statement_is(text, len) || mig_statement_open(&st, text, len, vs->mv, NULL) != 0)
        return 0;
    bool mine = vs->o->run != NULL ? strcmp(st.run, vs->o->run) == 0 : true;
    if (!mine)
        return 0;
    if (strcmp(st.kind, "end") == 0) {
        if (vs->o->run == NULL && vs->have_end && strcmp(st.run, vs->end.run) != 0)
            vs->have_start = vs->have_delete = false; /* a later run: start over */
        vs->end = st;
        vs->end_index = index;
        vs->have_end = true;
        snprintf(vs->run, sizeof vs->run, "%s", st.run);
    } else if (strcmp(st.kind, "delete") == 0 && vs->have_end && strcmp(st.run, vs->run) == 0) {
        vs->del = st;
        vs->have_delete = true;
    }
    return 0;
}

/* Pass 2 (run known): a start statement before the end statement, and the batch lists. */
static int find_batches(vstate *vs, uint64_t index, const char *text, size_t len, warden_err *err)
{
    if (index > vs->end_index)
        return 0;
    if (mig_statement_is(text, len)) {
        mig_statement st;
        if (mig_statement_open(&st, text, len, vs->mv, NULL) == 0 &&
            strcmp(st.kind, "start") == 0 && strcmp(st.run, vs->run) == 0 &&
            memcmp(st.source_root.b, vs->end.source_root.b, WARDEN_TLOG_HASH_SIZE) == 0 &&
            st.records == vs->end.records)
            vs->have_start = true;
        return 0;
    }
    json_t *j = json_loadb(text, len, 0, NULL);
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *run = json_string_value(json_object_get(j, "run"));
    int rc = 0;
    if (type != NULL && strcmp(type, MIG_BATCH_TYPE) == 0 && run != NULL &&
        strcmp(run, vs->run) == 0) {
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(j, "records"), i, r)
        {
            const char *u = json_string_value(json_array_get(r, 0));
            const char *c = json_string_value(json_array_get(r, 1));
            const char *d = json_string_value(json_array_get(r, 2));
            const char *ju = json_string_value(json_array_get(r, 3));
            if (u == NULL || c == NULL || d == NULL || ju == NULL) {
                rc = warden_err_set(err, WARDEN_EVERIFY, "log entry %llu: malformed batch list",
                                    (unsigned long long)index);
                break;
            }
            if (vs->nkeys == vs->cap) {
                size_t nc = vs->cap ? vs->cap * 2 : 1024;
                key4 *k = realloc(vs->keys, nc * sizeof *k);
                if (k == NULL) {
                    rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
                    break;
                }
                vs->keys = k;
                vs->cap = nc;
            }
            key4 *k = &vs->keys[vs->nkeys];
            k->user = strdup(u);
            k->coll = strdup(c);
            k->id = strdup(d);
            k->jur = strdup(ju);
            vs->nkeys++;
            if (k->user == NULL || k->coll == NULL || k->id == NULL || k->jur == NULL) {
                rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
                break;
            }
        }
    }
    json_decref(j);
    return rc;
}

static int key_cmp(const void *a, const void *b)
{
    const key4 *x = a, *y = b;
    return mig_key_cmp(x->user, x->coll, x->id, y->user, y->coll, y->id);
}

static void key_free(key4 *k)
{
    free(k->user);
    free(k->coll);
    free(k->id);
    free(k->jur);
}

/* Reads every listed record through keyd and builds the destination root. */
static int read_back(warden_tlog_hash *root, uint64_t *checked, vstate *vs, warden_err *err)
{
    const warden_migrate_verify_opts *o = vs->o;
    mig_dest d = {.principal = o->principal ? o->principal : "Service::\"migrator\"",
                  .purpose = o->purpose ? o->purpose : "migration",
                  .source_ip = o->source_ip ? o->source_ip : "127.0.0.1",
                  .location = o->location ? o->location : "US"};
    snprintf(d.run, sizeof d.run, "%s", vs->run);
    mig_merkle m;
    mig_merkle_init(&m);
    mig_rec recs[1000];
    int rc = mig_dest_open(&d, o->socket, 4, err);
    *checked = 0;
    for (size_t at = 0; rc == 0 && at < vs->nkeys; at += 1000) {
        size_t n = vs->nkeys - at < 1000 ? vs->nkeys - at : 1000;
        memset(recs, 0, n * sizeof *recs);
        for (size_t i = 0; i < n; i++) { /* borrowed names: not mig_rec_fini'd */
            recs[i].user = vs->keys[at + i].user;
            recs[i].coll = vs->keys[at + i].coll;
            recs[i].id = vs->keys[at + i].id;
            recs[i].jur = vs->keys[at + i].jur;
        }
        if ((rc = mig_dest_read_all(&d, recs, n, err)) != 0)
            break;
        for (size_t i = 0; i < n; i++) {
            if (recs[i].outcome != MIG_O_DONE) {
                rc = warden_err_set(err, WARDEN_EVERIFY, "migrated record %s/%s/%s: %s",
                                    recs[i].user, recs[i].coll, recs[i].id, recs[i].why);
                break;
            }
            mig_merkle_add(&m, &recs[i].leaf);
            (*checked)++;
        }
    }
    mig_dest_close(&d);
    mig_merkle_root(root, &m);
    return rc;
}

int warden_migrate_verify(warden_migrate_report *r, const warden_migrate_verify_opts *o,
                          warden_err *err)
{
    vstate vs = {.o = o};
    warden_tlog_source *src = NULL;
    warden_tlog_verifier *lv = NULL;
    warden_tlog_checkpoint cp;
    memset(r, 0, sizeof *r);
    int rc;
    bool url = strncmp(o->log, "http://", 7) == 0 || strncmp(o->log, "https://", 8) == 0;
    if ((rc = url ? warden_tlog_source_url_new(&src, o->log, err)
                  : warden_tlog_source_dir_new(&src, o->log, err)) != 0 ||
        (rc = warden_tlog_verifier_new(&lv, o->log_vkey, strlen(o->log_vkey), err)) != 0 ||
        (rc = warden_tlog_verifier_new(&vs.mv, o->mig_vkey, strlen(o->mig_vkey), err)) != 0)
        goto out;
    if ((rc = warden_tlog_verify(&cp, src, lv, err)) != 0) {
        (void)warden_err_prefix(err, "the log does not verify");
        goto out;
    }
    if ((rc = each_statement(src, cp.size, find_statements, &vs, err)) != 0)
        goto out;
    if (!vs.have_end) {
        rc = warden_err_set(err, WARDEN_ENOTFOUND,
                            "no end statement signed by the migration key%s%s in the log",
                            o->run ? " for run " : "", o->run ? o->run : "");
        goto out;
    }
    if ((rc = each_statement(src, cp.size, find_batches, &vs, err)) != 0)
        goto out;
    if (!vs.have_start) {
        rc = warden_err_set(err, WARDEN_EVERIFY,
                            "run %s: no signed start statement with the end statement's source "
                            "root precedes it",
                            vs.run);
        goto out;
    }
    qsort(vs.keys, vs.nkeys, sizeof *vs.keys, key_cmp);
    size_t u = 0;
    for (size_t i = 0; i < vs.nkeys; i++) { /* a record migrated again is listed again */
        if (u > 0 && key_cmp(&vs.keys[u - 1], &vs.keys[i]) == 0) {
            key_free(&vs.keys[u - 1]);
            vs.keys[u - 1] = vs.keys[i];
        } else {
            vs.keys[u++] = vs.keys[i];
        }
    }
    vs.nkeys = u;
    if (vs.nkeys != vs.end.migrated) {
        rc = warden_err_set(err, WARDEN_EVERIFY,
                            "run %s: the log names %zu migrated records, the signed statement %llu",
                            vs.run, vs.nkeys, (unsigned long long)vs.end.migrated);
        goto out;
    }
    warden_tlog_hash root;
    if ((rc = read_back(&root, &r->checked, &vs, err)) != 0)
        goto out;
    if (memcmp(root.b, vs.end.dest_root.b, WARDEN_TLOG_HASH_SIZE) != 0) {
        char a[48], b[48];
        warden_tlog_hash_b64(a, &root);
        warden_tlog_hash_b64(b, &vs.end.dest_root);
        rc = warden_err_set(err, WARDEN_EVERIFY,
                            "run %s: the destination's records have root %s, the signed "
                            "statement says %s",
                            vs.run, a, b);
        goto out;
    }
    snprintf(r->run, sizeof r->run, "%s", vs.run);
    r->source_records = vs.end.records;
    r->migrated = vs.end.migrated;
    r->refused = vs.end.refused;
    r->source_root = vs.end.source_root;
    r->dest_root = vs.end.dest_root;
    r->end_index = vs.end_index;
    r->has_delete = vs.have_delete;
    r->deleted = vs.del.deleted;
out:
    for (size_t i = 0; i < vs.nkeys; i++)
        key_free(&vs.keys[i]);
    free(vs.keys);
    warden_tlog_verifier_free(vs.mv);
    warden_tlog_verifier_free(lv);
    warden_tlog_source_free(src);
    return rc;
}
