/* Key lifecycle inside keyd: creating the KEK and log key before first start, and online
 * KEK rotation, which re-wraps every user's DEK under the new version page by page while
 * requests keep being served (each re-wrap is a compare-and-set on the stored blob, so a
 * concurrent first write or shred is never overwritten). Records are untouched. */
#include "keyd/keyd_internal.h"

#include <stdlib.h>
#include <string.h>

int warden_keyd_keys_init(int *created, const char *config_path, warden_err *err)
{
    keyd_config cfg;
    *created = 0;
    int rc = keyd_config_load(&cfg, config_path, err);
    if (rc != 0)
        return rc;
    if (cfg.key_path != NULL) {
        rc = warden_kek_keyfile_create(cfg.key_path, cfg.region, err);
    } else {
        warden_pkcs11_config pc = {.module = cfg.p11_module,
                                   .token_label = cfg.p11_token,
                                   .pin_env =
                                       cfg.p11_pin_env ? cfg.p11_pin_env : "WARDEN_PKCS11_PIN",
                                   .region = cfg.region};
        rc = warden_kek_pkcs11_create(&pc, err);
    }
    if (rc == 0)
        *created |= 1;
    else if (rc != WARDEN_EEXIST)
        goto out;
    char name[80];
    snprintf(name, sizeof name, "warden-%s", cfg.region);
    rc = warden_tlog_key_generate(cfg.log_key, name, cfg.log_dir, err);
    if (rc == 0)
        *created |= 2;
    else if (rc == WARDEN_EEXIST)
        rc = 0;
out:
    keyd_config_fini(&cfg);
    return rc;
}

/* Re-wraps one user's DEK under the current KEK version if it is under an older one.
 * *done is set when a re-wrap was stored. */
static int rewrap_user(bool *done, warden_keyd *k, const char *user, uint32_t version,
                       warden_err *err)
{
    warden_store_user u;
    warden_buf blob;
    warden_store_user_init(&u);
    warden_buf_init(&blob);
    *done = false;
    int rc = 0;
    for (int attempt = 0; attempt < 4; attempt++) {
        if ((rc = warden_store_user_get(k->store, &u, user, err)) != 0)
            break;
        if (!u.has_dek || u.kek_version == version)
            break;
        blob.len = 0;
        if ((rc = warden_kek_rewrap(&blob, k->kek, u.wrapped.p, u.wrapped.len, user, err)) != 0)
            break;
        warden_store_dek sd = {blob.p, blob.len, warden_kek_id(k->kek), version};
        rc = warden_store_user_rewrap(k->store, user, u.wrapped.p, u.wrapped.len, &sd, err);
        if (rc == 0) {
            *done = true;
            break;
        }
        if (rc == WARDEN_ENOTFOUND) { /* shredded meanwhile: nothing to re-wrap */
            rc = 0;
            break;
        }
        if (rc != WARDEN_EEXIST)
            break;
    }
    warden_buf_fini(&blob);
    warden_store_user_fini(&u);
    return rc;
}

int keyd_do_rotate(json_t **answer, warden_keyd *k, const warden_keyd_peer *peer, warden_err *err)
{
    char t[32], who[48];
    uint32_t version = 0;
    uint64_t index = 0;
    size_t rewrapped = 0;
    warden_store_page page;
    warden_store_page_init(&page);
    char *after = NULL;
    json_t *e = NULL;
    *answer = NULL;
    int rc = warden_kek_rotate(&version, k->kek, err);
    if (rc != 0)
        goto out;
    keyd_audit_time(t);
    snprintf(who, sizeof who, "uid:%lu", (unsigned long)peer->uid);
    e = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I}", "v", 1, "type", "rotate", "time", t,
                  "principal", who, "region", k->cfg.region, "kek_id", warden_kek_id(k->kek),
                  "kek_version", (json_int_t)version);
    if (e == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = keyd_audit_append(&index, k, e, err)) != 0)
        goto out;
    for (;;) {
        warden_store_page_fini(&page);
        if ((rc = warden_store_user_list(k->store, &page, after, 100, err)) != 0)
            goto out;
        for (size_t i = 0; i < page.n; i++) {
            bool done;
            if ((rc = rewrap_user(&done, k, page.v[i].user, version, err)) != 0)
                goto out;
            rewrapped += done;
        }
        if (!page.more || page.n == 0)
            break;
        free(after);
        if ((after = strdup(page.v[page.n - 1].user)) == NULL) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
    }
    /* Cached entries are keyed by the old blobs and would only miss: wipe them now. */
    keyd_dekcache_forget(k->deks, NULL);
    *answer = json_pack("{s:I, s:I, s:I, s:s}", "log_index", (json_int_t)index, "kek_version",
                        (json_int_t)version, "rewrapped", (json_int_t)rewrapped, "outcome", "ok");
    if (*answer == NULL)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
out:
    free(after);
    json_decref(e);
    warden_store_page_fini(&page);
    return rc;
}

/* Refuses while any user's DEK is still wrapped by version (the caller rotates first):
 * retiring it would shred those users by accident. Then destroys the version and logs it.
 * Copies of wrapped DEKs in old backups become unreadable: that is the point. */
int keyd_do_retire(json_t **answer, warden_keyd *k, const json_t *body,
                   const warden_keyd_peer *peer, warden_err *err)
{
    char t[32], who[48];
    uint32_t version = (uint32_t)json_integer_value(json_object_get(body, "version"));
    const char *rid = json_string_value(json_object_get(body, "request_id"));
    uint64_t index = 0;
    warden_store_page page;
    warden_store_user u;
    warden_store_page_init(&page);
    warden_store_user_init(&u);
    char *after = NULL;
    json_t *e = NULL;
    *answer = NULL;
    int rc = 0;
    if (version == warden_kek_current_version(k->kek)) {
        rc = warden_err_set(err, WARDEN_EINVAL, "KEK version %lu is current: rotate first",
                            (unsigned long)version);
        goto out;
    }
    for (;;) {
        warden_store_page_fini(&page);
        if ((rc = warden_store_user_list(k->store, &page, after, 100, err)) != 0)
            goto out;
        for (size_t i = 0; i < page.n; i++) {
            if ((rc = warden_store_user_get(k->store, &u, page.v[i].user, err)) != 0)
                goto out;
            if (u.has_dek && u.kek_version == version) {
                rc = warden_err_set(err, WARDEN_EEXIST,
                                    "user %s still has a DEK wrapped by KEK version %lu: "
                                    "rotate first",
                                    page.v[i].user, (unsigned long)version);
                goto out;
            }
        }
        if (!page.more || page.n == 0)
            break;
        free(after);
        if ((after = strdup(page.v[page.n - 1].user)) == NULL) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
    }
    keyd_audit_time(t);
    snprintf(who, sizeof who, "uid:%lu", (unsigned long)peer->uid);
    e = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "v", 1, "type", "retire", "time", t,
                  "request_id", rid, "principal", who, "region", k->cfg.region, "kek_id",
                  warden_kek_id(k->kek), "kek_version", (json_int_t)version);
    if (e == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = keyd_audit_append(&index, k, e, err)) != 0 ||
        (rc = warden_kek_retire(k->kek, version, err)) != 0)
        goto out;
    keyd_dekcache_forget(k->deks, NULL);
    *answer = json_pack("{s:I, s:I, s:s}", "log_index", (json_int_t)index, "kek_version",
                        (json_int_t)version, "outcome", "ok");
    if (*answer == NULL)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
out:
    free(after);
    json_decref(e);
    warden_store_user_fini(&u);
    warden_store_page_fini(&page);
    return rc;
}
