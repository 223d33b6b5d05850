/* Tests for src/policy/entities.c and json_value.c: the entities JSON loader against a
 * case file (tests/vectors/policy/entities_cases.txt, checked against cedar-wasm by
 * check_entities_cases.cjs), value escapes, depth limits and the transitive closure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/entities.h"
#include "warden/policy.h"
#include "warden/util.h"

#include "policy_testutil.h"

static void policy_entities_cases(void **state)
{
    (void)state;
    size_t len;
    char *txt = slurp("tests/vectors/policy/entities_cases.txt", &len);
    int n = 0;
    char *save = NULL;
    for (char *line = strtok_r(txt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        char *want, *sub, *json;
        split3(line, &want, &sub, &json);
        warden_entities *es = NULL;
        warden_err err;
        warden_err_clear(&err);
        int rc = warden_entities_parse_json(&es, "e.json", json, strlen(json), &err);
        if (strcmp(want, "ok") == 0) {
            if (rc != 0)
                fail_msg("rejected %s: %s", json, err.msg);
            assert_non_null(es);
        } else {
            if (rc == 0)
                fail_msg("accepted %s", json);
            assert_null(es);
            assert_true(rc < 0);
            if (strstr(err.msg, sub) == NULL)
                fail_msg("%s: message \"%s\" lacks \"%s\"", json, err.msg, sub);
            assert_true(strncmp(err.msg, "e.json", 6) == 0);
        }
        warden_entities_free(es);
        n++;
    }
    free(txt);
    assert_true(n >= 50);
}

static void uid(cedar_uid *u, const char *type, const char *id)
{
    cedar_uid_init(u, type, strlen(type), id, strlen(id));
}

static void policy_entities_closure(void **state)
{
    (void)state;
    /* a -> b -> c -> d (depth 3), a diamond x -> {y, z} -> w, and a parent not in the store. */
    const char *json = "[{\"uid\":{\"type\":\"T\",\"id\":\"a\"},\"attrs\":{},\"parents\":[{"
                       "\"type\":\"T\",\"id\":\"b\"}]},"
                       "{\"uid\":{\"type\":\"T\",\"id\":\"c\"},\"attrs\":{},\"parents\":[{\"type\":"
                       "\"T\",\"id\":\"d\"}]},"
                       "{\"uid\":{\"type\":\"T\",\"id\":\"b\"},\"attrs\":{},\"parents\":[{\"type\":"
                       "\"T\",\"id\":\"c\"}]},"
                       "{\"uid\":{\"type\":\"T\",\"id\":\"d\"},\"attrs\":{},\"parents\":[{\"type\":"
                       "\"G\",\"id\":\"ghost\"}]},"
                       "{\"uid\":{\"type\":\"T\",\"id\":\"x\"},\"attrs\":{},\"parents\":[{\"type\":"
                       "\"T\",\"id\":\"y\"},{\"type\":\"T\",\"id\":\"z\"}]},"
                       "{\"uid\":{\"type\":\"T\",\"id\":\"y\"},\"attrs\":{},\"parents\":[{\"type\":"
                       "\"T\",\"id\":\"w\"}]},"
                       "{\"uid\":{\"type\":\"T\",\"id\":\"z\"},\"attrs\":{},\"parents\":[{\"type\":"
                       "\"T\",\"id\":\"w\"}]},"
                       "{\"uid\":{\"type\":\"T\",\"id\":\"w\"},\"attrs\":{},\"parents\":[]}]";
    warden_entities *es;
    warden_err err;
    assert_int_equal(warden_entities_parse_json(&es, "e.json", json, strlen(json), &err), 0);
    assert_int_equal(warden_entities_count(es), 8);
    cedar_uid a, b, c, d, g, x, w, y, nobody;
    uid(&a, "T", "a"), uid(&b, "T", "b"), uid(&c, "T", "c"), uid(&d, "T", "d");
    uid(&g, "G", "ghost"), uid(&x, "T", "x"), uid(&w, "T", "w"), uid(&y, "T", "y");
    uid(&nobody, "T", "nobody");
    assert_true(cedar_entities_in(es, &a, &b));
    assert_true(cedar_entities_in(es, &a, &c));
    assert_true(cedar_entities_in(es, &a, &d));
    assert_true(cedar_entities_in(es, &a, &g));
    assert_true(cedar_entities_in(es, &a, &a));
    assert_false(cedar_entities_in(es, &d, &a));
    assert_false(cedar_entities_in(es, &b, &a));
    assert_true(cedar_entities_in(es, &x, &w));
    assert_false(cedar_entities_in(es, &y, &x));
    assert_true(cedar_entities_in(es, &nobody, &nobody));
    assert_false(cedar_entities_in(es, &nobody, &w));
    assert_false(cedar_entities_in(es, &g, &a));
    const cedar_entity *ea = cedar_entities_find(es, &a), *ex = cedar_entities_find(es, &x);
    assert_int_equal(ea->n_anc, 4);
    assert_int_equal(ex->n_anc, 3); /* y, z, w: w only once */
    assert_null(cedar_entities_find(es, &g));
    warden_entities_free(es);
}

/* A wide hierarchy exercises the ancestor hash tables and the closure scratch set. */
static void policy_entities_wide_closure(void **state)
{
    (void)state;
    warden_buf b;
    warden_buf_init(&b);
    assert_int_equal(warden_buf_puts(&b, "["), 0);
    /* chain: n0 -> n1 -> ... -> n199; each node also has 3 group parents g<i%50> */
    for (int i = 0; i < 200; i++) {
        assert_int_equal(
            warden_buf_printf(&b,
                              "%s{\"uid\":{\"type\":\"N\",\"id\":\"n%d\"},\"attrs\":{},"
                              "\"parents\":[{\"type\":\"G\",\"id\":\"g%d\"},"
                              "{\"type\":\"G\",\"id\":\"g%d\"},{\"type\":\"G\",\"id\":\"g%d\"}",
                              i ? "," : "", i, i % 50, (i + 7) % 50, (i * 3) % 50),
            0);
        if (i + 1 < 200)
            assert_int_equal(warden_buf_printf(&b, ",{\"type\":\"N\",\"id\":\"n%d\"}", i + 1), 0);
        assert_int_equal(warden_buf_puts(&b, "]}"), 0);
    }
    assert_int_equal(warden_buf_puts(&b, "]"), 0);
    warden_entities *es;
    warden_err err;
    assert_int_equal(warden_entities_parse_json(&es, "w.json", (char *)b.p, b.len, &err), 0);
    cedar_uid n0, n199, n150, g, gx;
    uid(&n0, "N", "n0"), uid(&n199, "N", "n199"), uid(&n150, "N", "n150");
    uid(&g, "G", "g49"), uid(&gx, "G", "g50");
    const cedar_entity *e0 = cedar_entities_find(es, &n0);
    assert_int_equal(e0->n_anc, 199 + 50);
    assert_non_null(e0->anc_tab);
    assert_true(cedar_entities_in(es, &n0, &n199));
    assert_true(cedar_entities_in(es, &n0, &g));
    assert_false(cedar_entities_in(es, &n0, &gx));
    assert_false(cedar_entities_in(es, &n199, &n150));
    warden_entities_free(es);
    warden_buf_fini(&b);
}

static void policy_entities_depth_limit(void **state)
{
    (void)state;
    warden_buf b;
    warden_buf_init(&b);
    assert_int_equal(
        warden_buf_puts(&b, "[{\"uid\":{\"type\":\"U\",\"id\":\"a\"},\"attrs\":{\"x\":"), 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(warden_buf_puts(&b, "["), 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(warden_buf_puts(&b, "]"), 0);
    assert_int_equal(warden_buf_puts(&b, "},\"parents\":[]}]"), 0);
    warden_entities *es = NULL;
    warden_err err;
    int rc = warden_entities_parse_json(&es, "d.json", (char *)b.p, b.len, &err);
    assert_int_equal(rc, WARDEN_ELIMIT);
    assert_non_null(strstr(err.msg, "nested deeper"));
    assert_null(es);
    warden_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy_entities_cases),
        cmocka_unit_test(policy_entities_closure),
        cmocka_unit_test(policy_entities_wide_closure),
        cmocka_unit_test(policy_entities_depth_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
