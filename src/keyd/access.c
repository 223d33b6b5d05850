/* The access path: decide with Cedar, log the decision durably, and only then touch keys.
 *
 * Every handler here follows the same order, and a reviewer should be able to check it
 * at a glance: (1) read what the decision needs (the user's jurisdiction; no key, no
 * ciphertext), (2) decide, (3) keyd_audit_append -> durable, or return WARDEN_EIO and
 * release nothing, (4) only for an allowed decision: unwrap the DEK, decrypt or encrypt,
 * redact, answer. Denied decisions are answers too, with their log index. */
#include "keyd/keyd_internal.h"
#include "keyd/protocol.h"
#include "keyd/redact.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct areq {
    const char *request_id, *principal, *action, *user, *collection, *id;
    const char *source_ip, *location, *site, *purpose;
    const json_t *document;
    uint64_t want_version; /* write: compare-and-set on this version; 0 = the next one */
} areq;

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void areq_from(areq *r, const json_t *body)
{
    const json_t *ctx = json_object_get(body, "context");
    r->request_id = str(body, "request_id");
    r->principal = str(body, "principal");
    r->action = str(body, "action");
    r->user = str(body, "user");
    r->collection = str(body, "collection");
    r->id = str(body, "id");
    r->document = json_object_get(body, "document");
    r->want_version = (uint64_t)json_integer_value(json_object_get(body, "version"));
    r->source_ip = str(ctx, "source_ip");
    r->location = str(ctx, "location");
    /* Always in the context, so a policy on context.site never errors (and is skipped) */
    r->site = str(ctx, "site") != NULL ? str(ctx, "site") : "unknown";
    r->purpose = str(ctx, "purpose");
}

/* One Cedar decision, copied out of the thread's authz scratch. */
typedef struct verdict {
    bool allow;
    json_t *policies; /* determining policy ids */
    json_t *errors;   /* [{"policy","message"}] */
} verdict;

static void verdict_fini(verdict *v)
{
    json_decref(v->policies);
    json_decref(v->errors);
    v->policies = v->errors = NULL;
}

/* The Cedar request {principal, action, resource, context: ctx} as JSON; it holds a
 * reference to ctx, so a data_class set in ctx later is part of it. NULL: out of memory. */
static json_t *request_json(const char *principal, const char *action, const char *rtype,
                            const char *rid, json_t *ctx)
{
    return json_pack("{s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:O}", "principal", principal, "action",
                     "type", "Action", "id", action, "resource", "type", rtype, "id", rid,
                     "context", ctx);
}

/* Decides the request j (request_json over ctx) with data_class set in ctx when given.
 * ctx is borrowed: data_class is set in it for the decision and removed again, since
 * copying the whole context for each decision cost more than the decision itself; for the
 * same reason a read's two class decisions share j. */
static int decide_j(verdict *v, warden_keyd *k, const keyd_pset *p, const json_t *j, json_t *ctx,
                    const char *data_class, warden_err *err)
{
    warden_request *rq = NULL;
    int rc = 0;
    bool classed = false;
    v->allow = false;
    v->policies = json_array();
    v->errors = json_array();
    if (v->policies == NULL || v->errors == NULL || j == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if (data_class != NULL) {
        if (json_object_set_new(ctx, "data_class", json_string(data_class)) != 0) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
        classed = true;
    }
    /* The request is converted into its own arena: ctx is not referenced after this. */
    if ((rc = warden_request_from_json(&rq, j, err)) != 0) {
        (void)warden_err_prefix(err, "request");
        goto out;
    }
    warden_authz *z = keyd_thread_authz(k, err);
    if (z == NULL) {
        rc = err != NULL ? err->code : WARDEN_ENOMEM;
        goto out;
    }
    warden_decision d;
    if ((rc = warden_authorize(&d, z, p->policies, p->entities, rq, err)) != 0)
        goto out;
    v->allow = d.allow;
    for (size_t i = 0; i < d.n_reasons; i++)
        if (json_array_append_new(v->policies, json_string(d.reasons[i])) != 0)
            rc = WARDEN_ENOMEM;
    for (size_t i = 0; i < d.n_errors; i++)
        if (json_array_append_new(v->errors, json_pack("{s:s, s:s}", "policy", d.errors[i].policy,
                                                       "message", d.errors[i].message)) != 0)
            rc = WARDEN_ENOMEM;
    if (rc != 0)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
out:
    warden_request_free(rq);
    if (classed)
        (void)json_object_del(ctx, "data_class");
    if (rc != 0)
        verdict_fini(v);
    return rc;
}

/* Decides principal/action/resource with ctx (+ data_class when given); see decide_j. */
static int decide(verdict *v, warden_keyd *k, const keyd_pset *p, const char *principal,
                  const char *action, const char *rtype, const char *rid, json_t *ctx,
                  const char *data_class, warden_err *err)
{
    json_t *j = request_json(principal, action, rtype, rid, ctx);
    int rc = decide_j(v, k, p, j, ctx, data_class, err);
    json_decref(j);
    return rc;
}

int keyd_decide(bool *allow, json_t **policies, json_t **errors, warden_keyd *k,
                const keyd_pset *p, const char *principal, const char *action, const char *rtype,
                const char *rid, json_t *ctx, const char *data_class, warden_err *err)
{
    verdict v = {0};
    int rc = decide(&v, k, p, principal, action, rtype, rid, ctx, data_class, err);
    *allow = rc == 0 && v.allow;
    *policies = rc == 0 ? v.policies : NULL; /* decide leaves nothing behind on error */
    *errors = rc == 0 ? v.errors : NULL;
    return rc;
}

/* The Cedar context every access decision sees (data_class is added per decision). */
static json_t *base_context(const warden_keyd *k, const areq *r, const char *jurisdiction)
{
    json_t *c = json_pack("{s:s, s:{s:{s:s, s:s}}, s:s, s:s, s:s, s:s, s:s, s:s}", "request_id",
                          r->request_id, "source_ip", "__extn", "fn", "ip", "arg", r->source_ip,
                          "location", r->location, "site", r->site, "purpose", r->purpose,
                          "region", k->cfg.region, "owner", r->user, "jurisdiction", jurisdiction);
    if (c != NULL && r->collection != NULL &&
        json_object_set_new(c, "collection", json_string(r->collection)) != 0) {
        json_decref(c);
        return NULL;
    }
    return c;
}

/* A sticky-error writer for the audit entry text. */
typedef struct ew {
    warden_buf *b;
    int rc;
} ew;

static void ew_lit(ew *w, const char *s)
{
    if (w->rc == 0 && warden_buf_puts(w->b, s) != 0)
        w->rc = WARDEN_ENOMEM;
}

static void ew_str(ew *w, const char *s)
{
    if (w->rc == 0)
        w->rc = keyd_json_canon_str(w->b, s);
}

static void ew_json(ew *w, const json_t *j)
{
    if (w->rc == 0)
        w->rc = keyd_json_canon(w->b, j, NULL);
}

/* The audit entry of n class decisions (docs/audit-entry.md), appended to b as the canonical
 * JSON text that is logged: keys are written in sorted order by hand, and keyd_access_test
 * checks the text re-canonicalises to itself. Building a jansson object only to dump and
 * free it was a tenth of keyd's CPU per read. *decision is "allow", "partial" or "deny".
 * Errors: WARDEN_ELIMIT (too large for the log), WARDEN_EINVAL, WARDEN_ENOMEM. */
static int entry_text(warden_buf *b, const char **decision, const warden_keyd *k,
                      const keyd_pset *p, const areq *r, const char *action, const char *rtype,
                      const char *rid, const char *jurisdiction, const json_t *ctx,
                      const char *const *classes, const verdict *v, size_t n, warden_err *err)
{
    char t[32];
    keyd_audit_time(t);
    size_t allowed = 0, ord[2] = {0, 1};
    for (size_t i = 0; i < n; i++)
        allowed += v[i].allow;
    if (n == 2 && strcmp(classes[1], classes[0]) < 0)
        ord[0] = 1, ord[1] = 0;
    const char *d = allowed == n ? "allow" : allowed == 0 ? "deny" : "partial";
    size_t start = b->len; /* b may hold earlier entries of a batch */
    ew w = {b, 0};
    ew_lit(&w, "{\"action\":");
    ew_str(&w, action);
    ew_lit(&w, ",\"classes\":{");
    for (size_t m = 0; m < n; m++) {
        const verdict *c = &v[ord[m]];
        ew_lit(&w, m > 0 ? "," : "");
        ew_str(&w, classes[ord[m]]);
        ew_lit(&w, c->allow ? ":{\"decision\":\"allow\",\"errors\":"
                            : ":{\"decision\":\"deny\",\"errors\":");
        ew_json(&w, c->errors);
        ew_lit(&w, ",\"policies\":");
        ew_json(&w, c->policies);
        ew_lit(&w, "}");
    }
    ew_lit(&w, "},\"context\":");
    ew_json(&w, ctx);
    ew_lit(&w, ",\"decision\":");
    ew_str(&w, d);
    ew_lit(&w, ",\"errors\":[");
    bool first = true;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < json_array_size(v[i].errors); j++) {
            ew_lit(&w, first ? "" : ",");
            ew_json(&w, json_array_get(v[i].errors, j));
            first = false;
        }
    ew_lit(&w, "],\"location\":");
    ew_str(&w, r->location);
    ew_lit(&w, ",\"policies\":[");
    first = true;
    for (size_t i = 0; i < n; i++) /* each determining policy once, in order */
        for (size_t j = 0; j < json_array_size(v[i].policies); j++) {
            const json_t *e = json_array_get(v[i].policies, j);
            bool dup = false;
            for (size_t i2 = 0; i2 <= i && !dup; i2++)
                for (size_t j2 = 0; j2 < (i2 < i ? json_array_size(v[i2].policies) : j) && !dup;
                     j2++)
                    dup = json_equal(json_array_get(v[i2].policies, j2), e);
            if (dup)
                continue;
            ew_lit(&w, first ? "" : ",");
            ew_json(&w, e);
            first = false;
        }
    ew_lit(&w, "],\"policy_set\":");
    ew_str(&w, p->hash);
    ew_lit(&w, ",\"principal\":");
    ew_str(&w, r->principal);
    ew_lit(&w, ",\"purpose\":");
    ew_str(&w, r->purpose);
    ew_lit(&w, ",\"redacted\":[");
    first = true;
    for (size_t i = 0; i < n; i++)
        if (!v[i].allow) {
            ew_lit(&w, first ? "" : ",");
            ew_str(&w, classes[i]);
            first = false;
        }
    ew_lit(&w, "],\"region\":");
    ew_str(&w, k->cfg.region);
    ew_lit(&w, ",\"request_id\":");
    ew_str(&w, r->request_id);
    ew_lit(&w, ",\"resource\":{");
    if (r->collection != NULL) {
        ew_lit(&w, "\"collection\":");
        ew_str(&w, r->collection);
        ew_lit(&w, ",");
    }
    ew_lit(&w, "\"id\":");
    ew_str(&w, rid);
    ew_lit(&w, ",\"jurisdiction\":");
    ew_str(&w, jurisdiction);
    ew_lit(&w, ",\"owner\":");
    ew_str(&w, r->user);
    if (r->id != NULL) {
        ew_lit(&w, ",\"record\":");
        ew_str(&w, r->id);
    }
    ew_lit(&w, ",\"type\":");
    ew_str(&w, rtype);
    ew_lit(&w, "},\"site\":");
    ew_str(&w, r->site);
    ew_lit(&w, ",\"source\":");
    ew_str(&w, r->source_ip);
    ew_lit(&w, ",\"time\":");
    ew_str(&w, t);
    ew_lit(&w, ",\"type\":\"decision\",\"v\":1}");
    *decision = d;
    if (w.rc == WARDEN_ENOMEM)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory serialising an audit entry");
    if (w.rc != 0) /* a missing field or invalid UTF-8: the request never made sense */
        return warden_err_set(err, w.rc, "audit entry not serialisable");
    if (b->len - start > WARDEN_TLOG_ENTRY_MAX)
        return warden_err_set(err, WARDEN_ELIMIT, "audit entry of %zu bytes exceeds the log's %d",
                              b->len - start, WARDEN_TLOG_ENTRY_MAX);
    return 0;
}

/* The denied classes, for the answer. */
static json_t *redacted_new(const char *const *classes, const verdict *v, size_t n)
{
    json_t *red = json_array();
    for (size_t i = 0; red != NULL && i < n; i++)
        if (!v[i].allow && json_array_append_new(red, json_string(classes[i])) != 0) {
            json_decref(red);
            red = NULL;
        }
    return red;
}

static json_t *answer_new(const char *decision, uint64_t index, const keyd_pset *p,
                          const char *request_id)
{
    return json_pack("{s:s, s:I, s:s, s:s, s:s}", "decision", decision, "log_index",
                     (json_int_t)index, "policy_set", p->hash, "request_id", request_id, "outcome",
                     "ok");
}

static int set_outcome(json_t *answer, const char *outcome)
{
    return json_object_set_new(answer, "outcome", json_string(outcome));
}

/* The user's DEK, creating and storing one on a user's first write (create true). A racing
 * first writer may win: then its DEK is used. *outcome is set when there is no key. */
static int user_dek(warden_dek **dek, const char **outcome, warden_keyd *k, const char *user,
                    bool create, warden_err *err)
{
    warden_store_user u;
    warden_buf wrapped;
    warden_dek *fresh = NULL;
    warden_store_user_init(&u);
    warden_buf_init(&wrapped);
    *dek = NULL;
    *outcome = NULL;
    int rc;
    for (int attempt = 0; attempt < 2; attempt++) {
        /* The epoch before the lookup: a shred after it keeps this unwrap out of the cache. */
        uint64_t epoch = keyd_dekcache_epoch(k->deks);
        if ((rc = warden_store_user_get(k->store, &u, user, err)) != 0)
            goto out;
        if (u.state == WARDEN_USER_SHREDDED) {
            *outcome = "key_destroyed";
            goto out;
        }
        if (u.has_dek) {
            rc = keyd_dekcache_get(dek, k->deks, epoch, k->kek, user, u.wrapped.p, u.wrapped.len,
                                   err);
            goto out;
        }
        if (!create) {
            *outcome = "not_found";
            goto out;
        }
        wrapped.len = 0;
        if ((rc = warden_dek_new(&fresh, err)) != 0 ||
            (rc = warden_kek_wrap(&wrapped, k->kek, fresh, user, err)) != 0)
            goto out;
        warden_store_dek sd = {.blob = wrapped.p,
                               .len = wrapped.len,
                               .kek_id = warden_kek_id(k->kek),
                               .kek_version = warden_kek_current_version(k->kek)};
        rc = warden_store_user_set_dek(k->store, user, &sd, err);
        if (rc == 0) {
            *dek = fresh;
            fresh = NULL;
            goto out;
        }
        if (rc != WARDEN_EEXIST)
            goto out;
        warden_dek_free(fresh);
        fresh = NULL;
    }
out:
    warden_dek_free(fresh);
    warden_buf_fini(&wrapped);
    warden_store_user_fini(&u);
    return rc;
}

/* Decrypts one stored record and redacts it into answer fields "document"/"withheld". */
static int open_record(json_t *dst, warden_keyd *k, const warden_dek *dek, const char *user,
                       const char *collection, const char *id, uint64_t version,
                       const warden_buf *blob, const verdict *v, warden_err *err)
{
    warden_buf pt;
    warden_buf_init(&pt);
    json_t *doc = NULL, *shown = NULL, *withheld = NULL;
    warden_record_ref ref = {k->cfg.region, user, collection, id, version};
    int rc = warden_envelope_decrypt(&pt, dek, &ref, blob->p, blob->len, err);
    if (rc != 0)
        goto out;
    json_error_t jerr;
    doc = json_loadb((const char *)pt.p, pt.len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        rc = warden_err_set(err, WARDEN_ECORRUPT, "record %s/%s: plaintext is not JSON", collection,
                            id);
        goto out;
    }
    if ((rc = keyd_redact(&shown, &withheld, k->schemas, k->n_schemas, collection, doc, v[0].allow,
                          v[1].allow, err)) != 0)
        goto out;
    if (json_object_set_new(dst, "document", shown) != 0 ||
        json_object_set_new(dst, "withheld", withheld) != 0 ||
        json_object_set_new(dst, "version", json_integer((json_int_t)version)) != 0)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    shown = withheld = NULL;
out:
    json_decref(doc);
    warden_buf_fini_wipe(&pt);
    return rc;
}

/* After the log: performs an allowed write, delete, read or export; sets the outcome. */
static int perform(json_t *answer, warden_keyd *k, const areq *r, const verdict *v, warden_err *err)
{
    warden_dek *dek = NULL;
    const char *outcome = NULL;
    warden_buf blob, pt;
    warden_store_record rec;
    warden_store_page page;
    char *text = NULL;
    warden_buf_init(&blob);
    warden_buf_init(&pt);
    warden_store_record_init(&rec);
    warden_store_page_init(&page);
    int rc = 0;
    bool is_write = strcmp(r->action, "write") == 0;
    if (strcmp(r->action, "delete") == 0) {
        rc = warden_store_record_delete(k->store, r->user, r->collection, r->id, 0, err);
        if (rc == WARDEN_ENOTFOUND) {
            outcome = "not_found";
            rc = 0;
        }
        goto out;
    }
    if ((rc = user_dek(&dek, &outcome, k, r->user, is_write, err)) != 0 || outcome != NULL)
        goto out;
    if (is_write) {
        text = json_dumps(r->document, JSON_COMPACT | JSON_SORT_KEYS);
        if (text == NULL) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
        /* The decision was for this write, not for a version: retry lost races. */
        for (int attempt = 0; attempt < 16; attempt++) {
            uint64_t ver;
            bool live;
            if ((rc = warden_store_record_head(k->store, &ver, &live, r->user, r->collection, r->id,
                                               err)) != 0)
                goto out;
            if (r->want_version != 0 && ver + 1 != r->want_version) {
                /* A caller that named the version (the migrator) decides what a race means. */
                outcome = "conflict";
                (void)json_object_set_new(answer, "version", json_integer((json_int_t)ver));
                break;
            }
            warden_record_ref ref = {k->cfg.region, r->user, r->collection, r->id, ver + 1};
            blob.len = 0;
            if ((rc = warden_envelope_encrypt(&blob, dek, &ref, (const uint8_t *)text, strlen(text),
                                              err)) != 0)
                goto out;
            rc = warden_store_record_put(k->store, r->user, r->collection, r->id, ver + 1, blob.p,
                                         blob.len, err);
            if (rc == 0) {
                (void)json_object_set_new(answer, "version", json_integer((json_int_t)ver + 1));
                break;
            }
            if (rc == WARDEN_ENOTFOUND) { /* shredded meanwhile */
                outcome = "key_destroyed";
                rc = 0;
                break;
            }
            if (rc != WARDEN_EEXIST)
                goto out;
        }
        goto out;
    }
    if (r->collection != NULL) { /* read */
        rc = warden_store_record_get(k->store, &rec, r->user, r->collection, r->id, err);
        if (rc == WARDEN_ENOTFOUND) {
            outcome = "not_found";
            rc = 0;
            goto out;
        }
        if (rc == 0)
            rc = open_record(answer, k, dek, r->user, r->collection, r->id, rec.version, &rec.blob,
                             v, err);
        goto out;
    }
    /* export: every live record, page by page, each redacted like a read */
    json_t *all = json_array();
    if (all == NULL || json_object_set_new(answer, "records", all) != 0) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    char *after_c = NULL, *after_i = NULL;
    for (;;) {
        warden_store_page_fini(&page);
        rc = warden_store_record_list(k->store, &page, r->user, after_c, after_i, 100, err);
        free(after_c);
        free(after_i);
        after_c = after_i = NULL;
        if (rc != 0)
            goto out;
        for (size_t i = 0; i < page.n; i++) {
            const warden_store_entry *e = &page.v[i];
            json_t *one = json_pack("{s:s, s:s}", "collection", e->collection, "id", e->id);
            if (one == NULL || json_array_append_new(all, one) != 0) {
                rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
                goto out;
            }
            if ((rc = open_record(one, k, dek, r->user, e->collection, e->id, e->version, &e->blob,
                                  v, err)) != 0)
                goto out;
        }
        if (!page.more || page.n == 0)
            break;
        after_c = strdup(page.v[page.n - 1].collection);
        after_i = strdup(page.v[page.n - 1].id);
        if (after_c == NULL || after_i == NULL) {
            free(after_c);
            free(after_i);
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
    }
out:
    if (rc == 0 && outcome != NULL && set_outcome(answer, outcome) != 0)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    if (text != NULL) {
        warden_wipe(text, strlen(text));
        free(text);
    }
    keyd_dekcache_put(k->deks, dek);
    warden_buf_fini(&blob);
    warden_buf_fini_wipe(&pt);
    warden_store_record_fini(&rec);
    warden_store_page_fini(&page);
    return rc;
}

/* One access request between its decision and its release (keyd_access_begin/_end). */
struct keyd_access {
    warden_keyd *k;
    areq r; /* borrows the request body */
    keyd_pset *p;
    verdict v[2];
    bool per_class;
    const char *const *classes;
    size_t n;
    warden_buf entry; /* the audit entry's text, to log */
    const char *decision;
};

void keyd_access_free(keyd_access *a)
{
    if (a == NULL)
        return;
    verdict_fini(&a->v[0]);
    verdict_fini(&a->v[1]);
    warden_buf_fini(&a->entry);
    keyd_pset_put(a->p, a->k);
    free(a);
}

void keyd_access_entry(const uint8_t **text, size_t *len, const keyd_access *a)
{
    *text = a->entry.p;
    *len = a->entry.len;
}

int keyd_access_begin(keyd_access **out, warden_keyd *k, const json_t *body, warden_err *err)
{
    *out = NULL;
    keyd_access *a = calloc(1, sizeof *a);
    if (a == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    a->k = k;
    warden_buf_init(&a->entry);
    /* An entry is ~1 KiB: growing from empty cost a copy and a wipe per doubling. */
    if (warden_buf_reserve(&a->entry, 2048) != 0) {
        free(a);
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
    areq_from(&a->r, body);
    const areq *r = &a->r;
    warden_store_user u;
    warden_store_user_init(&u);
    a->p = keyd_pset_acquire(k);
    json_t *ctx = NULL;
    static const char *const READ_CLASSES[] = {"protected", "excepted"};
    static const char *const ALL_CLASS[] = {"record"};
    a->per_class = strcmp(r->action, "read") == 0 || strcmp(r->action, "export") == 0;
    const char *const *classes = a->classes = a->per_class ? READ_CLASSES : ALL_CLASS;
    size_t n = a->n = a->per_class ? 2 : 1;
    char rid[WARDEN_STORE_USER_MAX + WARDEN_STORE_COLLECTION_MAX + WARDEN_STORE_ID_MAX + 3];
    const char *rtype = r->collection != NULL ? "Record" : "User";
    if (r->collection != NULL)
        snprintf(rid, sizeof rid, "%s/%s/%s", r->user, r->collection, r->id);
    else
        snprintf(rid, sizeof rid, "%s", r->user);

    /* (1) what the decision needs: the owner's jurisdiction, nothing secret */
    int rc = warden_store_user_get(k->store, &u, r->user, err);
    if (rc != 0)
        goto out;
    /* (2) decide, per data class for reads and exports */
    if ((ctx = base_context(k, r, u.jurisdiction)) == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    json_t *j = request_json(r->principal, r->action, rtype, rid, ctx);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = decide_j(&a->v[i], k, a->p, j, ctx, classes[i], err);
    json_decref(j);
    if (rc != 0)
        goto out;
    /* (3) is the caller's: log the entry durably before keyd_access_end */
    rc = entry_text(&a->entry, &a->decision, k, a->p, r, r->action, rtype, rid, u.jurisdiction,
                    ctx, classes, a->v, n, err);
out:
    json_decref(ctx);
    warden_store_user_fini(&u);
    if (rc != 0)
        keyd_access_free(a);
    else
        *out = a;
    return rc;
}

int keyd_access_end(json_t **answer, keyd_access *a, uint64_t index, warden_err *err)
{
    int rc = 0;
    json_t *ans = answer_new(a->decision, index, a->p, a->r.request_id);
    if (ans == NULL ||
        json_object_set_new(ans, "redacted", redacted_new(a->classes, a->v, a->n)) != 0) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    /* (4) only now: keys, plaintext */
    if (strcmp(a->decision, "deny") != 0) {
        verdict both[2] = {a->v[0], a->per_class ? a->v[1] : a->v[0]};
        rc = perform(ans, a->k, &a->r, both, err);
    }
out:
    if (rc != 0) {
        json_decref(ans);
        ans = NULL;
    }
    *answer = ans;
    return rc;
}

int keyd_do_access(json_t **answer, warden_keyd *k, const json_t *body, warden_err *err)
{
    keyd_access *a = NULL;
    uint64_t index = 0;
    *answer = NULL;
    int rc = keyd_access_begin(&a, k, body, err);
    if (rc != 0) /* never decided: log the refusal (refusal.c) */
        return keyd_refusal_log(answer, k, KEYD_MSG_ACCESS, body, rc, err);
    /* (3) log durably before anything is released or changed */
    const uint8_t *t;
    size_t n;
    keyd_access_entry(&t, &n, a);
    rc = keyd_audit_append_texts(&index, k, &t, &n, 1, err);
    if (rc == 0)
        rc = keyd_access_end(answer, a, index, err);
    keyd_access_free(a);
    return rc;
}

/* The residency decision for registering r->user with home jurisdiction jur, and its audit
 * entry appended to entry: the config's list is a hard bound; within it, residency is
 * Cedar's "store" decision. Shared by REGISTER and the batch (keyd_register_prepare). */
static int register_decide(warden_buf *entry, const char **decision, bool *allow, warden_keyd *k,
                           const keyd_pset *p, const areq *r, const char *jur, warden_err *err)
{
    verdict v = {0};
    int rc = 0;
    bool listed = false;
    for (size_t i = 0; i < k->cfg.n_jurisdictions; i++)
        listed |= strcmp(k->cfg.jurisdictions[i], jur) == 0;
    json_t *ctx = base_context(k, r, jur);
    if (ctx == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = decide(&v, k, p, r->principal, "store", "Region", k->cfg.region, ctx, NULL, err)) !=
        0)
        goto out;
    if (!listed) {
        v.allow = false;
        json_array_clear(v.policies);
        (void)json_array_append_new(v.policies, json_string("config:jurisdictions"));
    }
    static const char *const CLS[] = {"residency"};
    if ((rc = entry_text(entry, decision, k, p, r, "store", "Region", k->cfg.region, jur, ctx, CLS,
                         &v, 1, err)) != 0)
        goto out;
    *allow = v.allow;
out:
    verdict_fini(&v);
    json_decref(ctx);
    return rc;
}

int keyd_register_prepare(warden_buf *entry, const char **decision, bool *allow, warden_keyd *k,
                          const keyd_pset *p, const keyd_access_fields *f, const char *jurisdiction,
                          warden_err *err)
{
    const json_t *ctx_in = f->context;
    areq r = {.request_id = f->request_id,
              .principal = f->principal,
              .user = f->user,
              .source_ip = str(ctx_in, "source_ip"),
              .location = str(ctx_in, "location"),
              .site = str(ctx_in, "site") != NULL ? str(ctx_in, "site") : "unknown",
              .purpose = str(ctx_in, "purpose")};
    return register_decide(entry, decision, allow, k, p, &r, jurisdiction, err);
}

int keyd_do_register(json_t **answer, warden_keyd *k, const json_t *body, warden_err *err)
{
    areq r;
    areq_from(&r, body);
    const char *jur = str(body, "jurisdiction");
    keyd_pset *p = keyd_pset_acquire(k);
    json_t *ans = NULL;
    warden_buf entry;
    warden_buf_init(&entry);
    uint64_t index = 0;
    bool reached = false, allow = false;
    const char *decision = NULL;
    int rc = register_decide(&entry, &decision, &allow, k, p, &r, jur, err);
    if (rc != 0)
        goto out;
    reached = true;
    const uint8_t *t = entry.p;
    if ((rc = keyd_audit_append_texts(&index, k, &t, &entry.len, 1, err)) != 0)
        goto out;
    if ((ans = answer_new(decision, index, p, r.request_id)) == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if (allow) {
        rc = warden_store_user_register(k->store, r.user, jur, (int64_t)time(NULL), NULL, err);
        if (rc == WARDEN_EEXIST) {
            rc = set_outcome(ans, "exists") != 0 ? WARDEN_ENOMEM : 0;
        }
    }
out:
    if (rc != 0) {
        json_decref(ans);
        ans = NULL;
    }
    if (rc != 0 && !reached)
        rc = keyd_refusal_log(&ans, k, KEYD_MSG_REGISTER, body, rc, err);
    *answer = ans;
    warden_buf_fini(&entry);
    keyd_pset_put(p, k);
    return rc;
}

int keyd_do_shred(json_t **answer, warden_keyd *k, const json_t *body, const warden_keyd_peer *peer,
                  warden_err *err)
{
    char t[32], who[48];
    keyd_audit_time(t);
    snprintf(who, sizeof who, "uid:%lu", (unsigned long)peer->uid);
    keyd_pset *p = keyd_pset_acquire(k);
    const char *user = str(body, "user");
    json_t *ans = NULL;
    uint64_t index;
    /* The operator's socket access (peer uid) is the authorization; the log records who. */
    json_t *e =
        json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s}", "v", 1, "type",
                  "shred", "time", t, "request_id", str(body, "request_id"), "principal", who,
                  "action", "shred", "resource", "type", "User", "id", user, "decision", "allow",
                  "region", k->cfg.region, "policy_set", p->hash);
    int rc = e == NULL ? warden_err_set(err, WARDEN_ENOMEM, "out of memory")
                       : keyd_audit_append(&index, k, e, err);
    if (rc != 0)
        goto out;
    if ((ans = answer_new("allow", index, p, str(body, "request_id"))) == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    rc = warden_store_user_shred(k->store, user, (int64_t)time(NULL), err);
    keyd_dekcache_forget(k->deks, user); /* after the store: no reader can cache it again */
    if (rc == WARDEN_ENOTFOUND)
        rc = set_outcome(ans, "not_found") != 0 ? WARDEN_ENOMEM : 0;
out:
    if (rc != 0) {
        json_decref(ans);
        ans = NULL;
    }
    *answer = ans;
    json_decref(e);
    keyd_pset_put(p, k);
    return rc;
}

int warden_keyd_handle(json_t **answer, warden_keyd *k, uint16_t type, const json_t *body,
                       const warden_keyd_peer *peer, warden_err *err)
{
    *answer = NULL;
    switch (type) {
    case KEYD_MSG_ACCESS:
        return keyd_do_access(answer, k, body, err);
    case KEYD_MSG_REGISTER:
        return keyd_do_register(answer, k, body, err);
    case KEYD_MSG_SHRED:
        return keyd_do_shred(answer, k, body, peer, err);
    case KEYD_MSG_RETIRE:
        return keyd_do_retire(answer, k, body, peer, err);
    case KEYD_MSG_ROTATE:
        return keyd_do_rotate(answer, k, peer, err);
    case KEYD_MSG_ATTEST:
        return keyd_do_attest(answer, k, body, err);
    case KEYD_MSG_IMPORT:
        return keyd_do_import(answer, k, body, err);
    case KEYD_MSG_REGISTER_MANY:
        return keyd_do_register_many(answer, k, body, err);
    case KEYD_MSG_RELOAD: {
        uint64_t index;
        char hash[72];
        int rc = warden_keyd_reload(&index, k, err);
        if (rc != 0)
            return rc;
        warden_keyd_policy_hash(hash, k);
        *answer = json_pack("{s:I, s:s, s:s}", "log_index", (json_int_t)index, "policy_set", hash,
                            "outcome", "ok");
        break;
    }
    case KEYD_MSG_INVENTORY:
        return keyd_do_inventory(answer, k, err);
    case KEYD_MSG_STATUS: {
        char hash[72];
        warden_keyd_policy_hash(hash, k);
        *answer = json_pack("{s:s, s:s, s:I, s:s, s:s}", "region", k->cfg.region, "policy_set",
                            hash, "log_size", (json_int_t)warden_tlog_appender_size(k->log),
                            "key_id", warden_kek_id(k->kek), "outcome", "ok");
        break;
    }
    default:
        return warden_err_set(err, WARDEN_EINVAL, "not a request type: %u", (unsigned)type);
    }
    return *answer != NULL ? 0 : warden_err_set(err, WARDEN_ENOMEM, "out of memory");
}

/* ---- the same decisions, entries, keys and redaction, for batched paths (import.c) ---- */

int keyd_access_prepare_write(warden_buf *entry, const char **decision, bool *allow,
                              warden_keyd *k, const keyd_pset *p, const keyd_access_fields *f,
                              const char *jurisdiction, warden_err *err)
{
    const json_t *ctx_in = f->context;
    areq r = {.request_id = f->request_id,
              .principal = f->principal,
              .action = "write",
              .user = f->user,
              .collection = f->collection,
              .id = f->id,
              .source_ip = str(ctx_in, "source_ip"),
              .location = str(ctx_in, "location"),
              .site = str(ctx_in, "site") != NULL ? str(ctx_in, "site") : "unknown",
              .purpose = str(ctx_in, "purpose")};
    static const char *const ALL_CLASS[] = {"record"};
    verdict v = {0};
    char rid[WARDEN_STORE_USER_MAX + WARDEN_STORE_COLLECTION_MAX + WARDEN_STORE_ID_MAX + 3];
    snprintf(rid, sizeof rid, "%s/%s/%s", r.user, r.collection, r.id);
    json_t *ctx = base_context(k, &r, jurisdiction);
    int rc = ctx == NULL ? warden_err_set(err, WARDEN_ENOMEM, "out of memory") : 0;
    if (rc == 0)
        rc = decide(&v, k, p, r.principal, r.action, "Record", rid, ctx, ALL_CLASS[0], err);
    /* The same canonical text, written the same way, as a single ACCESS write's entry. */
    if (rc == 0)
        rc = entry_text(entry, decision, k, p, &r, r.action, "Record", rid, jurisdiction, ctx,
                        ALL_CLASS, &v, 1, err);
    if (rc == 0)
        *allow = v.allow;
    verdict_fini(&v);
    json_decref(ctx);
    return rc;
}

int keyd_access_dek(warden_dek **dek, const char **outcome, warden_keyd *k, const char *user,
                    bool create, warden_err *err)
{
    return user_dek(dek, outcome, k, user, create, err);
}
