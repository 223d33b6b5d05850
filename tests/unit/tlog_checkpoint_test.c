/* Checkpoint text: the tlog-checkpoint example, round trips, and rejected forms. */
#include "tlog_testutil.h"

static void tlog_checkpoint_parse_example(void **state)
{
    (void)state;
    const char *t = "example.com/behind-the-sofa\n20852163\n"
                    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    warden_tlog_checkpoint cp;
    warden_err e;
    assert_int_equal(warden_tlog_checkpoint_parse(&cp, (const uint8_t *)t, strlen(t), &e), 0);
    assert_string_equal(cp.origin, "example.com/behind-the-sofa");
    assert_int_equal(cp.size, 20852163);
    char b64[48];
    warden_tlog_hash_b64(b64, &cp.root);
    assert_string_equal(b64, "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
    warden_buf out;
    warden_buf_init(&out);
    assert_int_equal(warden_tlog_checkpoint_format(&out, &cp, &e), 0);
    assert_int_equal(out.len, strlen(t));
    assert_memory_equal(out.p, t, out.len);
    warden_buf_fini(&out);
    /* Extension lines are allowed and ignored. */
    const char *x = "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next one\next two\n";
    assert_int_equal(warden_tlog_checkpoint_parse(&cp, (const uint8_t *)x, strlen(x), &e), 0);
    assert_int_equal(cp.size, 0);
}

static void tlog_checkpoint_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "o\n",
        "o\n1\n",
        "\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "o\n01\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "o\n+1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "o\n-1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "o\n18446744073709551616\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n",
        "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "o\n1\nAAAA\n",
        "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n",
        "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        warden_tlog_checkpoint cp;
        warden_err e;
        if (warden_tlog_checkpoint_parse(&cp, (const uint8_t *)bad[i], strlen(bad[i]), &e) !=
            WARDEN_EPARSE)
            fail_msg("bad checkpoint %zu accepted", i);
    }
}

static void tlog_checkpoint_sign_open(void **state)
{
    (void)state;
    warden_buf sk, vk, note;
    warden_tlog_signer *s = NULL;
    warden_tlog_verifier *v = NULL;
    warden_err e;
    vec_read(&sk, "go-example.skey");
    vec_read(&vk, "go-example.vkey");
    warden_buf_init(&note);
    assert_int_equal(warden_tlog_signer_new(&s, (char *)sk.p, sk.len, &e), 0);
    assert_int_equal(warden_tlog_verifier_new(&v, (char *)vk.p, vk.len, &e), 0);
    warden_tlog_checkpoint cp = {.origin = "example.com/log", .size = 42};
    memset(cp.root.b, 7, 32);
    assert_int_equal(warden_tlog_checkpoint_sign(&note, &cp, s, &e), 0);
    warden_tlog_checkpoint back;
    assert_int_equal(warden_tlog_checkpoint_open(&back, note.p, note.len, v, &e), 0);
    assert_string_equal(back.origin, cp.origin);
    assert_int_equal(back.size, 42);
    assert_memory_equal(back.root.b, cp.root.b, 32);
    /* Changing the size in the signed text breaks the signature. */
    note.p[16] = '3';
    assert_int_equal(warden_tlog_checkpoint_open(&back, note.p, note.len, v, &e), WARDEN_EVERIFY);
    warden_tlog_signer_free(s);
    warden_tlog_verifier_free(v);
    warden_buf_fini(&sk);
    warden_buf_fini(&vk);
    warden_buf_fini(&note);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tlog_checkpoint_parse_example),
        cmocka_unit_test(tlog_checkpoint_rejects),
        cmocka_unit_test(tlog_checkpoint_sign_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
