/* Cedar's special forms, checked as the reference's CST-to-AST pass checks them:
 * record literals (keys, duplicates), `has` / `like` / `is` right-hand sides,
 * extension function and method calls (known names, call style, builtin arity),
 * and the node constructors every expression parser uses. Invariant: a node's
 * height is set from its children as it is built and never exceeds CEDAR_MAX_HEIGHT. */
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

int node_budget(parser *ps, cedar_loc loc)
{
    if (++ps->nodes > CEDAR_MAX_NODES)
        return perr(ps, loc, WARDEN_ELIMIT, "policy text has more than %u syntax nodes",
                    CEDAR_MAX_NODES);
    return 0;
}

int node_new(parser *ps, cedar_expr **out, cedar_expr_kind kind, cedar_loc loc)
{
    int rc = node_budget(ps, loc);
    if (rc != 0)
        return rc;
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
int grow(parser *ps, cedar_expr *e, const cedar_expr *child)
{
    if (child != NULL && child->height + 1 > e->height)
        e->height = child->height + 1;
    if (e->height > CEDAR_MAX_HEIGHT)
        return perr(ps, e->loc, WARDEN_ELIMIT,
                    "expression is nested more than %u levels deep; split it up", CEDAR_MAX_HEIGHT);
    return 0;
}

int binary(parser *ps, cedar_expr **out, cedar_expr_kind kind, cedar_loc loc, cedar_expr *a,
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
int check_unreserved(parser *ps, const char *role)
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

int ident_token(parser *ps, const cedar_str **out)
{
    *out = pset_intern(ps->set, ps->text + ps->tok.off, ps->tok.len);
    if (*out == NULL)
        return perr(ps, ps->tok.loc, WARDEN_ENOMEM, "out of memory");
    return 0;
}

/* Comma<Expr> up to the closing token: trailing comma allowed, as in the reference. */
int parse_list(parser *ps, tok_kind close, const char *closer, cedar_expr ***items, uint32_t *n)
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

int set_children(parser *ps, cedar_expr *e, cedar_expr **items, uint32_t n)
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
int make_method(parser *ps, cedar_expr **out, cedar_loc loc, cedar_expr *recv,
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

int parse_call_args(parser *ps, cedar_expr ***args, uint32_t *n)
{
    int rc = advance(ps); /* ( */
    if (rc != 0)
        return rc;
    return parse_list(ps, T_RPAREN, "',' or ')' in the argument list", args, n);
}

/* `{ key: value, ... }` */
int parse_record(parser *ps, cedar_expr **out)
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
                    char q[128];
                    rc = perr(ps, kloc, WARDEN_EPARSE, "duplicate key \"%s\" in record literal",
                              pset_quote(q, sizeof q, ent.key->p, ent.key->len));
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
        const cedar_str *dup = first_dup(keys, n);
        free(keys);
        if (dup != NULL) {
            char q[128];
            rc = perr(ps, loc, WARDEN_EPARSE, "duplicate key \"%s\" in record literal",
                      pset_quote(q, sizeof q, dup->p, dup->len));
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
int parse_name_primary(parser *ps, cedar_expr **out)
{
    cedar_loc loc = ps->tok.loc;
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
    return perr(ps, loc, WARDEN_EPARSE,
                "unknown variable `%.*s` (variables are principal, action, resource, context; "
                "quote it to make a string)",
                (int)(path->len > 100 ? 100 : path->len), path->p);
}

/* `e has a.b.c` or `e has "str"` */
int parse_has(parser *ps, cedar_expr **out, cedar_loc loc, cedar_expr *target)
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

int parse_like(parser *ps, cedar_expr **out, cedar_loc loc, cedar_expr *target)
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

int parse_is(parser *ps, cedar_expr **out, cedar_loc loc, cedar_expr *target)
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
