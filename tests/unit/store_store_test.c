/* Tests for src/store/store.c: the argument checks in front of every backend. A fake
 * backend counts its calls; bad input must be refused with WARDEN_EINVAL (or ELIMIT for an
 * over-long blob) before the backend is called, and good input must reach it unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"

typedef struct fake {
    int calls;
    int closed;
    uint64_t last_version;
    char last_user[WARDEN_STORE_USER_MAX + 1];
} fake;

static void f_close(void *st)
{
    ((fake *)st)->closed++;
}

static int hit(void *st, const char *user)
{
    fake *f = st;
    f->calls++;
    snprintf(f->last_user, sizeof f->last_user, "%s", user != NULL ? user : "");
    return 0;
}

static int f_register(void *st, const char *user, const char *j, int64_t created,
                      const warden_store_dek *dek, warden_err *err)
{
    (void)j, (void)created, (void)dek, (void)err;
    return hit(st, user);
}

static int f_get(void *st, warden_store_user *out, const char *user, warden_err *err)
{
    (void)out, (void)err;
    return hit(st, user);
}

static int f_set_dek(void *st, const char *user, const uint8_t *old, size_t old_len,
                     const warden_store_dek *dek, warden_err *err)
{
    (void)old, (void)old_len, (void)dek, (void)err;
    return hit(st, user);
}

static int f_shred(void *st, const char *user, int64_t now, warden_err *err)
{
    (void)now, (void)err;
    return hit(st, user);
}

/* Adds one entry, then fails: the wrapper must free the partial page. */
static int f_user_list(void *st, warden_store_page *out, const char *after, size_t max,
                       warden_err *err)
{
    (void)after, (void)max;
    hit(st, NULL);
    if (warden_store_page_add(out, "u", NULL, NULL, 0, NULL, 0, err) != 0)
        return err->code;
    return warden_err_set(err, WARDEN_EIO, "injected failure");
}

static int f_put(void *st, const char *user, const char *c, const char *id, uint64_t version,
                 const uint8_t *blob, size_t len, warden_err *err)
{
    (void)c, (void)id, (void)blob, (void)len, (void)err;
    ((fake *)st)->last_version = version;
    return hit(st, user);
}

static int f_put_batch(void *st, warden_store_put *puts, size_t n, warden_err *err)
{
    (void)err;
    for (size_t i = 0; i < n; i++)
        if (puts[i].result == 0)
            hit(st, puts[i].user);
    return 0;
}

static int f_rget(void *st, warden_store_record *out, const char *user, const char *c,
                  const char *id, warden_err *err)
{
    (void)out, (void)c, (void)id, (void)err;
    return hit(st, user);
}

static int f_head(void *st, uint64_t *version, bool *live, const char *user, const char *c,
                  const char *id, warden_err *err)
{
    (void)c, (void)id, (void)err;
    *version = 0;
    *live = false;
    return hit(st, user);
}

static int f_delete(void *st, const char *user, const char *c, const char *id, uint64_t expected,
                    warden_err *err)
{
    (void)c, (void)id, (void)expected, (void)err;
    return hit(st, user);
}

static int f_rlist(void *st, warden_store_page *out, const char *user, const char *ac,
                   const char *aid, size_t max, warden_err *err)
{
    (void)out, (void)ac, (void)aid, (void)max, (void)err;
    return hit(st, user);
}

static const warden_store_ops FAKE = {
    "fake", f_close,     f_register, f_get,  f_set_dek, f_shred, f_user_list,
    f_put,  f_put_batch, f_rget,     f_head, f_delete,  f_rlist, NULL, NULL,
};

static void store_store_rejects_bad_input_before_the_backend(void **state)
{
    (void)state;
    fake f = {0};
    warden_store *st = NULL;
    warden_err err;
    warden_store_user u;
    warden_store_record r;
    warden_store_page page;
    uint64_t v;
    bool live;
    static const uint8_t blob[] = "WK-blob";
    warden_store_dek good = {blob, sizeof blob, "kf-1", 1};
    warden_store_dek bad_id = {blob, sizeof blob, "kf 1", 1};
    warden_store_user_init(&u);
    warden_store_record_init(&r);
    warden_store_page_init(&page);
    assert_int_equal(warden_store_new(&st, &FAKE, &f, &err), 0);
    assert_string_equal(warden_store_backend(st), "fake");

    char long_id[WARDEN_STORE_ID_MAX + 2], long_coll[WARDEN_STORE_COLLECTION_MAX + 2];
    memset(long_id, 'i', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    memset(long_coll, 'c', sizeof long_coll - 1);
    long_coll[sizeof long_coll - 1] = '\0';

    assert_int_equal(warden_store_user_register(st, "a\tb", "US", 1, NULL, &err), WARDEN_EINVAL);
    assert_non_null(strstr(err.msg, "control character 0x09"));
    assert_int_equal(warden_store_user_register(st, "a", "", 1, NULL, &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_user_register(st, "a", "US/EU", 1, NULL, &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_user_register(st, "a", "US", -5, NULL, &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_user_register(st, "a", "US", 1, &bad_id, &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_user_get(st, &u, "", &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_user_get(st, &u, NULL, &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_user_set_dek(st, "a\x7f", &good, &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_user_rewrap(st, "a", NULL, 0, &good, &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_user_shred(st, "a", 0, &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_user_list(st, &page, NULL, 0, &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_user_list(st, &page, "", 5, &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_record_put(st, "a", long_coll, "i", 1, blob, 1, &err),
                     WARDEN_EINVAL);
    assert_int_equal(warden_store_record_put(st, "a", "c", long_id, 1, blob, 1, &err),
                     WARDEN_EINVAL);
    assert_int_equal(warden_store_record_put(st, "a", "c d", "i", 1, blob, 1, &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_record_put(st, "a", "c", "i", 1, blob,
                                             (size_t)WARDEN_STORE_BLOB_MAX + 1, &err),
                     WARDEN_ELIMIT);
    assert_int_equal(warden_store_record_get(st, &r, "a", "c", "", &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_record_head(st, &v, &live, "a", "", "i", &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_record_delete(st, "", "c", "i", 0, &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_record_list(st, &page, "a", NULL, "i", 5, &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_backup(st, "/tmp/x", &err), WARDEN_EINVAL);
    assert_non_null(strstr(err.msg, "fake backend cannot make backups"));
    assert_int_equal(f.calls, 0);

    /* Good input reaches the backend. */
    long_id[WARDEN_STORE_ID_MAX] = '\0';
    assert_int_equal(warden_store_user_register(st, "ann@example.com", "US", 1, &good, &err), 0);
    assert_string_equal(f.last_user, "ann@example.com");
    assert_int_equal(warden_store_record_put(st, "a", "c.d-e_f", long_id, 9, blob, 1, &err), 0);
    assert_int_equal(f.last_version, 9);
    assert_int_equal(warden_store_user_rewrap(st, "a", blob, sizeof blob, &good, &err), 0);
    assert_int_equal(f.calls, 3);

    /* A batch: bad items are refused individually and never reach the backend. */
    warden_store_put puts[] = {
        {"ok", "c", "1", 1, blob, 1, 99},
        {"ok", "c d", "2", 1, blob, 1, 0},
        {"ok", "c", "3", 0, blob, 1, 0},
        {"ok", "c", "4", 1, NULL, 0, 0},
        {"", "c", "5", 1, blob, 1, 0},
        {"ok2", "c", "6", 1, blob, (size_t)WARDEN_STORE_BLOB_MAX + 1, 0},
    };
    f.calls = 0;
    assert_int_equal(warden_store_record_put_batch(st, puts, 6, &err), 0);
    assert_int_equal(f.calls, 1);
    assert_int_equal(puts[0].result, 0); /* result is an output: stale input is ignored */
    for (int i = 1; i < 5; i++)
        assert_int_equal(puts[i].result, WARDEN_EINVAL);
    assert_int_equal(puts[5].result, WARDEN_ELIMIT);
    assert_int_equal(warden_store_record_put_batch(st, puts, 0, &err), WARDEN_EINVAL);

    /* A backend failure after a partial page leaves the page empty, not leaked. */
    assert_int_equal(warden_store_user_list(st, &page, NULL, 5, &err), WARDEN_EIO);
    assert_int_equal(page.n, 0);
    assert_null(page.v);
    /* A non-empty out page is refused. */
    assert_int_equal(warden_store_page_add(&page, "x", NULL, NULL, 0, NULL, 0, &err), 0);
    assert_int_equal(warden_store_user_list(st, &page, NULL, 5, &err), WARDEN_EINVAL);
    warden_store_page_fini(&page);

    warden_store_free(st);
    assert_int_equal(f.closed, 1);
    warden_store_free(NULL);
    warden_store_user_fini(&u);
    warden_store_record_fini(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_store_rejects_bad_input_before_the_backend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
