/* The migration's record helpers: the streaming Merkle root equals RFC 6962's tree hash for
 * every size, the canonical form is sorted compact ASCII JSON, and records that keyd could
 * not hold are refused with the field named. */
#include "migrate/migrate_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void migrate_record_merkle_matches_tree_hash(void **state)
{
    (void)state;
    warden_tlog_hash leaves[300];
    for (uint64_t n = 0; n <= 300; n++) {
        mig_merkle m;
        mig_merkle_init(&m);
        for (uint64_t i = 0; i < n; i++)
            mig_merkle_add(&m, &leaves[i]);
        warden_tlog_hash a, b;
        mig_merkle_root(&a, &m);
        warden_tlog_tree_hash(&b, leaves, n);
        assert_memory_equal(a.b, b.b, sizeof a.b);
        if (n < 300) {
            char leaf[16];
            snprintf(leaf, sizeof leaf, "leaf %u", (unsigned)n);
            warden_tlog_leaf_hash(&leaves[n], leaf, strlen(leaf));
        }
    }
}

static void migrate_record_canonical(void **state)
{
    (void)state;
    warden_buf b;
    warden_buf_init(&b);
    json_t *doc =
        json_loads("{\"z\": 1, \"a\": {\"y\": \"\\u00e9\", \"b\": [true, null]}}", 0, NULL);
    assert_non_null(doc);
    assert_int_equal(mig_canonical(&b, "u1", "US", "messages", "m1", doc, NULL), 0);
    const char *want = "{\"collection\":\"messages\",\"document\":{\"a\":{\"b\":[true,null],"
                       "\"y\":\"\\u00E9\"},\"z\":1},\"id\":\"m1\",\"jurisdiction\":\"US\","
                       "\"user\":\"u1\"}";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.p, want, b.len);
    /* the leaf is RFC 6962's hash of exactly those bytes */
    warden_tlog_hash h1, h2;
    assert_true(mig_leaf(&h1, "u1", "US", "messages", "m1", doc));
    warden_tlog_leaf_hash(&h2, want, strlen(want));
    assert_memory_equal(h1.b, h2.b, sizeof h1.b);
    json_decref(doc);
    warden_buf_fini(&b);
}

static void check_one(const char *user, const char *jur, const char *coll, const char *id,
                      json_t *doc, const char *why)
{
    mig_rec r = {0};
    r.user = strdup(user);
    r.jur = strdup(jur);
    r.coll = strdup(coll);
    r.id = strdup(id);
    r.doc = doc;
    bool ok = mig_rec_check(&r);
    if (why == NULL) {
        assert_true(ok);
    } else {
        assert_false(ok);
        assert_non_null(strstr(r.why, why));
    }
    mig_rec_fini(&r);
}

static void migrate_record_checks(void **state)
{
    (void)state;
    check_one("u1", "US", "messages", "m 1", json_object(), NULL);
    check_one("", "US", "messages", "m1", json_object(), "invalid user");
    check_one("u\"1", "US", "messages", "m1", json_object(), "invalid user");
    check_one("u1", "U S", "messages", "m1", json_object(), "invalid jurisdiction");
    check_one("u1", "US", "bad coll", "m1", json_object(), "invalid collection");
    check_one("u1", "US", "messages", "m\n1", json_object(), "invalid id");
    check_one("u1", "US", "messages", "m1", json_array(), "invalid document");
    check_one("u1", "US", "messages", "m1", NULL, "invalid document");
    char longid[300];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    check_one("u1", "US", "messages", longid, json_object(), "invalid id");
}

static void migrate_record_key_order_and_hex(void **state)
{
    (void)state;
    assert_true(mig_key_cmp("a", "c", "1", "a", "c", "2") < 0);
    assert_true(mig_key_cmp("a", "d", "1", "a", "c", "2") > 0);
    assert_true(mig_key_cmp("a", "c", "1", "ab", "a", "0") < 0); /* byte order, prefix first */
    assert_int_equal(mig_key_cmp("a", "c", "1", "a", "c", "1"), 0);
    warden_tlog_hash h, g;
    char hex[65];
    warden_tlog_leaf_hash(&h, "x", 1);
    mig_hex(hex, &h);
    assert_true(mig_unhex(&g, hex));
    assert_memory_equal(h.b, g.b, sizeof h.b);
    hex[5] = 'G';
    assert_false(mig_unhex(&g, hex));
    assert_false(mig_unhex(&g, "abc"));
    assert_false(mig_unhex(&g, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(migrate_record_merkle_matches_tree_hash),
        cmocka_unit_test(migrate_record_canonical),
        cmocka_unit_test(migrate_record_checks),
        cmocka_unit_test(migrate_record_key_order_and_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
