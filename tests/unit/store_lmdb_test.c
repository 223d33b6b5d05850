/* Tests for src/store/lmdb.c through the public store API, on real LMDB in temp dirs
 * (opening is in store_lmdb_env_test.c): every operation and its error paths, version
 * compare-and-set, shredding (the API and a compacted backup no longer hold the wrapped DEK),
 * persistence across reopen, corrupted values, a full map, and many threads at once. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"

typedef struct fixture {
    char root[64];
    char dir[96];
    warden_store *st;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->root, sizeof f->root, "/tmp/warden-store-XXXXXX");
    if (f == NULL || mkdtemp(f->root) == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "%s/region/data", f->root);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[160];
    warden_store_free(f->st);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->root);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void open_store(fixture *f, size_t map_size)
{
    warden_err err;
    warden_store_lmdb_config cfg = {.dir = f->dir, .map_size = map_size};
    int rc = warden_store_lmdb_open(&f->st, &cfg, &err);
    if (rc != 0)
        fail_msg("open: %s", err.msg);
}

static void reopen(fixture *f)
{
    warden_store_free(f->st);
    f->st = NULL;
    open_store(f, 0);
}

static const uint8_t DEK1[] =
    "WK\x01\x01\x0bkf-00000001\x00\x00\x00\x01-wrapped-dek-bytes-one-0123456789";
static const uint8_t DEK2[] =
    "WK\x01\x01\x0bkf-00000001\x00\x00\x00\x02-wrapped-dek-bytes-two-9876543210";

static warden_store_dek dek_of(const uint8_t *blob, size_t len, uint32_t version)
{
    warden_store_dek d = {blob, len, "kf-00000001", version};
    return d;
}

static void put_ok(warden_store *st, const char *user, const char *coll, const char *id,
                   uint64_t version, const char *blob)
{
    warden_err err;
    int rc = warden_store_record_put(st, user, coll, id, version, (const uint8_t *)blob,
                                     strlen(blob), &err);
    if (rc != 0)
        fail_msg("put %s/%s/%s v%llu: %s", user, coll, id, (unsigned long long)version, err.msg);
}

static void assert_record(warden_store *st, const char *user, const char *coll, const char *id,
                          uint64_t version, const char *blob)
{
    warden_err err;
    warden_store_record r;
    warden_store_record_init(&r);
    int rc = warden_store_record_get(st, &r, user, coll, id, &err);
    if (rc != 0)
        fail_msg("get %s/%s/%s: %s", user, coll, id, err.msg);
    assert_int_equal(r.version, version);
    assert_int_equal(r.blob.len, strlen(blob));
    assert_memory_equal(r.blob.p, blob, r.blob.len);
    warden_store_record_fini(&r);
}

static void store_lmdb_user_register_get(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_store_user u;
    warden_store_dek d = dek_of(DEK1, sizeof DEK1, 1);
    open_store(f, 0);
    warden_store_user_init(&u);
    assert_int_equal(warden_store_user_register(f->st, "alice", "US", 1700000000, &d, &err), 0);
    assert_int_equal(warden_store_user_register(f->st, "bob", "SG", 1700000001, NULL, &err), 0);
    assert_int_equal(warden_store_user_get(f->st, &u, "alice", &err), 0);
    assert_string_equal(u.jurisdiction, "US");
    assert_int_equal(u.state, WARDEN_USER_ACTIVE);
    assert_int_equal(u.created, 1700000000);
    assert_int_equal(u.shredded, 0);
    assert_true(u.has_dek);
    assert_string_equal(u.kek_id, "kf-00000001");
    assert_int_equal(u.kek_version, 1);
    assert_int_equal(u.wrapped.len, sizeof DEK1);
    assert_memory_equal(u.wrapped.p, DEK1, sizeof DEK1);
    assert_int_equal(warden_store_user_get(f->st, &u, "bob", &err), 0);
    assert_false(u.has_dek);
    assert_int_equal(u.wrapped.len, 0);
    assert_string_equal(u.kek_id, "");

    /* Twice: EEXIST; another jurisdiction: refused, and the message says why. */
    assert_int_equal(warden_store_user_register(f->st, "alice", "US", 1700000002, NULL, &err),
                     WARDEN_EEXIST);
    assert_non_null(strstr(err.msg, "already registered"));
    assert_int_equal(warden_store_user_register(f->st, "alice", "SG", 1700000002, NULL, &err),
                     WARDEN_EEXIST);
    assert_non_null(strstr(err.msg, "fixed at registration"));
    assert_int_equal(warden_store_user_get(f->st, &u, "alice", &err), 0);
    assert_string_equal(u.jurisdiction, "US");
    assert_int_equal(warden_store_user_get(f->st, &u, "carol", &err), WARDEN_ENOTFOUND);

    /* Bad arguments never reach the backend. */
    assert_int_equal(warden_store_user_register(f->st, "", "US", 1, NULL, &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_user_register(f->st, "x\ny", "US", 1, NULL, &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_user_register(f->st, "dave", "U S", 1, NULL, &err),
                     WARDEN_EINVAL);
    assert_int_equal(warden_store_user_register(f->st, "dave", "US", 0, NULL, &err), WARDEN_EINVAL);
    char longname[WARDEN_STORE_USER_MAX + 2];
    memset(longname, 'u', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(warden_store_user_register(f->st, longname, "US", 1, NULL, &err),
                     WARDEN_EINVAL);
    longname[WARDEN_STORE_USER_MAX] = '\0';
    assert_int_equal(warden_store_user_register(f->st, longname, "US", 1, NULL, &err), 0);
    warden_store_dek bad = dek_of(DEK1, sizeof DEK1, 0);
    assert_int_equal(warden_store_user_register(f->st, "dave", "US", 1, &bad, &err), WARDEN_EINVAL);
    bad = dek_of(DEK1, 0, 1);
    assert_int_equal(warden_store_user_register(f->st, "dave", "US", 1, &bad, &err), WARDEN_EINVAL);
    assert_int_equal(warden_store_user_get(f->st, &u, "dave", &err), WARDEN_ENOTFOUND);
    warden_store_user_fini(&u);
}

static void store_lmdb_user_dek_set_and_rewrap(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_store_user u;
    warden_store_dek d1 = dek_of(DEK1, sizeof DEK1, 1), d2 = dek_of(DEK2, sizeof DEK2, 2);
    open_store(f, 0);
    warden_store_user_init(&u);
    assert_int_equal(warden_store_user_register(f->st, "alice", "US", 1700000000, NULL, &err), 0);
    assert_int_equal(warden_store_user_rewrap(f->st, "alice", DEK1, sizeof DEK1, &d2, &err),
                     WARDEN_ENOTFOUND);
    assert_int_equal(warden_store_user_set_dek(f->st, "alice", &d1, &err), 0);
    assert_int_equal(warden_store_user_set_dek(f->st, "alice", &d2, &err), WARDEN_EEXIST);
    assert_int_equal(warden_store_user_set_dek(f->st, "nobody", &d1, &err), WARDEN_ENOTFOUND);
    put_ok(f->st, "alice", "messages", "m1", 1, "ciphertext-1");

    /* Re-wrap is compare-and-set on the old blob. */
    assert_int_equal(warden_store_user_rewrap(f->st, "alice", DEK2, sizeof DEK2, &d2, &err),
                     WARDEN_EEXIST);
    assert_int_equal(warden_store_user_rewrap(f->st, "alice", DEK1, sizeof DEK1 - 1, &d2, &err),
                     WARDEN_EEXIST);
    assert_int_equal(warden_store_user_rewrap(f->st, "alice", DEK1, sizeof DEK1, &d2, &err), 0);
    assert_int_equal(warden_store_user_get(f->st, &u, "alice", &err), 0);
    assert_int_equal(u.kek_version, 2);
    assert_memory_equal(u.wrapped.p, DEK2, sizeof DEK2);
    assert_int_equal(warden_store_user_rewrap(f->st, "alice", DEK1, sizeof DEK1, &d1, &err),
                     WARDEN_EEXIST);
    assert_record(f->st, "alice", "messages", "m1", 1, "ciphertext-1"); /* untouched */
    warden_store_user_fini(&u);
}

static bool file_contains(const char *path, const uint8_t *needle, size_t n)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    struct stat st;
    assert_int_equal(fstat(fileno(fp), &st), 0);
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    size_t len = fread(buf, 1, (size_t)st.st_size, fp);
    fclose(fp);
    bool found = memmem(buf, len, needle, n) != NULL;
    free(buf);
    return found;
}

static void store_lmdb_user_shred(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_store_user u;
    warden_store_dek d1 = dek_of(DEK1, sizeof DEK1, 1);
    char before[160], after[160];
    open_store(f, 0);
    warden_store_user_init(&u);
    assert_int_equal(warden_store_user_register(f->st, "alice", "US", 1700000000, &d1, &err), 0);
    put_ok(f->st, "alice", "messages", "m1", 1, "ciphertext-1");
    snprintf(before, sizeof before, "%s/before.mdb", f->root);
    snprintf(after, sizeof after, "%s/after.mdb", f->root);
    assert_int_equal(warden_store_backup(f->st, before, &err), 0);
    assert_int_equal(warden_store_backup(f->st, before, &err), WARDEN_EEXIST);

    assert_int_equal(warden_store_user_shred(f->st, "alice", 1700000100, &err), 0);
    assert_int_equal(warden_store_user_shred(f->st, "alice", 1700000200, &err), WARDEN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "already shredded"));
    assert_int_equal(warden_store_user_shred(f->st, "nobody", 1700000200, &err), WARDEN_ENOTFOUND);
    reopen(f);
    assert_int_equal(warden_store_user_get(f->st, &u, "alice", &err), 0);
    assert_int_equal(u.state, WARDEN_USER_SHREDDED);
    assert_int_equal(u.shredded, 1700000100);
    assert_false(u.has_dek);
    assert_int_equal(u.wrapped.len, 0);
    assert_int_equal(u.kek_version, 0);
    assert_string_equal(u.jurisdiction, "US");

    /* The key never comes back, the id stays taken, no new record can be written. */
    assert_int_equal(warden_store_user_set_dek(f->st, "alice", &d1, &err), WARDEN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "shredded"));
    assert_int_equal(warden_store_user_rewrap(f->st, "alice", DEK1, sizeof DEK1, &d1, &err),
                     WARDEN_ENOTFOUND);
    assert_int_equal(warden_store_user_register(f->st, "alice", "US", 1700000300, &d1, &err),
                     WARDEN_EEXIST);
    assert_int_equal(
        warden_store_record_put(f->st, "alice", "messages", "m2", 1, (const uint8_t *)"x", 1, &err),
        WARDEN_ENOTFOUND);
    assert_record(f->st, "alice", "messages", "m1", 1, "ciphertext-1"); /* kept, unreadable */

    /* The bytes: a compacted backup made before the shred holds the wrapped DEK, one made
     * after does not (the search would find them if shredding left them in live data). */
    assert_int_equal(warden_store_backup(f->st, after, &err), 0);
    assert_true(file_contains(before, DEK1, sizeof DEK1));
    assert_true(file_contains(before, (const uint8_t *)"ciphertext-1", 12));
    assert_false(file_contains(after, DEK1, sizeof DEK1));
    assert_true(file_contains(after, (const uint8_t *)"ciphertext-1", 12));
    warden_store_user_fini(&u);
}

static void store_lmdb_record_versions(void **state)
{
    fixture *f = *state;
    warden_err err;
    uint64_t v;
    bool live;
    open_store(f, 0);
    assert_int_equal(warden_store_user_register(f->st, "alice", "US", 1700000000, NULL, &err), 0);
    assert_int_equal(warden_store_record_head(f->st, &v, &live, "alice", "messages", "m1", &err),
                     0);
    assert_int_equal(v, 0);
    assert_false(live);
    assert_int_equal(
        warden_store_record_put(f->st, "alice", "messages", "m1", 2, (const uint8_t *)"c", 1, &err),
        WARDEN_EEXIST);
    put_ok(f->st, "alice", "messages", "m1", 1, "one");
    assert_int_equal(
        warden_store_record_put(f->st, "alice", "messages", "m1", 1, (const uint8_t *)"c", 1, &err),
        WARDEN_EEXIST);
    assert_non_null(strstr(err.msg, "at version 1"));
    put_ok(f->st, "alice", "messages", "m1", 2, "two");
    assert_record(f->st, "alice", "messages", "m1", 2, "two");
    assert_int_equal(warden_store_record_head(f->st, &v, &live, "alice", "messages", "m1", &err),
                     0);
    assert_int_equal(v, 2);
    assert_true(live);

    assert_int_equal(warden_store_record_delete(f->st, "alice", "messages", "m1", 1, &err),
                     WARDEN_EEXIST);
    assert_int_equal(warden_store_record_delete(f->st, "alice", "messages", "m1", 2, &err), 0);
    warden_store_record r;
    warden_store_record_init(&r);
    assert_int_equal(warden_store_record_get(f->st, &r, "alice", "messages", "m1", &err),
                     WARDEN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "deleted"));
    assert_int_equal(warden_store_record_delete(f->st, "alice", "messages", "m1", 0, &err),
                     WARDEN_ENOTFOUND);
    assert_int_equal(warden_store_record_head(f->st, &v, &live, "alice", "messages", "m1", &err),
                     0);
    assert_int_equal(v, 2);
    assert_false(live);
    /* Versions never repeat: after a delete the next write is 3, not 1. */
    assert_int_equal(
        warden_store_record_put(f->st, "alice", "messages", "m1", 1, (const uint8_t *)"c", 1, &err),
        WARDEN_EEXIST);
    assert_non_null(strstr(err.msg, "deleted"));
    put_ok(f->st, "alice", "messages", "m1", 3, "three");
    assert_int_equal(warden_store_record_delete(f->st, "alice", "messages", "m1", 0, &err), 0);
    assert_int_equal(warden_store_record_get(f->st, &r, "alice", "messages", "nope", &err),
                     WARDEN_ENOTFOUND);
    assert_int_equal(warden_store_record_delete(f->st, "alice", "messages", "nope", 0, &err),
                     WARDEN_ENOTFOUND);

    /* Unknown user, bad arguments. */
    assert_int_equal(
        warden_store_record_put(f->st, "bob", "messages", "m1", 1, (const uint8_t *)"c", 1, &err),
        WARDEN_ENOTFOUND);
    assert_int_equal(
        warden_store_record_put(f->st, "alice", "messages", "m9", 0, (const uint8_t *)"c", 1, &err),
        WARDEN_EINVAL);
    assert_int_equal(
        warden_store_record_put(f->st, "alice", "messages", "m9", 1, (const uint8_t *)"c", 0, &err),
        WARDEN_EINVAL);
    assert_int_equal(warden_store_record_put(f->st, "alice", "mes/sages", "m9", 1,
                                             (const uint8_t *)"c", 1, &err),
                     WARDEN_EINVAL);
    assert_int_equal(
        warden_store_record_put(f->st, "alice", "messages", "", 1, (const uint8_t *)"c", 1, &err),
        WARDEN_EINVAL);
    assert_int_equal(warden_store_record_get(f->st, &r, "alice", "", "m1", &err), WARDEN_EINVAL);
    warden_store_record_fini(&r);
}

static void store_lmdb_keys_are_unambiguous(void **state)
{
    fixture *f = *state;
    warden_err err;
    open_store(f, 0);
    assert_int_equal(warden_store_user_register(f->st, "a", "US", 1700000000, NULL, &err), 0);
    assert_int_equal(warden_store_user_register(f->st, "ab", "US", 1700000000, NULL, &err), 0);
    put_ok(f->st, "a", "bc", "d", 1, "a|bc|d");
    put_ok(f->st, "ab", "c", "d", 1, "ab|c|d");
    put_ok(f->st, "a", "b", "cd", 1, "a|b|cd");
    assert_record(f->st, "a", "bc", "d", 1, "a|bc|d");
    assert_record(f->st, "ab", "c", "d", 1, "ab|c|d");
    assert_record(f->st, "a", "b", "cd", 1, "a|b|cd");

    warden_buf k1, k2;
    warden_buf_init(&k1);
    warden_buf_init(&k2);
    assert_int_equal(store_key_record(&k1, "a", "bc", "d", &err), 0);
    assert_int_equal(store_key_record(&k2, "ab", "c", "d", &err), 0);
    assert_true(k1.len != k2.len || memcmp(k1.p, k2.p, k1.len) != 0);
    warden_buf_fini(&k1);
    warden_buf_fini(&k2);
}

static void store_lmdb_record_list_pages(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_store_page page;
    char id[16], blob[32];
    bool seen[25] = {false};
    size_t total = 0, pages = 0;
    open_store(f, 0);
    warden_store_page_init(&page);
    /* Neighbours whose ids share a prefix with alice's must not leak into her export. */
    const char *users[] = {"alic", "alice", "alice2", "alicf"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(warden_store_user_register(f->st, users[i], "US", 1700000000, NULL, &err),
                         0);
    for (int i = 0; i < 25; i++) {
        snprintf(id, sizeof id, "r%02d", i);
        snprintf(blob, sizeof blob, "alice-%02d", i);
        put_ok(f->st, "alice", i % 2 ? "messages" : "profile", id, 1, blob);
    }
    put_ok(f->st, "alic", "messages", "x", 1, "other");
    put_ok(f->st, "alice2", "messages", "x", 1, "other");
    put_ok(f->st, "alicf", "messages", "x", 1, "other");
    assert_int_equal(warden_store_record_delete(f->st, "alice", "profile", "r04", 0, &err), 0);

    char ac[WARDEN_STORE_COLLECTION_MAX + 1] = "", aid[WARDEN_STORE_ID_MAX + 1] = "";
    for (;;) {
        int rc = warden_store_record_list(f->st, &page, "alice", total ? ac : NULL,
                                          total ? aid : NULL, 10, &err);
        if (rc != 0)
            fail_msg("list: %s", err.msg);
        pages++;
        for (size_t i = 0; i < page.n; i++) {
            const warden_store_entry *e = &page.v[i];
            assert_null(e->user);
            assert_int_equal(e->version, 1);
            assert_true(strlen(e->id) == 3 && e->id[0] == 'r');
            int n = (e->id[1] - '0') * 10 + (e->id[2] - '0');
            assert_true(n >= 0 && n < 25);
            assert_false(seen[n]);
            seen[n] = true;
            snprintf(blob, sizeof blob, "alice-%02d", n);
            assert_int_equal(e->blob.len, strlen(blob));
            assert_memory_equal(e->blob.p, blob, e->blob.len);
            assert_string_equal(e->collection, n % 2 ? "messages" : "profile");
        }
        total += page.n;
        if (page.n > 0) {
            snprintf(ac, sizeof ac, "%s", page.v[page.n - 1].collection);
            snprintf(aid, sizeof aid, "%s", page.v[page.n - 1].id);
        }
        bool more = page.more;
        warden_store_page_fini(&page);
        if (!more)
            break;
        assert_true(pages < 10);
    }
    assert_int_equal(total, 24);
    assert_int_equal(pages, 3);
    for (int i = 0; i < 25; i++)
        assert_int_equal(seen[i], i != 4);

    assert_int_equal(warden_store_record_list(f->st, &page, "nobody", NULL, NULL, 10, &err), 0);
    assert_int_equal(page.n, 0);
    assert_false(page.more);
    assert_int_equal(warden_store_record_list(f->st, &page, "alice", NULL, NULL, 0, &err),
                     WARDEN_EINVAL);
    assert_int_equal(warden_store_record_list(f->st, &page, "alice", "profile", NULL, 5, &err),
                     WARDEN_EINVAL);
}

static void store_lmdb_user_list_pages(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_store_page page;
    char name[16], after[WARDEN_STORE_USER_MAX + 1] = "";
    bool seen[30] = {false};
    size_t total = 0;
    open_store(f, 0);
    warden_store_page_init(&page);
    for (int i = 0; i < 30; i++) {
        snprintf(name, sizeof name, "user%d", i);
        assert_int_equal(warden_store_user_register(f->st, name, "US", 1700000000, NULL, &err), 0);
    }
    assert_int_equal(warden_store_user_shred(f->st, "user7", 1700000001, &err), 0);
    for (int pages = 0;; pages++) {
        assert_true(pages < 10);
        assert_int_equal(warden_store_user_list(f->st, &page, total ? after : NULL, 7, &err), 0);
        for (size_t i = 0; i < page.n; i++) {
            int n = -1;
            assert_int_equal(sscanf(page.v[i].user, "user%d", &n), 1);
            assert_true(n >= 0 && n < 30);
            assert_false(seen[n]);
            seen[n] = true;
        }
        total += page.n;
        if (page.n > 0)
            snprintf(after, sizeof after, "%s", page.v[page.n - 1].user);
        bool more = page.more;
        warden_store_page_fini(&page);
        if (!more)
            break;
    }
    assert_int_equal(total, 30); /* shredded users are listed too */
    assert_int_equal(warden_store_user_list(f->st, &page, NULL, WARDEN_STORE_PAGE_MAX + 1, &err),
                     WARDEN_EINVAL);
}

static void store_lmdb_persists_across_reopen(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_store_user u;
    warden_store_dek d1 = dek_of(DEK1, sizeof DEK1, 1);
    open_store(f, 0);
    assert_int_equal(warden_store_user_register(f->st, "alice", "US", 1700000000, &d1, &err), 0);
    put_ok(f->st, "alice", "messages", "m1", 1, "one");
    put_ok(f->st, "alice", "messages", "m1", 2, "two");
    put_ok(f->st, "alice", "messages", "m2", 1, "other");
    assert_int_equal(warden_store_record_delete(f->st, "alice", "messages", "m2", 1, &err), 0);
    reopen(f);
    warden_store_user_init(&u);
    assert_int_equal(warden_store_user_get(f->st, &u, "alice", &err), 0);
    assert_memory_equal(u.wrapped.p, DEK1, sizeof DEK1);
    warden_store_user_fini(&u);
    assert_record(f->st, "alice", "messages", "m1", 2, "two");
    uint64_t v;
    bool live;
    assert_int_equal(warden_store_record_head(f->st, &v, &live, "alice", "messages", "m2", &err),
                     0);
    assert_int_equal(v, 1);
    assert_false(live);
}

/* Rewrites the stored value of key in database db with mutate(), through LMDB directly,
 * while the store is closed (LMDB forbids a second handle in one process). */
static void tamper(fixture *f, const char *db, const warden_buf *key,
                   void (*mutate)(warden_buf *val))
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {key->len, key->p}, d;
    warden_buf val;
    warden_store_free(f->st);
    f->st = NULL;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
    assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    assert_int_equal(mdb_get(txn, dbi, &k, &d), 0);
    warden_buf_init(&val);
    assert_int_equal(warden_buf_append(&val, d.mv_data, d.mv_size), 0);
    mutate(&val);
    d.mv_data = val.p;
    d.mv_size = val.len;
    assert_int_equal(mdb_put(txn, dbi, &k, &d, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    warden_buf_fini(&val);
    open_store(f, 0);
}

static void flip_byte(warden_buf *val)
{
    val->p[val->len / 2] ^= 0x01;
}

static void truncate_val(warden_buf *val)
{
    val->len = 5;
}

static void store_lmdb_corrupt_value_detected(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_store_user u;
    warden_store_record r;
    warden_store_page page;
    warden_buf ukey, rkey;
    warden_store_dek d1 = dek_of(DEK1, sizeof DEK1, 1);
    open_store(f, 0);
    warden_store_user_init(&u);
    warden_store_record_init(&r);
    warden_store_page_init(&page);
    warden_buf_init(&ukey);
    warden_buf_init(&rkey);
    assert_int_equal(warden_store_user_register(f->st, "alice", "US", 1700000000, &d1, &err), 0);
    put_ok(f->st, "alice", "messages", "m1", 1, "a-ciphertext-long-enough-to-flip");
    assert_int_equal(store_key_user(&ukey, "alice", &err), 0);
    assert_int_equal(store_key_record(&rkey, "alice", "messages", "m1", &err), 0);

    tamper(f, "records", &rkey, flip_byte);
    assert_int_equal(warden_store_record_get(f->st, &r, "alice", "messages", "m1", &err),
                     WARDEN_ECORRUPT);
    assert_non_null(strstr(err.msg, "checksum"));
    assert_non_null(strstr(err.msg, "alice/messages/m1"));
    assert_int_equal(warden_store_record_list(f->st, &page, "alice", NULL, NULL, 10, &err),
                     WARDEN_ECORRUPT);
    assert_int_equal(page.n, 0);
    assert_int_equal(
        warden_store_record_put(f->st, "alice", "messages", "m1", 2, (const uint8_t *)"c", 1, &err),
        WARDEN_ECORRUPT);

    tamper(f, "users", &ukey, truncate_val);
    assert_int_equal(warden_store_user_get(f->st, &u, "alice", &err), WARDEN_ECORRUPT);
    assert_non_null(strstr(err.msg, "user alice"));
    assert_int_equal(warden_store_user_shred(f->st, "alice", 1700000001, &err), WARDEN_ECORRUPT);
    warden_store_user_fini(&u);
    warden_store_record_fini(&r);
    warden_buf_fini(&ukey);
    warden_buf_fini(&rkey);
}

/* A value copied under another key fails its check (the check covers the key). */
static void store_lmdb_moved_value_detected(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_store_record r;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    warden_buf k1, k2;
    open_store(f, 0);
    warden_store_record_init(&r);
    warden_buf_init(&k1);
    warden_buf_init(&k2);
    assert_int_equal(warden_store_user_register(f->st, "alice", "US", 1700000000, NULL, &err), 0);
    put_ok(f->st, "alice", "messages", "m1", 1, "first");
    put_ok(f->st, "alice", "messages", "m2", 1, "second");
    assert_int_equal(store_key_record(&k1, "alice", "messages", "m1", &err), 0);
    assert_int_equal(store_key_record(&k2, "alice", "messages", "m2", &err), 0);
    warden_store_free(f->st);
    f->st = NULL;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
    assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "records", 0, &dbi), 0);
    MDB_val a = {k1.len, k1.p}, b = {k2.len, k2.p}, d;
    assert_int_equal(mdb_get(txn, dbi, &a, &d), 0);
    assert_int_equal(mdb_put(txn, dbi, &b, &d, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    open_store(f, 0);
    assert_record(f->st, "alice", "messages", "m1", 1, "first");
    assert_int_equal(warden_store_record_get(f->st, &r, "alice", "messages", "m2", &err),
                     WARDEN_ECORRUPT);
    warden_store_record_fini(&r);
    warden_buf_fini(&k1);
    warden_buf_fini(&k2);
}

static void store_lmdb_map_full(void **state)
{
    fixture *f = *state;
    warden_err err;
    uint8_t blob[4096];
    char id[16];
    int rc = 0, written = 0;
    open_store(f, 256 * 1024);
    memset(blob, 0xab, sizeof blob);
    assert_int_equal(warden_store_user_register(f->st, "alice", "US", 1700000000, NULL, &err), 0);
    for (int i = 0; i < 1000 && rc == 0; i++) {
        snprintf(id, sizeof id, "r%d", i);
        rc = warden_store_record_put(f->st, "alice", "bulk", id, 1, blob, sizeof blob, &err);
        if (rc == 0)
            written++;
    }
    assert_int_equal(rc, WARDEN_ELIMIT);
    assert_non_null(strstr(err.msg, "map_size"));
    assert_true(written > 10);
    /* The failed write left nothing behind, and everything before it is intact. */
    uint64_t v;
    bool live;
    snprintf(id, sizeof id, "r%d", written);
    assert_int_equal(warden_store_record_head(f->st, &v, &live, "alice", "bulk", id, &err), 0);
    assert_int_equal(v, 0);
    warden_store_record r;
    warden_store_record_init(&r);
    assert_int_equal(warden_store_record_get(f->st, &r, "alice", "bulk", "r0", &err), 0);
    assert_int_equal(r.blob.len, sizeof blob);
    assert_memory_equal(r.blob.p, blob, sizeof blob);
    warden_store_record_fini(&r);
    /* Freeing space works again: deletes make room (tombstones are small). */
    assert_int_equal(warden_store_record_delete(f->st, "alice", "bulk", "r0", 0, &err), 0);
    /* A larger map on reopen accepts more. */
    warden_store_free(f->st);
    f->st = NULL;
    open_store(f, 4 * 1024 * 1024);
    assert_int_equal(
        warden_store_record_put(f->st, "alice", "bulk", id, 1, blob, sizeof blob, &err), 0);
}

static void store_lmdb_put_batch(void **state)
{
    fixture *f = *state;
    warden_err err;
    open_store(f, 0);
    assert_int_equal(warden_store_user_register(f->st, "alice", "US", 1700000000, NULL, &err), 0);
    assert_int_equal(warden_store_user_register(f->st, "sam", "US", 1700000000, NULL, &err), 0);
    assert_int_equal(warden_store_user_shred(f->st, "sam", 1700000001, &err), 0);
    put_ok(f->st, "alice", "m", "old", 1, "old-1");
    const uint8_t *b = (const uint8_t *)"batch";
    warden_store_put puts[] = {
        {"alice", "m", "a", 1, b, 5, 0},   /* new record */
        {"alice", "m", "a", 2, b, 5, 0},   /* builds on the previous put of the batch */
        {"alice", "m", "old", 1, b, 5, 0}, /* conflict: old is at 1 */
        {"bob", "m", "x", 1, b, 5, 0},     /* unknown user */
        {"sam", "m", "x", 1, b, 5, 0},     /* shredded user */
        {"alice", "m", "old", 2, b, 5, 0}, /* fine */
        {"alice", "m", "", 1, b, 5, 0},    /* bad id */
    };
    assert_int_equal(warden_store_record_put_batch(f->st, puts, 7, &err), 0);
    static const int want[] = {
        0, 0, WARDEN_EEXIST, WARDEN_ENOTFOUND, WARDEN_ENOTFOUND, 0, WARDEN_EINVAL};
    for (int i = 0; i < 7; i++)
        assert_int_equal(puts[i].result, want[i]);
    reopen(f);
    assert_record(f->st, "alice", "m", "a", 2, "batch");
    assert_record(f->st, "alice", "m", "old", 2, "batch");
    warden_store_record r;
    warden_store_record_init(&r);
    assert_int_equal(warden_store_record_get(f->st, &r, "sam", "m", "x", &err), WARDEN_ENOTFOUND);
    warden_store_record_fini(&r);
}

/* A batch that does not fit is all-or-nothing: nothing of it is written. */
static void store_lmdb_put_batch_map_full(void **state)
{
    fixture *f = *state;
    warden_err err;
    static uint8_t blob[4096];
    warden_store_put puts[100];
    char ids[100][8];
    open_store(f, 256 * 1024);
    assert_int_equal(warden_store_user_register(f->st, "alice", "US", 1700000000, NULL, &err), 0);
    for (int i = 0; i < 100; i++) {
        snprintf(ids[i], sizeof ids[i], "r%d", i);
        puts[i] = (warden_store_put){"alice", "bulk", ids[i], 1, blob, sizeof blob, 0};
    }
    assert_int_equal(warden_store_record_put_batch(f->st, puts, 100, &err), WARDEN_ELIMIT);
    assert_non_null(strstr(err.msg, "map_size"));
    for (int i = 0; i < 100; i++)
        assert_int_equal(puts[i].result, WARDEN_ELIMIT);
    uint64_t v = 99;
    bool live = true;
    assert_int_equal(warden_store_record_head(f->st, &v, &live, "alice", "bulk", "r0", &err), 0);
    assert_int_equal(v, 0);
    assert_false(live);
    assert_int_equal(warden_store_record_put_batch(f->st, puts, 10, &err), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(puts[i].result, 0);
}

/* ---- threads ---- */

#define THREADS 8
#define ROUNDS 40

typedef struct worker {
    warden_store *st;
    int n;
    int conflicts;
    int failures;
    int dek_wins;
} worker;

/* Each worker increments the shared counter record by compare-and-set (retrying on a
 * lost race), writes and reads back its own records, and races for carol's first DEK. */
static void *work(void *arg)
{
    worker *w = arg;
    warden_err err;
    char id[16], blob[32];
    warden_store_dek d = dek_of(DEK1, sizeof DEK1, 1);
    if (warden_store_user_set_dek(w->st, "carol", &d, &err) == 0)
        w->dek_wins++;
    else if (err.code != WARDEN_EEXIST)
        w->failures++;
    for (int i = 0; i < ROUNDS; i++) {
        for (;;) {
            uint64_t v;
            bool live;
            if (warden_store_record_head(w->st, &v, &live, "alice", "counter", "c", &err) != 0) {
                w->failures++;
                break;
            }
            snprintf(blob, sizeof blob, "t%d-i%d", w->n, i);
            int rc = warden_store_record_put(w->st, "alice", "counter", "c", v + 1,
                                             (const uint8_t *)blob, strlen(blob), &err);
            if (rc == 0)
                break;
            if (rc != WARDEN_EEXIST) {
                w->failures++;
                break;
            }
            w->conflicts++;
        }
        snprintf(id, sizeof id, "t%d-%d", w->n, i);
        snprintf(blob, sizeof blob, "own-%d-%d", w->n, i);
        if (warden_store_record_put(w->st, "alice", "own", id, 1, (const uint8_t *)blob,
                                    strlen(blob), &err) != 0)
            w->failures++;
        warden_store_record r;
        warden_store_record_init(&r);
        if (warden_store_record_get(w->st, &r, "alice", "own", id, &err) != 0 ||
            r.blob.len != strlen(blob) || memcmp(r.blob.p, blob, r.blob.len) != 0)
            w->failures++;
        warden_store_record_fini(&r);
    }
    return NULL;
}

static void store_lmdb_threads(void **state)
{
    fixture *f = *state;
    warden_err err;
    pthread_t t[THREADS];
    worker w[THREADS];
    open_store(f, 0);
    assert_int_equal(warden_store_user_register(f->st, "alice", "US", 1700000000, NULL, &err), 0);
    assert_int_equal(warden_store_user_register(f->st, "carol", "US", 1700000000, NULL, &err), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.st = f->st, .n = i};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    int wins = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
        wins += w[i].dek_wins;
    }
    assert_int_equal(wins, 1); /* exactly one first writer creates carol's DEK */
    uint64_t v;
    bool live;
    assert_int_equal(warden_store_record_head(f->st, &v, &live, "alice", "counter", "c", &err), 0);
    assert_int_equal(v, THREADS * ROUNDS); /* no increment lost, none doubled */
    warden_store_page page;
    warden_store_page_init(&page);
    size_t own = 0;
    char ac[WARDEN_STORE_COLLECTION_MAX + 1], aid[WARDEN_STORE_ID_MAX + 1];
    do {
        warden_store_page_fini(&page);
        assert_int_equal(warden_store_record_list(f->st, &page, "alice", own ? ac : NULL,
                                                  own ? aid : NULL, WARDEN_STORE_PAGE_MAX, &err),
                         0);
        for (size_t i = 0; i < page.n; i++)
            own += strcmp(page.v[i].collection, "own") == 0;
        if (page.n > 0) {
            snprintf(ac, sizeof ac, "%s", page.v[page.n - 1].collection);
            snprintf(aid, sizeof aid, "%s", page.v[page.n - 1].id);
        }
    } while (page.more);
    warden_store_page_fini(&page);
    assert_int_equal(own, THREADS * ROUNDS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(store_lmdb_user_register_get, setup, teardown),
        cmocka_unit_test_setup_teardown(store_lmdb_user_dek_set_and_rewrap, setup, teardown),
        cmocka_unit_test_setup_teardown(store_lmdb_user_shred, setup, teardown),
        cmocka_unit_test_setup_teardown(store_lmdb_record_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(store_lmdb_keys_are_unambiguous, setup, teardown),
        cmocka_unit_test_setup_teardown(store_lmdb_record_list_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(store_lmdb_user_list_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(store_lmdb_persists_across_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(store_lmdb_corrupt_value_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(store_lmdb_moved_value_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(store_lmdb_map_full, setup, teardown),
        cmocka_unit_test_setup_teardown(store_lmdb_put_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(store_lmdb_put_batch_map_full, setup, teardown),
        cmocka_unit_test_setup_teardown(store_lmdb_threads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
