/* The store's front door: checks every argument once, for all backends, then calls the
 * backend. Invariant: a backend never sees a name outside its bounds, a control character
 * in a name, an over-long blob or a non-empty out-struct, so the checks here are the whole
 * input validation for every backend. */
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

struct warden_store {
    const warden_store_ops *ops;
    void *state;
};

int warden_store_new(warden_store **out, const warden_store_ops *ops, void *state, warden_err *err)
{
    warden_store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        ops->close(state);
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory opening the store");
    }
    s->ops = ops;
    s->state = state;
    *out = s;
    return 0;
}

void warden_store_free(warden_store *store)
{
    if (store == NULL)
        return;
    store->ops->close(store->state);
    free(store);
}

const char *warden_store_backend(const warden_store *store)
{
    return store->ops->name;
}

/* A name: 1..max bytes, no control characters (they would garble messages and logs). */
static int check_name(const char *what, const char *s, size_t max, warden_err *err)
{
    if (s == NULL || s[0] == '\0')
        return warden_err_set(err, WARDEN_EINVAL, "%s is empty", what);
    size_t n = strnlen(s, max + 1);
    if (n > max)
        return warden_err_set(err, WARDEN_EINVAL, "%s is longer than %zu bytes", what, max);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return warden_err_set(err, WARDEN_EINVAL,
                                  "%s holds control character 0x%02x at byte %zu", what, ch, i);
    }
    return 0;
}

/* A restricted name: 1..max bytes of [A-Za-z0-9] and the characters in extra. */
static int check_word(const char *what, const char *s, size_t max, const char *extra,
                      warden_err *err)
{
    int rc = check_name(what, s, max, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; s[i] != '\0'; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || strchr(extra, ch) != NULL;
        if (!ok)
            return warden_err_set(err, WARDEN_EINVAL,
                                  "%s \"%s\": character '%c' is not allowed (use A-Z a-z 0-9 %s)",
                                  what, s, ch, extra);
    }
    return 0;
}

int store_check_user(const char *user, warden_err *err)
{
    return check_name("user id", user, WARDEN_STORE_USER_MAX, err);
}

int store_check_collection(const char *collection, warden_err *err)
{
    return check_word("collection", collection, WARDEN_STORE_COLLECTION_MAX, "_.-", err);
}

int store_check_id(const char *id, warden_err *err)
{
    return check_name("record id", id, WARDEN_STORE_ID_MAX, err);
}

int store_check_jurisdiction(const char *j, warden_err *err)
{
    return check_word("jurisdiction", j, WARDEN_STORE_JURISDICTION_MAX, "_-", err);
}

int store_check_dek(const warden_store_dek *dek, warden_err *err)
{
    if (dek->blob == NULL || dek->len == 0)
        return warden_err_set(err, WARDEN_EINVAL, "the wrapped DEK is empty");
    if (dek->len > WARDEN_STORE_DEK_BLOB_MAX)
        return warden_err_set(err, WARDEN_EINVAL, "the wrapped DEK is %zu bytes, over %d", dek->len,
                              WARDEN_STORE_DEK_BLOB_MAX);
    if (dek->kek_version == 0)
        return warden_err_set(err, WARDEN_EINVAL,
                              "KEK version 0 does not exist (versions start at 1)");
    int rc = check_name("KEK id", dek->kek_id, WARDEN_STORE_KEK_ID_MAX, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; dek->kek_id[i] != '\0'; i++)
        if (dek->kek_id[i] == ' ' || (unsigned char)dek->kek_id[i] > 0x7e)
            return warden_err_set(err, WARDEN_EINVAL, "KEK id is not printable ASCII");
    return 0;
}

static int check_record(const char *user, const char *collection, const char *id, warden_err *err)
{
    int rc = store_check_user(user, err);
    if (rc == 0)
        rc = store_check_collection(collection, err);
    if (rc == 0)
        rc = store_check_id(id, err);
    return rc;
}

static int check_max(size_t max, warden_err *err)
{
    if (max == 0 || max > WARDEN_STORE_PAGE_MAX)
        return warden_err_set(err, WARDEN_EINVAL, "page size %zu is not in 1..%d", max,
                              WARDEN_STORE_PAGE_MAX);
    return 0;
}

static int check_empty_page(const warden_store_page *p, warden_err *err)
{
    if (p->n != 0 || p->v != NULL)
        return warden_err_set(err, WARDEN_EINVAL, "the output page is not empty");
    return 0;
}

int warden_store_backup(warden_store *store, const char *path, warden_err *err)
{
    if (path == NULL || path[0] == '\0')
        return warden_err_set(err, WARDEN_EINVAL, "backup path is empty");
    if (store->ops->backup == NULL)
        return warden_err_set(err, WARDEN_EINVAL, "the %s backend cannot make backups",
                              store->ops->name);
    return store->ops->backup(store->state, path, err);
}

int warden_store_user_register(warden_store *store, const char *user, const char *jurisdiction,
                               int64_t created, const warden_store_dek *dek, warden_err *err)
{
    int rc = store_check_user(user, err);
    if (rc == 0)
        rc = store_check_jurisdiction(jurisdiction, err);
    if (rc == 0 && dek != NULL)
        rc = store_check_dek(dek, err);
    if (rc == 0 && created <= 0)
        rc = warden_err_set(err, WARDEN_EINVAL, "registration time %lld is not after 1970",
                            (long long)created);
    if (rc != 0)
        return rc;
    return store->ops->user_register(store->state, user, jurisdiction, created, dek, err);
}

int warden_store_user_register_batch(warden_store *store, warden_store_reg *regs, size_t n,
                                     int64_t created, warden_err *err)
{
    if (n == 0 || n > WARDEN_STORE_PAGE_MAX)
        return warden_err_set(err, WARDEN_EINVAL, "a batch holds 1..%d registrations, not %zu",
                              WARDEN_STORE_PAGE_MAX, n);
    if (created <= 0)
        return warden_err_set(err, WARDEN_EINVAL, "registration time %lld is not after 1970",
                              (long long)created);
    for (size_t i = 0; i < n; i++) {
        warden_store_reg *r = &regs[i];
        r->result = store_check_user(r->user, NULL);
        if (r->result == 0)
            r->result = store_check_jurisdiction(r->jurisdiction, NULL);
        if (r->result == 0 && r->dek != NULL)
            r->result = store_check_dek(r->dek, NULL);
    }
    if (store->ops->user_register_batch != NULL)
        return store->ops->user_register_batch(store->state, regs, n, created, err);
    for (size_t i = 0; i < n; i++) { /* no group commit in this backend */
        if (regs[i].result != 0)
            continue;
        warden_err item;
        regs[i].result = store->ops->user_register(store->state, regs[i].user,
                                                   regs[i].jurisdiction, created, regs[i].dek,
                                                   &item);
        if (regs[i].result != 0 && regs[i].result != WARDEN_EEXIST) {
            if (err != NULL)
                *err = item;
            return item.code;
        }
    }
    return 0;
}

int warden_store_user_get(warden_store *store, warden_store_user *out, const char *user,
                          warden_err *err)
{
    int rc = store_check_user(user, err);
    if (rc != 0)
        return rc;
    out->wrapped.len = 0;
    return store->ops->user_get(store->state, out, user, err);
}

int warden_store_user_set_dek(warden_store *store, const char *user, const warden_store_dek *dek,
                              warden_err *err)
{
    int rc = store_check_user(user, err);
    if (rc == 0)
        rc = store_check_dek(dek, err);
    if (rc != 0)
        return rc;
    return store->ops->user_set_dek(store->state, user, NULL, 0, dek, err);
}

int warden_store_user_rewrap(warden_store *store, const char *user, const uint8_t *old,
                             size_t old_len, const warden_store_dek *dek, warden_err *err)
{
    int rc = store_check_user(user, err);
    if (rc == 0)
        rc = store_check_dek(dek, err);
    if (rc == 0 && (old == NULL || old_len == 0 || old_len > WARDEN_STORE_DEK_BLOB_MAX))
        rc = warden_err_set(err, WARDEN_EINVAL, "the old wrapped DEK is empty or too long");
    if (rc != 0)
        return rc;
    return store->ops->user_set_dek(store->state, user, old, old_len, dek, err);
}

int warden_store_user_shred(warden_store *store, const char *user, int64_t now, warden_err *err)
{
    int rc = store_check_user(user, err);
    if (rc == 0 && now <= 0)
        rc =
            warden_err_set(err, WARDEN_EINVAL, "shred time %lld is not after 1970", (long long)now);
    if (rc != 0)
        return rc;
    return store->ops->user_shred(store->state, user, now, err);
}

int warden_store_user_list(warden_store *store, warden_store_page *out, const char *after,
                           size_t max, warden_err *err)
{
    int rc = check_max(max, err);
    if (rc == 0)
        rc = check_empty_page(out, err);
    if (rc == 0 && after != NULL)
        rc = store_check_user(after, err);
    if (rc != 0)
        return rc;
    rc = store->ops->user_list(store->state, out, after, max, err);
    if (rc != 0)
        warden_store_page_fini(out);
    return rc;
}

int warden_store_record_put(warden_store *store, const char *user, const char *collection,
                            const char *id, uint64_t version, const uint8_t *blob, size_t len,
                            warden_err *err)
{
    int rc = check_record(user, collection, id, err);
    if (rc != 0)
        return rc;
    if (version == 0)
        return warden_err_set(err, WARDEN_EINVAL,
                              "record version 0 does not exist (the first is 1)");
    if (blob == NULL || len == 0)
        return warden_err_set(err, WARDEN_EINVAL, "the record ciphertext is empty");
    if (len > WARDEN_STORE_BLOB_MAX)
        return warden_err_set(err, WARDEN_ELIMIT, "the record ciphertext is %zu bytes, over %u",
                              len, WARDEN_STORE_BLOB_MAX);
    return store->ops->record_put(store->state, user, collection, id, version, blob, len, err);
}

int warden_store_record_put_batch(warden_store *store, warden_store_put *puts, size_t n,
                                  warden_err *err)
{
    warden_err item;
    int rc = check_max(n, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        warden_store_put *p = &puts[i];
        p->result = check_record(p->user, p->collection, p->id, &item);
        if (p->result == 0 && p->version == 0)
            p->result = WARDEN_EINVAL;
        if (p->result == 0 && (p->blob == NULL || p->len == 0))
            p->result = WARDEN_EINVAL;
        if (p->result == 0 && p->len > WARDEN_STORE_BLOB_MAX)
            p->result = WARDEN_ELIMIT;
    }
    rc = store->ops->record_put_batch(store->state, puts, n, err);
    for (size_t i = 0; rc != 0 && i < n; i++)
        puts[i].result = rc;
    return rc;
}

int warden_store_record_get(warden_store *store, warden_store_record *out, const char *user,
                            const char *collection, const char *id, warden_err *err)
{
    int rc = check_record(user, collection, id, err);
    if (rc != 0)
        return rc;
    out->blob.len = 0;
    out->version = 0;
    return store->ops->record_get(store->state, out, user, collection, id, err);
}

int warden_store_record_head(warden_store *store, uint64_t *version, bool *live, const char *user,
                             const char *collection, const char *id, warden_err *err)
{
    int rc = check_record(user, collection, id, err);
    if (rc != 0)
        return rc;
    return store->ops->record_head(store->state, version, live, user, collection, id, err);
}

int warden_store_record_delete(warden_store *store, const char *user, const char *collection,
                               const char *id, uint64_t expected, warden_err *err)
{
    int rc = check_record(user, collection, id, err);
    if (rc != 0)
        return rc;
    return store->ops->record_delete(store->state, user, collection, id, expected, err);
}

int warden_store_record_list(warden_store *store, warden_store_page *out, const char *user,
                             const char *after_collection, const char *after_id, size_t max,
                             warden_err *err)
{
    int rc = store_check_user(user, err);
    if (rc == 0)
        rc = check_max(max, err);
    if (rc == 0)
        rc = check_empty_page(out, err);
    if (rc == 0 && (after_collection == NULL) != (after_id == NULL))
        rc = warden_err_set(err, WARDEN_EINVAL,
                            "give both after_collection and after_id, or neither");
    if (rc == 0 && after_collection != NULL)
        rc = check_record(user, after_collection, after_id, err);
    if (rc != 0)
        return rc;
    rc = store->ops->record_list(store->state, out, user, after_collection, after_id, max, err);
    if (rc != 0)
        warden_store_page_fini(out);
    return rc;
}

void warden_store_user_init(warden_store_user *u)
{
    memset(u, 0, sizeof *u);
    warden_buf_init(&u->wrapped);
}

void warden_store_user_fini(warden_store_user *u)
{
    warden_buf_fini(&u->wrapped);
    warden_store_user_init(u);
}

void warden_store_record_init(warden_store_record *r)
{
    r->version = 0;
    warden_buf_init(&r->blob);
}

void warden_store_record_fini(warden_store_record *r)
{
    warden_buf_fini(&r->blob);
    warden_store_record_init(r);
}

void warden_store_page_init(warden_store_page *p)
{
    p->v = NULL;
    p->n = 0;
    p->more = false;
}

void warden_store_page_fini(warden_store_page *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].user);
        free(p->v[i].collection);
        free(p->v[i].id);
        warden_buf_fini(&p->v[i].blob);
    }
    free(p->v);
    warden_store_page_init(p);
}

static int dup_opt(char **out, const char *s)
{
    *out = NULL;
    if (s == NULL)
        return 0;
    *out = strdup(s);
    return *out == NULL ? WARDEN_ENOMEM : 0;
}

int warden_store_page_add(warden_store_page *p, const char *user, const char *collection,
                          const char *id, uint64_t version, const uint8_t *blob, size_t len,
                          warden_err *err)
{
    warden_store_entry *nv = realloc(p->v, (p->n + 1) * sizeof *nv);
    if (nv == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory listing the store");
    p->v = nv;
    warden_store_entry *e = &p->v[p->n];
    memset(e, 0, sizeof *e);
    warden_buf_init(&e->blob);
    e->version = version;
    p->n++; /* counted now so that page_fini frees whatever was copied below */
    if (dup_opt(&e->user, user) != 0 || dup_opt(&e->collection, collection) != 0 ||
        dup_opt(&e->id, id) != 0 || (len != 0 && warden_buf_append(&e->blob, blob, len) != 0))
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory listing the store");
    return 0;
}
