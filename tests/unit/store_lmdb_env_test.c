/* Tests for src/store/lmdb_env.c: the data directory (created 0700, refused when others
 * can enter it or when it is a symbolic link), one open per directory per process, and a
 * foreign format marker. Backups are checked with shredding in store_lmdb_test.c. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "warden/store.h"

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

static void store_lmdb_env_creates_private_dir(void **state)
{
    fixture *f = *state;
    struct stat st;
    char path[160];
    open_store(f, 0);
    assert_string_equal(warden_store_backend(f->st), "lmdb");
    assert_int_equal(stat(f->dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/data.mdb", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void store_lmdb_env_refuses_loose_dir(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_store_lmdb_config cfg = {.dir = f->dir};
    char parent[128];
    snprintf(parent, sizeof parent, "%s/region", f->root);
    assert_int_equal(mkdir(parent, 0700), 0);
    assert_int_equal(mkdir(f->dir, 0700), 0);
    assert_int_equal(chmod(f->dir, 0750), 0);
    assert_int_equal(warden_store_lmdb_open(&f->st, &cfg, &err), WARDEN_EDENIED);
    assert_non_null(strstr(err.msg, "chmod 700"));
    assert_int_equal(chmod(f->dir, 0700), 0);
    /* A symbolic link to a good directory is refused too (it could be re-pointed). */
    char link[160];
    snprintf(link, sizeof link, "%s/link", f->root);
    assert_int_equal(symlink(f->dir, link), 0);
    cfg.dir = link;
    assert_int_equal(warden_store_lmdb_open(&f->st, &cfg, &err), WARDEN_EDENIED);
    assert_null(f->st);
    open_store(f, 0);
}

static void store_lmdb_env_open_twice_refused(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_store *again = NULL;
    warden_store_lmdb_config cfg = {.dir = f->dir};
    open_store(f, 0);
    assert_int_equal(warden_store_lmdb_open(&again, &cfg, &err), WARDEN_EINVAL);
    assert_non_null(strstr(err.msg, "already open"));
    assert_null(again);
    reopen(f); /* closing releases the directory */
    cfg.dir = "";
    assert_int_equal(warden_store_lmdb_open(&again, &cfg, &err), WARDEN_EINVAL);
}

static void store_lmdb_env_foreign_format_refused(void **state)
{
    fixture *f = *state;
    warden_err err;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    open_store(f, 0);
    warden_store_free(f->st);
    f->st = NULL;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
    assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    MDB_val k = {6, "format"}, d = {14, "warden-store 9"};
    assert_int_equal(mdb_put(txn, dbi, &k, &d, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    warden_store_lmdb_config cfg = {.dir = f->dir};
    assert_int_equal(warden_store_lmdb_open(&f->st, &cfg, &err), WARDEN_ECORRUPT);
    assert_non_null(strstr(err.msg, "unknown format"));
    assert_null(f->st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(store_lmdb_env_creates_private_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(store_lmdb_env_refuses_loose_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(store_lmdb_env_open_twice_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(store_lmdb_env_foreign_format_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
