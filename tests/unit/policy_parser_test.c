/* Tests for the Cedar parser (src/policy/parser.c, parse_expr.c, parse_forms.c):
 * the vectors in tests/vectors/cedar_{expr,policy}.txt (trees, errors with
 * line:col, round trips through the printer), and the API: ids, all-or-nothing
 * parsing, template linking, limits, strings with NUL, unterminated buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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

static char *print_expr(const cedar_expr *e, bool full)
{
    warden_buf b;
    warden_buf_init(&b);
    assert_int_equal(full ? warden_policy_expr_print_full(&b, e) : warden_policy_expr_print(&b, e),
                     0);
    assert_int_equal(warden_buf_cstr(&b), 0);
    return (char *)b.p;
}

static char *print_set(const cedar_pset *set)
{
    warden_buf b;
    warden_buf_init(&b);
    for (int t = 0; t < 2; t++) {
        size_t n = t ? set->n_templates : set->n_policies;
        for (size_t i = 0; i < n; i++) {
            const cedar_policy *p = t ? set->templates[i] : set->policies[i];
            assert_int_equal(warden_buf_printf(&b, "// %s\n", p->id->p), 0);
            assert_int_equal(warden_policy_print(&b, p), 0);
        }
    }
    assert_int_equal(warden_buf_cstr(&b), 0);
    /* Vectors hold no trailing newline. */
    while (b.len > 0 && b.p[b.len - 1] == '\n')
        b.p[--b.len] = '\0';
    return (char *)b.p;
}

/* ---- vectors ---- */

typedef struct vcase {
    char mode[16], kind[16], name[128];
    warden_buf input, want;
} vcase;

static int check_error(const vcase *c, int rc, const warden_err *err)
{
    int want_rc = strcmp(c->kind, "limit") == 0 ? WARDEN_ELIMIT : WARDEN_EPARSE;
    if (rc != want_rc) {
        print_message("%s: want code %d, got %d (%s)\n", c->name, want_rc, rc,
                      rc ? err->msg : "accepted");
        return 1;
    }
    /* want is "line:col: text": the message must be "test.cedar:line:col: ...text...". */
    const char *want = (const char *)c->want.p;
    const char *sp = strchr(want, ' ');
    if (sp == NULL) {
        print_message("%s: malformed expectation\n", c->name);
        return 1;
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "test.cedar:%.*s", (int)(sp - want), want);
    if (strncmp(err->msg, prefix, strlen(prefix)) != 0 || strstr(err->msg, sp + 1) == NULL) {
        print_message("%s: want \"%s\", got \"%s\"\n", c->name, want, err->msg);
        return 1;
    }
    return 0;
}

static int run_case(const vcase *c)
{
    cedar_pset *set = new_set();
    warden_err err = {0};
    int fails = 0;
    const char *in = (const char *)c->input.p;
    size_t len = c->input.len;
    bool ok = strcmp(c->kind, "ok") == 0;
    if (strcmp(c->mode, "expr") == 0) {
        cedar_expr *e = NULL;
        int rc = parse_expr_exact(&e, set, in, len, &err);
        if (!ok) {
            fails += check_error(c, rc, &err);
        } else if (rc != 0) {
            print_message("%s: unexpected error: %s\n", c->name, err.msg);
            fails++;
        } else {
            /* want is Cedar text with the intended tree (fully parenthesized in the
             * vectors): both must have the same shape. */
            cedar_expr *w = NULL;
            char *got = print_expr(e, true);
            if (parse_expr_exact(&w, set, (const char *)c->want.p, c->want.len, &err) != 0) {
                print_message("%s: expectation does not parse: %s\n", c->name, err.msg);
                fails++;
            } else {
                char *want = print_expr(w, true);
                if (strcmp(got, want) != 0) {
                    print_message("%s:\n want %s\n  got %s\n", c->name, want, got);
                    fails++;
                }
                free(want);
            }
            /* Round trip: the normal printed form parses to the same tree. */
            char *text = print_expr(e, false);
            cedar_expr *e2 = NULL;
            if (parse_expr_exact(&e2, set, text, strlen(text), &err) != 0) {
                print_message("%s: reparse of %s failed: %s\n", c->name, text, err.msg);
                fails++;
            } else {
                char *again = print_expr(e2, true);
                if (strcmp(again, got) != 0) {
                    print_message("%s: round trip changed %s to %s\n", c->name, got, again);
                    fails++;
                }
                free(again);
            }
            free(text);
            free(got);
        }
    } else {
        int rc = parse_exact(set, in, len, &err);
        if (!ok) {
            fails += check_error(c, rc, &err);
            if (set->n_policies + set->n_templates != 0) {
                print_message("%s: failed parse left policies in the set\n", c->name);
                fails++;
            }
        } else if (rc != 0) {
            print_message("%s: unexpected error: %s\n", c->name, err.msg);
            fails++;
        } else {
            char *got = print_set(set);
            if (strcmp(got, (const char *)c->want.p) != 0) {
                print_message("%s:\n want %s\n  got %s\n", c->name, (const char *)c->want.p, got);
                fails++;
            }
            free(got);
            /* Round trip each policy through its printed text. */
            for (int t = 0; t < 2; t++) {
                size_t n = t ? set->n_templates : set->n_policies;
                for (size_t i = 0; i < n; i++) {
                    const cedar_policy *p = t ? set->templates[i] : set->policies[i];
                    warden_buf b;
                    warden_buf_init(&b);
                    assert_int_equal(warden_policy_print(&b, p), 0);
                    cedar_pset *s2 = new_set();
                    if (parse_exact(s2, (const char *)b.p, b.len, &err) != 0) {
                        print_message("%s: reparse failed: %s\n", c->name, err.msg);
                        fails++;
                    } else {
                        const cedar_policy *q = t ? s2->templates[0] : s2->policies[0];
                        warden_buf b2;
                        warden_buf_init(&b2);
                        assert_int_equal(warden_policy_print(&b2, q), 0);
                        if (b2.len != b.len || memcmp(b2.p, b.p, b.len) != 0) {
                            print_message("%s: policy round trip differs\n", c->name);
                            fails++;
                        }
                        warden_buf_fini(&b2);
                    }
                    warden_policy_set_free(s2);
                    warden_buf_fini(&b);
                }
            }
        }
    }
    warden_policy_set_free(set);
    return fails;
}

static void run_vectors(const char *file, int min_cases)
{
    const char *dir = getenv("WARDEN_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/vectors/%s", dir ? dir : ".", file);
    warden_buf data;
    warden_buf_init(&data);
    warden_err err;
    if (warden_file_read(&data, path, 1 << 20, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(warden_buf_cstr(&data), 0);

    int cases = 0, fails = 0;
    vcase c;
    memset(&c, 0, sizeof c);
    int state = 0; /* 0 before first case, 1 input, 2 want */
    char *line = (char *)data.p;
    for (;;) {
        char *nl = strchr(line, '\n');
        bool last = nl == NULL;
        if (nl != NULL)
            *nl = '\0';
        bool header = strncmp(line, "### ", 4) == 0;
        if ((header || last) && state != 0) {
            if (last && state == 2 && *line != '\0') {
                if (c.want.len)
                    assert_int_equal(warden_buf_puts(&c.want, "\n"), 0);
                assert_int_equal(warden_buf_puts(&c.want, line), 0);
            }
            while (c.want.len > 0 && c.want.p[c.want.len - 1] == '\n')
                c.want.len--;
            assert_int_equal(warden_buf_cstr(&c.want), 0);
            assert_int_equal(warden_buf_cstr(&c.input), 0);
            fails += run_case(&c);
            cases++;
            warden_buf_fini(&c.input);
            warden_buf_fini(&c.want);
            state = 0;
        }
        if (header) {
            memset(&c, 0, sizeof c);
            assert_int_equal(sscanf(line + 4, "%15s %15s %127s", c.mode, c.kind, c.name), 3);
            warden_buf_init(&c.input);
            warden_buf_init(&c.want);
            state = 1;
        } else if (state == 1) {
            if (strcmp(line, "---") == 0) {
                state = 2;
            } else {
                if (c.input.len || c.input.p != NULL)
                    assert_int_equal(warden_buf_puts(&c.input, "\n"), 0);
                assert_int_equal(warden_buf_puts(&c.input, line), 0);
                if (c.input.p == NULL) /* an empty first line still counts as a line */
                    assert_int_equal(warden_buf_reserve(&c.input, 1), 0);
            }
        } else if (state == 2) {
            if (c.want.len)
                assert_int_equal(warden_buf_puts(&c.want, "\n"), 0);
            assert_int_equal(warden_buf_puts(&c.want, line), 0);
        }
        if (last)
            break;
        line = nl + 1;
    }
    warden_buf_fini(&data);
    print_message("%s: %d cases, %d failures\n", file, cases, fails);
    assert_true(cases >= min_cases);
    assert_int_equal(fails, 0);
}

static void policy_parser_expr_vectors(void **state)
{
    (void)state;
    run_vectors("cedar_expr.txt", 100);
}

static void policy_parser_policy_vectors(void **state)
{
    (void)state;
    run_vectors("cedar_policy.txt", 35);
}

/* ---- API ---- */

static void policy_parser_all_or_nothing(void **state)
{
    (void)state;
    cedar_pset *set = new_set();
    warden_err err;
    const char *t = "permit(principal, action, resource);\nforbid(principal, action);";
    assert_int_equal(parse_exact(set, t, strlen(t), &err), WARDEN_EPARSE);
    assert_int_equal(set->n_policies, 0);
    /* A failed call does not consume ids. */
    const char *ok = "permit(principal, action, resource);";
    assert_int_equal(parse_exact(set, ok, strlen(ok), &err), 0);
    assert_string_equal(set->policies[0]->id->p, "policy0");
    warden_policy_set_free(set);
}

static void policy_parser_policy_fields(void **state)
{
    (void)state;
    cedar_pset *set = new_set();
    warden_err err;
    const char *t = "\n  @a(\"x\") @b\npermit(principal is User in Group::\"g\", action in "
                    "[Action::\"r\"], resource)\nunless { true };\n";
    assert_int_equal(parse_exact(set, t, strlen(t), &err), 0);
    const cedar_policy *p = set->policies[0];
    assert_string_equal(p->file, "test.cedar");
    assert_int_equal(p->loc.line, 2);
    assert_int_equal(p->loc.col, 3);
    assert_int_equal(p->text_len, strlen(t) - 4);
    assert_memory_equal(p->text, t + 3, p->text_len);
    assert_int_equal(p->n_annos, 2);
    assert_string_equal(p->annos[0].key->p, "a");
    assert_true(p->annos[0].has_value);
    assert_string_equal(p->annos[1].key->p, "b");
    assert_false(p->annos[1].has_value);
    assert_int_equal(p->annos[1].value->len, 0);
    assert_int_equal(p->principal.op, CEDAR_SCOPE_IS_IN);
    assert_string_equal(p->principal.is_type->p, "User");
    assert_string_equal(p->principal.entity.type->p, "Group");
    assert_int_equal(p->action.op, CEDAR_SCOPE_IN_SET);
    assert_int_equal(p->action.n_set, 1);
    assert_string_equal(p->action.set[0].id->p, "r");
    assert_int_equal(p->resource.op, CEDAR_SCOPE_ANY);
    assert_int_equal(p->n_conds, 1);
    assert_true(p->conds[0].unless);
    assert_int_equal(p->conds[0].expr->kind, CEDAR_E_BOOL);
    assert_int_equal(p->conds[0].loc.line, 4);
    assert_int_equal(p->conds[0].loc.col, 1);
    assert_false(p->is_template);
    warden_policy_set_free(set);
}

static void policy_parser_expr_nodes(void **state)
{
    (void)state;
    cedar_pset *set = new_set();
    warden_err err;
    cedar_expr *e;
    const char *t = "-9223372036854775808";
    assert_int_equal(parse_expr_exact(&e, set, t, strlen(t), &err), 0);
    assert_int_equal(e->kind, CEDAR_E_LONG);
    assert_true(e->u.i == INT64_MIN);

    t = "context.ip.isInRange(ip(\"10.0.0.0/8\"))";
    assert_int_equal(parse_expr_exact(&e, set, t, strlen(t), &err), 0);
    assert_int_equal(e->kind, CEDAR_E_EXT);
    assert_int_equal(e->u.ext.fn, CEDAR_EXT_IS_IN_RANGE);
    assert_int_equal(e->u.ext.n, 2);
    assert_int_equal(e->u.ext.args[0]->kind, CEDAR_E_GET_ATTR);
    assert_int_equal(e->u.ext.args[1]->kind, CEDAR_E_EXT);
    assert_int_equal(e->u.ext.args[1]->u.ext.fn, CEDAR_EXT_IP);
    assert_int_equal(e->u.ext.args[1]->u.ext.n, 1);
    assert_int_equal(e->height, 3);
    assert_int_equal(e->loc.col, 11);

    t = "\"ab\" like \"*a\\*b**\"";
    assert_int_equal(parse_expr_exact(&e, set, t, strlen(t), &err), 0);
    assert_int_equal(e->kind, CEDAR_E_LIKE);
    assert_int_equal(e->u.like.pat.n, 3);
    assert_true(e->u.like.pat.elems[0].wildcard);
    assert_false(e->u.like.pat.elems[1].wildcard);
    assert_int_equal(e->u.like.pat.elems[1].len, 3);
    assert_memory_equal(e->u.like.pat.elems[1].p, "a*b", 3);
    assert_true(e->u.like.pat.elems[2].wildcard);

    t = "principal has a.b.c";
    assert_int_equal(parse_expr_exact(&e, set, t, strlen(t), &err), 0);
    assert_int_equal(e->kind, CEDAR_E_HAS_ATTR);
    assert_int_equal(e->u.has.n, 3);
    assert_string_equal(e->u.has.path[2]->p, "c");

    t = "resource is A::B in principal";
    assert_int_equal(parse_expr_exact(&e, set, t, strlen(t), &err), 0);
    assert_int_equal(e->kind, CEDAR_E_IS);
    assert_string_equal(e->u.is.type->p, "A::B");
    assert_int_equal(e->u.is.in->kind, CEDAR_E_VAR);
    assert_int_equal(e->u.is.in->u.var, CEDAR_VAR_PRINCIPAL);
    warden_policy_set_free(set);
}

static void policy_parser_bad_bytes(void **state)
{
    (void)state;
    cedar_pset *set = new_set();
    warden_err err;
    cedar_expr *e;
    /* A raw carriage return inside a string (the reference rejects it). */
    assert_int_equal(parse_expr_exact(&e, set, "\"a\rb\"", 5, &err), WARDEN_EPARSE);
    assert_non_null(strstr(err.msg, "test.cedar:1:3: bare carriage return"));
    /* CR LF between tokens is fine. */
    assert_int_equal(parse_expr_exact(&e, set, "1\r\n+ 2", 6, &err), 0);
    /* Invalid UTF-8, with its position. */
    const char bad[] = "true &&\n\"caf\xC3\"";
    assert_int_equal(parse_expr_exact(&e, set, bad, sizeof bad - 1, &err), WARDEN_EPARSE);
    assert_string_equal(err.msg, "test.cedar:2:5: invalid UTF-8");
    assert_int_equal(parse_expr_exact(&e, set, "\"\xC0\x80\"", 4, &err), WARDEN_EPARSE);
    assert_int_equal(parse_expr_exact(&e, set, "\"\xED\xA0\x80\"", 5, &err), WARDEN_EPARSE);
    assert_int_equal(parse_expr_exact(&e, set, "\"\xF4\x90\x80\x80\"", 6, &err), WARDEN_EPARSE);
    /* Unicode whitespace separates tokens: NBSP, U+2003, U+3000, U+2028. */
    const char ws[] = "1\xC2\xA0+\xE2\x80\x83"
                      "2\xE3\x80\x80+\xE2\x80\xA8"
                      "3";
    assert_int_equal(parse_expr_exact(&e, set, ws, sizeof ws - 1, &err), 0);
    assert_int_equal(e->kind, CEDAR_E_ADD);
    /* Other non-ASCII outside strings is an error. */
    assert_int_equal(parse_expr_exact(&e, set, "\xC3\xA9", 2, &err), WARDEN_EPARSE);
    warden_policy_set_free(set);
}

static void policy_parser_unterminated_buffers(void **state)
{
    (void)state;
    /* Every prefix of a policy that exercises each token kind: no crash, no read past
     * the end (the sanitizer build checks), and only the full text parses. */
    const char *t = "@id(\"x\\u{41}\") permit(principal == ?principal, action in [Action::\"a\"], "
                    "resource is R in F::\"f\") when { context.a[\"b\"].contains(-12) && "
                    "ip(\"1.2.3.4\").isIpv4() || \"s\" like \"a*\" && principal has x.y } "
                    "unless { if !true then {k: 1} == {} else 3 * 4 <= 5 - 6 };";
    size_t n = strlen(t);
    for (size_t len = 0; len <= n; len++) {
        cedar_pset *set = new_set();
        warden_err err;
        int rc = parse_exact(set, t, len, &err);
        if (len == n || len == 0)
            assert_int_equal(rc, 0);
        else
            assert_int_not_equal(rc, 0);
        warden_policy_set_free(set);
    }
}

static char *repeat(const char *open, size_t n, const char *mid, const char *close)
{
    size_t lo = strlen(open), lm = strlen(mid), lc = strlen(close);
    char *s = malloc(n * (lo + lc) + lm + 1);
    assert_non_null(s);
    char *p = s;
    for (size_t i = 0; i < n; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, mid, lm);
    p += lm;
    for (size_t i = 0; i < n; i++, p += lc)
        memcpy(p, close, lc);
    *p = '\0';
    return s;
}

static void expect_limit(const char *text, const char *what)
{
    cedar_pset *set = new_set();
    warden_err err;
    cedar_expr *e;
    assert_int_equal(parse_expr_exact(&e, set, text, strlen(text), &err), WARDEN_ELIMIT);
    assert_non_null(strstr(err.msg, what));
    assert_true(strncmp(err.msg, "test.cedar:1:", 13) == 0);
    warden_policy_set_free(set);
}

static void expect_ok(const char *text)
{
    cedar_pset *set = new_set();
    warden_err err;
    cedar_expr *e;
    assert_int_equal(parse_expr_exact(&e, set, text, strlen(text), &err), 0);
    warden_policy_set_free(set);
}

static void policy_parser_depth_limit(void **state)
{
    (void)state;
    char *s = repeat("(", 150, "1", ")");
    expect_ok(s);
    free(s);
    s = repeat("(", CEDAR_MAX_DEPTH, "1", ")");
    expect_limit(s, "nested more than 200 levels");
    free(s);
    s = repeat("[", 100000, "1", "]");
    expect_limit(s, "nested more than 200 levels");
    free(s);
    s = repeat("{a:", 5000, "1", "}");
    expect_limit(s, "nested more than 200 levels");
    free(s);
    s = repeat("if true then ", 5000, "1", " else 2");
    expect_limit(s, "nested more than 200 levels");
    free(s);
    s = repeat("ip(", 5000, "\"x\"", ")");
    expect_limit(s, "nested more than 200 levels");
    free(s);
    /* The scope's parentheses are bounded too. */
    cedar_pset *set = new_set();
    warden_err err;
    char *inner = repeat("(", 100000, "User::\"a\"", ")");
    size_t len = strlen(inner) + 64;
    char *pol = malloc(len);
    assert_non_null(pol);
    snprintf(pol, len, "permit(principal == %s, action, resource);", inner);
    assert_int_equal(parse_exact(set, pol, strlen(pol), &err), WARDEN_ELIMIT);
    free(inner);
    free(pol);
    warden_policy_set_free(set);
}

static void policy_parser_height_limit(void **state)
{
    (void)state;
    /* Left-associative chains make tall trees without any nesting. */
    char *s = repeat("", 0, "", "");
    free(s);
    warden_buf b;
    warden_buf_init(&b);
    assert_int_equal(warden_buf_puts(&b, "1"), 0);
    for (unsigned i = 1; i < CEDAR_MAX_HEIGHT; i++)
        assert_int_equal(warden_buf_puts(&b, " + 1"), 0);
    assert_int_equal(warden_buf_cstr(&b), 0);
    expect_ok((char *)b.p); /* height exactly CEDAR_MAX_HEIGHT */
    assert_int_equal(warden_buf_puts(&b, " + 1"), 0);
    assert_int_equal(warden_buf_cstr(&b), 0);
    expect_limit((char *)b.p, "more than 1000 levels deep");
    warden_buf_fini(&b);
    warden_buf_init(&b);
    assert_int_equal(warden_buf_puts(&b, "true"), 0);
    for (unsigned i = 0; i < 5000; i++)
        assert_int_equal(warden_buf_puts(&b, " || principal.a"), 0);
    assert_int_equal(warden_buf_cstr(&b), 0);
    expect_limit((char *)b.p, "split it up");
    warden_buf_fini(&b);
}

static void policy_parser_size_and_node_limits(void **state)
{
    (void)state;
    cedar_pset *set = new_set();
    warden_err err;
    size_t big = (size_t)CEDAR_MAX_TEXT + 1;
    uint8_t *text = malloc(big);
    assert_non_null(text);
    memset(text, ' ', big);
    assert_int_equal(warden_policy_set_parse(set, "big.cedar", text, big, &err), WARDEN_ELIMIT);
    assert_non_null(strstr(err.msg, "exceeds the limit"));
    /* Just under the size limit, a flat set with more nodes than allowed. */
    size_t n = (size_t)CEDAR_MAX_NODES + 10;
    size_t len = 2 * n + 1;
    assert_true(len <= CEDAR_MAX_TEXT);
    text[0] = '[';
    for (size_t i = 0; i < n; i++) {
        text[1 + 2 * i] = '1';
        text[2 + 2 * i] = ',';
    }
    text[len - 1] = ']';
    cedar_expr *e;
    assert_int_equal(warden_policy_set_parse_expr(&e, set, "big.cedar", text, len, &err),
                     WARDEN_ELIMIT);
    assert_non_null(strstr(err.msg, "syntax nodes"));
    free(text);
    warden_policy_set_free(set);
}

static void policy_parser_parse_euid(void **state)
{
    (void)state;
    cedar_pset *set = new_set();
    warden_err err;
    cedar_euid e;
    const char *t = " Org::User::\"al\\\"ice\" ";
    assert_int_equal(
        warden_policy_set_parse_euid(&e, set, "arg", (const uint8_t *)t, strlen(t), &err), 0);
    assert_string_equal(e.type->p, "Org::User");
    assert_string_equal(e.id->p, "al\"ice");
    t = "User::\"a\" extra";
    assert_int_equal(
        warden_policy_set_parse_euid(&e, set, "arg", (const uint8_t *)t, strlen(t), &err),
        WARDEN_EPARSE);
    assert_string_equal(
        err.msg, "arg:1:11: expected end of input after the entity reference, found `extra`");
    t = "\"a\"";
    assert_int_equal(
        warden_policy_set_parse_euid(&e, set, "arg", (const uint8_t *)t, strlen(t), &err),
        WARDEN_EPARSE);
    assert_null(e.type);
    t = "if::\"a\"";
    assert_int_equal(
        warden_policy_set_parse_euid(&e, set, "arg", (const uint8_t *)t, strlen(t), &err),
        WARDEN_EPARSE);
    warden_policy_set_free(set);
}

static void policy_parser_long_key_lists(void **state)
{
    (void)state;
    /* Past 64 entries duplicates are found by sorting: check both paths. */
    for (int dup = 0; dup < 2; dup++) {
        warden_buf b;
        warden_buf_init(&b);
        assert_int_equal(warden_buf_puts(&b, "{"), 0);
        for (int i = 0; i < 200; i++)
            assert_int_equal(warden_buf_printf(&b, "k%d: %d, ", i, i), 0);
        assert_int_equal(warden_buf_printf(&b, "k%d: 0}", dup ? 7 : 200), 0);
        cedar_pset *set = new_set();
        warden_err err;
        cedar_expr *e;
        int rc = parse_expr_exact(&e, set, (const char *)b.p, b.len, &err);
        if (dup) {
            assert_int_equal(rc, WARDEN_EPARSE);
            assert_non_null(strstr(err.msg, "duplicate key \"k7\""));
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(e->u.rec.n, 201);
        }
        warden_buf_fini(&b);
        warden_buf_init(&b);
        for (int i = 0; i < 200; i++)
            assert_int_equal(warden_buf_printf(&b, "@a%d ", i), 0);
        assert_int_equal(
            warden_buf_printf(&b, "@a%d permit(principal, action, resource);", dup ? 150 : 200), 0);
        rc = parse_exact(set, (const char *)b.p, b.len, &err);
        if (dup) {
            assert_int_equal(rc, WARDEN_EPARSE);
            assert_non_null(strstr(err.msg, "duplicate annotation @a150"));
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(set->policies[0]->n_annos, 201);
        }
        warden_buf_fini(&b);
        warden_policy_set_free(set);
    }
}

/* Known answers from the reference parser: every text must be accepted or rejected
 * exactly as the reference does, and accepted ones must survive a round trip. */
static void policy_parser_reference_acceptance(void **state)
{
    (void)state;
    const char *dir = getenv("WARDEN_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/vectors/cedar_reference_acceptance.json",
             dir ? dir : ".");
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (doc == NULL)
        fail_msg("%s: %s", path, jerr.text);
    json_t *cases = json_object_get(doc, "cases");
    assert_true(json_array_size(cases) >= 700);
    int fails = 0, accepted = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        const char *verdict = json_string_value(json_array_get(c, 0));
        json_t *jt = json_array_get(c, 1);
        const char *text = json_string_value(jt);
        assert_non_null(verdict);
        assert_non_null(text);
        cedar_pset *set = new_set();
        warden_err err;
        int rc = parse_exact(set, text, json_string_length(jt), &err);
        bool want_ok = strcmp(verdict, "OK") == 0;
        if ((rc == 0) != want_ok) {
            print_message("case %zu: reference says %s, we say %s\n  %s\n", i, verdict,
                          rc == 0 ? "OK" : err.msg, text);
            fails++;
        }
        if (rc == 0) {
            accepted++;
            for (size_t k = 0; k < set->n_policies + set->n_templates; k++) {
                const cedar_policy *p =
                    k < set->n_policies ? set->policies[k] : set->templates[k - set->n_policies];
                warden_buf b, b2;
                warden_buf_init(&b);
                warden_buf_init(&b2);
                assert_int_equal(warden_policy_print(&b, p), 0);
                cedar_pset *s2 = new_set();
                assert_int_equal(parse_exact(s2, (const char *)b.p, b.len, &err), 0);
                const cedar_policy *q = s2->n_policies ? s2->policies[0] : s2->templates[0];
                assert_int_equal(warden_policy_print(&b2, q), 0);
                assert_int_equal(b.len, b2.len);
                assert_memory_equal(b.p, b2.p, b.len);
                warden_policy_set_free(s2);
                warden_buf_fini(&b);
                warden_buf_fini(&b2);
            }
        }
        warden_policy_set_free(set);
    }
    json_decref(doc);
    print_message("reference acceptance: %d accepted, %d failures\n", accepted, fails);
    assert_true(accepted >= 300);
    assert_int_equal(fails, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy_parser_expr_vectors),
        cmocka_unit_test(policy_parser_policy_vectors),
        cmocka_unit_test(policy_parser_all_or_nothing),
        cmocka_unit_test(policy_parser_policy_fields),
        cmocka_unit_test(policy_parser_expr_nodes),
        cmocka_unit_test(policy_parser_bad_bytes),
        cmocka_unit_test(policy_parser_unterminated_buffers),
        cmocka_unit_test(policy_parser_depth_limit),
        cmocka_unit_test(policy_parser_height_limit),
        cmocka_unit_test(policy_parser_size_and_node_limits),
        cmocka_unit_test(policy_parser_parse_euid),
        cmocka_unit_test(policy_parser_reference_acceptance),
        cmocka_unit_test(policy_parser_long_key_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
