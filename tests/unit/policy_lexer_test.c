/* Tests for src/policy/lexer.c: token kinds and positions, keywords, whitespace and
 * comments as the reference lexes them, integer overflow, string unescaping and the
 * UTF-8 check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "policy/lexer.h"

static void lex_all(const char *text, size_t len, const tok_kind *want, size_t n)
{
    lexer lx;
    token t;
    const char *what = NULL;
    lexer_init(&lx, (const uint8_t *)text, len);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(lexer_next(&lx, &t, &what), 0);
        assert_int_equal(t.kind, want[i]);
    }
    assert_int_equal(lexer_next(&lx, &t, &what), 0);
    assert_int_equal(t.kind, T_EOF);
    /* EOF is sticky. */
    assert_int_equal(lexer_next(&lx, &t, &what), 0);
    assert_int_equal(t.kind, T_EOF);
}

static void policy_lexer_operators(void **state)
{
    (void)state;
    const char *t = "@.,;:::(){}[]== != < <= > >= || && + - * / % ! =";
    const tok_kind want[] = {T_AT,      T_DOT,    T_COMMA,  T_SEMI,   T_DCOLON,   T_COLON,
                             T_LPAREN,  T_RPAREN, T_LBRACE, T_RBRACE, T_LBRACKET, T_RBRACKET,
                             T_EQ,      T_NE,     T_LT,     T_LE,     T_GT,       T_GE,
                             T_OR,      T_AND,    T_PLUS,   T_MINUS,  T_STAR,     T_SLASH,
                             T_PERCENT, T_BANG,   T_ASSIGN};
    lex_all(t, strlen(t), want, sizeof want / sizeof want[0]);
}

static void policy_lexer_keywords_and_positions(void **state)
{
    (void)state;
    const char *t = "permit\n  trueish true _x9 ?principal ?other 042\n\"s\\\"t\"";
    lexer lx;
    token k;
    const char *what;
    lexer_init(&lx, (const uint8_t *)t, strlen(t));
    assert_int_equal(lexer_next(&lx, &k, &what), 0);
    assert_int_equal(k.kind, T_IDENT);
    assert_int_equal(k.kw, KW_PERMIT);
    assert_int_equal(k.loc.line, 1);
    assert_int_equal(k.loc.col, 1);
    assert_int_equal(lexer_next(&lx, &k, &what), 0);
    assert_int_equal(k.kw, KW_NONE); /* longest match: trueish is an identifier */
    assert_int_equal(k.len, 7);
    assert_int_equal(k.loc.line, 2);
    assert_int_equal(k.loc.col, 3);
    assert_int_equal(lexer_next(&lx, &k, &what), 0);
    assert_int_equal(k.kw, KW_TRUE);
    assert_true(KW_IS_RESERVED(k.kw));
    assert_int_equal(lexer_next(&lx, &k, &what), 0);
    assert_int_equal(k.kind, T_IDENT);
    assert_int_equal(k.len, 3);
    assert_int_equal(lexer_next(&lx, &k, &what), 0);
    assert_int_equal(k.kind, T_SLOT);
    assert_int_equal(k.len, 10);
    assert_int_equal(lexer_next(&lx, &k, &what), 0);
    assert_int_equal(k.kind, T_SLOT);
    assert_int_equal(lexer_next(&lx, &k, &what), 0);
    assert_int_equal(k.kind, T_INT);
    assert_true(k.num == 42);
    assert_false(k.overflow);
    assert_int_equal(lexer_next(&lx, &k, &what), 0);
    assert_int_equal(k.kind, T_STR);
    assert_int_equal(k.len, 6);
    assert_int_equal(k.loc.line, 3);
    assert_false(KW_IS_RESERVED(KW_PERMIT));
    assert_false(KW_IS_RESERVED(KW_PRINCIPAL));
}

static void policy_lexer_integers(void **state)
{
    (void)state;
    lexer lx;
    token k;
    const char *what;
    const char *t = "18446744073709551615 18446744073709551616 9223372036854775808";
    lexer_init(&lx, (const uint8_t *)t, strlen(t));
    assert_int_equal(lexer_next(&lx, &k, &what), 0);
    assert_true(k.num == UINT64_MAX);
    assert_false(k.overflow);
    assert_int_equal(lexer_next(&lx, &k, &what), 0);
    assert_true(k.overflow);
    assert_int_equal(lexer_next(&lx, &k, &what), 0);
    assert_true(k.num == (uint64_t)INT64_MAX + 1);
}

static void policy_lexer_space_and_comments(void **state)
{
    (void)state;
    /* Comments end at \n or \r; Unicode White_Space separates tokens. */
    const char t[] = "1 // c\r2\t\v\f// x\n\xC2\x85"
                     "3\xE1\x9A\x80"
                     "4\xE2\x81\x9F"
                     "5\xE2\x80\xAF"
                     "6//end";
    const tok_kind want[] = {T_INT, T_INT, T_INT, T_INT, T_INT, T_INT};
    lex_all(t, sizeof t - 1, want, 6);
    /* U+200B (zero width space) is not White_Space. */
    lexer lx;
    token k;
    const char *what = NULL;
    lexer_init(&lx, (const uint8_t *)"\xE2\x80\x8B", 3);
    assert_int_equal(lexer_next(&lx, &k, &what), WARDEN_EPARSE);
    assert_string_equal(what, "unexpected character");
}

static void policy_lexer_errors(void **state)
{
    (void)state;
    const struct {
        const char *text;
        const char *what;
        uint32_t col;
    } cases[] = {
        {"\"abc", "unterminated string literal", 1},
        {"  \"ab\\", "unterminated string literal", 3},
        {"\"a\\\nb\"", "a backslash cannot end a line inside a string literal", 3},
        {"x | y", "unexpected '|' (did you mean '||'?)", 3},
        {"x & y", "unexpected '&' (did you mean '&&'?)", 3},
        {"? x", "unexpected '?': template slots are ?principal and ?resource", 1},
        {"#", "unexpected character", 1},
        {"$", "unexpected character", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lexer lx;
        token k;
        const char *what = NULL;
        lexer_init(&lx, (const uint8_t *)cases[i].text, strlen(cases[i].text));
        int rc;
        while ((rc = lexer_next(&lx, &k, &what)) == 0 && k.kind != T_EOF)
            ;
        assert_int_equal(rc, WARDEN_EPARSE);
        assert_string_equal(what, cases[i].what);
        assert_int_equal(k.loc.col, cases[i].col);
    }
}

static int unescape(const char *lit, warden_buf *out, const char **what)
{
    token t = {0};
    t.kind = T_STR;
    t.off = 0;
    t.len = strlen(lit);
    size_t at;
    out->len = 0;
    return unescape_string(out, (const uint8_t *)lit, &t, what, &at);
}

static void policy_lexer_unescape(void **state)
{
    (void)state;
    warden_buf b;
    warden_buf_init(&b);
    const char *what = NULL;
    assert_int_equal(unescape("\"\\t\\r\\n\\\\\\0\\x42\\'\\\"\"", &b, &what), 0);
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.p, "\t\r\n\\\0B'\"", 8);
    assert_int_equal(unescape("\"\\u{0}\\u{1234}\\u{12345}\\u{10FFFF}\\u{1_F_6_0_0}\"", &b, &what),
                     0);
    assert_memory_equal(b.p, "\0\xE1\x88\xB4\xF0\x92\x8D\x85\xF4\x8F\xBF\xBF\xF0\x9F\x98\x80", 16);
    assert_int_equal(b.len, 16);
    const struct {
        const char *lit, *what;
    } bad[] = {
        {"\"\\xFF\"", "\\x escape must be at most \\x7F (use \\u{...} for other characters)"},
        {"\"\\x4g\"", "invalid character in \\x escape"},
        {"\"\\x4\"", "\\x escape needs two hex digits"},
        {"\"\\x\"", "\\x escape needs two hex digits"},
        {"\"\\u1234\"", "\\u escape needs braces: \\u{...}"},
        {"\"\\u{}\"", "empty \\u{} escape"},
        {"\"\\u{_1}\"", "\\u{...} escape cannot start with '_'"},
        {"\"\\u{1234567}\"", "\\u{...} escape has more than 6 hex digits"},
        {"\"\\u{DFFF}\"", "\\u{...} escape is a lone surrogate"},
        {"\"\\u{110000}\"", "\\u{...} escape is beyond U+10FFFF"},
        {"\"\\u{12x}\"", "invalid character in \\u{...} escape"},
        {"\"\\u{12", "unterminated \\u{...} escape"},
        {"\"\\b\"", "invalid escape sequence"},
        {"\"\\*\"", "invalid escape sequence \\* (only `like` patterns accept it)"},
        {"\"a\rb\"", "bare carriage return in a string literal (write \\r)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        what = NULL;
        assert_int_equal(unescape(bad[i].lit, &b, &what), WARDEN_EPARSE);
        assert_string_equal(what, bad[i].what);
    }
    /* Patterns: * is a wildcard (also when escaped as \x2A), \* a literal star. */
    token t = {0};
    const char *pat = "\"a*\\*\\x2Ab\"";
    t.kind = T_STR;
    t.len = strlen(pat);
    warden_buf stars;
    warden_buf_init(&stars);
    size_t at;
    b.len = 0;
    assert_int_equal(unescape_pattern(&b, &stars, (const uint8_t *)pat, &t, &what, &at), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.p, "a*b", 3);
    assert_int_equal(stars.len, 2 * sizeof(size_t));
    size_t pos[2];
    memcpy(pos, stars.p, sizeof pos);
    assert_int_equal(pos[0], 1);
    assert_int_equal(pos[1], 2);
    warden_buf_fini(&stars);
    warden_buf_fini(&b);
}

static void policy_lexer_utf8_check(void **state)
{
    (void)state;
    const struct {
        const char *s;
        size_t len, bad;
    } cases[] = {
        {"abc", 3, 3},
        {"\xC3\xA9", 2, 2},
        {"a\xC3", 2, 1},
        {"\xC0\x80", 2, 0},         /* overlong */
        {"\xE0\x80\x80", 3, 0},     /* overlong */
        {"\xED\xA0\x80", 3, 0},     /* surrogate */
        {"\xF4\x90\x80\x80", 4, 0}, /* > U+10FFFF */
        {"\xF0\x9F\x98\x80", 4, 4},
        {"x\x80", 2, 1},
        {"\xF8\x88\x80\x80\x80", 5, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(utf8_check((const uint8_t *)cases[i].s, cases[i].len), cases[i].bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy_lexer_operators),
        cmocka_unit_test(policy_lexer_keywords_and_positions),
        cmocka_unit_test(policy_lexer_integers),
        cmocka_unit_test(policy_lexer_space_and_comments),
        cmocka_unit_test(policy_lexer_errors),
        cmocka_unit_test(policy_lexer_unescape),
        cmocka_unit_test(policy_lexer_utf8_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
