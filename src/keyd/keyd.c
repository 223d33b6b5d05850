/* keyd's lifecycle: opening the store, keys, log and policy set named by the config, the
 * atomic policy-set swap on reload, and the audit append that every answer waits for.
 * The per-request access path is in access.c. */
#include "keyd/keyd_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void authz_destroy(void *p)
{
    warden_authz_free(p);
}

keyd_pset *keyd_pset_acquire(warden_keyd *k)
{
    pthread_mutex_lock(&k->mu);
    keyd_pset *p = k->pset;
    p->refs++;
    pthread_mutex_unlock(&k->mu);
    return p;
}

static void pset_put(keyd_pset *p, warden_keyd *k)
{
    pthread_mutex_lock(&k->mu);
    keyd_pset_release(p);
    pthread_mutex_unlock(&k->mu);
}

void keyd_audit_time(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char date[24];
    if (strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        date[0] = '\0';
    snprintf(out, 32, "%.19s.%03dZ", date, (int)(ts.tv_nsec / 1000000));
}

int keyd_audit_text(char **text, size_t *len, const json_t *entry, warden_err *err)
{
    warden_buf b;
    warden_buf_init(&b);
    *text = NULL;
    *len = 0;
    int rc = warden_buf_reserve(&b, 2048) != 0
                 ? warden_err_set(err, WARDEN_ENOMEM, "out of memory serialising an audit entry")
                 : keyd_json_canon(&b, entry, err);
    if (rc == 0 && b.len > WARDEN_TLOG_ENTRY_MAX)
        rc = warden_err_set(err, WARDEN_ELIMIT, "audit entry of %zu bytes exceeds the log's %d",
                            b.len, WARDEN_TLOG_ENTRY_MAX);
    if (rc == 0 && (rc = warden_buf_cstr(&b)) != 0)
        rc = warden_err_set(err, rc, "out of memory serialising an audit entry");
    if (rc != 0) {
        warden_buf_fini(&b);
        return rc;
    }
    *len = b.len;
    *text = (char *)b.p; /* the caller free()s it, as it did json_dumps's */
    return 0;
}

int keyd_audit_append_texts(uint64_t *first, warden_keyd *k, const uint8_t *const *texts,
                            const size_t *lens, size_t n, warden_err *err)
{
    int rc = warden_tlog_append_many(first, k->log, texts, lens, n, err);
    if (rc != 0) {
        /* Whatever broke in the log, the caller must fail closed: report it as I/O. */
        (void)warden_err_prefix(err, "audit log unwritable, refusing");
        if (err != NULL)
            err->code = WARDEN_EIO;
        rc = WARDEN_EIO;
    }
    return rc;
}

int keyd_audit_append(uint64_t *index, warden_keyd *k, const json_t *entry, warden_err *err)
{
    char *s = NULL;
    size_t n = 0;
    int rc = keyd_audit_text(&s, &n, entry, err);
    if (rc == 0) {
        const uint8_t *t[1] = {(const uint8_t *)s};
        rc = keyd_audit_append_texts(index, k, t, &n, 1, err);
    }
    free(s);
    return rc;
}

/* Logs that set p is now the one deciding (type "start" or "reload"). */
static int log_install(uint64_t *index, warden_keyd *k, const keyd_pset *p, const char *type,
                       warden_err *err)
{
    char t[32], file[80];
    keyd_audit_time(t);
    snprintf(file, sizeof file, "%s.json", p->hash + 7);
    json_t *e = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "v", 1, "type", type, "time",
                          t, "region", k->cfg.region, "policy_set", p->hash, "policy_set_file",
                          file, "policies", (json_int_t)warden_policies_count(p->policies),
                          "entities", (json_int_t)warden_entities_count(p->entities));
    if (e == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    int rc = keyd_audit_append(index, k, e, err);
    json_decref(e);
    return rc;
}

static int open_kek(warden_keyd *k, warden_err *err)
{
    if (k->cfg.key_path != NULL)
        return warden_kek_keyfile_open(&k->kek, k->cfg.key_path, k->cfg.region, err);
    warden_pkcs11_config pc = {.module = k->cfg.p11_module,
                               .token_label = k->cfg.p11_token,
                               .pin_env =
                                   k->cfg.p11_pin_env ? k->cfg.p11_pin_env : "WARDEN_PKCS11_PIN",
                               .region = k->cfg.region};
    return warden_kek_pkcs11_open(&k->kek, &pc, err);
}

static int open_log(warden_keyd *k, warden_err *err)
{
    int rc = warden_tlog_signer_load(&k->signer, k->cfg.log_key, err);
    if (rc != 0)
        return rc;
    rc = warden_tlog_appender_new(&k->log, k->cfg.log_dir, k->signer, NULL, err);
    if (rc == WARDEN_ENOTFOUND) {
        warden_buf origin;
        warden_buf_init(&origin);
        if (k->cfg.log_origin != NULL)
            rc = warden_buf_puts(&origin, k->cfg.log_origin);
        else
            rc = warden_buf_printf(&origin, "warden/%s", k->cfg.region);
        if (rc == 0)
            rc = warden_buf_cstr(&origin);
        if (rc != 0) {
            warden_buf_fini(&origin);
            return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        }
        rc = warden_tlog_create(k->cfg.log_dir, (const char *)origin.p, k->signer, err);
        warden_buf_fini(&origin);
        if (rc == 0)
            rc = warden_tlog_appender_new(&k->log, k->cfg.log_dir, k->signer, NULL, err);
    }
    return rc;
}

static int load_schemas(warden_keyd *k, warden_err *err)
{
    warden_buf b;
    warden_buf_init(&b);
    int rc = 0;
    for (size_t i = 0; i < k->cfg.n_schema_files; i++) {
        b.len = 0;
        if ((rc = warden_file_read(&b, k->cfg.schema_files[i], WARDEN_SCHEMA_MAX_SIZE, err)) != 0 ||
            (rc = warden_schema_parse(&k->schemas[i], k->cfg.schema_files[i], b.p, b.len, err)) !=
                0)
            break;
        k->n_schemas = i + 1;
    }
    warden_buf_fini(&b);
    return rc;
}

int warden_keyd_open(warden_keyd **out, const char *config_path, warden_err *err)
{
    *out = NULL;
    /* Decrypted documents pass through jansson (parse, redact, answer); its blocks are freed
     * without a wipe unless we install allocation functions, which jansson only offers
     * process-wide: keyd owns its process, so it sets them here, before any thread starts. */
    warden_json_wipe_on_free();
    warden_keyd *k = calloc(1, sizeof *k);
    if (k == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    pthread_mutex_init(&k->mu, NULL);
    pthread_mutex_init(&k->reload_mu, NULL);
    int rc = pthread_key_create(&k->authz_key, authz_destroy) == 0
                 ? 0
                 : warden_err_set(err, WARDEN_EINTERNAL, "pthread_key_create failed");
    if (rc != 0) {
        pthread_mutex_destroy(&k->mu);
        pthread_mutex_destroy(&k->reload_mu);
        free(k);
        return rc;
    }
    if ((rc = keyd_config_load(&k->cfg, config_path, err)) != 0 ||
        (rc = keyd_dekcache_new(&k->deks, KEYD_DEKCACHE_CAPACITY, err)) != 0)
        goto out;
    if ((rc = keyd_pset_load(&k->pset, &k->cfg, err)) != 0 || (rc = load_schemas(k, err)) != 0)
        goto out;
    warden_store_lmdb_config sc = {.dir = k->cfg.data_dir, .map_size = k->cfg.store_map_size};
    if ((rc = warden_store_lmdb_open(&k->store, &sc, err)) != 0 || (rc = open_kek(k, err)) != 0 ||
        (rc = open_log(k, err)) != 0 ||
        (rc = keyd_pset_archive(k->pset, k->cfg.archive_dir, err)) != 0)
        goto out;
    uint64_t idx;
    rc = log_install(&idx, k, k->pset, "start", err);
out:
    if (rc != 0) {
        warden_keyd_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

void warden_keyd_free(warden_keyd *k)
{
    if (k == NULL)
        return;
    warden_tlog_appender_free(k->log);
    warden_tlog_signer_free(k->signer);
    keyd_dekcache_free(k->deks);
    warden_kek_free(k->kek);
    warden_store_free(k->store);
    for (size_t i = 0; i < k->n_schemas; i++)
        warden_schema_free(k->schemas[i]);
    keyd_pset_release(k->pset);
    warden_authz_free(pthread_getspecific(k->authz_key));
    pthread_setspecific(k->authz_key, NULL);
    pthread_key_delete(k->authz_key);
    pthread_mutex_destroy(&k->mu);
    pthread_mutex_destroy(&k->reload_mu);
    keyd_config_fini(&k->cfg);
    free(k);
}

int warden_keyd_reload(uint64_t *index, warden_keyd *k, warden_err *err)
{
    keyd_pset *p = NULL;
    pthread_mutex_lock(&k->reload_mu);
    int rc = keyd_pset_load(&p, &k->cfg, err);
    /* Archive, then log, then swap: once the entry is durable every later decision names
     * the new hash, and the archived bundle lets an auditor re-run them. If we crash
     * before the swap, the entry announces a set that decided nothing: harmless. */
    if (rc == 0 && (rc = keyd_pset_archive(p, k->cfg.archive_dir, err)) == 0 &&
        (rc = log_install(index, k, p, "reload", err)) == 0) {
        pthread_mutex_lock(&k->mu);
        keyd_pset *old = k->pset;
        k->pset = p;
        keyd_pset_release(old);
        pthread_mutex_unlock(&k->mu);
        p = NULL;
    }
    if (p != NULL)
        keyd_pset_release(p);
    pthread_mutex_unlock(&k->reload_mu);
    return rc;
}

void warden_keyd_policy_hash(char out[72], warden_keyd *k)
{
    pthread_mutex_lock(&k->mu);
    memcpy(out, k->pset->hash, 72);
    pthread_mutex_unlock(&k->mu);
}

const char *warden_keyd_socket_path(const warden_keyd *k)
{
    return k->cfg.socket_path;
}

warden_authz *keyd_thread_authz(warden_keyd *k, warden_err *err)
{
    warden_authz *z = pthread_getspecific(k->authz_key);
    if (z != NULL)
        return z;
    if (warden_authz_new(&z, err) != 0)
        return NULL;
    if (pthread_setspecific(k->authz_key, z) != 0) {
        warden_authz_free(z);
        warden_err_set(err, WARDEN_ENOMEM, "pthread_setspecific failed");
        return NULL;
    }
    return z;
}

void keyd_pset_put(keyd_pset *p, warden_keyd *k)
{
    pset_put(p, k);
}

int warden_keyd_log_sync(warden_keyd *k, warden_err *err)
{
    return warden_tlog_appender_sync(k->log, err);
}
