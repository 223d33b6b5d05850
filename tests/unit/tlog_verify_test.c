/* The auditor's verifier rejects every kind of tampering with an error naming the file and
 * the index, and reads entries back. (The CLI's tamper tests drive the same code.) */
#include "tlog_testutil.h"

#include <sys/stat.h>
#include <unistd.h>

typedef struct env {
    char dir[1024];
    char key[1100];
    warden_tlog_signer *s;
    warden_tlog_verifier *v;
} env;

/* A log of 70,000 entries has full and partial tiles at levels 0, 1 and 2. */
static int setup(void **state)
{
    env *x = calloc(1, sizeof *x);
    warden_err e;
    warden_buf vk;
    warden_tlog_appender *a = NULL;
    snprintf(x->dir, sizeof x->dir, "%s", scratch_dir("verify"));
    snprintf(x->key, sizeof x->key, "%s.key", x->dir);
    unlink(x->key);
    assert_int_equal(warden_tlog_key_generate(x->key, "verify.example", NULL, &e), 0);
    assert_int_equal(warden_tlog_signer_load(&x->s, x->key, &e), 0);
    warden_buf_init(&vk);
    assert_int_equal(warden_tlog_signer_vkey(&vk, x->s, &e), 0);
    assert_int_equal(warden_tlog_verifier_new(&x->v, (char *)vk.p, vk.len, &e), 0);
    warden_buf_fini(&vk);
    assert_int_equal(warden_tlog_create(x->dir, "verify.example", x->s, &e), 0);
    assert_int_equal(warden_tlog_appender_new(&a, x->dir, x->s, NULL, &e), 0);
    enum { N = 70000 };
    static char text[N][12];
    static const uint8_t *ents[N];
    static size_t lens[N];
    for (int i = 0; i < N; i++) {
        lens[i] = (size_t)snprintf(text[i], sizeof text[i], "entry %d", i);
        ents[i] = (const uint8_t *)text[i];
    }
    uint64_t first;
    for (int i = 0; i < N; i += 35000)
        assert_int_equal(warden_tlog_append_many(&first, a, ents + i, lens + i, 35000, &e), 0);
    warden_tlog_appender_free(a);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    env *x = *state;
    warden_tlog_signer_free(x->s);
    warden_tlog_verifier_free(x->v);
    remove_tree(x->dir);
    unlink(x->key);
    free(x);
    return 0;
}

static int run_verify(env *x, warden_err *e)
{
    warden_tlog_source *src = NULL;
    warden_tlog_checkpoint cp;
    assert_int_equal(warden_tlog_source_dir_new(&src, x->dir, e), 0);
    int rc = warden_tlog_verify(&cp, src, x->v, e);
    if (rc == 0)
        assert_int_equal(cp.size, 70000);
    warden_tlog_source_free(src);
    return rc;
}

static void edit(env *x, const char *rel, long off, int mode)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", x->dir, rel);
    if (mode == 't') { /* truncate by one byte */
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(truncate(p, st.st_size - 1), 0);
        return;
    }
    if (mode == 'a') { /* append one byte */
        FILE *f = fopen(p, "a");
        fputc('!', f);
        fclose(f);
        return;
    }
    FILE *f = fopen(p, "r+");
    assert_non_null(f);
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ 1, f);
    fclose(f);
}

/* One tampering per case; each must fail with code and a message naming `want`. */
typedef struct tamper {
    const char *file;
    long off;
    int mode; /* 'f' flip, 't' truncate, 'a' append, 'd' delete */
    int code;
    const char *want;
} tamper;

static void tlog_verify_tamper(void **state)
{
    env *x = *state;
    warden_err e;
    assert_int_equal(run_verify(x, &e), 0);
    static const tamper cases[] = {
        {"tile/entries/017", 100, 'f', WARDEN_EVERIFY, "tile/entries/017"},
        {"tile/entries/017", 0, 'f', WARDEN_ECORRUPT, "tile/entries/017"},
        {"tile/entries/273.p/112", 30, 'f', WARDEN_EVERIFY, "entry 69890"},
        {"tile/0/005", 32 * 9, 'f', WARDEN_EVERIFY, "entry 1289"},
        {"tile/0/273.p/112", 32 * 111 + 5, 'f', WARDEN_EVERIFY, "tile/0/273.p/112"},
        {"tile/1/000", 32 * 200, 'f', WARDEN_EVERIFY, "tile/0/200"},
        {"tile/1/001.p/17", 32 * 16, 'f', WARDEN_EVERIFY, "tile/1/001.p/17"},
        {"tile/2/000.p/1", 3, 'f', WARDEN_EVERIFY, "tile/2/000.p/1"},
        {"tile/0/005", 0, 't', WARDEN_ECORRUPT, "tile/0/005"},
        {"tile/0/005", 0, 'a', WARDEN_ECORRUPT, "tile/0/005"},
        {"tile/entries/007", 0, 'a', WARDEN_ECORRUPT, "tile/entries/007"},
        {"tile/entries/007", 0, 't', WARDEN_ECORRUPT, "tile/entries/007"},
        {"tile/entries/007", 0, 'd', WARDEN_ENOTFOUND, "tile/entries/007"},
        {"tile/1/000", 0, 'd', WARDEN_ENOTFOUND, "tile/1/000"},
        {"checkpoint", 16, 'f', WARDEN_EVERIFY, "checkpoint"},
        {"checkpoint", -20, 'f', WARDEN_EVERIFY, "checkpoint"},
        {"checkpoint", 0, 'd', WARDEN_ENOTFOUND, "checkpoint"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const tamper *t = &cases[i];
        char p[1200], saved[1300];
        snprintf(p, sizeof p, "%s/%s", x->dir, t->file);
        snprintf(saved, sizeof saved, "%s.saved", p);
        char cmd[2700];
        snprintf(cmd, sizeof cmd, "cp -p '%s' '%s'", p, saved);
        assert_int_equal(system(cmd), 0);
        if (t->mode == 'd') {
            assert_int_equal(unlink(p), 0);
        } else {
            long off = t->off;
            if (off < 0) {
                struct stat st;
                assert_int_equal(stat(p, &st), 0);
                off += st.st_size;
            }
            edit(x, t->file, off, t->mode);
        }
        int rc = run_verify(x, &e);
        if (rc != t->code || strstr(e.msg, t->want) == NULL)
            fail_msg("case %zu (%s %c): rc %d, message '%s'", i, t->file, t->mode, rc, e.msg);
        assert_int_equal(rename(saved, p), 0);
        assert_int_equal(run_verify(x, &e), 0);
    }
}

static void tlog_verify_wrong_key(void **state)
{
    env *x = *state;
    warden_err e;
    warden_tlog_source *src = NULL;
    warden_tlog_checkpoint cp;
    warden_buf sk;
    warden_tlog_verifier *go = NULL;
    vec_read(&sk, "go-example.vkey");
    assert_int_equal(warden_tlog_verifier_new(&go, (char *)sk.p, sk.len, &e), 0);
    assert_int_equal(warden_tlog_source_dir_new(&src, x->dir, &e), 0);
    assert_int_equal(warden_tlog_verify(&cp, src, go, &e), WARDEN_EVERIFY);
    warden_tlog_verifier_free(go);
    warden_tlog_source_free(src);
    warden_buf_fini(&sk);
}

static void tlog_verify_entries(void **state)
{
    env *x = *state;
    warden_err e;
    warden_tlog_source *src = NULL;
    warden_buf b;
    warden_buf_init(&b);
    assert_int_equal(warden_tlog_source_dir_new(&src, x->dir, &e), 0);
    const uint64_t idx[] = {0, 255, 256, 69887, 69888, 69999};
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
        char want[32];
        int n = snprintf(want, sizeof want, "entry %llu", (unsigned long long)idx[i]);
        b.len = 0;
        assert_int_equal(warden_tlog_source_entry(&b, src, 70000, idx[i], &e), 0);
        assert_int_equal(b.len, (size_t)n);
        assert_memory_equal(b.p, want, b.len);
    }
    assert_int_equal(warden_tlog_source_entry(&b, src, 70000, 70000, &e), WARDEN_EINVAL);
    warden_tlog_source_free(src);
    warden_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tlog_verify_tamper),
        cmocka_unit_test(tlog_verify_wrong_key),
        cmocka_unit_test(tlog_verify_entries),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
