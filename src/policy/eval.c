/* The Cedar expression evaluator (see eval.h). It follows the reference evaluator
 * (cedar-policy-core evaluator.rs): operands are evaluated left to right before their
 * types are checked, `&&`/`||`/if short-circuit and demand bools, `==` never fails, `in`
 * is false for entities absent from the store unless equal, and any type mismatch is
 * an error that makes the enclosing policy "errored" (skipped) rather than false. */
#include "policy/eval.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int fail(cedar_evctx *ctx, const char *fmt, ...) WARDEN_PRINTF(2, 3);

static int fail(cedar_evctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
    va_end(ap);
    return -1;
}

const cedar_entity *cedar_eval_find(const cedar_evctx *ctx, const cedar_uid *u)
{
    /* The request's own entities are looked up once per decision. */
    for (int i = 0; i < 3; i++)
        if (u == ctx->var[i].u.uid && ctx->ent[i] != NULL)
            return ctx->ent[i];
    return cedar_entities_find(ctx->ents, u);
}

static int oom(cedar_evctx *ctx)
{
    return fail(ctx, "evaluation ran out of memory");
}

static int type_err(cedar_evctx *ctx, const char *want, const cedar_value *got)
{
    return fail(ctx, "type error: expected %s, got %s", want, cedar_kind_name(got->kind));
}

static int want(cedar_evctx *ctx, const cedar_value *v, cedar_kind k)
{
    if (v->kind != k)
        return type_err(ctx, cedar_kind_name(k), v);
    return 0;
}

/* `a in b` where b is an entity or a set of entities (reference: all set elements must
 * be entities, checked before searching). */
static int eval_in(bool *out, const cedar_value *a, const cedar_value *b, cedar_evctx *ctx)
{
    if (a->kind != CEDAR_V_ENTITY)
        return type_err(ctx, "entity", a);
    if (b->kind == CEDAR_V_ENTITY) {
        const cedar_entity *e;
        *out = cedar_uid_eq(a->u.uid, b->u.uid) || ((e = cedar_eval_find(ctx, a->u.uid)) != NULL &&
                                                    cedar_entity_has_ancestor(e, b->u.uid));
        return 0;
    }
    if (b->kind != CEDAR_V_SET)
        return type_err(ctx, "entity or set of entities", b);
    const cedar_set *s = b->u.set;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->v[i].kind != CEDAR_V_ENTITY)
            return type_err(ctx, "entity", &s->v[i]);
    *out = false;
    if (cedar_set_contains(s, a)) {
        *out = true;
        return 0;
    }
    const cedar_entity *e = cedar_eval_find(ctx, a->u.uid);
    if (e == NULL)
        return 0;
    /* Iterate the smaller side: the set's elements or the entity's ancestors. */
    if (s->n <= e->n_anc || s->tab == NULL) {
        for (uint32_t i = 0; i < s->n; i++) {
            if (cedar_entity_has_ancestor(e, s->v[i].u.uid)) {
                *out = true;
                return 0;
            }
        }
    } else {
        for (uint32_t i = 0; i < e->n_anc; i++) {
            cedar_value v = {.kind = CEDAR_V_ENTITY, .u.uid = e->anc[i]};
            if (cedar_set_contains(s, &v)) {
                *out = true;
                return 0;
            }
        }
    }
    return 0;
}

static bool like_match(const cedar_str *s, const cedar_pattern *pat)
{
    const char *p = s->p;
    size_t n = s->len, i = 0;
    uint32_t k = 0, m = pat->n;
    if (m == 0)
        return n == 0;
    if (!pat->elems[0].wildcard) {
        const cedar_pat_elem *e = &pat->elems[0];
        if (e->len > n || memcmp(p, e->p, e->len) != 0)
            return false;
        i = e->len;
        k = 1;
    }
    if (k == m)
        return i == n;
    if (!pat->elems[m - 1].wildcard) {
        const cedar_pat_elem *e = &pat->elems[m - 1];
        if (e->len > n - i || memcmp(p + n - e->len, e->p, e->len) != 0)
            return false;
        n -= e->len;
        m--;
    }
    /* Between anchored ends: each literal at its leftmost position is optimal. */
    for (; k < m; k++) {
        const cedar_pat_elem *e = &pat->elems[k];
        if (e->wildcard)
            continue;
        bool found = false;
        while (i + e->len <= n) {
            if (memcmp(p + i, e->p, e->len) == 0) {
                found = true;
                break;
            }
            i++;
        }
        if (!found)
            return false;
        i += e->len;
    }
    return true;
}

static int get_attr(cedar_value *out, const cedar_value *v, const cedar_str *attr, cedar_evctx *ctx)
{
    char buf[160];
    if (v->kind == CEDAR_V_RECORD) {
        const cedar_value *r = cedar_record_get(v->u.rec, attr);
        if (r == NULL)
            return fail(ctx, "record does not have the attribute `%s`", attr->p);
        *out = *r;
        return 0;
    }
    if (v->kind == CEDAR_V_ENTITY) {
        const cedar_entity *e = cedar_eval_find(ctx, v->u.uid);
        if (e == NULL)
            return fail(ctx, "entity `%s` does not exist",
                        cedar_uid_show(buf, sizeof buf, v->u.uid));
        const cedar_value *r = cedar_record_get(e->attrs, attr);
        if (r == NULL)
            return fail(ctx, "`%s` does not have the attribute `%s`",
                        cedar_uid_show(buf, sizeof buf, v->u.uid), attr->p);
        *out = *r;
        return 0;
    }
    return type_err(ctx, "record or entity", v);
}

/* `v has attr`: false for an absent entity. *next (if not NULL) gets the attribute. */
static int has_attr(bool *out, const cedar_value **next, const cedar_value *v,
                    const cedar_str *attr, cedar_evctx *ctx)
{
    const cedar_record *r;
    if (v->kind == CEDAR_V_RECORD) {
        r = v->u.rec;
    } else if (v->kind == CEDAR_V_ENTITY) {
        const cedar_entity *e = cedar_eval_find(ctx, v->u.uid);
        if (e == NULL) {
            *out = false;
            return 0;
        }
        r = e->attrs;
    } else {
        return type_err(ctx, "record or entity", v);
    }
    const cedar_value *x = cedar_record_get(r, attr);
    *out = x != NULL;
    if (next != NULL)
        *next = x;
    return 0;
}

static int arith(cedar_value *out, cedar_expr_kind k, const cedar_value *a, const cedar_value *b,
                 cedar_evctx *ctx)
{
    if (want(ctx, a, CEDAR_V_LONG) || want(ctx, b, CEDAR_V_LONG))
        return -1;
    int64_t r;
    bool ovf;
    const char *what;
    if (k == CEDAR_E_ADD) {
        ovf = __builtin_add_overflow(a->u.i, b->u.i, &r);
        what = "add";
    } else if (k == CEDAR_E_SUB) {
        ovf = __builtin_sub_overflow(a->u.i, b->u.i, &r);
        what = "subtract";
    } else {
        ovf = __builtin_mul_overflow(a->u.i, b->u.i, &r);
        what = "multiply";
    }
    if (ovf)
        return fail(ctx,
                    "integer overflow while attempting to %s the values `%" PRId64 "` and `%" PRId64
                    "`",
                    what, a->u.i, b->u.i);
    out->kind = CEDAR_V_LONG;
    out->u.i = r;
    return 0;
}

/* <, <=, >, >= on longs, datetimes and durations (Cedar 4.x); same kinds only. */
static int compare(cedar_value *out, cedar_expr_kind k, const cedar_value *a, const cedar_value *b,
                   cedar_evctx *ctx)
{
    const char *ok = "one of long, datetime, duration";
    if (a->kind != CEDAR_V_LONG && a->kind != CEDAR_V_DATETIME && a->kind != CEDAR_V_DURATION)
        return type_err(ctx, ok, a);
    if (b->kind != a->kind)
        return type_err(ctx, cedar_kind_name(a->kind), b);
    int64_t x = a->u.i, y = b->u.i;
    out->kind = CEDAR_V_BOOL;
    out->u.b = k == CEDAR_E_LT   ? x < y
               : k == CEDAR_E_LE ? x <= y
               : k == CEDAR_E_GT ? x > y
                                 : x >= y;
    return 0;
}

static int eval_set(cedar_value *out, const cedar_expr *e, cedar_evctx *ctx)
{
    uint32_t n = e->u.set.n;
    cedar_value *tmp = cedar_varena_alloc(ctx->arena, (n ? n : 1) * sizeof *tmp);
    if (tmp == NULL)
        return oom(ctx);
    for (uint32_t i = 0; i < n; i++)
        if (cedar_eval(&tmp[i], e->u.set.items[i], ctx) != 0)
            return -1;
    const cedar_set *s = cedar_set_build(ctx->arena, tmp, n);
    if (s == NULL)
        return oom(ctx);
    out->kind = CEDAR_V_SET;
    out->u.set = s;
    return 0;
}

static int eval_record(cedar_value *out, const cedar_expr *e, cedar_evctx *ctx)
{
    uint32_t n = e->u.rec.n;
    cedar_field *f = cedar_varena_alloc(ctx->arena, (n ? n : 1) * sizeof *f);
    if (f == NULL)
        return oom(ctx);
    for (uint32_t i = 0; i < n; i++) {
        f[i].key = e->u.rec.items[i].key;
        if (cedar_eval(&f[i].v, e->u.rec.items[i].value, ctx) != 0)
            return -1;
    }
    const cedar_record *r = cedar_record_build(ctx->arena, f, n);
    if (r == NULL)
        return oom(ctx);
    out->kind = CEDAR_V_RECORD;
    out->u.rec = r;
    return 0;
}

static int eval_ext(cedar_value *out, const cedar_expr *e, cedar_evctx *ctx)
{
    cedar_value args[4];
    uint32_t n = e->u.ext.n;
    if (n > 4)
        return fail(ctx, "too many arguments to `%s`", e->u.ext.name->p);
    for (uint32_t i = 0; i < n; i++)
        if (cedar_eval(&args[i], e->u.ext.args[i], ctx) != 0)
            return -1;
    return cedar_ext_apply(out, e->u.ext.fn, args, n, ctx->arena, ctx->msg, sizeof ctx->msg);
}

static int eval_bool(bool *out, const cedar_expr *e, cedar_evctx *ctx)
{
    cedar_value v;
    if (cedar_eval(&v, e, ctx) != 0)
        return -1;
    if (v.kind != CEDAR_V_BOOL)
        return type_err(ctx, "bool", &v);
    *out = v.u.b;
    return 0;
}

static int eval_has(cedar_value *out, const cedar_expr *e, cedar_evctx *ctx)
{
    cedar_value v;
    if (cedar_eval(&v, e->u.has.e, ctx) != 0)
        return -1;
    out->kind = CEDAR_V_BOOL;
    for (uint32_t i = 0; i < e->u.has.n; i++) {
        bool has = false;
        const cedar_value *next = NULL;
        if (has_attr(&has, &next, &v, e->u.has.path[i], ctx) != 0)
            return -1;
        if (!has) {
            out->u.b = false;
            return 0;
        }
        v = *next;
    }
    out->u.b = true;
    return 0;
}

static int eval_tag(cedar_value *out, const cedar_expr *e, cedar_evctx *ctx)
{
    cedar_value a, b;
    char buf[160];
    if (cedar_eval(&a, e->u.op.a, ctx) != 0 || cedar_eval(&b, e->u.op.b, ctx) != 0)
        return -1;
    if (want(ctx, &a, CEDAR_V_ENTITY) || want(ctx, &b, CEDAR_V_STRING))
        return -1;
    const cedar_entity *ent = cedar_eval_find(ctx, a.u.uid);
    const cedar_value *t = ent ? cedar_record_get(ent->tags, b.u.s) : NULL;
    if (e->kind == CEDAR_E_HAS_TAG) {
        out->kind = CEDAR_V_BOOL;
        out->u.b = t != NULL;
        return 0;
    }
    if (ent == NULL)
        return fail(ctx, "entity `%s` does not exist", cedar_uid_show(buf, sizeof buf, a.u.uid));
    if (t == NULL)
        return fail(ctx, "`%s` does not have the tag `%.*s`",
                    cedar_uid_show(buf, sizeof buf, a.u.uid),
                    (int)(b.u.s->len > 64 ? 64 : b.u.s->len), b.u.s->p);
    *out = *t;
    return 0;
}

static int eval_set_method(cedar_value *out, const cedar_expr *e, cedar_evctx *ctx)
{
    cedar_value a, b;
    if (cedar_eval(&a, e->u.op.a, ctx) != 0)
        return -1;
    if (e->kind != CEDAR_E_IS_EMPTY && cedar_eval(&b, e->u.op.b, ctx) != 0)
        return -1;
    if (want(ctx, &a, CEDAR_V_SET))
        return -1;
    out->kind = CEDAR_V_BOOL;
    const cedar_set *s = a.u.set;
    switch (e->kind) {
    case CEDAR_E_IS_EMPTY:
        out->u.b = s->n == 0;
        return 0;
    case CEDAR_E_CONTAINS:
        out->u.b = cedar_set_contains(s, &b);
        return 0;
    case CEDAR_E_CONTAINS_ALL:
    case CEDAR_E_CONTAINS_ANY: {
        if (want(ctx, &b, CEDAR_V_SET))
            return -1;
        bool all = e->kind == CEDAR_E_CONTAINS_ALL;
        const cedar_set *t = b.u.set;
        for (uint32_t i = 0; i < t->n; i++) {
            bool in = cedar_set_contains(s, &t->v[i]);
            if (all && !in) {
                out->u.b = false;
                return 0;
            }
            if (!all && in) {
                out->u.b = true;
                return 0;
            }
        }
        out->u.b = all;
        return 0;
    }
    default:
        return fail(ctx, "internal error: not a set method");
    }
}

int cedar_eval(cedar_value *out, const cedar_expr *e, cedar_evctx *ctx)
{
    if (e->aux != NULL) {
        *out = *(const cedar_value *)e->aux;
        return 0;
    }
    cedar_value a, b;
    bool x;
    switch (e->kind) {
    case CEDAR_E_BOOL:
        out->kind = CEDAR_V_BOOL;
        out->u.b = e->u.b;
        return 0;
    case CEDAR_E_LONG:
        out->kind = CEDAR_V_LONG;
        out->u.i = e->u.i;
        return 0;
    case CEDAR_E_STRING:
        out->kind = CEDAR_V_STRING;
        out->u.s = e->u.s;
        return 0;
    case CEDAR_E_ENTITY: {
        cedar_uid *u = cedar_varena_alloc(ctx->arena, sizeof *u);
        if (u == NULL)
            return oom(ctx);
        cedar_uid_from_euid(u, &e->u.euid);
        out->kind = CEDAR_V_ENTITY;
        out->u.uid = u;
        return 0;
    }
    case CEDAR_E_VAR:
        *out = ctx->var[e->u.var];
        return 0;
    case CEDAR_E_NOT:
        if (eval_bool(&x, e->u.op.a, ctx) != 0)
            return -1;
        out->kind = CEDAR_V_BOOL;
        out->u.b = !x;
        return 0;
    case CEDAR_E_NEG:
        if (cedar_eval(&a, e->u.op.a, ctx) != 0 || want(ctx, &a, CEDAR_V_LONG))
            return -1;
        if (a.u.i == INT64_MIN)
            return fail(ctx, "integer overflow while attempting to negate the value `%" PRId64 "`",
                        a.u.i);
        out->kind = CEDAR_V_LONG;
        out->u.i = -a.u.i;
        return 0;
    case CEDAR_E_AND:
    case CEDAR_E_OR:
        if (eval_bool(&x, e->u.op.a, ctx) != 0)
            return -1;
        out->kind = CEDAR_V_BOOL;
        if (x == (e->kind == CEDAR_E_OR)) {
            out->u.b = x;
            return 0;
        }
        if (eval_bool(&x, e->u.op.b, ctx) != 0)
            return -1;
        out->u.b = x;
        return 0;
    case CEDAR_E_IF:
        if (eval_bool(&x, e->u.op.a, ctx) != 0)
            return -1;
        return cedar_eval(out, x ? e->u.op.b : e->u.op.c, ctx);
    case CEDAR_E_EQ:
    case CEDAR_E_NE:
        if (cedar_eval(&a, e->u.op.a, ctx) != 0 || cedar_eval(&b, e->u.op.b, ctx) != 0)
            return -1;
        out->kind = CEDAR_V_BOOL;
        out->u.b = cedar_value_eq(&a, &b) == (e->kind == CEDAR_E_EQ);
        return 0;
    case CEDAR_E_LT:
    case CEDAR_E_LE:
    case CEDAR_E_GT:
    case CEDAR_E_GE:
        if (cedar_eval(&a, e->u.op.a, ctx) != 0 || cedar_eval(&b, e->u.op.b, ctx) != 0)
            return -1;
        return compare(out, e->kind, &a, &b, ctx);
    case CEDAR_E_IN:
        if (cedar_eval(&a, e->u.op.a, ctx) != 0 || cedar_eval(&b, e->u.op.b, ctx) != 0)
            return -1;
        out->kind = CEDAR_V_BOOL;
        return eval_in(&out->u.b, &a, &b, ctx);
    case CEDAR_E_ADD:
    case CEDAR_E_SUB:
    case CEDAR_E_MUL:
        if (cedar_eval(&a, e->u.op.a, ctx) != 0 || cedar_eval(&b, e->u.op.b, ctx) != 0)
            return -1;
        return arith(out, e->kind, &a, &b, ctx);
    case CEDAR_E_CONTAINS:
    case CEDAR_E_CONTAINS_ALL:
    case CEDAR_E_CONTAINS_ANY:
    case CEDAR_E_IS_EMPTY:
        return eval_set_method(out, e, ctx);
    case CEDAR_E_HAS_TAG:
    case CEDAR_E_GET_TAG:
        return eval_tag(out, e, ctx);
    case CEDAR_E_GET_ATTR:
        if (cedar_eval(&a, e->u.attr.e, ctx) != 0)
            return -1;
        return get_attr(out, &a, e->u.attr.attr, ctx);
    case CEDAR_E_HAS_ATTR:
        return eval_has(out, e, ctx);
    case CEDAR_E_LIKE:
        if (cedar_eval(&a, e->u.like.e, ctx) != 0 || want(ctx, &a, CEDAR_V_STRING))
            return -1;
        out->kind = CEDAR_V_BOOL;
        out->u.b = like_match(a.u.s, &e->u.like.pat);
        return 0;
    case CEDAR_E_IS:
        if (cedar_eval(&a, e->u.is.e, ctx) != 0 || want(ctx, &a, CEDAR_V_ENTITY))
            return -1;
        out->kind = CEDAR_V_BOOL;
        if (!cedar_str_eq(&a.u.uid->type, e->u.is.type) || e->u.is.in == NULL) {
            out->u.b = cedar_str_eq(&a.u.uid->type, e->u.is.type);
            return 0;
        }
        if (cedar_eval(&b, e->u.is.in, ctx) != 0)
            return -1;
        return eval_in(&out->u.b, &a, &b, ctx);
    case CEDAR_E_SET:
        return eval_set(out, e, ctx);
    case CEDAR_E_RECORD:
        return eval_record(out, e, ctx);
    case CEDAR_E_EXT:
        return eval_ext(out, e, ctx);
    }
    return fail(ctx, "internal error: unknown expression kind %d", (int)e->kind);
}

/* ---- constant folding ---- */

static bool is_const(const cedar_expr *e)
{
    return e->aux != NULL;
}

int cedar_eval_prepare(cedar_expr *e, cedar_varena *a, warden_err *err)
{
    if (e == NULL || e->aux != NULL)
        return 0;
    /* Children first, so that constructors over constants can fold. */
    int rc = 0;
    switch (e->kind) {
    case CEDAR_E_NOT:
    case CEDAR_E_NEG:
    case CEDAR_E_AND:
    case CEDAR_E_OR:
    case CEDAR_E_IF:
    case CEDAR_E_EQ:
    case CEDAR_E_NE:
    case CEDAR_E_LT:
    case CEDAR_E_LE:
    case CEDAR_E_GT:
    case CEDAR_E_GE:
    case CEDAR_E_IN:
    case CEDAR_E_ADD:
    case CEDAR_E_SUB:
    case CEDAR_E_MUL:
    case CEDAR_E_CONTAINS:
    case CEDAR_E_CONTAINS_ALL:
    case CEDAR_E_CONTAINS_ANY:
    case CEDAR_E_IS_EMPTY:
    case CEDAR_E_HAS_TAG:
    case CEDAR_E_GET_TAG:
        if ((rc = cedar_eval_prepare(e->u.op.a, a, err)) != 0 ||
            (rc = cedar_eval_prepare(e->u.op.b, a, err)) != 0)
            return rc;
        if (e->kind == CEDAR_E_IF)
            return cedar_eval_prepare(e->u.op.c, a, err);
        return 0;
    case CEDAR_E_GET_ATTR:
        return cedar_eval_prepare(e->u.attr.e, a, err);
    case CEDAR_E_HAS_ATTR:
        return cedar_eval_prepare(e->u.has.e, a, err);
    case CEDAR_E_LIKE:
        return cedar_eval_prepare(e->u.like.e, a, err);
    case CEDAR_E_IS:
        if ((rc = cedar_eval_prepare(e->u.is.e, a, err)) != 0)
            return rc;
        return cedar_eval_prepare(e->u.is.in, a, err);
    case CEDAR_E_SET:
        for (uint32_t i = 0; i < e->u.set.n; i++)
            if ((rc = cedar_eval_prepare(e->u.set.items[i], a, err)) != 0)
                return rc;
        for (uint32_t i = 0; i < e->u.set.n; i++)
            if (!is_const(e->u.set.items[i]))
                return 0;
        break;
    case CEDAR_E_RECORD:
        for (uint32_t i = 0; i < e->u.rec.n; i++)
            if ((rc = cedar_eval_prepare(e->u.rec.items[i].value, a, err)) != 0)
                return rc;
        for (uint32_t i = 0; i < e->u.rec.n; i++)
            if (!is_const(e->u.rec.items[i].value))
                return 0;
        break;
    case CEDAR_E_EXT:
        for (uint32_t i = 0; i < e->u.ext.n; i++)
            if ((rc = cedar_eval_prepare(e->u.ext.args[i], a, err)) != 0)
                return rc;
        /* Only constructors fold; a literal that fails to parse stays unfolded so that
         * it errors at evaluation time, as in the reference. */
        if (e->u.ext.fn > CEDAR_EXT_DURATION || e->u.ext.n != 1 || !is_const(e->u.ext.args[0]))
            return 0;
        break;
    case CEDAR_E_BOOL:
    case CEDAR_E_LONG:
    case CEDAR_E_STRING:
    case CEDAR_E_ENTITY:
        break;
    case CEDAR_E_VAR:
        return 0;
    }
    /* e is a constant: evaluate it once with an empty context. */
    cedar_evctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.arena = a;
    cedar_value *v = cedar_varena_alloc(a, sizeof *v);
    if (v == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    if (cedar_eval(v, e, &ctx) != 0)
        return 0; /* e.g. ip("bad"): leave it to fail at evaluation time */
    e->aux = v;
    return 0;
}
