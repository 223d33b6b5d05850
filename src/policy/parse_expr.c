/* Cedar expressions: recursive descent following the reference grammar
 * (Expr > Or > And > Relation > Add > Mult > Unary > Member > Primary) and the
 * checks its CST-to-AST pass makes, so that we accept exactly what it accepts.
 * Invariant: every recursion passes through parse_expr, which bounds the depth;
 * every node's height is checked against CEDAR_MAX_HEIGHT as it is built. */
#include "policy/parse_internal.h"

#include <stdlib.h>
#include <string.h>

static const char *const BUILTIN_METHODS[] = {"contains", "containsAll", "containsAny",
                                              "isEmpty",  "getTag",      "hasTag"};
static const cedar_expr_kind BUILTIN_KINDS[] = {CEDAR_E_CONTAINS,     CEDAR_E_CONTAINS_ALL,
                                                CEDAR_E_CONTAINS_ANY, CEDAR_E_IS_EMPTY,
                                                CEDAR_E_GET_TAG,      CEDAR_E_HAS_TAG};

static const struct {
    const char *name;
    cedar_ext fn;
    bool method;
} EXTS[] = {
    {"ip", CEDAR_EXT_IP, false},
    {"decimal", CEDAR_EXT_DECIMAL, false},
    {"datetime", CEDAR_EXT_DATETIME, false},
    {"duration", CEDAR_EXT_DURATION, false},
    {"isIpv4", CEDAR_EXT_IS_IPV4, true},
    {"isIpv6", CEDAR_EXT_IS_IPV6, true},
    {"isLoopback", CEDAR_EXT_IS_LOOPBACK, true},
    {"isMulticast", CEDAR_EXT_IS_MULTICAST, true},
    {"isInRange", CEDAR_EXT_IS_IN_RANGE, true},
    {"lessThan", CEDAR_EXT_LESS_THAN, true},
    {"lessThanOrEqual", CEDAR_EXT_LESS_THAN_OR_EQUAL, true},
    {"greaterThan", CEDAR_EXT_GREATER_THAN, true},
    {"greaterThanOrEqual", CEDAR_EXT_GREATER_THAN_OR_EQUAL, true},
    {"offset", CEDAR_EXT_OFFSET, true},
    {"durationSince", CEDAR_EXT_DURATION_SINCE, true},
    {"toDate", CEDAR_EXT_TO_DATE, true},
    {"toTime", CEDAR_EXT_TO_TIME, true},
    {"toDays", CEDAR_EXT_TO_DAYS, true},
    {"toHours", CEDAR_EXT_TO_HOURS, true},
    {"toMinutes", CEDAR_EXT_TO_MINUTES, true},
    {"toSeconds", CEDAR_EXT_TO_SECONDS, true},
    {"toMilliseconds", CEDAR_EXT_TO_MILLISECONDS, true},
};

static bool name_is(const cedar_str *s, const char *lit)
{
    size_t n = strlen(lit);
    return s->len == n && memcmp(s->p, lit, n) == 0;
}

static int ext_find(const cedar_str *name)
{
    for (size_t i = 0; i < sizeof EXTS / sizeof EXTS[0]; i++)
        if (name_is(name, EXTS[i].name))
            return (int)i;
    return -1;
}

static int builtin_find(const cedar_str *name)
{
    for (size_t i = 0; i < sizeof BUILTIN_METHODS / sizeof BUILTIN_METHODS[0]; i++)
        if (name_is(name, BUILTIN_METHODS[i]))
            return (int)i;
    return -1;
}

static int node_new(parser *ps, cedar_expr **out, cedar_expr_kind kind, cedar_loc loc)
{
    if (++ps->nodes > CEDAR_MAX_NODES)
        return perr(ps, loc, WARDEN_ELIMIT, "policy text has more than %u expression nodes",
                    CEDAR_MAX_NODES);
    cedar_expr *e = policy_arena_alloc(ps->arena, sizeof *e);
    if (e == NULL)
        return perr(ps, loc, WARDEN_ENOMEM, "out of memory");
    e->kind = kind;
    e->loc = loc;
    e->height = 1;
    *out = e;
    return 0;
}

/* Sets e's height from a child's height and enforces the bound. */
static int grow(parser *ps, cedar_expr *e, const cedar_expr *child)
{
    if (child != NULL && child->height + 1 > e->height)
        e->height = child->height + 1;
    if (e->height > CEDAR_MAX_HEIGHT)
        return perr(ps, e->loc, WARDEN_ELIMIT,
                    "expression is nested more than %u levels deep; split it up", CEDAR_MAX_HEIGHT);
    return 0;
}

static int binary(parser *ps, cedar_expr **out, cedar_expr_kind kind, cedar_loc loc, cedar_expr *a,
                  cedar_expr *b)
{
    int rc = node_new(ps, out, kind, loc);
    if (rc != 0)
        return rc;
    (*out)->u.op.a = a;
    (*out)->u.op.b = b;
    if ((rc = grow(ps, *out, a)) != 0)
        return rc;
    return grow(ps, *out, b);
}

/* Checks that the current identifier may name an attribute or method (the
 * reference's UnreservedId): not a reserved word and not `__cedar`. */
static int check_unreserved(parser *ps, const char *role)
{
    char b[64];
    if (ps->tok.kind != T_IDENT)
        return expect_fail(ps, role);
    if (KW_IS_RESERVED(ps->tok.kw))
        return perr(ps, ps->tok.loc, WARDEN_EPARSE, "%s is reserved and cannot be used as %s",
                    tok_desc(ps, &ps->tok, b, sizeof b), role);
    if (ps->tok.len == 7 && memcmp(ps->text + ps->tok.off, "__cedar", 7) == 0)
        return perr(ps, ps->tok.loc, WARDEN_EPARSE,
                    "`__cedar` is reserved and cannot be used as %s", role);
    return 0;
}

static int ident_token(parser *ps, const cedar_str **out)
{
    *out = pset_intern(ps->set, ps->text + ps->tok.off, ps->tok.len);
    if (*out == NULL)
        return perr(ps, ps->tok.loc, WARDEN_ENOMEM, "out of memory");
    return 0;
}

/* Comma<Expr> up to the closing token: trailing comma allowed, as in the reference. */
static int parse_list(parser *ps, tok_kind close, const char *closer, cedar_expr ***items,
                      uint32_t *n)
{
    warden_buf v;
    warden_buf_init(&v);
    int rc = 0;
    while (ps->tok.kind != close) {
        cedar_expr *e;
        if ((rc = parse_expr(ps, &e)) != 0)
            goto out;
        if (warden_buf_append(&v, &e, sizeof e) != 0) {
            rc = perr(ps, ps->tok.loc, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
        if (ps->tok.kind == T_COMMA) {
            if ((rc = advance(ps)) != 0)
                goto out;
            continue;
        }
        if (ps->tok.kind != close) {
            rc = expect_fail(ps, closer);
            goto out;
        }
    }
    if ((rc = advance(ps)) != 0)
        goto out;
    *n = (uint32_t)(v.len / sizeof(cedar_expr *));
    *items = NULL;
    if (*n > 0) {
        *items = policy_arena_alloc(ps->arena, v.len);
        if (*items == NULL) {
            rc = perr(ps, ps->tok.loc, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(*items, v.p, v.len);
    }
out:
    warden_buf_fini(&v);
    return rc;
}

static int set_children(parser *ps, cedar_expr *e, cedar_expr **items, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        int rc = grow(ps, e, items[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Builds a method call: builtins get their own node kinds, extension methods an
 * EXT node with the receiver as args[0]. */
static int make_method(parser *ps, cedar_expr **out, cedar_loc loc, cedar_expr *recv,
                       const cedar_str *name, cedar_expr **args, uint32_t n)
{
    int rc;
    int b = builtin_find(name);
    if (b >= 0) {
        uint32_t want = BUILTIN_KINDS[b] == CEDAR_E_IS_EMPTY ? 0 : 1;
        if (n != want)
            return perr(ps, loc, WARDEN_EPARSE, "method `%s` takes %u argument%s, found %u",
                        BUILTIN_METHODS[b], want, want == 1 ? "" : "s", n);
        return binary(ps, out, BUILTIN_KINDS[b], loc, recv, n ? args[0] : NULL);
    }
    int x = ext_find(name);
    if (x < 0)
        return perr(ps, loc, WARDEN_EPARSE, "unknown method `%.*s`", (int)name->len, name->p);
    if (!EXTS[x].method)
        return perr(ps, loc, WARDEN_EPARSE, "`%s` is a function, not a method: write %s(...)",
                    EXTS[x].name, EXTS[x].name);
    if ((rc = node_new(ps, out, CEDAR_E_EXT, loc)) != 0)
        return rc;
    cedar_expr **all = policy_arena_alloc(ps->arena, sizeof *all * ((size_t)n + 1));
    if (all == NULL)
        return perr(ps, loc, WARDEN_ENOMEM, "out of memory");
    all[0] = recv;
    if (n > 0)
        memcpy(all + 1, args, sizeof *all * n);
    (*out)->u.ext.fn = EXTS[x].fn;
    (*out)->u.ext.name = name;
    (*out)->u.ext.args = all;
    (*out)->u.ext.n = n + 1;
    return set_children(ps, *out, all, n + 1);
}

static int parse_call_args(parser *ps, cedar_expr ***args, uint32_t *n)
{
    int rc = advance(ps); /* ( */
    if (rc != 0)
        return rc;
    return parse_list(ps, T_RPAREN, "',' or ')' in the argument list", args, n);
}

static int ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (const cedar_str *const *)a;
    uintptr_t y = (uintptr_t) * (const cedar_str *const *)b;
    return x < y ? -1 : x > y;
}

/* `{ key: value, ... }` */
static int parse_record(parser *ps, cedar_expr **out)
{
    cedar_loc loc = ps->tok.loc;
    warden_buf v;
    warden_buf_init(&v);
    int rc = advance(ps);
    char b[64];
    if (rc != 0)
        goto out;
    while (ps->tok.kind != T_RBRACE) {
        cedar_rec_entry ent;
        cedar_loc kloc = ps->tok.loc;
        if (ps->tok.kind == T_STR) {
            if ((rc = str_token(ps, &ent.key)) != 0)
                goto out;
        } else if (ps->tok.kind == T_IDENT) {
            if ((rc = check_unreserved(ps, "a record key")) != 0)
                goto out;
            if ((rc = ident_token(ps, &ent.key)) != 0)
                goto out;
        } else {
            rc = perr(ps, kloc, WARDEN_EPARSE,
                      "record keys must be identifiers or string literals, found %s",
                      tok_desc(ps, &ps->tok, b, sizeof b));
            goto out;
        }
        if ((rc = advance(ps)) != 0)
            goto out;
        if (ps->tok.kind == T_DCOLON) {
            rc = perr(ps, kloc, WARDEN_EPARSE, "a record key cannot be a path with `::`");
            goto out;
        }
        if ((rc = expect(ps, T_COLON, "':' after the record key")) != 0)
            goto out;
        if ((rc = parse_expr(ps, &ent.value)) != 0)
            goto out;
        /* Keys are interned, so duplicates are equal pointers. */
        const cedar_rec_entry *prev = (const cedar_rec_entry *)v.p;
        size_t np = v.len / sizeof ent;
        if (np < 64) {
            for (size_t i = 0; i < np; i++) {
                if (prev[i].key == ent.key) {
                    rc = perr(ps, kloc, WARDEN_EPARSE, "duplicate key \"%.*s\" in record literal",
                              (int)(ent.key->len > 100 ? 100 : ent.key->len), ent.key->p);
                    goto out;
                }
            }
        }
        if (warden_buf_append(&v, &ent, sizeof ent) != 0) {
            rc = perr(ps, kloc, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
        if (ps->tok.kind == T_COMMA) {
            if ((rc = advance(ps)) != 0)
                goto out;
        } else if (ps->tok.kind != T_RBRACE) {
            rc = expect_fail(ps, "',' or '}' in the record literal");
            goto out;
        }
    }
    if ((rc = advance(ps)) != 0)
        goto out;
    size_t n = v.len / sizeof(cedar_rec_entry);
    if (n >= 64) {
        /* Large records: sort copies of the key pointers to find duplicates. */
        const cedar_str **keys = malloc(n * sizeof *keys);
        if (keys == NULL) {
            rc = perr(ps, loc, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
        const cedar_rec_entry *ents = (const cedar_rec_entry *)v.p;
        for (size_t i = 0; i < n; i++)
            keys[i] = ents[i].key;
        qsort(keys, n, sizeof *keys, ptr_cmp);
        const cedar_str *dup = NULL;
        for (size_t i = 1; i < n && dup == NULL; i++)
            if (keys[i] == keys[i - 1])
                dup = keys[i];
        free(keys);
        if (dup != NULL) {
            rc = perr(ps, loc, WARDEN_EPARSE, "duplicate key \"%.*s\" in record literal",
                      (int)(dup->len > 100 ? 100 : dup->len), dup->p);
            goto out;
        }
    }
    if ((rc = node_new(ps, out, CEDAR_E_RECORD, loc)) != 0)
        goto out;
    (*out)->u.rec.n = (uint32_t)n;
    if (n > 0) {
        (*out)->u.rec.items = policy_arena_alloc(ps->arena, v.len);
        if ((*out)->u.rec.items == NULL) {
            rc = perr(ps, loc, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
        memcpy((*out)->u.rec.items, v.p, v.len);
        for (size_t i = 0; i < n; i++)
            if ((rc = grow(ps, *out, (*out)->u.rec.items[i].value)) != 0)
                goto out;
    }
out:
    warden_buf_fini(&v);
    return rc;
}

/* A name in expression position: a path followed by `::"id"` (entity literal) or
 * `(` (extension function call); anything else is an unknown variable. */
static int parse_name_primary(parser *ps, cedar_expr **out)
{
    cedar_loc loc = ps->tok.loc;
    token first = ps->tok;
    const cedar_str *path;
    cedar_loc ploc;
    char b[64];
    int rc = parse_type_path(ps, &path, &ploc);
    if (rc != 0)
        return rc;
    if (ps->tok.kind == T_DCOLON) {
        /* parse_type_path stopped before `::` + string: an entity literal. */
        if ((rc = advance(ps)) != 0)
            return rc;
        if (ps->tok.kind != T_STR)
            return perr(ps, ps->tok.loc, WARDEN_EPARSE,
                        "expected an entity id string after `::`, found %s",
                        tok_desc(ps, &ps->tok, b, sizeof b));
        if ((rc = node_new(ps, out, CEDAR_E_ENTITY, loc)) != 0)
            return rc;
        (*out)->u.euid.type = path;
        if ((rc = str_token(ps, &(*out)->u.euid.id)) != 0)
            return rc;
        return advance(ps);
    }
    if (ps->tok.kind == T_LPAREN) {
        bool qualified = memchr(path->p, ':', path->len) != NULL;
        int x = qualified ? -1 : ext_find(path);
        if (x < 0 && !qualified && builtin_find(path) >= 0)
            return perr(ps, loc, WARDEN_EPARSE, "`%s` is a method, not a function: write e.%s(...)",
                        path->p, path->p);
        if (x < 0)
            return perr(ps, loc, WARDEN_EPARSE,
                        "unknown function `%.*s` (functions are ip, decimal, datetime, duration)",
                        (int)(path->len > 100 ? 100 : path->len), path->p);
        if (EXTS[x].method)
            return perr(ps, loc, WARDEN_EPARSE, "`%s` is a method, not a function: write e.%s(...)",
                        EXTS[x].name, EXTS[x].name);
        cedar_expr **args;
        uint32_t n;
        if ((rc = parse_call_args(ps, &args, &n)) != 0)
            return rc;
        if ((rc = node_new(ps, out, CEDAR_E_EXT, loc)) != 0)
            return rc;
        (*out)->u.ext.fn = EXTS[x].fn;
        (*out)->u.ext.name = path;
        (*out)->u.ext.args = args;
        (*out)->u.ext.n = n;
        return set_children(ps, *out, args, n);
    }
    (void)first;
    return perr(ps, loc, WARDEN_EPARSE,
                "unknown variable `%.*s` (variables are principal, action, resource, context; "
                "quote it to make a string)",
                (int)(path->len > 100 ? 100 : path->len), path->p);
}

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

static int parse_add(parser *ps, cedar_expr **out)
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

/* `e has a.b.c` or `e has "str"` */
static int parse_has(parser *ps, cedar_expr **out, cedar_loc loc, cedar_expr *target)
{
    warden_buf v;
    warden_buf_init(&v);
    const cedar_str *attr;
    char b[64];
    int rc = 0;
    if (ps->tok.kind == T_STR) {
        if ((rc = str_token(ps, &attr)) != 0 || (rc = advance(ps)) != 0)
            goto out;
        if (warden_buf_append(&v, &attr, sizeof attr) != 0)
            goto nomem;
    } else if (ps->tok.kind == T_IDENT) {
        if ((rc = check_unreserved(ps, "an attribute name")) != 0)
            goto out;
        for (;;) {
            if ((rc = ident_token(ps, &attr)) != 0 || (rc = advance(ps)) != 0)
                goto out;
            if (warden_buf_append(&v, &attr, sizeof attr) != 0)
                goto nomem;
            if (ps->tok.kind == T_DCOLON) {
                rc = perr(ps, ps->tok.loc, WARDEN_EPARSE,
                          "an attribute after `has` cannot be a path with `::`");
                goto out;
            }
            if (ps->tok.kind != T_DOT)
                break;
            if ((rc = advance(ps)) != 0)
                goto out;
            if ((rc = check_unreserved(ps, "an attribute name")) != 0)
                goto out;
        }
    } else {
        rc = perr(ps, ps->tok.loc, WARDEN_EPARSE,
                  "expected an attribute name or string after `has`, found %s",
                  tok_desc(ps, &ps->tok, b, sizeof b));
        goto out;
    }
    if ((rc = node_new(ps, out, CEDAR_E_HAS_ATTR, loc)) != 0)
        goto out;
    (*out)->u.has.e = target;
    (*out)->u.has.n = (uint32_t)(v.len / sizeof attr);
    (*out)->u.has.path = policy_arena_alloc(ps->arena, v.len);
    if ((*out)->u.has.path == NULL)
        goto nomem;
    memcpy((*out)->u.has.path, v.p, v.len);
    rc = grow(ps, *out, target);
    goto out;
nomem:
    rc = perr(ps, loc, WARDEN_ENOMEM, "out of memory");
out:
    warden_buf_fini(&v);
    return rc;
}

static int parse_like(parser *ps, cedar_expr **out, cedar_loc loc, cedar_expr *target)
{
    char b[64];
    if (ps->tok.kind != T_STR)
        return perr(ps, ps->tok.loc, WARDEN_EPARSE,
                    "the pattern after `like` must be a string literal, found %s",
                    tok_desc(ps, &ps->tok, b, sizeof b));
    const char *what = NULL;
    size_t at = 0;
    ps->sbuf.len = 0;
    ps->stars.len = 0;
    int rc = unescape_pattern(&ps->sbuf, &ps->stars, ps->text, &ps->tok, &what, &at);
    if (rc == WARDEN_ENOMEM)
        return perr(ps, ps->tok.loc, rc, "out of memory");
    if (rc != 0)
        return perr(ps, lexer_loc_at(&ps->lx, at), rc, "%s", what);
    size_t nstars = ps->stars.len / sizeof(size_t);
    const size_t *stars = (const size_t *)ps->stars.p;
    /* Elements: literal runs between wildcards; adjacent wildcards merge. */
    cedar_pat_elem *el = policy_arena_alloc(ps->arena, sizeof *el * (2 * nstars + 1));
    char *bytes = policy_arena_strdup(ps->arena, ps->sbuf.p, ps->sbuf.len);
    if (el == NULL || bytes == NULL)
        return perr(ps, loc, WARDEN_ENOMEM, "out of memory");
    uint32_t n = 0;
    size_t pos = 0;
    for (size_t i = 0; i <= nstars; i++) {
        size_t end = i < nstars ? stars[i] : ps->sbuf.len;
        if (end > pos) {
            el[n].wildcard = false;
            el[n].p = bytes + pos;
            el[n].len = end - pos;
            n++;
            pos = end;
        }
        if (i < nstars && (n == 0 || !el[n - 1].wildcard)) {
            el[n].wildcard = true;
            el[n].p = NULL;
            el[n].len = 0;
            n++;
        }
    }
    if ((rc = advance(ps)) != 0)
        return rc;
    if ((rc = node_new(ps, out, CEDAR_E_LIKE, loc)) != 0)
        return rc;
    (*out)->u.like.e = target;
    (*out)->u.like.pat.elems = el;
    (*out)->u.like.pat.n = n;
    return grow(ps, *out, target);
}

static int parse_is(parser *ps, cedar_expr **out, cedar_loc loc, cedar_expr *target)
{
    char b[64];
    const cedar_str *type;
    cedar_loc tloc;
    int rc;
    if (ps->tok.kind != T_IDENT)
        return perr(ps, ps->tok.loc, WARDEN_EPARSE, "expected an entity type after `is`, found %s",
                    tok_desc(ps, &ps->tok, b, sizeof b));
    if ((rc = parse_type_path(ps, &type, &tloc)) != 0)
        return rc;
    if (ps->tok.kind == T_DCOLON)
        return perr(ps, tloc, WARDEN_EPARSE,
                    "expected an entity type after `is`, found an entity literal");
    cedar_expr *in = NULL;
    if (ps->tok.kind == T_IDENT && ps->tok.kw == KW_IN) {
        if ((rc = advance(ps)) != 0 || (rc = parse_add(ps, &in)) != 0)
            return rc;
    }
    if ((rc = node_new(ps, out, CEDAR_E_IS, loc)) != 0)
        return rc;
    (*out)->u.is.e = target;
    (*out)->u.is.type = type;
    (*out)->u.is.in = in;
    if ((rc = grow(ps, *out, target)) != 0)
        return rc;
    return grow(ps, *out, in);
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
