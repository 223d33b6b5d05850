/* Tests for src/policy/ast_print.c: the normal (minimal parentheses) and full forms
 * of printed expressions. Round trips are checked by policy_parser_test's vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/parser.h"
#include "warden/util.h"

/* ---- helpers ---- */

static cedar_pset *new_set(void)
{
    cedar_pset *set = NULL;
    warden_err err;
    assert_int_equal(warden_policy_set_new(&set, &err), 0);
    return set;
}

static int parse_expr_exact(cedar_expr **e, cedar_pset *set, const char *text, size_t len,
                            warden_err *err)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    int rc = warden_policy_set_parse_expr(e, set, "test.cedar", copy, len, err);
    free(copy);
    return rc;
}

static char *print_expr(const cedar_expr *e, bool full)
{
    warden_buf b;
    warden_buf_init(&b);
    assert_int_equal(full ? warden_policy_expr_print_full(&b, e) : warden_policy_expr_print(&b, e),
                     0);
    assert_int_equal(warden_buf_cstr(&b), 0);
    return (char *)b.p;
}

static void policy_ast_print_printer(void **state)
{
    (void)state;
    const struct {
        const char *in, *min, *full;
    } cases[] = {
        {"true || false && true", "true || false && true", "true || (false && true)"},
        {"(true || false) && !(principal.a[\"b c\"])", "(true || false) && !principal.a[\"b c\"]",
         "(true || false) && (!((principal.a)[\"b c\"]))"},
        {"-(5) + --5 - -(-5)", "-(5) + -(-5) - -(-5)", "((-(5)) + (-(-5))) - (-(-5))"},
        {"(if true then 1 else 2).x", "(if true then 1 else 2).x", "(if true then 1 else 2).x"},
        {"principal has a.b && \"x\" like \"a*\\*\" && resource is R in principal",
         "principal has a.b && \"x\" like \"a*\\*\" && resource is R in principal",
         "((principal has a.b) && (\"x\" like \"a*\\*\")) && (resource is R in principal)"},
        {"{a: 1, \"b c\": -9223372036854775808, if2: [1, (1 + 2) * 3]}",
         "{a: 1, \"b c\": -9223372036854775808, if2: [1, (1 + 2) * 3]}",
         "{a: 1, \"b c\": -9223372036854775808, if2: [1, (1 + 2) * 3]}"},
        {"(-5).foo", "(-5).foo", "(-5).foo"},
        {"1 - (2 - 3)", "1 - (2 - 3)", "1 - (2 - 3)"},
        {"(1 < 2) == (3 in 4)", "(1 < 2) == (3 in 4)", "(1 < 2) == (3 in 4)"},
        {"ip(\"1\").isIpv4().x", "ip(\"1\").isIpv4().x", "(ip(\"1\").isIpv4()).x"},
        {"context[\"if\"][\"__cedar\"][\"ok\"] has \"then\"",
         "context[\"if\"][\"__cedar\"].ok has \"then\"",
         "(((context[\"if\"])[\"__cedar\"]).ok) has \"then\""},
        {"\"\\u{7}\\0*\"", "\"\\u{7}\\0*\"", "\"\\u{7}\\0*\""},
    };
    cedar_pset *set = new_set();
    warden_err err;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cedar_expr *e;
        assert_int_equal(parse_expr_exact(&e, set, cases[i].in, strlen(cases[i].in), &err), 0);
        char *min = print_expr(e, false), *full = print_expr(e, true);
        assert_string_equal(min, cases[i].min);
        assert_string_equal(full, cases[i].full);
        free(min);
        free(full);
    }
    warden_policy_set_free(set);
}

static void policy_ast_print_euid(void **state)
{
    (void)state;
    cedar_pset *set = new_set();
    warden_err err;
    cedar_euid e;
    const char *t = "NS::User::\"a\\\"b\\n\\u{1}\"";
    assert_int_equal(
        warden_policy_set_parse_euid(&e, set, "arg", (const uint8_t *)t, strlen(t), &err), 0);
    warden_buf b;
    warden_buf_init(&b);
    assert_int_equal(warden_policy_euid_print(&b, &e), 0);
    assert_int_equal(warden_buf_cstr(&b), 0);
    assert_string_equal((char *)b.p, "NS::User::\"a\\\"b\\n\\u{1}\"");
    warden_buf_fini(&b);
    warden_policy_set_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy_ast_print_printer),
        cmocka_unit_test(policy_ast_print_euid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
