/* Tests for src/policy/request.c and the entity reference text parser in json_value.c:
 * request lines against tests/vectors/policy/request_cases.txt, escapes, UTF-8 and
 * bounds on Type::"id" text. */
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

static void policy_request_cases(void **state)
{
    (void)state;
    size_t len;
    char *txt = slurp("tests/vectors/policy/request_cases.txt", &len);
    int n = 0;
    char *save = NULL;
    for (char *line = strtok_r(txt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        char *want, *exp, *json;
        split3(line, &want, &exp, &json);
        warden_request *rq = NULL;
        warden_err err;
        warden_err_clear(&err);
        int rc = warden_request_parse_json(&rq, json, strlen(json), &err);
        /* The in-memory entry point decides every case that is valid JSON the same way. */
        json_t *root = json_loadb(json, strlen(json), JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                                  NULL);
        if (root != NULL) {
            warden_request *rq2 = NULL;
            warden_err err2;
            warden_err_clear(&err2);
            int rc2 = warden_request_from_json(&rq2, root, &err2);
            assert_int_equal(rc2, rc);
            if (rc == 0) {
                char x[256], y[256];
                for (int w = 0; w < 3; w++)
                    assert_string_equal(warden_request_show(rq, w, x, sizeof x),
                                        warden_request_show(rq2, w, y, sizeof y));
            } else {
                assert_string_equal(err2.msg, err.msg);
            }
            warden_request_free(rq2);
            json_decref(root);
        }
        if (strcmp(want, "ok") == 0) {
            if (rc != 0)
                fail_msg("rejected %s: %s", json, err.msg);
            char got[1024], p[256], a[256], r[256];
            snprintf(got, sizeof got, "%s|%s|%s", warden_request_show(rq, 0, p, sizeof p),
                     warden_request_show(rq, 1, a, sizeof a),
                     warden_request_show(rq, 2, r, sizeof r));
            /* The expectation is written with the same escapes cedar_value_show uses. */
            char expect[1024];
            size_t k = 0;
            for (const char *s = exp; *s && k + 8 < sizeof expect; s++) {
                if (s[0] == '\\' && s[1] == 'n') {
                    k += (size_t)snprintf(expect + k, sizeof expect - k, "\\u{a}");
                    s++;
                } else if (s[0] == '\\' && s[1] == 't') {
                    k += (size_t)snprintf(expect + k, sizeof expect - k, "\\u{9}");
                    s++;
                } else {
                    expect[k++] = *s;
                }
            }
            expect[k] = '\0';
            assert_string_equal(got, expect);
        } else {
            if (rc == 0)
                fail_msg("accepted %s", json);
            assert_null(rq);
            if (strstr(err.msg, exp) == NULL)
                fail_msg("%s: message \"%s\" lacks \"%s\"", json, err.msg, exp);
        }
        warden_request_free(rq);
        n++;
    }
    free(txt);
    assert_true(n >= 20);
}

static void policy_uid_text(void **state)
{
    (void)state;
    cedar_varena a;
    cedar_varena_init(&a, 0);
    cedar_uid u;
    warden_err err;
    const char *t = "A::B::\"x\\u{1F600}\\0y\"";
    assert_int_equal(cedar_parse_uid_text(&u, t, strlen(t), &a, &err), 0);
    assert_int_equal(u.type.len, 4);
    assert_memory_equal(u.type.p, "A::B", 4);
    assert_int_equal(u.id.len, 7);
    assert_memory_equal(u.id.p, "x\xF0\x9F\x98\x80\0y", 7);
    /* Not NUL-terminated input: only len bytes are read. */
    const char buf[] = {'U', ':', ':', '"', 'a', '"', 'Z'};
    assert_int_equal(cedar_parse_uid_text(&u, buf, 6, &a, &err), 0);
    assert_int_not_equal(cedar_parse_uid_text(&u, buf, 5, &a, &err), 0);
    /* Cedar strings are UTF-8: stray, overlong and surrogate sequences are refused. */
    static const char *const bad_utf8[] = {"U::\"\xff\"", "U::\"\xc0\xaf\"", "U::\"\xed\xa0\x80\"",
                                           "U::\"\xf4\x90\x80\x80\"", "U::\"\xe2\x82\""};
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        assert_int_equal(cedar_parse_uid_text(&u, bad_utf8[i], strlen(bad_utf8[i]), &a, &err),
                         WARDEN_EINVAL);
        assert_non_null(strstr(err.msg, "UTF-8"));
    }
    const char *ok8 = "U::\"\xe2\x82\xac\xf0\x9f\x98\x80\"";
    assert_int_equal(cedar_parse_uid_text(&u, ok8, strlen(ok8), &a, &err), 0);
    assert_true(cedar_type_name_valid("a::b_c::D1", 10));
    assert_false(cedar_type_name_valid("a::", 3));
    assert_false(cedar_type_name_valid("::a", 3));
    assert_false(cedar_type_name_valid("a:::b", 5));
    assert_false(cedar_type_name_valid("like", 4));
    assert_true(cedar_type_name_valid("likes", 5));
    cedar_varena_fini(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy_request_cases),
        cmocka_unit_test(policy_uid_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
