/* Tests for src/policy/pset.c: policy ids across parse calls, template linking and
 * its errors, interning (strings with NUL, one pointer per value), type names. */
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

/* Parses exactly len bytes from a heap copy of exactly that size, so that the
 * sanitizer catches any read past the end. */
static int parse_exact(cedar_pset *set, const char *text, size_t len, warden_err *err)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    int rc = warden_policy_set_parse(set, "test.cedar", copy, len, err);
    free(copy);
    return rc;
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

static void policy_pset_ids_continue_across_calls(void **state)
{
    (void)state;
    cedar_pset *set = new_set();
    warden_err err;
    const char *a = "permit(principal, action, resource);\n"
                    "permit(principal == ?principal, action, resource);";
    const char *b = "forbid(principal, action, resource);";
    assert_int_equal(parse_exact(set, a, strlen(a), &err), 0);
    assert_int_equal(parse_exact(set, b, strlen(b), &err), 0);
    assert_int_equal(set->n_policies, 2);
    assert_int_equal(set->n_templates, 1);
    assert_string_equal(set->policies[0]->id->p, "policy0");
    assert_string_equal(set->templates[0]->id->p, "policy1");
    assert_string_equal(set->policies[1]->id->p, "policy2");
    assert_int_equal(set->policies[1]->effect, CEDAR_FORBID);
    assert_ptr_equal(warden_policy_set_find(set, "policy2", 7, false), set->policies[1]);
    assert_ptr_equal(warden_policy_set_find(set, "policy1", 7, true), set->templates[0]);
    assert_null(warden_policy_set_find(set, "policy1", 7, false));
    assert_null(warden_policy_set_find(set, "policy9", 7, false));
    warden_policy_set_free(set);
}

static void policy_pset_duplicate_id_with_linked(void **state)
{
    (void)state;
    cedar_pset *set = new_set();
    warden_err err;
    const char *t = "permit(principal == ?principal, action, resource);";
    assert_int_equal(parse_exact(set, t, strlen(t), &err), 0);
    cedar_euid alice;
    assert_int_equal(warden_policy_set_parse_euid(&alice, set, "arg",
                                                  (const uint8_t *)"User::\"alice\"", 13, &err),
                     0);
    assert_int_equal(
        warden_policy_set_link(NULL, set, "policy0", 7, "policy1", 7, &alice, NULL, &err), 0);
    /* The next text would assign policy1, which the linked policy already holds. */
    const char *u = "permit(principal, action, resource);";
    assert_int_equal(parse_exact(set, u, strlen(u), &err), WARDEN_EEXIST);
    assert_non_null(strstr(err.msg, "policy1"));
    assert_int_equal(set->n_policies, 1);
    warden_policy_set_free(set);
}

static void policy_pset_link_template(void **state)
{
    (void)state;
    cedar_pset *set = new_set();
    warden_err err;
    const char *t =
        "@doc(\"share\")\n"
        "permit(principal == ?principal, action == Action::\"view\", resource in ?resource)\n"
        "when { context.mfa };\n"
        "permit(principal in ?principal, action, resource);";
    assert_int_equal(parse_exact(set, t, strlen(t), &err), 0);
    assert_int_equal(set->n_templates, 2);
    const cedar_policy *tp = set->templates[0];
    assert_true(tp->is_template && tp->has_principal_slot && tp->has_resource_slot);
    assert_true(tp->principal.slot && tp->resource.slot);

    /* Caller-built euids from another set are interned into this one. */
    cedar_pset *other = new_set();
    cedar_euid u, f;
    assert_int_equal(
        warden_policy_set_parse_euid(&u, other, "a", (const uint8_t *)"User::\"bob\"", 11, &err),
        0);
    assert_int_equal(
        warden_policy_set_parse_euid(&f, other, "a", (const uint8_t *)"Folder::\"f\"", 11, &err),
        0);
    const cedar_policy *lp = NULL;
    assert_int_equal(warden_policy_set_link(&lp, set, "policy0", 7, "share-bob", 9, &u, &f, &err),
                     0);
    warden_policy_set_free(other);
    assert_non_null(lp);
    assert_int_equal(set->n_policies, 1);
    assert_ptr_equal(set->policies[0], lp);
    assert_false(lp->is_template);
    assert_ptr_equal(lp->template_id, tp->id);
    assert_string_equal(lp->id->p, "share-bob");
    assert_false(lp->principal.slot);
    assert_int_equal(lp->principal.op, CEDAR_SCOPE_EQ);
    assert_string_equal(lp->principal.entity.type->p, "User");
    assert_string_equal(lp->principal.entity.id->p, "bob");
    assert_int_equal(lp->resource.op, CEDAR_SCOPE_IN);
    assert_string_equal(lp->resource.entity.type->p, "Folder");
    assert_ptr_equal(lp->conds, tp->conds); /* shared: conditions have no slots */
    assert_int_equal(lp->n_annos, 1);
    assert_string_equal(lp->annos[0].value->p, "share");
    /* Template unchanged. */
    assert_true(tp->principal.slot);
    warden_buf b;
    warden_buf_init(&b);
    assert_int_equal(warden_policy_print(&b, lp), 0);
    assert_int_equal(warden_buf_cstr(&b), 0);
    assert_non_null(strstr((char *)b.p, "principal == User::\"bob\""));
    assert_non_null(strstr((char *)b.p, "resource in Folder::\"f\""));
    warden_buf_fini(&b);

    /* Errors. */
    cedar_euid x;
    assert_int_equal(
        warden_policy_set_parse_euid(&x, set, "a", (const uint8_t *)"User::\"x\"", 9, &err), 0);
    assert_int_equal(warden_policy_set_link(NULL, set, "nope", 4, "n1", 2, &x, &x, &err),
                     WARDEN_ENOTFOUND);
    assert_int_equal(warden_policy_set_link(NULL, set, "share-bob", 9, "n1", 2, &x, &x, &err),
                     WARDEN_ENOTFOUND); /* a linked policy is not a template */
    assert_int_equal(warden_policy_set_link(NULL, set, "policy0", 7, "n1", 2, &x, NULL, &err),
                     WARDEN_EINVAL);
    assert_non_null(strstr(err.msg, "?resource"));
    assert_int_equal(warden_policy_set_link(NULL, set, "policy1", 7, "n1", 2, &x, &x, &err),
                     WARDEN_EINVAL);
    assert_non_null(strstr(err.msg, "no ?resource slot"));
    assert_int_equal(
        warden_policy_set_link(NULL, set, "policy1", 7, "share-bob", 9, &x, NULL, &err),
        WARDEN_EEXIST);
    assert_int_equal(warden_policy_set_link(NULL, set, "policy1", 7, "policy0", 7, &x, NULL, &err),
                     WARDEN_EEXIST);
    cedar_euid badtype = x;
    assert_int_equal(warden_policy_set_intern(&badtype.type, set, "Not A Type", 10, &err), 0);
    assert_int_equal(warden_policy_set_link(NULL, set, "policy1", 7, "n2", 2, &badtype, NULL, &err),
                     WARDEN_EINVAL);
    assert_non_null(strstr(err.msg, "invalid entity type name \"Not A Type\""));
    /* Caller-given ids are escaped in messages. */
    assert_int_equal(warden_policy_set_link(NULL, set, "no\n\"pe", 6, "n1", 2, &x, NULL, &err),
                     WARDEN_ENOTFOUND);
    assert_string_equal(err.msg, "no template with id \"no\\x0A\\\"pe\"");
    char longid[300];
    memset(longid, 'x', sizeof longid);
    assert_int_equal(
        warden_policy_set_link(NULL, set, longid, sizeof longid, "n1", 2, &x, NULL, &err),
        WARDEN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "xxx...\""));
    assert_true(strlen(err.msg) < 120);
    assert_int_equal(set->n_policies, 1);
    assert_int_equal(warden_policy_set_link(NULL, set, "policy1", 7, "n1", 2, &x, NULL, &err), 0);
    assert_int_equal(set->n_policies, 2);
    assert_ptr_equal(warden_policy_set_find(set, "n1", 2, false), set->policies[1]);
    warden_policy_set_free(set);
}

static void policy_pset_strings_with_nul_and_interning(void **state)
{
    (void)state;
    cedar_pset *set = new_set();
    warden_err err;
    cedar_expr *e;
    const char *t = "[\"a\\0b\", \"a\", \"a\\u{0}b\", User::\"a\\0b\"]";
    assert_int_equal(parse_expr_exact(&e, set, t, strlen(t), &err), 0);
    assert_int_equal(e->u.set.n, 4);
    const cedar_str *s0 = e->u.set.items[0]->u.s;
    assert_int_equal(s0->len, 3);
    assert_memory_equal(s0->p, "a\0b", 3);
    assert_true(s0 != e->u.set.items[1]->u.s);
    assert_ptr_equal(s0, e->u.set.items[2]->u.s); /* interned: equal bytes, same pointer */
    assert_ptr_equal(s0, e->u.set.items[3]->u.euid.id);
    assert_true(s0->hash == warden_policy_hash("a\0b", 3));
    const cedar_str *i;
    assert_int_equal(warden_policy_set_intern(&i, set, "a\0b", 3, &err), 0);
    assert_ptr_equal(i, s0);
    /* A raw NUL byte in the text is a lexical error outside strings, data inside. */
    assert_int_equal(parse_expr_exact(&e, set, "\"x\0y\"", 5, &err), 0);
    assert_int_equal(e->u.s->len, 3);
    assert_int_equal(parse_expr_exact(&e, set, "1\0", 2, &err), WARDEN_EPARSE);
    assert_non_null(strstr(err.msg, "test.cedar:1:2: unexpected character"));
    warden_policy_set_free(set);
}

static void policy_pset_valid_type(void **state)
{
    (void)state;
    const char *good[] = {"A", "User", "_", "a1::B_2::c", "permit::when", "principal", "Action"};
    const char *bad[] = {"",     "1A",      "A::",           "::A", "A:::B", "A ::B", "A::if",
                         "true", "__cedar", "X::__cedar::Y", "A-B", "A:B",   "é",     "A::\"b\""};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(warden_policy_valid_type(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(warden_policy_valid_type(bad[i], strlen(bad[i])));
    assert_false(warden_policy_valid_type("A\0B", 3));
}

/* Thousands of policies and strings: the interner and the id index grow and rehash
 * many times, and every id and string must still be found afterwards. */
static void policy_pset_growth(void **state)
{
    (void)state;
    cedar_pset *set = new_set();
    warden_err err;
    warden_buf b;
    warden_buf_init(&b);
    const int n = 3000;
    for (int i = 0; i < n; i++)
        assert_int_equal(warden_buf_printf(&b,
                                           "permit(principal == User::\"u%d\", action, resource) "
                                           "when { context.k%d == \"v%d\" };\n",
                                           i, i % 700, i),
                         0);
    assert_int_equal(parse_exact(set, (const char *)b.p, b.len, &err), 0);
    assert_int_equal(set->n_policies, (size_t)n);
    for (int i = 0; i < n; i++) {
        char id[32], uid[32];
        int len = snprintf(id, sizeof id, "policy%d", i);
        const cedar_policy *p = warden_policy_set_find(set, id, (size_t)len, false);
        assert_non_null(p);
        assert_ptr_equal(p, set->policies[i]);
        int ul = snprintf(uid, sizeof uid, "u%d", i);
        const cedar_str *s;
        assert_int_equal(warden_policy_set_intern(&s, set, uid, (size_t)ul, &err), 0);
        assert_ptr_equal(s, p->principal.entity.id);
        /* Attribute names repeat every 700 policies: one interned string each. */
        const cedar_expr *eq = p->conds[0].expr;
        assert_int_equal(eq->kind, CEDAR_E_EQ);
        assert_ptr_equal(eq->u.op.a->u.attr.attr,
                         set->policies[i % 700]->conds[0].expr->u.op.a->u.attr.attr);
    }
    assert_ptr_equal(set->policies[0]->principal.entity.type,
                     set->policies[n - 1]->principal.entity.type);
    assert_null(warden_policy_set_find(set, "policy3000", 10, false));
    warden_buf_fini(&b);
    warden_policy_set_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy_pset_ids_continue_across_calls),
        cmocka_unit_test(policy_pset_duplicate_id_with_linked),
        cmocka_unit_test(policy_pset_link_template),
        cmocka_unit_test(policy_pset_strings_with_nul_and_interning),
        cmocka_unit_test(policy_pset_valid_type),
        cmocka_unit_test(policy_pset_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
