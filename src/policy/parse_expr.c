/* Cedar expressions: recursive descent following the reference grammar's precedence
 * (Expr > Or > And > Relation > Add > Mult > Unary > Member > Primary), with the
 * special forms in parse_forms.c, so that we accept exactly what it accepts.
 * Invariant: every recursion passes through parse_expr, which bounds the depth. */
#include "policy/parse_internal.h"

#include <stdlib.h>
#include <string.h>

static int parse_primary(parser *ps, cedar_expr **out)
{
    token t = ps->tok;
    char b[64];
    int rc;
    switch (t.kind) {
    case T_INT:
        if (t.overflow || t.num > (uint64_t)INT64_MAX)
            return perr(ps, t.loc, WARDEN_EPARSE,
                        "integer literal %.*s is out of range for a 64-bit signed integer",
                        (int)(t.len > 40 ? 40 : t.len), (const char *)ps->text + t.off);
        if ((rc = node_new(ps, out, CEDAR_E_LONG, t.loc)) != 0)
            return rc;
        (*out)->u.i = (int64_t)t.num;
        return advance(ps);
    case T_STR:
        if ((rc = node_new(ps, out, CEDAR_E_STRING, t.loc)) != 0)
            return rc;
        if ((rc = str_token(ps, &(*out)->u.s)) != 0)
            return rc;
        return advance(ps);
    case T_SLOT:
        if ((t.len == 10 && memcmp(ps->text + t.off, "?principal", 10) == 0) ||
            (t.len == 9 && memcmp(ps->text + t.off, "?resource", 9) == 0))
            return perr(ps, t.loc, WARDEN_EPARSE,
                        "template slot %.*s is only allowed in the policy scope, not in %s",
                        (int)t.len, (const char *)ps->text + t.off,
                        ps->in_policy ? "a condition" : "an expression");
        return perr(ps, t.loc, WARDEN_EPARSE,
                    "invalid template slot %.*s (slots are ?principal and ?resource)",
                    (int)(t.len > 60 ? 60 : t.len), (const char *)ps->text + t.off);
    case T_LPAREN: {
        if ((rc = advance(ps)) != 0)
            return rc;
        if ((rc = parse_expr(ps, out)) != 0)
            return rc;
        return expect(ps, T_RPAREN, "')'");
    }
    case T_LBRACKET: {
        cedar_expr **items;
        uint32_t n;
        if ((rc = advance(ps)) != 0)
            return rc;
        if ((rc = parse_list(ps, T_RBRACKET, "',' or ']' in the set literal", &items, &n)) != 0)
            return rc;
        if ((rc = node_new(ps, out, CEDAR_E_SET, t.loc)) != 0)
            return rc;
        (*out)->u.set.items = items;
        (*out)->u.set.n = n;
        return set_children(ps, *out, items, n);
    }
    case T_LBRACE:
        return parse_record(ps, out);
    case T_IDENT: {
        token next = peek_next(ps);
        bool path = next.kind == T_DCOLON;
        if ((t.kw == KW_TRUE || t.kw == KW_FALSE) && !path) {
            if ((rc = node_new(ps, out, CEDAR_E_BOOL, t.loc)) != 0)
                return rc;
            (*out)->u.b = t.kw == KW_TRUE;
            return advance(ps);
        }
        if (t.kw == KW_IF && !path)
            return perr(ps, t.loc, WARDEN_EPARSE, "an `if` expression must be parenthesized here");
        if (t.kw >= KW_PRINCIPAL && t.kw <= KW_CONTEXT && !path) {
            if ((rc = node_new(ps, out, CEDAR_E_VAR, t.loc)) != 0)
                return rc;
            (*out)->u.var = (cedar_var)(t.kw - KW_PRINCIPAL);
            if ((rc = advance(ps)) != 0)
                return rc;
            if (ps->tok.kind == T_LPAREN)
                return perr(ps, t.loc, WARDEN_EPARSE, "variable `%.*s` cannot be called",
                            (int)t.len, (const char *)ps->text + t.off);
            return 0;
        }
        return parse_name_primary(ps, out);
    }
    default:
        return perr(ps, t.loc, WARDEN_EPARSE, "expected an expression, found %s",
                    tok_desc(ps, &t, b, sizeof b));
    }
}

/* Primary { '.' ident [ '(' args ')' ] | '[' string ']' } */
static int parse_member(parser *ps, cedar_expr **out)
{
    int rc = parse_primary(ps, out);
    char b[64];
    if (rc != 0)
        return rc;
    for (;;) {
        cedar_loc loc = ps->tok.loc;
        if (ps->tok.kind == T_DOT) {
            const cedar_str *name;
            if ((rc = advance(ps)) != 0)
                return rc;
            if ((rc = check_unreserved(ps, "an attribute or method name")) != 0)
                return rc;
            if ((rc = ident_token(ps, &name)) != 0)
                return rc;
            if ((rc = advance(ps)) != 0)
                return rc;
            if (ps->tok.kind == T_LPAREN) {
                cedar_expr **args;
                uint32_t n;
                if ((rc = parse_call_args(ps, &args, &n)) != 0)
                    return rc;
                if ((rc = make_method(ps, out, loc, *out, name, args, n)) != 0)
                    return rc;
                continue;
            }
            cedar_expr *recv = *out;
            if ((rc = node_new(ps, out, CEDAR_E_GET_ATTR, loc)) != 0)
                return rc;
            (*out)->u.attr.e = recv;
            (*out)->u.attr.attr = name;
            if ((rc = grow(ps, *out, recv)) != 0)
                return rc;
        } else if (ps->tok.kind == T_LBRACKET) {
            const cedar_str *name;
            if ((rc = advance(ps)) != 0)
                return rc;
            if (ps->tok.kind != T_STR)
                return perr(ps, ps->tok.loc, WARDEN_EPARSE,
                            "expected a string literal inside [...], found %s",
                            tok_desc(ps, &ps->tok, b, sizeof b));
            if ((rc = str_token(ps, &name)) != 0)
                return rc;
            if ((rc = advance(ps)) != 0)
                return rc;
            if (ps->tok.kind != T_RBRACKET)
                return perr(ps, ps->tok.loc, WARDEN_EPARSE,
                            "an attribute index must be a single string literal, then ']'");
            if ((rc = advance(ps)) != 0)
                return rc;
            cedar_expr *recv = *out;
            if ((rc = node_new(ps, out, CEDAR_E_GET_ATTR, loc)) != 0)
                return rc;
            (*out)->u.attr.e = recv;
            (*out)->u.attr.attr = name;
            if ((rc = grow(ps, *out, recv)) != 0)
                return rc;
        } else if (ps->tok.kind == T_LPAREN) {
            return perr(ps, loc, WARDEN_EPARSE,
                        "only extension functions and methods can be called");
        } else {
            return 0;
        }
    }
}

static int wrap_unary(parser *ps, cedar_expr **out, cedar_expr_kind kind, cedar_loc loc, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        cedar_expr *inner = *out;
        int rc = node_new(ps, out, kind, loc);
        if (rc != 0)
            return rc;
        (*out)->u.op.a = inner;
        if ((rc = grow(ps, *out, inner)) != 0)
            return rc;
    }
    return 0;
}

/* ['!'x1..4 | '-'x1..4] Member; `-<integer literal>` is a negative literal. */
static int parse_unary(parser *ps, cedar_expr **out)
{
    tok_kind k = ps->tok.kind;
    if (k != T_BANG && k != T_MINUS)
        return parse_member(ps, out);
    cedar_loc loc = ps->tok.loc;
    unsigned n = 0;
    int rc;
    while (ps->tok.kind == k) {
        n++;
        if ((rc = advance(ps)) != 0)
            return rc;
    }
    if (n > 4)
        return perr(ps, loc, WARDEN_EPARSE, "too many '%c' in a row (at most 4)",
                    k == T_BANG ? '!' : '-');
    if (k == T_BANG) {
        if ((rc = parse_member(ps, out)) != 0)
            return rc;
        return wrap_unary(ps, out, CEDAR_E_NOT, loc, n);
    }
    token t = ps->tok;
    if (t.kind == T_INT) {
        token next = peek_next(ps);
        if (next.kind != T_DOT && next.kind != T_LBRACKET && next.kind != T_LPAREN) {
            if (t.overflow || t.num > (uint64_t)INT64_MAX + 1)
                return perr(ps, t.loc, WARDEN_EPARSE,
                            "integer literal -%.*s is out of range for a 64-bit signed integer",
                            (int)(t.len > 40 ? 40 : t.len), (const char *)ps->text + t.off);
            if ((rc = node_new(ps, out, CEDAR_E_LONG, t.loc)) != 0)
                return rc;
            (*out)->u.i = t.num == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)t.num;
            if ((rc = advance(ps)) != 0)
                return rc;
            return wrap_unary(ps, out, CEDAR_E_NEG, loc, n - 1);
        }
    }
    if ((rc = parse_member(ps, out)) != 0)
        return rc;
    return wrap_unary(ps, out, CEDAR_E_NEG, loc, n);
}

static int parse_mult(parser *ps, cedar_expr **out)
{
    int rc = parse_unary(ps, out);
    while (rc == 0) {
        cedar_loc loc = ps->tok.loc;
        if (ps->tok.kind == T_SLASH)
            return perr(ps, loc, WARDEN_EPARSE, "division is not supported in Cedar");
        if (ps->tok.kind == T_PERCENT)
            return perr(ps, loc, WARDEN_EPARSE, "remainder (%%) is not supported in Cedar");
        if (ps->tok.kind != T_STAR)
            return 0;
        cedar_expr *rhs;
        if ((rc = advance(ps)) != 0 || (rc = parse_unary(ps, &rhs)) != 0)
            return rc;
        rc = binary(ps, out, CEDAR_E_MUL, loc, *out, rhs);
    }
    return rc;
}

int parse_add(parser *ps, cedar_expr **out)
{
    int rc = parse_mult(ps, out);
    while (rc == 0) {
        cedar_loc loc = ps->tok.loc;
        cedar_expr_kind kind;
        if (ps->tok.kind == T_PLUS)
            kind = CEDAR_E_ADD;
        else if (ps->tok.kind == T_MINUS)
            kind = CEDAR_E_SUB;
        else
            return 0;
        cedar_expr *rhs;
        if ((rc = advance(ps)) != 0 || (rc = parse_mult(ps, &rhs)) != 0)
            return rc;
        rc = binary(ps, out, kind, loc, *out, rhs);
    }
    return rc;
}

/* The relational operator at the current token, or 0 (CEDAR_E_BOOL never is one). */
static cedar_expr_kind relop(const token *t)
{
    switch (t->kind) {
    case T_EQ:
        return CEDAR_E_EQ;
    case T_NE:
        return CEDAR_E_NE;
    case T_LT:
        return CEDAR_E_LT;
    case T_LE:
        return CEDAR_E_LE;
    case T_GT:
        return CEDAR_E_GT;
    case T_GE:
        return CEDAR_E_GE;
    case T_IDENT:
        return t->kw == KW_IN ? CEDAR_E_IN : CEDAR_E_BOOL;
    default:
        return CEDAR_E_BOOL;
    }
}

static bool relation_follows(const token *t)
{
    return relop(t) != CEDAR_E_BOOL || t->kind == T_ASSIGN ||
           (t->kind == T_IDENT && (t->kw == KW_HAS || t->kw == KW_LIKE || t->kw == KW_IS));
}

static int parse_relation(parser *ps, cedar_expr **out)
{
    int rc = parse_add(ps, out);
    if (rc != 0)
        return rc;
    token t = ps->tok;
    cedar_expr_kind op = relop(&t);
    if (t.kind == T_ASSIGN)
        return perr(ps, t.loc, WARDEN_EPARSE, "'=' is not an operator; use '==' to compare");
    if (op != CEDAR_E_BOOL) {
        cedar_expr *rhs;
        if ((rc = advance(ps)) != 0 || (rc = parse_add(ps, &rhs)) != 0)
            return rc;
        if ((rc = binary(ps, out, op, t.loc, *out, rhs)) != 0)
            return rc;
    } else if (t.kind == T_IDENT && (t.kw == KW_HAS || t.kw == KW_LIKE || t.kw == KW_IS)) {
        if ((rc = advance(ps)) != 0)
            return rc;
        if (t.kw == KW_HAS)
            rc = parse_has(ps, out, t.loc, *out);
        else if (t.kw == KW_LIKE)
            rc = parse_like(ps, out, t.loc, *out);
        else
            rc = parse_is(ps, out, t.loc, *out);
        if (rc != 0)
            return rc;
    } else {
        return 0;
    }
    if (relation_follows(&ps->tok))
        return perr(ps, ps->tok.loc, WARDEN_EPARSE,
                    "comparisons cannot be chained; use parentheses to make the order explicit");
    return 0;
}

static int parse_and(parser *ps, cedar_expr **out)
{
    int rc = parse_relation(ps, out);
    while (rc == 0 && ps->tok.kind == T_AND) {
        cedar_loc loc = ps->tok.loc;
        cedar_expr *rhs;
        if ((rc = advance(ps)) != 0 || (rc = parse_relation(ps, &rhs)) != 0)
            return rc;
        rc = binary(ps, out, CEDAR_E_AND, loc, *out, rhs);
    }
    return rc;
}

static int parse_or(parser *ps, cedar_expr **out)
{
    int rc = parse_and(ps, out);
    while (rc == 0 && ps->tok.kind == T_OR) {
        cedar_loc loc = ps->tok.loc;
        cedar_expr *rhs;
        if ((rc = advance(ps)) != 0 || (rc = parse_and(ps, &rhs)) != 0)
            return rc;
        rc = binary(ps, out, CEDAR_E_OR, loc, *out, rhs);
    }
    return rc;
}

int parse_expr(parser *ps, cedar_expr **out)
{
    *out = NULL;
    if (ps->depth >= CEDAR_MAX_DEPTH)
        return perr(ps, ps->tok.loc, WARDEN_ELIMIT, "expression nested more than %u levels deep",
                    CEDAR_MAX_DEPTH);
    ps->depth++;
    int rc;
    if (ps->tok.kind == T_IDENT && ps->tok.kw == KW_IF && peek_next(ps).kind != T_DCOLON) {
        cedar_loc loc = ps->tok.loc;
        cedar_expr *c, *a, *b;
        if ((rc = advance(ps)) != 0 || (rc = parse_expr(ps, &c)) != 0)
            goto out;
        if (ps->tok.kind != T_IDENT || ps->tok.kw != KW_THEN) {
            rc = expect_fail(ps, "`then` after the `if` condition");
            goto out;
        }
        if ((rc = advance(ps)) != 0 || (rc = parse_expr(ps, &a)) != 0)
            goto out;
        if (ps->tok.kind != T_IDENT || ps->tok.kw != KW_ELSE) {
            rc = expect_fail(ps, "`else` after the `then` branch");
            goto out;
        }
        if ((rc = advance(ps)) != 0 || (rc = parse_expr(ps, &b)) != 0)
            goto out;
        if ((rc = binary(ps, out, CEDAR_E_IF, loc, c, a)) != 0)
            goto out;
        (*out)->u.op.c = b;
        rc = grow(ps, *out, b);
    } else {
        rc = parse_or(ps, out);
    }
out:
    ps->depth--;
    return rc;
}
