/* Tests for src/crypto/keyfile.c: creation (O_EXCL, 0600), the refusal to load a file
 * others can read or that we do not own, corruption, region checks, rotation and retirement
 * surviving a reopen, and error messages free of key bytes. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto_internal.h"

typedef struct fixture {
    char dir[64];
    char path[128];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/warden-kf-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/texas.kek", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static size_t read_file(uint8_t *buf, size_t cap, const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t n = fread(buf, 1, cap, fp);
    fclose(fp);
    return n;
}

static void write_file(const char *path, const uint8_t *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, 0600), 0);
}

/* The error message holds no bytes of the file's first KEK (offset per the format). */
static void assert_no_key_in(const warden_err *err, const uint8_t *file, size_t key_off)
{
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", file[key_off + i]);
    assert_null(strstr(err->msg, hex));
    assert_null(memmem(err->msg, strlen(err->msg), file + key_off, 6));
}

static void crypto_keyfile_create_is_exclusive_and_private(void **state)
{
    fixture *f = *state;
    warden_err err;
    struct stat st;
    assert_int_equal(warden_kek_keyfile_create(f->path, "texas", &err), 0);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_uid, geteuid());
    /* Never overwrite: that would destroy every KEK in it. */
    assert_int_equal(warden_kek_keyfile_create(f->path, "texas", &err), WARDEN_EEXIST);
    assert_non_null(strstr(err.msg, f->path));
    assert_int_equal(warden_kek_keyfile_create(f->path, "bad region", &err), WARDEN_EINVAL);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no/such/dir/k", f->dir);
    assert_int_equal(warden_kek_keyfile_create(missing, "texas", &err), WARDEN_EIO);

    warden_kek *kek;
    assert_int_equal(warden_kek_keyfile_open(&kek, f->path, "texas", &err), 0);
    assert_int_equal(warden_kek_current_version(kek), 1);
    assert_string_equal(warden_kek_region(kek), "texas");
    warden_kek_free(kek);
}

static void crypto_keyfile_refuses_loose_permissions(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_kek *kek = NULL;
    uint8_t file[512];
    assert_int_equal(warden_kek_keyfile_create(f->path, "texas", &err), 0);
    read_file(file, sizeof file, f->path);
    const unsigned bad[] = {0640, 0604, 0660, 0644, 0610, 0601};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(chmod(f->path, bad[i]), 0);
        assert_int_equal(warden_kek_keyfile_open(&kek, f->path, "texas", &err), WARDEN_EDENIED);
        assert_non_null(strstr(err.msg, "group and others must have no access"));
        assert_no_key_in(&err, file, 8 + 1 + 1 + 5 + 1 + 19 + 4 + 4 + 4 + 1);
    }
    assert_int_equal(chmod(f->path, 0400), 0); /* read-only for us is fine */
    assert_int_equal(warden_kek_keyfile_open(&kek, f->path, "texas", &err), 0);
    warden_kek_free(kek);
    assert_int_equal(chmod(f->path, 0600), 0);

    /* A symbolic link is not followed. */
    char link[160];
    snprintf(link, sizeof link, "%s/link.kek", f->dir);
    assert_int_equal(symlink(f->path, link), 0);
    assert_int_equal(warden_kek_keyfile_open(&kek, link, "texas", &err), WARDEN_EDENIED);
    assert_non_null(strstr(err.msg, "symbolic link"));

    /* A directory is not a key file. */
    assert_int_equal(warden_kek_keyfile_open(&kek, f->dir, "texas", &err), WARDEN_EDENIED);

    char missing[160];
    snprintf(missing, sizeof missing, "%s/missing.kek", f->dir);
    assert_int_equal(warden_kek_keyfile_open(&kek, missing, "texas", &err), WARDEN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "warden keys init"));
}

static void crypto_keyfile_refuses_foreign_owner(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_kek *kek = NULL;
    assert_int_equal(warden_kek_keyfile_create(f->path, "texas", &err), 0);
    if (geteuid() != 0)
        skip(); /* only root can give a file away; CI runs as root */
    assert_int_equal(chown(f->path, 4242, 4242), 0);
    assert_int_equal(warden_kek_keyfile_open(&kek, f->path, "texas", &err), WARDEN_EDENIED);
    assert_non_null(strstr(err.msg, "owned by uid 4242"));
}

static void crypto_keyfile_detects_corruption(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_kek *kek = NULL;
    uint8_t file[512], copy[512];
    assert_int_equal(warden_kek_keyfile_create(f->path, "texas", &err), 0);
    size_t len = read_file(file, sizeof file, f->path);
    assert_int_equal(len, 8 + 1 + 1 + 5 + 1 + 19 + 4 + 4 + (4 + 1 + 32) + 32);
    /* Any flipped byte fails the checksum; any cut is caught too. */
    for (size_t i = 0; i < len; i++) {
        memcpy(copy, file, len);
        copy[i] ^= 0x20;
        write_file(f->path, copy, len);
        assert_int_equal(warden_kek_keyfile_open(&kek, f->path, "texas", &err), WARDEN_ECORRUPT);
        assert_no_key_in(&err, file, len - 32 - 32);
    }
    for (size_t n = 0; n < len; n += 7) {
        write_file(f->path, file, n);
        assert_int_equal(warden_kek_keyfile_open(&kek, f->path, "texas", &err), WARDEN_ECORRUPT);
    }
    write_file(f->path, file, len);
    assert_int_equal(warden_kek_keyfile_open(&kek, f->path, "texas", &err), 0);
    warden_kek_free(kek);
}

/* Rewrites the region inside a key file (same length) with a valid checksum: the same key
 * material now claims another region, which is what a copied key file looks like. */
static void patch_region(const char *path, const char *from, const char *to)
{
    uint8_t file[512];
    size_t len = read_file(file, sizeof file, path);
    uint8_t *r = memmem(file, len, from, strlen(from));
    assert_non_null(r);
    assert_int_equal(strlen(from), strlen(to));
    memcpy(r, to, strlen(to));
    unsigned int dl = 0;
    assert_int_equal(EVP_Digest(file, len - 32, file + len - 32, &dl, EVP_sha256(), NULL), 1);
    write_file(path, file, len);
}

static void crypto_keyfile_binds_region(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_kek *kek = NULL, *other = NULL;
    warden_dek *dek, *back = NULL;
    warden_buf blob;
    warden_buf_init(&blob);
    assert_int_equal(warden_kek_keyfile_create(f->path, "texas", &err), 0);
    assert_int_equal(warden_kek_keyfile_open(&kek, f->path, "virginia", &err), WARDEN_EVERIFY);
    assert_non_null(strstr(err.msg, "for region texas, not virginia"));
    assert_int_equal(warden_kek_keyfile_open(&kek, f->path, "texas", &err), 0);
    assert_int_equal(warden_dek_new(&dek, &err), 0);
    assert_int_equal(warden_kek_wrap(&blob, kek, dek, "alice", &err), 0);
    warden_kek_free(kek);

    /* Same KEK bytes and id, other region: the associated data still tells them apart. */
    patch_region(f->path, "texas", "dakar");
    assert_int_equal(warden_kek_keyfile_open(&other, f->path, "dakar", &err), 0);
    assert_int_equal(warden_kek_unwrap(&back, other, blob.p, blob.len, "alice", &err),
                     WARDEN_EVERIFY);
    assert_null(back);
    assert_non_null(strstr(err.msg, "for region dakar and user alice"));
    warden_kek_free(other);
    patch_region(f->path, "dakar", "texas");
    assert_int_equal(warden_kek_keyfile_open(&kek, f->path, "texas", &err), 0);
    assert_int_equal(warden_kek_unwrap(&back, kek, blob.p, blob.len, "alice", &err), 0);
    assert_memory_equal(back->key, dek->key, WARDEN_DEK_LEN);
    warden_kek_free(kek);
    warden_dek_free(back);
    warden_dek_free(dek);
    warden_buf_fini(&blob);
}

static void crypto_keyfile_rotation_and_retirement_are_durable(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_kek *kek = NULL;
    warden_dek *dek, *back = NULL;
    warden_buf v1, v2, re;
    warden_wrapped_info info;
    warden_buf_init(&v1);
    warden_buf_init(&v2);
    warden_buf_init(&re);
    assert_int_equal(warden_kek_keyfile_create(f->path, "texas", &err), 0);
    assert_int_equal(warden_kek_keyfile_open(&kek, f->path, "texas", &err), 0);
    assert_int_equal(warden_dek_new(&dek, &err), 0);
    assert_int_equal(warden_kek_wrap(&v1, kek, dek, "alice", &err), 0);
    uint32_t ver = 0;
    assert_int_equal(warden_kek_rotate(&ver, kek, &err), 0);
    assert_int_equal(ver, 2);
    assert_int_equal(warden_kek_current_version(kek), 2);
    assert_int_equal(warden_kek_wrap(&v2, kek, dek, "alice", &err), 0);
    assert_int_equal(warden_wrapped_parse(&info, v2.p, v2.len, &err), 0);
    assert_int_equal(info.kek_version, 2);
    warden_kek_free(kek);

    /* The new version survived a reopen, and the old one still unwraps. */
    assert_int_equal(warden_kek_keyfile_open(&kek, f->path, "texas", &err), 0);
    assert_int_equal(warden_kek_current_version(kek), 2);
    assert_int_equal(warden_kek_unwrap(&back, kek, v1.p, v1.len, "alice", &err), 0);
    assert_memory_equal(back->key, dek->key, WARDEN_DEK_LEN);
    warden_dek_free(back);
    back = NULL;
    assert_int_equal(warden_kek_rewrap(&re, kek, v1.p, v1.len, "alice", &err), 0);
    assert_int_equal(warden_wrapped_parse(&info, re.p, re.len, &err), 0);
    assert_int_equal(info.kek_version, 2);

    /* The current version cannot be retired; version 1 can, once. */
    assert_int_equal(warden_kek_retire(kek, 2, &err), WARDEN_EINVAL);
    assert_non_null(strstr(err.msg, "rotate first"));
    assert_int_equal(warden_kek_retire(kek, 9, &err), WARDEN_ENOTFOUND);
    assert_int_equal(warden_kek_retire(kek, 1, &err), 0);
    assert_int_equal(warden_kek_retire(kek, 1, &err), WARDEN_ENOTFOUND);
    assert_int_equal(warden_kek_unwrap(&back, kek, v1.p, v1.len, "alice", &err), WARDEN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "retired"));
    warden_kek_free(kek);

    /* Retirement is durable and erased the key bytes from the file. */
    assert_int_equal(warden_kek_keyfile_open(&kek, f->path, "texas", &err), 0);
    assert_int_equal(warden_kek_unwrap(&back, kek, v1.p, v1.len, "alice", &err), WARDEN_ENOTFOUND);
    assert_int_equal(warden_kek_unwrap(&back, kek, v2.p, v2.len, "alice", &err), 0);
    warden_dek_free(back);
    back = NULL;
    assert_int_equal(warden_kek_unwrap(&back, kek, re.p, re.len, "alice", &err), 0);
    assert_memory_equal(back->key, dek->key, WARDEN_DEK_LEN);
    uint8_t file[512];
    static const uint8_t zero[32];
    size_t len = read_file(file, sizeof file, f->path);
    size_t first = 8 + 1 + 1 + 5 + 1 + 19 + 4 + 4;
    assert_int_equal(len, first + 2 * (4 + 1 + 32) + 32);
    assert_int_equal(file[first + 4], 2); /* state: retired */
    assert_memory_equal(file + first + 5, zero, 32);
    assert_int_equal(file[first + 37 + 4], 1); /* version 2 live */
    assert_memory_not_equal(file + first + 37 + 5, zero, 32);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    warden_kek_free(kek);
    warden_dek_free(back);
    warden_dek_free(dek);
    warden_buf_fini(&v1);
    warden_buf_fini(&v2);
    warden_buf_fini(&re);
}

static void crypto_keyfile_failed_rotation_changes_nothing(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_kek *kek = NULL;
    uint32_t ver = 0;
    assert_int_equal(warden_kek_keyfile_create(f->path, "texas", &err), 0);
    assert_int_equal(warden_kek_keyfile_open(&kek, f->path, "texas", &err), 0);
    /* The directory vanishes: the new version cannot be made durable. */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(warden_kek_rotate(&ver, kek, &err), WARDEN_EIO);
    assert_non_null(strstr(err.msg, "rotating KEK kf-"));
    assert_int_equal(warden_kek_current_version(kek), 1);
    assert_int_equal(warden_kek_retire(kek, 1, &err), WARDEN_EINVAL);
    warden_kek_free(kek);
    assert_int_equal(mkdir(f->dir, 0700), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(crypto_keyfile_create_is_exclusive_and_private, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(crypto_keyfile_refuses_loose_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(crypto_keyfile_refuses_foreign_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(crypto_keyfile_detects_corruption, setup, teardown),
        cmocka_unit_test_setup_teardown(crypto_keyfile_binds_region, setup, teardown),
        cmocka_unit_test_setup_teardown(crypto_keyfile_rotation_and_retirement_are_durable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(crypto_keyfile_failed_rotation_changes_nothing, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
