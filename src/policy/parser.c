/* Cedar policies: annotations, effect, scope, conditions; the entry points that
 * parse a policy set, one expression or one entity reference; shared token helpers.
 * A parse call commits to the set only after the whole text parsed (all or nothing).
 * Scope rules follow the reference's CST-to-AST pass: `==`/`in` take an entity
 * literal (parenthesized or not) or the matching slot, `action in` also a set, and
 * action entities must have type Action or <namespace>::Action. */
#include "policy/parse_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int perr(parser *ps, cedar_loc loc, int code, const char *fmt, ...)
{
    char msg[WARDEN_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return warden_err_set(ps->err, code, "%s:%u:%u: %s", ps->file, loc.line, loc.col, msg);
}

int advance(parser *ps)
{
    const char *what = NULL;
    int rc = lexer_next(&ps->lx, &ps->tok, &what);
    if (rc != 0)
        return perr(ps, ps->tok.loc, rc, "%s", what);
    return 0;
}

token peek_next(const parser *ps)
{
    lexer copy = ps->lx;
    token t;
    const char *what;
    if (lexer_next(&copy, &t, &what) != 0)
        t.kind = T_EOF;
    return t;
}

const char *tok_desc(const parser *ps, const token *t, char *buf, size_t size)
{
    switch (t->kind) {
    case T_EOF:
        return "end of input";
    case T_STR:
        return "a string literal";
    case T_INT:
        return "an integer literal";
    case T_IDENT:
        snprintf(buf, size, "`%.*s`", (int)(t->len > 40 ? 40 : t->len),
                 (const char *)ps->text + t->off);
        return buf;
    default:
        snprintf(buf, size, "'%.*s'", (int)(t->len > 40 ? 40 : t->len),
                 (const char *)ps->text + t->off);
        return buf;
    }
}

int expect_fail(parser *ps, const char *what)
{
    char b[64];
    return perr(ps, ps->tok.loc, WARDEN_EPARSE, "expected %s, found %s", what,
                tok_desc(ps, &ps->tok, b, sizeof b));
}

int expect(parser *ps, tok_kind k, const char *what)
{
    if (ps->tok.kind != k)
        return expect_fail(ps, what);
    return advance(ps);
}

int str_token(parser *ps, const cedar_str **out)
{
    const char *what = NULL;
    size_t at = 0;
    ps->sbuf.len = 0;
    int rc = unescape_string(&ps->sbuf, ps->text, &ps->tok, &what, &at);
    if (rc == WARDEN_ENOMEM)
        return perr(ps, ps->tok.loc, rc, "out of memory");
    if (rc != 0)
        return perr(ps, lexer_loc_at(&ps->lx, at), rc, "%s", what);
    *out = pset_intern(ps->set, ps->sbuf.p, ps->sbuf.len);
    if (*out == NULL)
        return perr(ps, ps->tok.loc, WARDEN_ENOMEM, "out of memory");
    return 0;
}

int parse_type_path(parser *ps, const cedar_str **out, cedar_loc *loc)
{
    char b[64];
    int rc;
    *loc = ps->tok.loc;
    ps->pbuf.len = 0;
    for (;;) {
        if (ps->tok.kind != T_IDENT)
            return expect_fail(ps, "an identifier");
        if (KW_IS_RESERVED(ps->tok.kw))
            return perr(ps, ps->tok.loc, WARDEN_EPARSE,
                        "%s is reserved and cannot be used in a name",
                        tok_desc(ps, &ps->tok, b, sizeof b));
        if (ps->tok.len == 7 && memcmp(ps->text + ps->tok.off, "__cedar", 7) == 0)
            return perr(ps, ps->tok.loc, WARDEN_EPARSE, "`__cedar` is a reserved namespace");
        if (warden_buf_append(&ps->pbuf, ps->text + ps->tok.off, ps->tok.len) != 0)
            return perr(ps, ps->tok.loc, WARDEN_ENOMEM, "out of memory");
        if ((rc = advance(ps)) != 0)
            return rc;
        if (ps->tok.kind != T_DCOLON || peek_next(ps).kind != T_IDENT)
            break;
        if ((rc = advance(ps)) != 0)
            return rc;
        if (warden_buf_append(&ps->pbuf, "::", 2) != 0)
            return perr(ps, ps->tok.loc, WARDEN_ENOMEM, "out of memory");
    }
    *out = pset_intern(ps->set, ps->pbuf.p, ps->pbuf.len);
    if (*out == NULL)
        return perr(ps, *loc, WARDEN_ENOMEM, "out of memory");
    return 0;
}

int parse_entity_ref(parser *ps, cedar_euid *out)
{
    cedar_loc loc;
    char b[64];
    int rc = parse_type_path(ps, &out->type, &loc);
    if (rc != 0)
        return rc;
    if (ps->tok.kind != T_DCOLON)
        return perr(ps, loc, WARDEN_EPARSE,
                    "expected an entity literal like %s::\"id\", found the name `%s`", out->type->p,
                    out->type->p);
    if ((rc = advance(ps)) != 0)
        return rc;
    if (ps->tok.kind != T_STR)
        return perr(ps, ps->tok.loc, WARDEN_EPARSE,
                    "expected an entity id string after `::`, found %s",
                    tok_desc(ps, &ps->tok, b, sizeof b));
    if ((rc = str_token(ps, &out->id)) != 0)
        return rc;
    return advance(ps);
}

static int ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (const cedar_str *const *)a;
    uintptr_t y = (uintptr_t) * (const cedar_str *const *)b;
    return x < y ? -1 : x > y;
}

const cedar_str *first_dup(const cedar_str **keys, size_t n)
{
    qsort(keys, n, sizeof *keys, ptr_cmp);
    for (size_t i = 1; i < n; i++)
        if (keys[i] == keys[i - 1])
            return keys[i];
    return NULL;
}

static const char *const VAR_NAMES[] = {"principal", "action", "resource"};

static bool is_action_type(const cedar_str *t)
{
    return (t->len == 6 && memcmp(t->p, "Action", 6) == 0) ||
           (t->len > 8 && memcmp(t->p + t->len - 8, "::Action", 8) == 0);
}

/* An entity literal, possibly inside parentheses; for principal/resource also the
 * matching slot. Sets *slot instead of *e for a slot. */
static int parse_scope_entity(parser *ps, int var, cedar_euid *e, bool *slot)
{
    char b[64];
    unsigned parens = 0;
    int rc = node_budget(ps, ps->tok.loc);
    *slot = false;
    if (rc != 0)
        return rc;
    while (ps->tok.kind == T_LPAREN) {
        if (++parens + ps->depth > CEDAR_MAX_DEPTH)
            return perr(ps, ps->tok.loc, WARDEN_ELIMIT, "scope nested more than %u levels deep",
                        CEDAR_MAX_DEPTH);
        if ((rc = advance(ps)) != 0)
            return rc;
    }
    token t = ps->tok;
    if (t.kind == T_SLOT) {
        const char *want = var == 0 ? "?principal" : "?resource";
        if (var == 1)
            return perr(ps, t.loc, WARDEN_EPARSE,
                        "template slots are not allowed in the action scope");
        if (t.len != strlen(want) || memcmp(ps->text + t.off, want, t.len) != 0)
            return perr(ps, t.loc, WARDEN_EPARSE, "expected an entity or %s, found %.*s", want,
                        (int)(t.len > 40 ? 40 : t.len), (const char *)ps->text + t.off);
        *slot = true;
        if ((rc = advance(ps)) != 0)
            return rc;
    } else if (t.kind == T_IDENT) {
        if ((rc = parse_entity_ref(ps, e)) != 0)
            return rc;
        if (var == 1 && !is_action_type(e->type))
            return perr(ps, t.loc, WARDEN_EPARSE,
                        "entity type `%s` in the action scope must be `Action` or end in "
                        "`::Action`",
                        e->type->p);
    } else {
        return perr(ps, t.loc, WARDEN_EPARSE,
                    "expected an entity literal in the %s scope, found %s", VAR_NAMES[var],
                    tok_desc(ps, &t, b, sizeof b));
    }
    while (parens-- > 0)
        if ((rc = expect(ps, T_RPAREN, "')'")) != 0)
            return rc;
    return 0;
}

/* `action in [A::"a", ...]`, possibly parenthesized. */
static int parse_action_set(parser *ps, cedar_scope *sc)
{
    warden_buf v;
    warden_buf_init(&v);
    int rc = advance(ps); /* [ */
    while (rc == 0 && ps->tok.kind != T_RBRACKET) {
        cedar_euid e;
        bool slot;
        if ((rc = parse_scope_entity(ps, 1, &e, &slot)) != 0)
            break;
        if (warden_buf_append(&v, &e, sizeof e) != 0) {
            rc = perr(ps, ps->tok.loc, WARDEN_ENOMEM, "out of memory");
            break;
        }
        if (ps->tok.kind == T_COMMA)
            rc = advance(ps);
        else if (ps->tok.kind != T_RBRACKET)
            rc = expect_fail(ps, "',' or ']' in the action list");
    }
    if (rc == 0)
        rc = advance(ps);
    if (rc == 0) {
        sc->op = CEDAR_SCOPE_IN_SET;
        sc->n_set = (uint32_t)(v.len / sizeof(cedar_euid));
        sc->set = policy_arena_alloc(ps->arena, v.len ? v.len : 1);
        if (sc->set == NULL)
            rc = perr(ps, sc->loc, WARDEN_ENOMEM, "out of memory");
        else if (v.len > 0)
            memcpy(sc->set, v.p, v.len);
    }
    warden_buf_fini(&v);
    return rc;
}

/* One scope element: `principal [is T] [(== | in) E]`, `action [(== | in) E|[...]]`,
 * `resource ...`. var: 0 principal, 1 action, 2 resource. */
static int parse_scope(parser *ps, int var, cedar_scope *sc, bool *slot)
{
    char b[64];
    int rc;
    memset(sc, 0, sizeof *sc);
    sc->loc = ps->tok.loc;
    *slot = false;
    token t = ps->tok;
    if (t.kind != T_IDENT || t.kw < KW_PRINCIPAL || t.kw > KW_RESOURCE)
        return perr(ps, t.loc, WARDEN_EPARSE, "expected `%s` in the policy scope, found %s",
                    VAR_NAMES[var], tok_desc(ps, &t, b, sizeof b));
    if ((int)(t.kw - KW_PRINCIPAL) != var)
        return perr(ps, t.loc, WARDEN_EPARSE,
                    "expected `%s` in the policy scope, found `%s` (the order is principal, "
                    "action, resource)",
                    VAR_NAMES[var], VAR_NAMES[t.kw - KW_PRINCIPAL]);
    if ((rc = advance(ps)) != 0)
        return rc;
    if (ps->tok.kind == T_COLON)
        return perr(ps, ps->tok.loc, WARDEN_EPARSE,
                    "type constraints using ':' are not supported; use `is`");
    sc->op = CEDAR_SCOPE_ANY;
    if (ps->tok.kind == T_IDENT && ps->tok.kw == KW_IS) {
        if (var == 1)
            return perr(ps, ps->tok.loc, WARDEN_EPARSE, "`is` is not allowed in the action scope");
        if ((rc = advance(ps)) != 0)
            return rc;
        cedar_loc tloc;
        if (ps->tok.kind != T_IDENT)
            return expect_fail(ps, "an entity type after `is`");
        if ((rc = parse_type_path(ps, &sc->is_type, &tloc)) != 0)
            return rc;
        if (ps->tok.kind == T_DCOLON)
            return perr(ps, tloc, WARDEN_EPARSE,
                        "expected an entity type after `is`, found an entity literal");
        sc->op = CEDAR_SCOPE_IS;
    }
    token op = ps->tok;
    if (op.kind == T_COMMA || op.kind == T_RPAREN)
        return 0;
    if (op.kind == T_ASSIGN)
        return perr(ps, op.loc, WARDEN_EPARSE, "'=' is not an operator; use '==' or `in`");
    bool is_in = op.kind == T_IDENT && op.kw == KW_IN;
    if (op.kind != T_EQ && !is_in)
        return perr(ps, op.loc, WARDEN_EPARSE,
                    "expected '==', `in`%s, ',' or ')' after `%s`, found %s",
                    var == 1 ? "" : ", `is`", VAR_NAMES[var], tok_desc(ps, &op, b, sizeof b));
    if (op.kind == T_EQ && sc->op == CEDAR_SCOPE_IS)
        return perr(ps, op.loc, WARDEN_EPARSE,
                    "`is` cannot be combined with '=='; use `is ... in`");
    if ((rc = advance(ps)) != 0)
        return rc;
    /* `action in [..]`, also inside parentheses: look past the '(' for a '['. */
    if (var == 1 && is_in) {
        lexer save = ps->lx;
        token save_tok = ps->tok;
        unsigned parens = 0;
        while (rc == 0 && ps->tok.kind == T_LPAREN && parens < CEDAR_MAX_DEPTH) {
            parens++;
            rc = advance(ps);
        }
        if (rc != 0)
            return rc;
        if (ps->tok.kind == T_LBRACKET) {
            if ((rc = parse_action_set(ps, sc)) != 0)
                return rc;
            while (parens-- > 0)
                if ((rc = expect(ps, T_RPAREN, "')'")) != 0)
                    return rc;
            goto done;
        }
        ps->lx = save;
        ps->tok = save_tok;
    }
    if (ps->tok.kind == T_LBRACKET)
        return perr(ps, ps->tok.loc, WARDEN_EPARSE,
                    "a set of entities is only allowed in `action in [...]`");
    if ((rc = parse_scope_entity(ps, var, &sc->entity, slot)) != 0)
        return rc;
    sc->slot = *slot;
    if (op.kind == T_EQ)
        sc->op = CEDAR_SCOPE_EQ;
    else
        sc->op = sc->op == CEDAR_SCOPE_IS ? CEDAR_SCOPE_IS_IN : CEDAR_SCOPE_IN;
done:
    if (ps->tok.kind == T_IDENT && ps->tok.kw == KW_IS)
        return perr(ps, ps->tok.loc, WARDEN_EPARSE,
                    var == 1 ? "`is` is not allowed in the action scope"
                             : "`is` must come first: write `%s is T in E`",
                    VAR_NAMES[var]);
    if (ps->tok.kind != T_COMMA && ps->tok.kind != T_RPAREN)
        return expect_fail(ps, "',' or ')' after the scope constraint");
    return 0;
}

/* `@key` or `@key("value")`, any number, keys unique. */
static int parse_annotations(parser *ps, cedar_policy *p)
{
    warden_buf v;
    warden_buf_init(&v);
    int rc = 0;
    while (ps->tok.kind == T_AT) {
        cedar_annotation a = {0};
        cedar_loc loc = ps->tok.loc;
        if ((rc = node_budget(ps, loc)) != 0 || (rc = advance(ps)) != 0)
            goto out;
        if (ps->tok.kind != T_IDENT) {
            rc = expect_fail(ps, "an annotation name after '@'");
            goto out;
        }
        a.key = pset_intern(ps->set, ps->text + ps->tok.off, ps->tok.len);
        if (a.key == NULL)
            goto nomem;
        if ((rc = advance(ps)) != 0)
            goto out;
        if (ps->tok.kind == T_LPAREN) {
            if ((rc = advance(ps)) != 0)
                goto out;
            if (ps->tok.kind != T_STR) {
                rc = expect_fail(ps, "a string literal as the annotation value");
                goto out;
            }
            if ((rc = str_token(ps, &a.value)) != 0 || (rc = advance(ps)) != 0)
                goto out;
            if ((rc = expect(ps, T_RPAREN, "')' after the annotation value")) != 0)
                goto out;
            a.has_value = true;
        } else {
            a.value = pset_intern(ps->set, "", 0);
            if (a.value == NULL)
                goto nomem;
        }
        const cedar_annotation *prev = (const cedar_annotation *)v.p;
        size_t np = v.len / sizeof a;
        for (size_t i = 0; i < np && np < 64; i++) {
            if (prev[i].key == a.key) {
                rc = perr(ps, loc, WARDEN_EPARSE, "duplicate annotation @%s", a.key->p);
                goto out;
            }
        }
        if (warden_buf_append(&v, &a, sizeof a) != 0)
            goto nomem;
    }
    p->n_annos = (uint32_t)(v.len / sizeof(cedar_annotation));
    if (p->n_annos >= 64) {
        /* Long lists (only hostile input has them): sort instead of comparing pairs. */
        const cedar_str **keys = malloc(p->n_annos * sizeof *keys);
        if (keys == NULL)
            goto nomem;
        for (uint32_t i = 0; i < p->n_annos; i++)
            keys[i] = ((const cedar_annotation *)v.p)[i].key;
        const cedar_str *dup = first_dup(keys, p->n_annos);
        free(keys);
        if (dup != NULL) {
            rc = perr(ps, p->loc, WARDEN_EPARSE, "duplicate annotation @%s", dup->p);
            goto out;
        }
    }
    if (p->n_annos > 0) {
        p->annos = policy_arena_alloc(ps->arena, v.len);
        if (p->annos == NULL)
            goto nomem;
        memcpy(p->annos, v.p, v.len);
    }
    goto out;
nomem:
    rc = perr(ps, ps->tok.loc, WARDEN_ENOMEM, "out of memory");
out:
    warden_buf_fini(&v);
    return rc;
}

static int parse_conditions(parser *ps, cedar_policy *p)
{
    warden_buf v;
    warden_buf_init(&v);
    int rc = 0;
    char b[64];
    while (ps->tok.kind != T_SEMI) {
        cedar_cond c = {0};
        c.loc = ps->tok.loc;
        if (ps->tok.kind != T_IDENT || (ps->tok.kw != KW_WHEN && ps->tok.kw != KW_UNLESS)) {
            rc = perr(ps, ps->tok.loc, WARDEN_EPARSE,
                      "expected `when`, `unless` or ';' after the policy scope, found %s",
                      tok_desc(ps, &ps->tok, b, sizeof b));
            goto out;
        }
        c.unless = ps->tok.kw == KW_UNLESS;
        if ((rc = advance(ps)) != 0)
            goto out;
        if ((rc = expect(ps, T_LBRACE, c.unless ? "'{' after `unless`" : "'{' after `when`")) != 0)
            goto out;
        if (ps->tok.kind == T_RBRACE) {
            rc = perr(ps, c.loc, WARDEN_EPARSE, "`%s` condition has an empty body",
                      c.unless ? "unless" : "when");
            goto out;
        }
        if ((rc = parse_expr(ps, &c.expr)) != 0)
            goto out;
        if ((rc = expect(ps, T_RBRACE, "'}' after the condition")) != 0)
            goto out;
        if (warden_buf_append(&v, &c, sizeof c) != 0) {
            rc = perr(ps, c.loc, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
    }
    p->n_conds = (uint32_t)(v.len / sizeof(cedar_cond));
    if (p->n_conds > 0) {
        p->conds = policy_arena_alloc(ps->arena, v.len);
        if (p->conds == NULL) {
            rc = perr(ps, ps->tok.loc, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(p->conds, v.p, v.len);
    }
out:
    warden_buf_fini(&v);
    return rc;
}

static int parse_policy(parser *ps, cedar_policy *p)
{
    char b[64];
    int rc;
    size_t start = ps->tok.off;
    p->loc = ps->tok.loc;
    p->file = ps->file;
    if ((rc = node_budget(ps, p->loc)) != 0)
        return rc;
    if ((rc = parse_annotations(ps, p)) != 0)
        return rc;
    token t = ps->tok;
    if (t.kind != T_IDENT || (t.kw != KW_PERMIT && t.kw != KW_FORBID))
        return perr(ps, t.loc, WARDEN_EPARSE, "expected `permit` or `forbid`, found %s",
                    tok_desc(ps, &t, b, sizeof b));
    p->effect = t.kw == KW_PERMIT ? CEDAR_PERMIT : CEDAR_FORBID;
    if ((rc = advance(ps)) != 0)
        return rc;
    if ((rc = expect(ps, T_LPAREN, "'(' after the effect")) != 0)
        return rc;
    cedar_scope *scopes[3] = {&p->principal, &p->action, &p->resource};
    for (int var = 0; var < 3; var++) {
        bool slot;
        if (ps->tok.kind == T_RPAREN)
            return perr(ps, ps->tok.loc, WARDEN_EPARSE, "the policy scope is missing `%s`",
                        VAR_NAMES[var]);
        if ((rc = parse_scope(ps, var, scopes[var], &slot)) != 0)
            return rc;
        if (slot && var == 0)
            p->has_principal_slot = true;
        if (slot && var == 2)
            p->has_resource_slot = true;
        if (ps->tok.kind == T_COMMA && (rc = advance(ps)) != 0)
            return rc;
        else if (ps->tok.kind == T_RPAREN && var < 2)
            return perr(ps, ps->tok.loc, WARDEN_EPARSE, "the policy scope is missing `%s`",
                        VAR_NAMES[var + 1]);
    }
    if (ps->tok.kind != T_RPAREN)
        return perr(ps, ps->tok.loc, WARDEN_EPARSE,
                    "expected ')' after the policy scope (it has exactly principal, action, "
                    "resource), found %s",
                    tok_desc(ps, &ps->tok, b, sizeof b));
    if ((rc = advance(ps)) != 0)
        return rc;
    p->is_template = p->has_principal_slot || p->has_resource_slot;
    ps->in_policy = true;
    rc = parse_conditions(ps, p);
    ps->in_policy = false;
    if (rc != 0)
        return rc;
    size_t end = ps->tok.off + 1; /* after ';' */
    p->text = policy_arena_strdup(ps->arena, ps->text + start, end - start);
    if (p->text == NULL)
        return perr(ps, p->loc, WARDEN_ENOMEM, "out of memory");
    p->text_len = end - start;
    return advance(ps);
}

static void parser_init(parser *ps, cedar_pset *set, const char *file, const uint8_t *text,
                        size_t len, warden_err *err)
{
    memset(ps, 0, sizeof *ps);
    ps->set = set;
    ps->arena = &set->in->arena;
    ps->file = file != NULL ? file : "<policy>";
    ps->text = text;
    ps->len = len;
    ps->err = err;
    warden_buf_init(&ps->sbuf);
    warden_buf_init(&ps->stars);
    warden_buf_init(&ps->pbuf);
    lexer_init(&ps->lx, text, len);
}

static void parser_fini(parser *ps)
{
    warden_buf_fini(&ps->sbuf);
    warden_buf_fini(&ps->stars);
    warden_buf_fini(&ps->pbuf);
}

/* Checks size and encoding, keeps a set-owned copy of the file name, reads the
 * first token. */
static int parser_start(parser *ps)
{
    cedar_loc start = {1, 1};
    if (ps->len > CEDAR_MAX_TEXT)
        return perr(ps, start, WARDEN_ELIMIT, "policy text of %zu bytes exceeds the limit of %u",
                    ps->len, CEDAR_MAX_TEXT);
    size_t bad = utf8_check(ps->text, ps->len);
    if (bad < ps->len)
        return perr(ps, lexer_loc_at(&ps->lx, bad), WARDEN_EPARSE, "invalid UTF-8");
    const char *copy = policy_arena_strdup(ps->arena, ps->file, strlen(ps->file));
    if (copy == NULL)
        return perr(ps, start, WARDEN_ENOMEM, "out of memory");
    ps->file = copy;
    return advance(ps);
}

int warden_policy_set_parse(cedar_pset *set, const char *file, const uint8_t *text, size_t len,
                            warden_err *err)
{
    parser ps;
    warden_buf v;
    warden_buf_init(&v);
    parser_init(&ps, set, file, text, len, err);
    int rc = parser_start(&ps);
    size_t n_tmpl = 0;
    while (rc == 0 && ps.tok.kind != T_EOF) {
        cedar_policy *p = policy_arena_alloc(ps.arena, sizeof *p);
        if (p == NULL) {
            rc = perr(&ps, ps.tok.loc, WARDEN_ENOMEM, "out of memory");
            break;
        }
        if ((rc = parse_policy(&ps, p)) != 0)
            break;
        char id[32];
        int n = snprintf(id, sizeof id, "policy%zu", set->in->parsed + v.len / sizeof p);
        p->id = pset_intern(set, id, (size_t)n);
        if (p->id == NULL || warden_buf_append(&v, &p, sizeof p) != 0) {
            rc = perr(&ps, p->loc, WARDEN_ENOMEM, "out of memory");
            break;
        }
        n_tmpl += p->is_template;
    }
    cedar_policy **ps_list = (cedar_policy **)v.p;
    size_t count = v.len / sizeof(cedar_policy *);
    for (size_t i = 0; rc == 0 && i < count; i++)
        if (pset_lookup(set, ps_list[i]->id->p, ps_list[i]->id->len) != NULL)
            rc = warden_err_set(err, WARDEN_EEXIST, "%s: policy id %s is already in the set",
                                ps.file, ps_list[i]->id->p);
    if (rc == 0 && pset_reserve(set, count - n_tmpl, n_tmpl) != 0)
        rc = warden_err_set(err, WARDEN_ENOMEM, "%s: out of memory", ps.file);
    if (rc == 0) {
        for (size_t i = 0; i < count; i++)
            pset_add(set, ps_list[i]);
        set->in->parsed += count;
    }
    warden_buf_fini(&v);
    parser_fini(&ps);
    return rc;
}

int warden_policy_set_parse_expr(cedar_expr **out, cedar_pset *set, const char *file,
                                 const uint8_t *text, size_t len, warden_err *err)
{
    parser ps;
    *out = NULL;
    parser_init(&ps, set, file, text, len, err);
    cedar_expr *e = NULL;
    int rc = parser_start(&ps);
    if (rc == 0)
        rc = parse_expr(&ps, &e);
    if (rc == 0 && ps.tok.kind != T_EOF)
        rc = expect_fail(&ps, "end of input after the expression");
    if (rc == 0)
        *out = e;
    parser_fini(&ps);
    return rc;
}

int warden_policy_set_parse_euid(cedar_euid *out, cedar_pset *set, const char *file,
                                 const uint8_t *text, size_t len, warden_err *err)
{
    parser ps;
    out->type = out->id = NULL;
    parser_init(&ps, set, file, text, len, err);
    cedar_euid e;
    int rc = parser_start(&ps);
    if (rc == 0 && ps.tok.kind != T_IDENT)
        rc = expect_fail(&ps, "an entity reference like User::\"alice\"");
    if (rc == 0)
        rc = parse_entity_ref(&ps, &e);
    if (rc == 0 && ps.tok.kind != T_EOF)
        rc = expect_fail(&ps, "end of input after the entity reference");
    if (rc == 0)
        *out = e;
    parser_fini(&ps);
    return rc;
}
