/* Migration statements: signed and opened again field for field; a changed byte, another
 * key, an unknown line or a malformed value is refused. */
#include "migrate/migrate_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct fx {
    warden_tlog_signer *s, *other;
    warden_tlog_verifier *v;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    warden_err e;
    char dir[] = "/tmp/migrate_statement_XXXXXX", p[128];
    warden_buf vk;
    warden_buf_init(&vk);
    if (f == NULL || mkdtemp(dir) == NULL)
        return -1;
    snprintf(p, sizeof p, "%s/a.key", dir);
    assert_int_equal(warden_tlog_key_generate(p, "warden-migration", NULL, &e), 0);
    assert_int_equal(warden_tlog_signer_load(&f->s, p, &e), 0);
    (void)unlink(p);
    snprintf(p, sizeof p, "%s/b.key", dir);
    assert_int_equal(warden_tlog_key_generate(p, "warden-migration", NULL, &e), 0);
    assert_int_equal(warden_tlog_signer_load(&f->other, p, &e), 0);
    (void)unlink(p);
    (void)rmdir(dir);
    assert_int_equal(warden_tlog_signer_vkey(&vk, f->s, &e), 0);
    assert_int_equal(warden_tlog_verifier_new(&f->v, (const char *)vk.p, vk.len, &e), 0);
    warden_buf_fini(&vk);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    warden_tlog_signer_free(f->s);
    warden_tlog_signer_free(f->other);
    warden_tlog_verifier_free(f->v);
    free(f);
    return 0;
}

static mig_statement sample(const char *kind)
{
    mig_statement st = {0};
    snprintf(st.kind, sizeof st.kind, "%s", kind);
    snprintf(st.run, sizeof st.run, "0123456789abcdef");
    snprintf(st.source, sizeof st.source, "postgresql:legacy/legacy_records");
    snprintf(st.destination, sizeof st.destination, "texas");
    st.records = 221;
    st.migrated = 200;
    st.refused = 21;
    st.conflicts = 1;
    st.failed = 2;
    st.deleted = 199;
    st.kept = 22;
    warden_tlog_leaf_hash(&st.source_root, "s", 1);
    warden_tlog_leaf_hash(&st.dest_root, "d", 1);
    return st;
}

static void migrate_statement_round_trip(void **state)
{
    fx *f = *state;
    warden_err e;
    const char *kinds[] = {"start", "end", "delete"};
    for (size_t k = 0; k < 3; k++) {
        mig_statement in = sample(kinds[k]), out;
        warden_buf b;
        warden_buf_init(&b);
        assert_int_equal(mig_statement_sign(&b, &in, f->s, &e), 0);
        assert_true(mig_statement_is((const char *)b.p, b.len));
        assert_int_equal(mig_statement_open(&out, (const char *)b.p, b.len, f->v, &e), 0);
        assert_string_equal(out.kind, kinds[k]);
        assert_string_equal(out.run, in.run);
        assert_string_equal(out.source, in.source);
        assert_string_equal(out.destination, "texas");
        if (k == 2) {
            assert_int_equal(out.deleted, 199);
            assert_int_equal(out.kept, 22);
            assert_int_equal(out.records, 0); /* not part of a delete statement */
        } else {
            assert_int_equal(out.records, 221);
            assert_memory_equal(out.source_root.b, in.source_root.b, 32);
        }
        if (k == 1) {
            assert_int_equal(out.migrated, 200);
            assert_int_equal(out.refused, 21);
            assert_int_equal(out.conflicts, 1);
            assert_int_equal(out.failed, 2);
            assert_memory_equal(out.dest_root.b, in.dest_root.b, 32);
        }
        /* one changed byte of the text breaks the signature */
        b.p[30] ^= 1;
        assert_int_equal(mig_statement_open(&out, (const char *)b.p, b.len, f->v, &e),
                         WARDEN_EVERIFY);
        warden_buf_fini(&b);
    }
}

static void migrate_statement_other_key(void **state)
{
    fx *f = *state;
    warden_err e;
    mig_statement in = sample("end"), out;
    warden_buf b;
    warden_buf_init(&b);
    assert_int_equal(mig_statement_sign(&b, &in, f->other, &e), 0);
    assert_int_equal(mig_statement_open(&out, (const char *)b.p, b.len, f->v, &e), WARDEN_EVERIFY);
    warden_buf_fini(&b);
}

static int open_text(fx *f, const char *text, warden_err *e)
{
    warden_buf b;
    warden_buf_init(&b);
    mig_statement out;
    assert_int_equal(warden_tlog_note_sign(&b, (const uint8_t *)text, strlen(text), f->s, e), 0);
    int rc = mig_statement_open(&out, (const char *)b.p, b.len, f->v, e);
    warden_buf_fini(&b);
    return rc;
}

static void migrate_statement_malformed(void **state)
{
    fx *f = *state;
    warden_err e;
    assert_int_equal(open_text(f, "hello\nrun x\n", &e), WARDEN_EPARSE);
    assert_int_equal(open_text(f, "warden-migration/v1 end\nrun x\nmood good\n", &e),
                     WARDEN_EPARSE);
    assert_non_null(strstr(e.msg, "mood"));
    assert_int_equal(open_text(f, "warden-migration/v1 end\nrun x\nrecords 01\n", &e),
                     WARDEN_EPARSE);
    assert_int_equal(open_text(f, "warden-migration/v1 end\nrun x\nrecords\n", &e), WARDEN_EPARSE);
    assert_int_equal(open_text(f, "warden-migration/v1 end\nrun x\ndest-root abc\n", &e),
                     WARDEN_EPARSE);
    assert_int_equal(open_text(f, "warden-migration/v1 end\nrecords 1\n", &e), WARDEN_EPARSE);
    assert_int_equal(open_text(f, "warden-migration/v1 end\nrun x\nrecords 1\n", &e), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(migrate_statement_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(migrate_statement_other_key, setup, teardown),
        cmocka_unit_test_setup_teardown(migrate_statement_malformed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
