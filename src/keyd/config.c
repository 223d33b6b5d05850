/* keyd's configuration file and its policy set: parsing the JSON config strictly (unknown
 * keys are errors, so a typo never silently disables a check), and loading policies and
 * entities into a hashed, archivable bundle. */
#include "keyd/keyd_internal.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *join_path(const char *base, const char *p)
{
    size_t bl = strlen(base), pl = strlen(p);
    char *s;
    if (p[0] == '/' || bl == 0) {
        s = malloc(pl + 1);
        if (s != NULL)
            memcpy(s, p, pl + 1);
        return s;
    }
    s = malloc(bl + 1 + pl + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, base, bl);
    s[bl] = '/';
    memcpy(s + bl + 1, p, pl + 1);
    return s;
}

static int get_str(char **out, const json_t *o, const char *key, const char *base, int required,
                   const char *cfgname, warden_err *err)
{
    const json_t *v = json_object_get(o, key);
    if (v == NULL) {
        if (required)
            return warden_err_set(err, WARDEN_EINVAL, "%s: missing \"%s\"", cfgname, key);
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v))
        return warden_err_set(err, WARDEN_EINVAL, "%s: \"%s\" must be a non-empty string", cfgname,
                              key);
    *out = base != NULL ? join_path(base, json_string_value(v)) : strdup(json_string_value(v));
    if (*out == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    return 0;
}

static int check_keys(const json_t *o, const char *const *allowed, const char *where,
                      const char *cfgname, warden_err *err)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)o, key, v)
    {
        const char *const *a = allowed;
        while (*a != NULL && strcmp(*a, key) != 0)
            a++;
        if (*a == NULL)
            return warden_err_set(err, WARDEN_EINVAL, "%s: unknown key \"%s%.64s\"", cfgname, where,
                                  key);
    }
    return 0;
}

/* Paths: a string or an array of strings, each joined to base. */
static int get_paths(char **out, size_t *n, size_t max, const json_t *v, const char *base,
                     const char *key, const char *cfgname, warden_err *err)
{
    json_t *arr = json_is_string(v) ? json_pack("[O]", v) : json_incref((json_t *)v);
    int rc = 0;
    size_t i;
    json_t *e;
    if (!json_is_array(arr) || json_array_size(arr) > max) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: \"%s\" must be a path or up to %zu paths",
                            cfgname, key, max);
        goto out;
    }
    json_array_foreach(arr, i, e)
    {
        if (!json_is_string(e) || json_string_length(e) == 0) {
            rc = warden_err_set(err, WARDEN_EINVAL, "%s: \"%s\"[%zu] must be a path", cfgname, key,
                                i);
            goto out;
        }
        out[i] = join_path(base, json_string_value(e));
        if (out[i] == NULL) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
        *n = i + 1;
    }
out:
    json_decref(arr);
    return rc;
}

int keyd_config_load(keyd_config *cfg, const char *path, warden_err *err)
{
    static const char *const TOP[] = {"region",   "jurisdictions", "data_dir",       "keys",
                                      "policies", "entities",      "schemas",        "log",
                                      "socket",   "peer_uids",     "policy_archive", "store_map_mb",
                                      "workers",  NULL};
    static const char *const KEYS[] = {"provider", "path", "module", "token", "pin_env", NULL};
    static const char *const LOG[] = {"dir", "key", "origin", NULL};
    memset(cfg, 0, sizeof *cfg);
    warden_buf b;
    warden_buf_init(&b);
    json_t *j = NULL;
    char *base = NULL;
    int rc = warden_file_read(&b, path, 1u << 20, err);
    if (rc != 0)
        goto out;
    json_error_t jerr;
    j = json_loadb((const char *)b.p, b.len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        rc = warden_err_set(err, WARDEN_EPARSE, "%s:%d:%d: %s", path, jerr.line, jerr.column,
                            jerr.text);
        goto out;
    }
    if (!json_is_object(j)) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: must be a JSON object", path);
        goto out;
    }
    const char *slash = strrchr(path, '/');
    base = slash == NULL ? strdup(".") : strndup(path, (size_t)(slash - path) + (slash == path));
    if (base == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = check_keys(j, TOP, "", path, err)) != 0 ||
        (rc = get_str(&cfg->region, j, "region", NULL, 1, path, err)) != 0 ||
        (rc = get_str(&cfg->data_dir, j, "data_dir", base, 1, path, err)) != 0 ||
        (rc = get_str(&cfg->entities_file, j, "entities", base, 0, path, err)) != 0 ||
        (rc = get_str(&cfg->socket_path, j, "socket", base, 0, path, err)) != 0 ||
        (rc = get_str(&cfg->archive_dir, j, "policy_archive", base, 0, path, err)) != 0)
        goto out;
    const json_t *jur = json_object_get(j, "jurisdictions");
    size_t i;
    json_t *e;
    if (!json_is_array(jur) || json_array_size(jur) == 0 ||
        json_array_size(jur) > KEYD_MAX_JURISDICTIONS) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: \"jurisdictions\" must be 1..%d codes", path,
                            KEYD_MAX_JURISDICTIONS);
        goto out;
    }
    json_array_foreach(jur, i, e)
    {
        if (!json_is_string(e) || json_string_length(e) == 0 ||
            json_string_length(e) > WARDEN_STORE_JURISDICTION_MAX) {
            rc = warden_err_set(err, WARDEN_EINVAL, "%s: \"jurisdictions\"[%zu] is not a code",
                                path, i);
            goto out;
        }
        if ((cfg->jurisdictions[i] = strdup(json_string_value(e))) == NULL) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
        cfg->n_jurisdictions = i + 1;
    }
    const json_t *keys = json_object_get(j, "keys");
    if (!json_is_object(keys)) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: \"keys\" must be an object", path);
        goto out;
    }
    if ((rc = check_keys(keys, KEYS, "keys.", path, err)) != 0 ||
        (rc = get_str(&cfg->key_provider, keys, "provider", NULL, 1, path, err)) != 0)
        goto out;
    if (strcmp(cfg->key_provider, "keyfile") == 0) {
        rc = get_str(&cfg->key_path, keys, "path", base, 1, path, err);
    } else if (strcmp(cfg->key_provider, "pkcs11") == 0) {
        if ((rc = get_str(&cfg->p11_module, keys, "module", NULL, 1, path, err)) == 0 &&
            (rc = get_str(&cfg->p11_token, keys, "token", NULL, 1, path, err)) == 0)
            rc = get_str(&cfg->p11_pin_env, keys, "pin_env", NULL, 0, path, err);
    } else {
        rc = warden_err_set(err, WARDEN_EINVAL,
                            "%s: keys.provider must be \"keyfile\" or \"pkcs11\"", path);
    }
    if (rc != 0)
        goto out;
    const json_t *pol = json_object_get(j, "policies");
    if (pol == NULL) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: missing \"policies\"", path);
        goto out;
    }
    if ((rc = get_paths(cfg->policy_files, &cfg->n_policy_files, KEYD_MAX_POLICY_FILES, pol, base,
                        "policies", path, err)) != 0)
        goto out;
    const json_t *sch = json_object_get(j, "schemas");
    if (sch != NULL && (rc = get_paths(cfg->schema_files, &cfg->n_schema_files, KEYD_MAX_SCHEMAS,
                                       sch, base, "schemas", path, err)) != 0)
        goto out;
    const json_t *log = json_object_get(j, "log");
    if (!json_is_object(log)) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: \"log\" must be an object", path);
        goto out;
    }
    if ((rc = check_keys(log, LOG, "log.", path, err)) != 0 ||
        (rc = get_str(&cfg->log_dir, log, "dir", base, 1, path, err)) != 0 ||
        (rc = get_str(&cfg->log_key, log, "key", base, 1, path, err)) != 0 ||
        (rc = get_str(&cfg->log_origin, log, "origin", NULL, 0, path, err)) != 0)
        goto out;
    if (cfg->archive_dir == NULL) {
        warden_buf a;
        warden_buf_init(&a);
        if (warden_buf_printf(&a, "%s.policysets", cfg->log_dir) != 0 || warden_buf_cstr(&a) != 0) {
            warden_buf_fini(&a);
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
        cfg->archive_dir = (char *)a.p;
    }
    const json_t *map = json_object_get(j, "store_map_mb");
    if (map != NULL && (!json_is_integer(map) || json_integer_value(map) < 1 ||
                        json_integer_value(map) > (1 << 24))) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: \"store_map_mb\" must be 1..16777216", path);
        goto out;
    }
    cfg->store_map_size = map != NULL ? (size_t)json_integer_value(map) << 20 : 0;
    const json_t *wk = json_object_get(j, "workers");
    if (wk != NULL &&
        (!json_is_integer(wk) || json_integer_value(wk) < 1 || json_integer_value(wk) > 64)) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: \"workers\" must be 1..64", path);
        goto out;
    }
    cfg->workers = wk != NULL ? (size_t)json_integer_value(wk) : 0;
    const json_t *uids = json_object_get(j, "peer_uids");
    if (uids != NULL && (!json_is_array(uids) || json_array_size(uids) > KEYD_MAX_UIDS)) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: \"peer_uids\" must be up to %d uids", path,
                            KEYD_MAX_UIDS);
        goto out;
    }
    json_array_foreach(uids, i, e)
    {
        if (!json_is_integer(e) || json_integer_value(e) < 0 ||
            json_integer_value(e) > 0x7fffffff) {
            rc = warden_err_set(err, WARDEN_EINVAL, "%s: \"peer_uids\"[%zu] is not a uid", path, i);
            goto out;
        }
        cfg->uids[i] = (uid_t)json_integer_value(e);
        cfg->n_uids = i + 1;
    }
out:
    if (rc != 0)
        keyd_config_fini(cfg);
    free(base);
    json_decref(j);
    warden_buf_fini(&b);
    return rc;
}

void keyd_config_fini(keyd_config *cfg)
{
    char **strs[] = {&cfg->region,     &cfg->data_dir,  &cfg->key_provider, &cfg->key_path,
                     &cfg->p11_module, &cfg->p11_token, &cfg->p11_pin_env,  &cfg->entities_file,
                     &cfg->log_dir,    &cfg->log_key,   &cfg->log_origin,   &cfg->archive_dir,
                     &cfg->socket_path};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    for (size_t i = 0; i < cfg->n_jurisdictions; i++)
        free(cfg->jurisdictions[i]);
    for (size_t i = 0; i < cfg->n_policy_files; i++)
        free(cfg->policy_files[i]);
    for (size_t i = 0; i < cfg->n_schema_files; i++)
        free(cfg->schema_files[i]);
    cfg->n_jurisdictions = cfg->n_policy_files = cfg->n_schema_files = 0;
}

/* ---- policy sets ---- */

int keyd_pset_load(keyd_pset **out, const keyd_config *cfg, warden_err *err)
{
    keyd_pset *p = calloc(1, sizeof *p);
    json_t *bundle = json_object(), *files = json_array();
    warden_buf b;
    warden_buf_init(&b);
    int rc = 0;
    if (p == NULL || bundle == NULL || files == NULL ||
        json_object_set(bundle, "policies", files) != 0) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    p->refs = 1;
    if ((rc = warden_policies_new(&p->policies, err)) != 0)
        goto out;
    for (size_t i = 0; i < cfg->n_policy_files; i++) {
        b.len = 0;
        if ((rc = warden_file_read(&b, cfg->policy_files[i], KEYD_FILE_MAX, err)) != 0 ||
            (rc = warden_policies_add_text(p->policies, cfg->policy_files[i], (const char *)b.p,
                                           b.len, err)) != 0)
            goto out;
        const char *name = strrchr(cfg->policy_files[i], '/');
        name = name != NULL ? name + 1 : cfg->policy_files[i];
        json_t *f = json_pack("{s:s, s:s%}", "file", name, "text", (const char *)b.p, b.len);
        if (f == NULL || json_array_append_new(files, f) != 0) {
            rc = warden_err_set(err, WARDEN_EINVAL, "%s: not UTF-8 text", cfg->policy_files[i]);
            goto out;
        }
    }
    if (cfg->entities_file != NULL) {
        b.len = 0;
        if ((rc = warden_file_read(&b, cfg->entities_file, KEYD_FILE_MAX, err)) != 0 ||
            (rc = warden_entities_parse_json(&p->entities, cfg->entities_file, (const char *)b.p,
                                             b.len, err)) != 0)
            goto out;
        json_t *ej = json_loadb((const char *)b.p, b.len, 0, NULL);
        if (ej == NULL || json_object_set_new(bundle, "entities", ej) != 0) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
    } else {
        if ((rc = warden_entities_new_empty(&p->entities, err)) != 0 ||
            json_object_set_new(bundle, "entities", json_array()) != 0) {
            rc = rc ? rc : warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
    }
    p->bundle = json_dumps(bundle, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    if (p->bundle == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    p->bundle_len = strlen(p->bundle);
    uint8_t md[32];
    unsigned mdlen = 0;
    if (EVP_Digest(p->bundle, p->bundle_len, md, &mdlen, EVP_sha256(), NULL) != 1) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "SHA-256 failed");
        goto out;
    }
    memcpy(p->hash, "sha256:", 7);
    warden_hex_encode(p->hash + 7, md, 32);
out:
    json_decref(files);
    json_decref(bundle);
    warden_buf_fini(&b);
    if (rc != 0) {
        keyd_pset_release(p);
        p = NULL;
    }
    *out = p;
    return rc;
}

void keyd_pset_release(keyd_pset *p)
{
    if (p == NULL || --p->refs > 0)
        return;
    warden_policies_free(p->policies);
    warden_entities_free(p->entities);
    free(p->bundle);
    free(p);
}

int keyd_pset_archive(const keyd_pset *p, const char *archive_dir, warden_err *err)
{
    warden_buf path;
    warden_buf_init(&path);
    int rc = warden_mkdir_p(archive_dir, err);
    if (rc != 0)
        goto out;
    if (warden_buf_printf(&path, "%s/%s.json", archive_dir, p->hash + 7) != 0 ||
        warden_buf_cstr(&path) != 0) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    struct stat st;
    if (stat((const char *)path.p, &st) == 0)
        goto out; /* content-addressed: an existing file already holds these bytes */
    rc = warden_file_write_atomic((const char *)path.p, p->bundle, p->bundle_len, 0644, err);
out:
    warden_buf_fini(&path);
    return rc;
}
