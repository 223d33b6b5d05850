/* Key files: generation (0600, never inside the log directory, never overwritten), loading,
 * and that a generated key signs notes its verifier key accepts. */
#include "tlog_testutil.h"

#include <sys/stat.h>

static void tlog_notekey_generate_and_use(void **state)
{
    (void)state;
    const char *dir = scratch_dir("notekey");
    char key[4200], logdir[4200];
    snprintf(key, sizeof key, "%s/signer.key", dir);
    snprintf(logdir, sizeof logdir, "%s/log", dir);
    warden_err e;
    assert_int_equal(warden_tlog_key_generate(key, "example.com/log", logdir, &e), 0);
    struct stat st;
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Never overwritten. */
    assert_int_equal(warden_tlog_key_generate(key, "example.com/log", NULL, &e), WARDEN_EEXIST);

    warden_tlog_signer *s = NULL;
    warden_tlog_verifier *v = NULL;
    warden_buf vk, note;
    warden_buf_init(&vk);
    warden_buf_init(&note);
    assert_int_equal(warden_tlog_signer_load(&s, key, &e), 0);
    assert_string_equal(warden_tlog_signer_name(s), "example.com/log");
    assert_int_equal(warden_tlog_signer_vkey(&vk, s, &e), 0);
    assert_int_equal(warden_tlog_verifier_new(&v, (char *)vk.p, vk.len, &e), 0);
    const char *text = "hello\n";
    assert_int_equal(warden_tlog_note_sign(&note, (const uint8_t *)text, 6, s, &e), 0);
    size_t tlen;
    const warden_tlog_verifier *known[1] = {v};
    assert_int_equal(warden_tlog_note_open(&tlen, note.p, note.len, known, 1, &e), 0);
    assert_int_equal(tlen, 6);
    warden_tlog_signer_free(s);
    warden_tlog_verifier_free(v);
    warden_buf_fini(&vk);
    warden_buf_fini(&note);
    remove_tree(dir);
}

static void tlog_notekey_refuses_log_dir(void **state)
{
    (void)state;
    const char *dir = scratch_dir("notekey-inside");
    char key[4200], sub[4200], link[4200], key2[4300];
    warden_err e;
    snprintf(sub, sizeof sub, "%s/log/tile", dir);
    assert_int_equal(warden_mkdir_p(sub, &e), 0);
    snprintf(key, sizeof key, "%s/log/tile/k.key", dir);
    snprintf(link, sizeof link, "%s/log", dir);
    assert_int_equal(warden_tlog_key_generate(key, "n", link, &e), WARDEN_EINVAL);
    snprintf(key, sizeof key, "%s/log/k.key", dir);
    assert_int_equal(warden_tlog_key_generate(key, "n", link, &e), WARDEN_EINVAL);
    /* Through a symlink to the log directory: still inside. */
    snprintf(link, sizeof link, "%s/alias", dir);
    snprintf(sub, sizeof sub, "%s/log", dir);
    assert_int_equal(symlink(sub, link), 0);
    snprintf(key2, sizeof key2, "%s/k.key", link);
    assert_int_equal(warden_tlog_key_generate(key2, "n", sub, &e), WARDEN_EINVAL);
    struct stat st;
    assert_int_not_equal(stat(key2, &st), 0);
    /* A sibling directory whose name starts like the log's is not inside. */
    snprintf(sub, sizeof sub, "%s/log2", dir);
    assert_int_equal(warden_mkdir_p(sub, &e), 0);
    snprintf(key2, sizeof key2, "%s/log2/k.key", dir);
    snprintf(link, sizeof link, "%s/log", dir);
    assert_int_equal(warden_tlog_key_generate(key2, "n", link, &e), 0);
    remove_tree(dir);
}

static void tlog_notekey_bad_name_and_file(void **state)
{
    (void)state;
    const char *dir = scratch_dir("notekey-bad");
    char key[4200];
    warden_err e;
    warden_tlog_signer *s = NULL;
    snprintf(key, sizeof key, "%s/k.key", dir);
    assert_int_equal(warden_tlog_key_generate(key, "has space", NULL, &e), WARDEN_EINVAL);
    assert_int_equal(warden_tlog_key_generate(key, "a+b", NULL, &e), WARDEN_EINVAL);
    assert_int_equal(warden_tlog_key_generate(key, "", NULL, &e), WARDEN_EINVAL);
    assert_int_equal(warden_tlog_signer_load(&s, key, &e), WARDEN_ENOTFOUND);
    FILE *f = fopen(key, "w");
    assert_non_null(f);
    fputs("PRIVATE+KEY+x+00000000+AAAA\n", f);
    fclose(f);
    assert_int_equal(warden_tlog_signer_load(&s, key, &e), WARDEN_EPARSE);
    assert_non_null(strstr(e.msg, key));
    remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tlog_notekey_generate_and_use),
        cmocka_unit_test(tlog_notekey_refuses_log_dir),
        cmocka_unit_test(tlog_notekey_bad_name_and_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
