/* Signed notes: the Go sumdb/note documentation example byte for byte, the spec's rules on
 * unknown keys, and rejection of malformed notes. */
#include "tlog_testutil.h"

typedef struct fixture {
    warden_buf skey, vkey, text, signed_note, enoch;
    warden_tlog_signer *s;
    warden_tlog_verifier *v;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    warden_err e;
    vec_read(&f->skey, "go-example.skey");
    vec_read(&f->vkey, "go-example.vkey");
    vec_read(&f->text, "go-example.text");
    vec_read(&f->signed_note, "go-example.signed");
    vec_read(&f->enoch, "go-example-enoch.sigline");
    assert_int_equal(warden_tlog_signer_new(&f->s, (char *)f->skey.p, f->skey.len, &e), 0);
    assert_int_equal(warden_tlog_verifier_new(&f->v, (char *)f->vkey.p, f->vkey.len, &e), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    warden_tlog_signer_free(f->s);
    warden_tlog_verifier_free(f->v);
    warden_buf_fini(&f->skey);
    warden_buf_fini(&f->vkey);
    warden_buf_fini(&f->text);
    warden_buf_fini(&f->signed_note);
    warden_buf_fini(&f->enoch);
    free(f);
    return 0;
}

static int open_note(fixture *f, const uint8_t *msg, size_t len, size_t *tlen)
{
    warden_err e;
    const warden_tlog_verifier *known[1] = {f->v};
    return warden_tlog_note_open(tlen, msg, len, known, 1, &e);
}

static void tlog_note_sign_matches_go(void **state)
{
    fixture *f = *state;
    warden_err e;
    warden_buf out;
    warden_buf_init(&out);
    assert_int_equal(warden_tlog_note_sign(&out, f->text.p, f->text.len, f->s, &e), 0);
    assert_int_equal(out.len, f->signed_note.len);
    assert_memory_equal(out.p, f->signed_note.p, out.len);
    warden_buf_fini(&out);
}

static void tlog_note_vkey_matches_go(void **state)
{
    fixture *f = *state;
    warden_err e;
    warden_buf out;
    warden_buf_init(&out);
    assert_int_equal(warden_tlog_signer_vkey(&out, f->s, &e), 0);
    assert_int_equal(out.len + 1, f->vkey.len); /* the file has a newline */
    assert_memory_equal(out.p, f->vkey.p, out.len);
    assert_string_equal(warden_tlog_signer_name(f->s), "PeterNeumann");
    assert_string_equal(warden_tlog_verifier_name(f->v), "PeterNeumann");
    warden_buf_fini(&out);
}

static void tlog_note_open_go_example(void **state)
{
    fixture *f = *state;
    size_t tlen = 0;
    assert_int_equal(open_note(f, f->signed_note.p, f->signed_note.len, &tlen), 0);
    assert_int_equal(tlen, f->text.len);
    assert_memory_equal(f->signed_note.p, f->text.p, tlen);
}

/* A signature by an unknown key is ignored; the note still needs one known signature. */
static void tlog_note_unknown_key_ignored(void **state)
{
    fixture *f = *state;
    warden_buf m;
    size_t tlen;
    warden_err e;
    warden_buf_init(&m);
    assert_int_equal(warden_buf_append(&m, f->signed_note.p, f->signed_note.len), 0);
    assert_int_equal(warden_buf_append(&m, f->enoch.p, f->enoch.len), 0);
    assert_int_equal(open_note(f, m.p, m.len, &tlen), 0);
    assert_int_equal(tlen, f->text.len);
    /* Only Enoch's signature: no trusted signature at all. */
    m.len = 0;
    assert_int_equal(warden_buf_append(&m, f->text.p, f->text.len), 0);
    assert_int_equal(warden_buf_puts(&m, "\n"), 0);
    assert_int_equal(warden_buf_append(&m, f->enoch.p, f->enoch.len), 0);
    assert_int_equal(open_note(f, m.p, m.len, &tlen), WARDEN_EVERIFY);
    /* With no verifiers at all, the syntax is still fine. */
    assert_int_equal(warden_tlog_note_parse(&tlen, m.p, m.len, &e), 0);
    warden_buf_fini(&m);
}

static void tlog_note_tampered_rejected(void **state)
{
    fixture *f = *state;
    size_t tlen;
    warden_buf m;
    warden_buf_init(&m);
    assert_int_equal(warden_buf_append(&m, f->signed_note.p, f->signed_note.len), 0);
    m.p[3] ^= 1; /* in the text */
    assert_int_equal(open_note(f, m.p, m.len, &tlen), WARDEN_EVERIFY);
    m.p[3] ^= 1;
    m.p[m.len - 10] = m.p[m.len - 10] == 'A' ? 'B' : 'A'; /* in the signature */
    assert_int_equal(open_note(f, m.p, m.len, &tlen), WARDEN_EVERIFY);
    warden_buf_fini(&m);
}

static void tlog_note_malformed(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {
        "",
        "no blank line\n— PeterNeumann "
        "x08go/ZJkuBS9UG/"
        "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        "text\n\n",
        "text\n\n— PeterNeumann "
        "x08go/ZJkuBS9UG/"
        "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        "text\n\n- PeterNeumann "
        "x08go/ZJkuBS9UG/"
        "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        "text\n\n— Bad Name "
        "x08go/ZJkuBS9UG/"
        "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        "text\n\n— PeterNeumann x08go\n",
        "text\n\n— PeterNeumann \n",
        "text\n\n— PeterNeumann AAAA\n",
        "te\rxt\n\n— PeterNeumann "
        "x08go/ZJkuBS9UG/"
        "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        "te\xffxt\n\n— PeterNeumann "
        "x08go/ZJkuBS9UG/"
        "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        "text\n\n— Peter+Neumann "
        "x08go/ZJkuBS9UG/"
        "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t tlen;
        warden_err e;
        int rc = warden_tlog_note_parse(&tlen, (const uint8_t *)bad[i], strlen(bad[i]), &e);
        if (rc != WARDEN_EPARSE)
            fail_msg("bad note %zu accepted or wrong code %d", i, rc);
        assert_int_equal(open_note(f, (const uint8_t *)bad[i], strlen(bad[i]), &tlen),
                         WARDEN_EPARSE);
    }
}

/* Go's limit: more than 100 signature lines is rejected even if all are valid. */
static void tlog_note_too_many_signatures(void **state)
{
    fixture *f = *state;
    warden_buf m;
    size_t tlen;
    warden_buf_init(&m);
    size_t sig_off = f->text.len + 1;
    assert_int_equal(warden_buf_append(&m, f->signed_note.p, f->signed_note.len), 0);
    for (int i = 1; i < 100; i++)
        assert_int_equal(
            warden_buf_append(&m, f->signed_note.p + sig_off, f->signed_note.len - sig_off), 0);
    assert_int_equal(open_note(f, m.p, m.len, &tlen), 0); /* 100: accepted */
    assert_int_equal(
        warden_buf_append(&m, f->signed_note.p + sig_off, f->signed_note.len - sig_off), 0);
    assert_int_equal(open_note(f, m.p, m.len, &tlen), WARDEN_ELIMIT);
    warden_buf_fini(&m);
}

static void tlog_note_bad_keys(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", /* hash */
        "PeterNeumann+c74f20a3+ApRc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", /* alg 2 */
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
        "PeterNeumann+c74f20a3",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        warden_tlog_verifier *v = NULL;
        warden_err e;
        if (warden_tlog_verifier_new(&v, bad[i], strlen(bad[i]), &e) != WARDEN_EPARSE)
            fail_msg("bad verifier key %zu accepted", i);
    }
    warden_tlog_signer *s = NULL;
    warden_err e;
    const char *wrong =
        "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    assert_int_equal(warden_tlog_signer_new(&s, wrong, strlen(wrong), &e), WARDEN_EPARSE);
    const char *pub = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    assert_int_equal(warden_tlog_signer_new(&s, pub, strlen(pub), &e), WARDEN_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(tlog_note_sign_matches_go, setup, teardown),
        cmocka_unit_test_setup_teardown(tlog_note_vkey_matches_go, setup, teardown),
        cmocka_unit_test_setup_teardown(tlog_note_open_go_example, setup, teardown),
        cmocka_unit_test_setup_teardown(tlog_note_unknown_key_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(tlog_note_tampered_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(tlog_note_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(tlog_note_too_many_signatures, setup, teardown),
        cmocka_unit_test(tlog_note_bad_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
