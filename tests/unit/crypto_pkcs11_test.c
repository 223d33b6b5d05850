/* Tests for src/crypto/pkcs11.c against a real SoftHSM2 token that each test initialises in
 * a temporary directory (SOFTHSM2_CONF -> its own tokendir; softhsm2-util --init-token):
 * round trip, key attributes really non-extractable, rotation, retirement, PIN errors, and
 * blobs from another region, user or provider. WARDEN_SOFTHSM_MODULE overrides the module
 * path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/crypto_internal.h"

#define TOKEN "warden-test"
#define PIN "12345678"
#define SO_PIN "87654321"

typedef struct fixture {
    char dir[64];
    char conf[128];
    warden_pkcs11_config cfg;
} fixture;

static const char *module_path(void)
{
    const char *m = getenv("WARDEN_SOFTHSM_MODULE");
    return m ? m : "/usr/lib/softhsm/libsofthsm2.so";
}

/* Runs softhsm2-util with its output discarded; returns its exit status. */
static int softhsm_util(const char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/warden-p11-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    char tokens[128];
    snprintf(tokens, sizeof tokens, "%s/tokens", f->dir);
    if (mkdir(tokens, 0700) != 0)
        return -1;
    snprintf(f->conf, sizeof f->conf, "%s/softhsm2.conf", f->dir);
    FILE *fp = fopen(f->conf, "w");
    if (fp == NULL)
        return -1;
    fprintf(fp, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens);
    fclose(fp);
    setenv("SOFTHSM2_CONF", f->conf, 1);
    const char *init[] = {"softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--pin", PIN,
                          "--so-pin",      SO_PIN,         NULL};
    if (softhsm_util(init) != 0) {
        fprintf(stderr, "softhsm2-util --init-token failed (is softhsm2 installed?)\n");
        return -1;
    }
    f->cfg.module = module_path();
    f->cfg.token_label = TOKEN;
    f->cfg.pin = PIN;
    f->cfg.region = "texas";
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    unsetenv("SOFTHSM2_CONF");
    free(f);
    return rc == 0 ? 0 : -1;
}

static warden_kek *open_kek(fixture *f, const char *region)
{
    warden_err err;
    warden_kek *kek = NULL;
    warden_pkcs11_config cfg = f->cfg;
    cfg.region = region;
    int rc = warden_kek_pkcs11_open(&kek, &cfg, &err);
    if (rc != 0)
        fail_msg("open %s: %s", region, err.msg);
    return kek;
}

static void crypto_pkcs11_round_trip(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_kek *kek = NULL;
    warden_dek *dek, *back = NULL;
    warden_buf blob;
    warden_wrapped_info info;
    warden_buf_init(&blob);
    /* No KEK yet: open says how to make one. */
    assert_int_equal(warden_kek_pkcs11_open(&kek, &f->cfg, &err), WARDEN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "warden-kek-texas-v<N>"));
    assert_int_equal(warden_kek_pkcs11_create(&f->cfg, &err), 0);
    assert_int_equal(warden_kek_pkcs11_create(&f->cfg, &err), WARDEN_EEXIST);
    kek = open_kek(f, "texas");
    assert_int_equal(warden_kek_current_version(kek), 1);
    assert_int_equal(warden_dek_new(&dek, &err), 0);
    assert_int_equal(warden_kek_wrap(&blob, kek, dek, "alice", &err), 0);
    assert_int_equal(warden_wrapped_parse(&info, blob.p, blob.len, &err), 0);
    assert_int_equal(info.provider, WARDEN_KEK_PKCS11);
    assert_string_equal(info.kek_id, "warden-kek-texas");
    assert_string_equal(warden_kek_id(kek), "warden-kek-texas");
    assert_int_equal(info.kek_version, 1);
    assert_int_equal(warden_kek_unwrap(&back, kek, blob.p, blob.len, "alice", &err), 0);
    assert_memory_equal(back->key, dek->key, WARDEN_DEK_LEN);
    warden_dek_free(back);
    back = NULL;
    warden_kek_free(kek);

    /* A new process (here: a new open) unwraps it with the token's key. */
    kek = open_kek(f, "texas");
    assert_int_equal(warden_kek_unwrap(&back, kek, blob.p, blob.len, "alice", &err), 0);
    assert_memory_equal(back->key, dek->key, WARDEN_DEK_LEN);
    warden_dek_free(back);
    back = NULL;

    /* Tampering is detected inside the token and reported as a verification failure. */
    blob.p[blob.len - 1] ^= 1;
    assert_int_equal(warden_kek_unwrap(&back, kek, blob.p, blob.len, "alice", &err),
                     WARDEN_EVERIFY);
    assert_non_null(strstr(err.msg, "does not verify"));
    blob.p[blob.len - 1] ^= 1;
    blob.p[blob.len - 30] ^= 1; /* ciphertext */
    assert_int_equal(warden_kek_unwrap(&back, kek, blob.p, blob.len, "alice", &err),
                     WARDEN_EVERIFY);
    blob.p[blob.len - 30] ^= 1;
    assert_int_equal(warden_kek_unwrap(&back, kek, blob.p, blob.len, "bob", &err), WARDEN_EVERIFY);
    assert_non_null(strstr(err.msg, "user bob"));
    assert_null(back);
    warden_kek_free(kek);
    warden_dek_free(dek);
    warden_buf_fini(&blob);
}

/* Looks at the KEK the way an attacker holding the PIN would: straight through the module. */
static void crypto_pkcs11_kek_is_not_extractable(void **state)
{
    fixture *f = *state;
    warden_err err;
    assert_int_equal(warden_kek_pkcs11_create(&f->cfg, &err), 0);

    void *dl = dlopen(module_path(), RTLD_NOW | RTLD_LOCAL);
    assert_non_null(dl);
    CK_C_GetFunctionList get = NULL;
    *(void **)&get = dlsym(dl, "C_GetFunctionList");
    assert_non_null(get);
    CK_FUNCTION_LIST_PTR fl = NULL;
    assert_int_equal(get(&fl), CKR_OK);
    assert_int_equal(fl->C_Initialize(NULL), CKR_OK);
    CK_SLOT_ID slots[8];
    CK_ULONG n = 8;
    assert_int_equal(fl->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    CK_SESSION_HANDLE s = 0;
    int found = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        assert_int_equal(fl->C_GetTokenInfo(slots[i], &ti), CKR_OK);
        if (memcmp(ti.label, TOKEN, strlen(TOKEN)) == 0) {
            assert_int_equal(
                fl->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s),
                CKR_OK);
            found = 1;
        }
    }
    assert_true(found);
    assert_int_equal(fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)PIN, strlen(PIN)), CKR_OK);
    char label[] = "warden-kek-texas-v1";
    CK_ATTRIBUTE q = {CKA_LABEL, label, strlen(label)};
    CK_OBJECT_HANDLE h;
    CK_ULONG got = 0;
    assert_int_equal(fl->C_FindObjectsInit(s, &q, 1), CKR_OK);
    assert_int_equal(fl->C_FindObjects(s, &h, 1, &got), CKR_OK);
    assert_int_equal(fl->C_FindObjectsFinal(s), CKR_OK);
    assert_int_equal(got, 1);

    CK_BBOOL sens = 0, extr = 1, tok = 0, asens = 0, nextr = 0;
    CK_ULONG vlen = 0;
    CK_KEY_TYPE kt = 0;
    CK_ATTRIBUTE a[] = {{CKA_SENSITIVE, &sens, sizeof sens},
                        {CKA_EXTRACTABLE, &extr, sizeof extr},
                        {CKA_TOKEN, &tok, sizeof tok},
                        {CKA_ALWAYS_SENSITIVE, &asens, sizeof asens},
                        {CKA_NEVER_EXTRACTABLE, &nextr, sizeof nextr},
                        {CKA_VALUE_LEN, &vlen, sizeof vlen},
                        {CKA_KEY_TYPE, &kt, sizeof kt}};
    assert_int_equal(fl->C_GetAttributeValue(s, h, a, 7), CKR_OK);
    assert_int_equal(sens, CK_TRUE);
    assert_int_equal(extr, CK_FALSE);
    assert_int_equal(tok, CK_TRUE);
    assert_int_equal(asens, CK_TRUE);
    assert_int_equal(nextr, CK_TRUE);
    assert_int_equal(vlen, 32);
    assert_int_equal(kt, CKK_AES);

    /* Its value cannot be read... */
    uint8_t value[64];
    CK_ATTRIBUTE v = {CKA_VALUE, value, sizeof value};
    assert_int_equal(fl->C_GetAttributeValue(s, h, &v, 1), CKR_ATTRIBUTE_SENSITIVE);
    assert_true(v.ulValueLen == CK_UNAVAILABLE_INFORMATION);
    /* ...nor wrapped out under a key we control... */
    CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
    CK_ULONG len32 = 32;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE wt[] = {{CKA_VALUE_LEN, &len32, sizeof len32},
                         {CKA_TOKEN, &no, sizeof no},
                         {CKA_WRAP, &yes, sizeof yes},
                         {CKA_ENCRYPT, &yes, sizeof yes}};
    CK_OBJECT_HANDLE wk;
    assert_int_equal(fl->C_GenerateKey(s, &gen, wt, 4, &wk), CKR_OK);
    CK_MECHANISM kw = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
    uint8_t wrapped[128];
    CK_ULONG wlen = sizeof wrapped;
    CK_RV rv = fl->C_WrapKey(s, &kw, wk, h, wrapped, &wlen);
    assert_int_equal(rv, CKR_KEY_UNEXTRACTABLE);
    /* ...nor made extractable again. */
    CK_ATTRIBUTE flip = {CKA_EXTRACTABLE, &yes, sizeof yes};
    assert_int_not_equal(fl->C_SetAttributeValue(s, h, &flip, 1), CKR_OK);
    CK_ATTRIBUTE unsens = {CKA_SENSITIVE, &no, sizeof no};
    assert_int_not_equal(fl->C_SetAttributeValue(s, h, &unsens, 1), CKR_OK);
    assert_int_equal(fl->C_CloseSession(s), CKR_OK);
    assert_int_equal(fl->C_Finalize(NULL), CKR_OK);
}

static void crypto_pkcs11_rotation_and_retirement(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_dek *dek, *back = NULL;
    warden_buf v1, v2, re;
    warden_wrapped_info info;
    warden_buf_init(&v1);
    warden_buf_init(&v2);
    warden_buf_init(&re);
    assert_int_equal(warden_kek_pkcs11_create(&f->cfg, &err), 0);
    warden_kek *kek = open_kek(f, "texas");
    assert_int_equal(warden_dek_new(&dek, &err), 0);
    assert_int_equal(warden_kek_wrap(&v1, kek, dek, "alice", &err), 0);
    uint32_t ver = 0;
    assert_int_equal(warden_kek_rotate(&ver, kek, &err), 0);
    assert_int_equal(ver, 2);
    assert_int_equal(warden_kek_wrap(&v2, kek, dek, "alice", &err), 0);
    assert_int_equal(warden_wrapped_parse(&info, v2.p, v2.len, &err), 0);
    assert_int_equal(info.kek_version, 2);
    /* Two versions, two different keys: the same DEK wraps differently under each. */
    assert_int_equal(warden_kek_unwrap(&back, kek, v1.p, v1.len, "alice", &err), 0);
    assert_memory_equal(back->key, dek->key, WARDEN_DEK_LEN);
    warden_dek_free(back);
    back = NULL;
    warden_kek_free(kek);

    /* Versions are found again from the token's labels. */
    kek = open_kek(f, "texas");
    assert_int_equal(warden_kek_current_version(kek), 2);
    assert_int_equal(warden_kek_rewrap(&re, kek, v1.p, v1.len, "alice", &err), 0);
    assert_int_equal(warden_wrapped_parse(&info, re.p, re.len, &err), 0);
    assert_int_equal(info.kek_version, 2);
    assert_int_equal(warden_kek_retire(kek, 2, &err), WARDEN_EINVAL);
    assert_int_equal(warden_kek_retire(kek, 1, &err), 0);
    assert_int_equal(warden_kek_retire(kek, 1, &err), WARDEN_ENOTFOUND);
    assert_int_equal(warden_kek_unwrap(&back, kek, v1.p, v1.len, "alice", &err), WARDEN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "version 1"));
    warden_kek_free(kek);

    /* The token object is gone for good. */
    kek = open_kek(f, "texas");
    assert_int_equal(warden_kek_unwrap(&back, kek, v1.p, v1.len, "alice", &err), WARDEN_ENOTFOUND);
    assert_int_equal(warden_kek_unwrap(&back, kek, re.p, re.len, "alice", &err), 0);
    assert_memory_equal(back->key, dek->key, WARDEN_DEK_LEN);
    warden_dek_free(back);
    back = NULL;
    assert_int_equal(warden_kek_unwrap(&back, kek, v2.p, v2.len, "alice", &err), 0);
    warden_dek_free(back);
    assert_int_equal(warden_kek_rotate(&ver, kek, &err), 0);
    assert_int_equal(ver, 3);
    warden_kek_free(kek);
    warden_dek_free(dek);
    warden_buf_fini(&v1);
    warden_buf_fini(&v2);
    warden_buf_fini(&re);
}

static void crypto_pkcs11_login_and_config_errors(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_kek *kek = NULL;
    assert_int_equal(warden_kek_pkcs11_create(&f->cfg, &err), 0);
    warden_pkcs11_config cfg = f->cfg;
    cfg.pin = "00000000";
    assert_int_equal(warden_kek_pkcs11_open(&kek, &cfg, &err), WARDEN_EDENIED);
    assert_non_null(strstr(err.msg, "incorrect PIN"));
    assert_null(strstr(err.msg, "00000000")); /* the PIN is never echoed */
    assert_null(kek);

    cfg = f->cfg;
    cfg.pin = NULL;
    cfg.pin_env = "WARDEN_TEST_PKCS11_PIN";
    unsetenv("WARDEN_TEST_PKCS11_PIN");
    assert_int_equal(warden_kek_pkcs11_open(&kek, &cfg, &err), WARDEN_EINVAL);
    assert_non_null(strstr(err.msg, "WARDEN_TEST_PKCS11_PIN"));
    setenv("WARDEN_TEST_PKCS11_PIN", PIN, 1);
    assert_int_equal(warden_kek_pkcs11_open(&kek, &cfg, &err), 0);
    warden_kek_free(kek);
    kek = NULL;
    unsetenv("WARDEN_TEST_PKCS11_PIN");

    cfg = f->cfg;
    cfg.token_label = "no-such-token";
    assert_int_equal(warden_kek_pkcs11_open(&kek, &cfg, &err), WARDEN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no-such-token"));
    cfg = f->cfg;
    cfg.module = "/nonexistent/libpkcs11.so";
    assert_int_equal(warden_kek_pkcs11_open(&kek, &cfg, &err), WARDEN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/nonexistent/libpkcs11.so"));
    cfg = f->cfg;
    cfg.region = "bad/region";
    assert_int_equal(warden_kek_pkcs11_open(&kek, &cfg, &err), WARDEN_EINVAL);
    cfg = f->cfg;
    cfg.region = "singapore"; /* logs in fine, but has no KEK */
    assert_int_equal(warden_kek_pkcs11_open(&kek, &cfg, &err), WARDEN_ENOTFOUND);
    assert_int_equal(warden_kek_pkcs11_open(&kek, NULL, &err), WARDEN_EINVAL);
    assert_null(kek);
}

static void crypto_pkcs11_blob_from_another_region_fails(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_dek *dek, *back = NULL;
    warden_buf tb, kb;
    warden_buf_init(&tb);
    warden_buf_init(&kb);
    warden_pkcs11_config va = f->cfg;
    va.region = "virginia";
    assert_int_equal(warden_kek_pkcs11_create(&f->cfg, &err), 0);
    assert_int_equal(warden_kek_pkcs11_create(&va, &err), 0);
    /* Both regions' KEKs open at once on one token and one module. */
    warden_kek *texas = open_kek(f, "texas");
    warden_kek *virginia = open_kek(f, "virginia");
    assert_int_equal(warden_dek_new(&dek, &err), 0);
    assert_int_equal(warden_kek_wrap(&tb, texas, dek, "alice", &err), 0);
    assert_int_equal(warden_kek_unwrap(&back, virginia, tb.p, tb.len, "alice", &err),
                     WARDEN_EVERIFY);
    assert_non_null(strstr(err.msg, "KEK warden-kek-texas, not by region virginia's"));
    /* Relabelled as virginia's: the token's GCM check fails (other key, other AAD). */
    uint8_t moved[128];
    assert_true(tb.len + 3 <= sizeof moved);
    memcpy(moved, tb.p, 4);
    moved[4] = (uint8_t)strlen("warden-kek-virginia");
    memcpy(moved + 5, "warden-kek-virginia", moved[4]);
    memcpy(moved + 5 + moved[4], tb.p + 5 + tb.p[4], tb.len - 5 - tb.p[4]);
    size_t mlen = tb.len + 3;
    assert_int_equal(warden_kek_unwrap(&back, virginia, moved, mlen, "alice", &err),
                     WARDEN_EVERIFY);
    assert_non_null(strstr(err.msg, "does not verify"));
    assert_null(back);
    assert_int_equal(warden_kek_unwrap(&back, texas, tb.p, tb.len, "alice", &err), 0);
    warden_dek_free(back);
    back = NULL;
    warden_kek_free(virginia);
    /* texas keeps working after virginia's session closed. */
    assert_int_equal(warden_kek_unwrap(&back, texas, tb.p, tb.len, "alice", &err), 0);
    warden_dek_free(back);
    back = NULL;

    /* A key file blob is refused by the PKCS#11 KEK, naming the provider. */
    char path[128];
    warden_kek *kf = NULL;
    snprintf(path, sizeof path, "%s/texas.kek", f->dir);
    assert_int_equal(warden_kek_keyfile_create(path, "texas", &err), 0);
    assert_int_equal(warden_kek_keyfile_open(&kf, path, "texas", &err), 0);
    assert_int_equal(warden_kek_wrap(&kb, kf, dek, "alice", &err), 0);
    assert_int_equal(warden_kek_unwrap(&back, texas, kb.p, kb.len, "alice", &err), WARDEN_EVERIFY);
    assert_non_null(strstr(err.msg, "key file provider"));
    warden_kek_free(kf);
    warden_kek_free(texas);
    warden_dek_free(dek);
    warden_buf_fini(&tb);
    warden_buf_fini(&kb);
}

typedef struct worker {
    warden_kek *kek;
    const warden_dek *dek;
    int failures;
} worker;

static void *wrap_loop(void *arg)
{
    worker *w = arg;
    warden_err err;
    for (int i = 0; i < 100; i++) {
        warden_buf b;
        warden_dek *back = NULL;
        warden_buf_init(&b);
        if (warden_kek_wrap(&b, w->kek, w->dek, "alice", &err) != 0 ||
            warden_kek_unwrap(&back, w->kek, b.p, b.len, "alice", &err) != 0 ||
            memcmp(back->key, w->dek->key, WARDEN_DEK_LEN) != 0)
            w->failures++;
        warden_dek_free(back);
        warden_buf_fini(&b);
    }
    return NULL;
}

/* keyd serves many clients: one token session shared by threads while the KEK rotates. */
static void crypto_pkcs11_concurrent_use_during_rotation(void **state)
{
    fixture *f = *state;
    warden_err err;
    warden_dek *dek;
    assert_int_equal(warden_kek_pkcs11_create(&f->cfg, &err), 0);
    warden_kek *kek = open_kek(f, "texas");
    assert_int_equal(warden_dek_new(&dek, &err), 0);
    pthread_t t[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i].kek = kek;
        w[i].dek = dek;
        w[i].failures = 0;
        assert_int_equal(pthread_create(&t[i], NULL, wrap_loop, &w[i]), 0);
    }
    for (uint32_t i = 0; i < 3; i++) {
        uint32_t v;
        assert_int_equal(warden_kek_rotate(&v, kek, &err), 0);
        assert_int_equal(v, i + 2);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(warden_kek_current_version(kek), 4);
    warden_kek_free(kek);
    warden_dek_free(dek);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(crypto_pkcs11_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(crypto_pkcs11_kek_is_not_extractable, setup, teardown),
        cmocka_unit_test_setup_teardown(crypto_pkcs11_rotation_and_retirement, setup, teardown),
        cmocka_unit_test_setup_teardown(crypto_pkcs11_login_and_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(crypto_pkcs11_blob_from_another_region_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(crypto_pkcs11_concurrent_use_during_rotation, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
