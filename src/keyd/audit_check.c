/* The auditor's offline re-check: verifies the log, then re-runs every decision entry
 * with the policy set it names (loaded from the content-addressed archive, its SHA-256
 * checked) and the inputs recorded in the entry, and compares the result class by class.
 * Needs no key and no trust in keyd: only the log, the archive and the verifier key. */
#include "keyd/keyd_internal.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

typedef struct loaded {
    char hash[72];
    warden_policies *ps;
    warden_entities *es;
} loaded;

static void loaded_fini(loaded *l)
{
    warden_policies_free(l->ps);
    warden_entities_free(l->es);
    memset(l, 0, sizeof *l);
}

/* Loads <hex>.json for hash from the archive into l (if not loaded already) after checking
 * that its bytes hash to it. */
static int load_set(loaded *l, warden_tlog_source *archive, const char *hash, warden_err *err)
{
    if (strcmp(l->hash, hash) == 0)
        return 0;
    loaded_fini(l);
    warden_buf b, path;
    warden_buf_init(&b);
    warden_buf_init(&path);
    json_t *j = NULL;
    char *ents = NULL;
    int rc = 0;
    if (strncmp(hash, "sha256:", 7) != 0 || strlen(hash) != 71) {
        rc = warden_err_set(err, WARDEN_ECORRUPT, "bad policy_set \"%.80s\"", hash);
        goto out;
    }
    if (warden_buf_printf(&path, "%s.json", hash + 7) != 0 || warden_buf_cstr(&path) != 0) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = warden_tlog_source_get(&b, archive, (const char *)path.p, KEYD_FILE_MAX * 4u, err)) !=
        0) {
        (void)warden_err_prefix(err, "policy archive");
        goto out;
    }
    uint8_t md[32];
    unsigned mdlen = 0;
    char hex[65];
    if (EVP_Digest(b.p, b.len, md, &mdlen, EVP_sha256(), NULL) != 1) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "SHA-256 failed");
        goto out;
    }
    warden_hex_encode(hex, md, sizeof md);
    if (strcmp(hex, hash + 7) != 0) {
        rc = warden_err_set(err, WARDEN_EVERIFY, "%s: content does not match its hash",
                            (const char *)path.p);
        goto out;
    }
    json_error_t jerr;
    j = json_loadb((const char *)b.p, b.len, JSON_REJECT_DUPLICATES, &jerr);
    const json_t *pols = json_object_get(j, "policies");
    if (j == NULL || !json_is_array(pols) || json_object_get(j, "entities") == NULL) {
        rc = warden_err_set(err, WARDEN_ECORRUPT, "%s: not a policy-set bundle",
                            (const char *)path.p);
        goto out;
    }
    if ((rc = warden_policies_new(&l->ps, err)) != 0)
        goto out;
    size_t i;
    json_t *f;
    json_array_foreach(pols, i, f)
    {
        const char *name = json_string_value(json_object_get(f, "file"));
        const json_t *text = json_object_get(f, "text");
        if (name == NULL || !json_is_string(text)) {
            rc = warden_err_set(err, WARDEN_ECORRUPT, "%s: policies[%zu] malformed",
                                (const char *)path.p, i);
            goto out;
        }
        if ((rc = warden_policies_add_text(l->ps, name, json_string_value(text),
                                           json_string_length(text), err)) != 0)
            goto out;
    }
    ents = json_dumps(json_object_get(j, "entities"), JSON_COMPACT | JSON_ENCODE_ANY);
    if (ents == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = warden_entities_parse_json(&l->es, "entities", ents, strlen(ents), err)) != 0)
        goto out;
    memcpy(l->hash, hash, 72);
out:
    if (rc != 0)
        loaded_fini(l);
    free(ents);
    json_decref(j);
    warden_buf_fini(&b);
    warden_buf_fini(&path);
    return rc;
}

/* Re-decides one class of a decision entry; *same tells whether it matches, *allow and
 * *pols (new array, caller decrefs) give the re-run's result. */
static int redecide(bool *same, bool *allow, json_t **pols, warden_authz *z, const loaded *l,
                    const json_t *e, const char *cls, const json_t *want, warden_err *err)
{
    *pols = NULL;
    const json_t *res = json_object_get(e, "resource");
    json_t *ctx = json_copy(json_object_get(e, "context"));
    warden_request *rq = NULL;
    char *text = NULL;
    int rc = 0;
    if (ctx != NULL && strcmp(cls, "residency") != 0)
        (void)json_object_set_new(ctx, "data_class", json_string(cls));
    json_t *j = json_pack(
        "{s:O, s:{s:s, s:O}, s:{s:O, s:O}, s:o}", "principal", json_object_get(e, "principal"),
        "action", "type", "Action", "id", json_object_get(e, "action"), "resource", "type",
        json_object_get(res, "type"), "id", json_object_get(res, "id"), "context", ctx);
    if (j == NULL || (text = json_dumps(j, JSON_COMPACT)) == NULL) {
        rc = warden_err_set(err, WARDEN_ECORRUPT, "entry lacks the decision's inputs");
        goto out;
    }
    if ((rc = warden_request_parse_json(&rq, text, strlen(text), err)) != 0)
        goto out;
    warden_decision d;
    if ((rc = warden_authorize(&d, z, l->ps, l->es, rq, err)) != 0)
        goto out;
    const char *wd = json_string_value(json_object_get(want, "decision"));
    const json_t *wp = json_object_get(want, "policies");
    *allow = d.allow;
    *same =
        wd != NULL && (strcmp(wd, "allow") == 0) == d.allow && json_array_size(wp) == d.n_reasons;
    for (size_t i = 0; *same && i < d.n_reasons; i++) {
        const char *w = json_string_value(json_array_get(wp, i));
        *same = w != NULL && strcmp(w, d.reasons[i]) == 0;
    }
    if ((*pols = json_array()) == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < d.n_reasons; i++)
        if (json_array_append_new(*pols, json_string(d.reasons[i])) != 0) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
out:
    if (rc != 0) {
        json_decref(*pols);
        *pols = NULL;
    }
    warden_request_free(rq);
    free(text);
    json_decref(j);
    return rc;
}

int warden_keyd_audit_each(uint64_t *size, warden_tlog_source *src, const char *vkey,
                           warden_keyd_entry_fn fn, void *ctx, warden_err *err)
{
    warden_tlog_verifier *v = NULL;
    warden_tlog_checkpoint cp;
    warden_buf b;
    warden_buf_init(&b);
    json_t *e = NULL;
    *size = 0;
    int rc;
    if ((rc = warden_tlog_verifier_new(&v, vkey, strlen(vkey), err)) != 0 ||
        (rc = warden_tlog_verify(&cp, src, v, err)) != 0)
        goto out;
    *size = cp.size;
    for (uint64_t i = 0; i < cp.size; i++) {
        b.len = 0;
        json_decref(e);
        if ((rc = warden_tlog_source_entry(&b, src, cp.size, i, err)) != 0)
            goto out;
        e = json_loadb((const char *)b.p, b.len, JSON_REJECT_DUPLICATES, NULL);
        if (json_string_value(json_object_get(e, "type")) == NULL ||
            json_integer_value(json_object_get(e, "v")) != 1) {
            rc = warden_err_set(err, WARDEN_ECORRUPT, "entry %llu: not a version-1 audit entry",
                                (unsigned long long)i);
            goto out;
        }
        if ((rc = fn(ctx, i, e, err)) != 0)
            goto out;
    }
out:
    json_decref(e);
    warden_tlog_verifier_free(v);
    warden_buf_fini(&b);
    return rc;
}

typedef struct replay {
    warden_keyd_replay_stats *st;
    warden_tlog_source *archive;
    warden_keyd_diff_fn on_diff;
    void *ctx;
    warden_authz *z;
    loaded l;
} replay;

/* Nothing was decided for a refusal, so nothing to re-run; but it must not claim a decision. */
static int check_refusal(const json_t *e, uint64_t i, warden_err *err)
{
    const char *d = json_string_value(json_object_get(e, "decision"));
    if (d == NULL || strcmp(d, "refused") != 0 || json_object_get(e, "classes") != NULL ||
        !json_is_string(json_object_get(e, "reason")))
        return warden_err_set(err, WARDEN_ECORRUPT, "entry %llu: malformed refusal",
                              (unsigned long long)i);
    return 0;
}

static int replay_one(void *ctx, uint64_t i, const json_t *e, warden_err *err)
{
    replay *r = ctx;
    const char *type = json_string_value(json_object_get(e, "type"));
    if (strcmp(type, "refusal") == 0) {
        r->st->refusals++;
        return check_refusal(e, i, err);
    }
    if (strcmp(type, "decision") != 0)
        return 0;
    const char *hash = json_string_value(json_object_get(e, "policy_set"));
    int rc = load_set(&r->l, r->archive, hash != NULL ? hash : "", err);
    if (rc != 0)
        return warden_err_prefix(err, "entry %llu", (unsigned long long)i);
    const json_t *classes = json_object_get(e, "classes");
    if (!json_is_object(classes) || json_object_size(classes) == 0)
        return warden_err_set(err, WARDEN_ECORRUPT, "entry %llu: decision without classes",
                              (unsigned long long)i);
    const char *cls;
    json_t *want;
    bool differs = false;
    json_object_foreach((json_t *)classes, cls, want)
    {
        const json_t *wp = json_object_get(want, "policies");
        const char *first = json_string_value(json_array_get(wp, 0));
        if (strcmp(cls, "residency") == 0 && first != NULL &&
            strcmp(first, "config:jurisdictions") == 0)
            continue; /* decided by the region's configured list, not by Cedar */
        bool same = false, allow = false;
        json_t *pols = NULL;
        if ((rc = redecide(&same, &allow, &pols, r->z, &r->l, e, cls, want, err)) != 0)
            return warden_err_prefix(err, "entry %llu class %s", (unsigned long long)i, cls);
        if (!same && r->on_diff == NULL) {
            json_decref(pols);
            return warden_err_set(err, WARDEN_EVERIFY,
                                  "entry %llu (request %.128s), class %s: re-running the "
                                  "decision gives a different result",
                                  (unsigned long long)i,
                                  json_string_value(json_object_get(e, "request_id")), cls);
        }
        if (!same) {
            const char *wd = json_string_value(json_object_get(want, "decision"));
            warden_keyd_replay_diff d = {.index = i,
                                         .entry = e,
                                         .klass = cls,
                                         .logged_allow = wd != NULL && strcmp(wd, "allow") == 0,
                                         .rerun_allow = allow,
                                         .logged_policies = wp,
                                         .rerun_policies = pols};
            differs = true;
            rc = r->on_diff(r->ctx, &d, err);
        }
        json_decref(pols);
        if (rc != 0)
            return rc;
    }
    r->st->decisions++;
    r->st->differ += differs;
    return 0;
}

int warden_keyd_audit_replay(warden_keyd_replay_stats *st, warden_tlog_source *src,
                             warden_tlog_source *archive, const char *vkey,
                             warden_keyd_diff_fn on_diff, void *ctx, warden_err *err)
{
    replay r = {.st = st, .archive = archive, .on_diff = on_diff, .ctx = ctx};
    memset(st, 0, sizeof *st);
    int rc = warden_authz_new(&r.z, err);
    if (rc == 0)
        rc = warden_keyd_audit_each(&st->entries, src, vkey, replay_one, &r, err);
    loaded_fini(&r.l);
    warden_authz_free(r.z);
    return rc;
}

int warden_keyd_audit_check(uint64_t *checked, const char *log_dir, const char *archive_dir,
                            const char *vkey, warden_err *err)
{
    warden_tlog_source *src = NULL, *arch = NULL;
    warden_keyd_replay_stats st;
    memset(&st, 0, sizeof st);
    int rc;
    if ((rc = warden_tlog_source_dir_new(&src, log_dir, err)) == 0 &&
        (rc = warden_tlog_source_dir_new(&arch, archive_dir, err)) == 0)
        rc = warden_keyd_audit_replay(&st, src, arch, vkey, NULL, NULL, err);
    *checked = st.decisions;
    warden_tlog_source_free(src);
    warden_tlog_source_free(arch);
    return rc;
}
