/* Prints ASTs back as Cedar text that parses to the same tree. The normal form
 * adds parentheses only where the grammar needs them (so printed text nests no
 * deeper than its source, and stays under the parser's depth limit); the full
 * form parenthesizes every operator, which tests use to show a tree's shape. */
#include "policy/lexer.h"
#include "policy/parser.h"
#include "warden/util.h"

#include <inttypes.h>
#include <string.h>

/* Binding strength, loosest first, as in the reference grammar. */
enum {
    PREC_EXPR, /* if-then-else */
    PREC_OR,
    PREC_AND,
    PREC_REL, /* == != < <= > >= in has like is */
    PREC_ADD,
    PREC_MUL,
    PREC_UNARY, /* ! - and negative literals */
    PREC_MEMBER,
    PREC_PRIMARY
};

#define P(x)                                                                                       \
    do {                                                                                           \
        if ((rc = (x)) != 0)                                                                       \
            return rc;                                                                             \
    } while (0)

static int put(warden_buf *b, const char *s)
{
    return warden_buf_puts(b, s);
}

/* Quotes bytes as a Cedar string body; in a pattern, a literal '*' becomes \*. */
static int put_escaped(warden_buf *b, const char *p, size_t len, bool pattern)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        switch (c) {
        case '"':
            rc = put(b, "\\\"");
            break;
        case '\\':
            rc = put(b, "\\\\");
            break;
        case '\n':
            rc = put(b, "\\n");
            break;
        case '\r':
            rc = put(b, "\\r");
            break;
        case '\t':
            rc = put(b, "\\t");
            break;
        case '\0':
            rc = put(b, "\\0");
            break;
        case '*':
            rc = put(b, pattern ? "\\*" : "*");
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                rc = warden_buf_printf(b, "\\u{%x}", c);
            else
                rc = warden_buf_append(b, &c, 1);
        }
    }
    return rc;
}

static int put_str(warden_buf *b, const cedar_str *s)
{
    int rc;
    P(put(b, "\""));
    P(put_escaped(b, s->p, s->len, false));
    return put(b, "\"");
}

static int put_euid(warden_buf *b, const cedar_euid *e)
{
    int rc;
    P(warden_buf_append(b, e->type->p, e->type->len));
    P(put(b, "::"));
    return put_str(b, e->id);
}

/* True when s can be written as a bare attribute name (`.s`, `{s: ..}`, `has s`). */
static bool plain_ident(const cedar_str *s)
{
    if (s->len == 0 || s->len > 64)
        return false;
    for (size_t i = 0; i < s->len; i++) {
        char c = s->p[i];
        bool alpha = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return false;
    }
    lexer lx;
    token t;
    const char *what;
    lexer_init(&lx, (const uint8_t *)s->p, s->len);
    if (lexer_next(&lx, &t, &what) != 0 || KW_IS_RESERVED(t.kw))
        return false;
    return !(s->len == 7 && memcmp(s->p, "__cedar", 7) == 0);
}

static const char *binop(cedar_expr_kind k, int *prec)
{
    *prec = PREC_REL;
    switch (k) {
    case CEDAR_E_OR:
        *prec = PREC_OR;
        return " || ";
    case CEDAR_E_AND:
        *prec = PREC_AND;
        return " && ";
    case CEDAR_E_EQ:
        return " == ";
    case CEDAR_E_NE:
        return " != ";
    case CEDAR_E_LT:
        return " < ";
    case CEDAR_E_LE:
        return " <= ";
    case CEDAR_E_GT:
        return " > ";
    case CEDAR_E_GE:
        return " >= ";
    case CEDAR_E_IN:
        return " in ";
    case CEDAR_E_ADD:
        *prec = PREC_ADD;
        return " + ";
    case CEDAR_E_SUB:
        *prec = PREC_ADD;
        return " - ";
    case CEDAR_E_MUL:
        *prec = PREC_MUL;
        return " * ";
    default:
        return NULL;
    }
}

static const char *method(cedar_expr_kind k)
{
    switch (k) {
    case CEDAR_E_CONTAINS:
        return "contains";
    case CEDAR_E_CONTAINS_ALL:
        return "containsAll";
    case CEDAR_E_CONTAINS_ANY:
        return "containsAny";
    case CEDAR_E_IS_EMPTY:
        return "isEmpty";
    case CEDAR_E_HAS_TAG:
        return "hasTag";
    case CEDAR_E_GET_TAG:
        return "getTag";
    default:
        return NULL;
    }
}

static int prec_of(const cedar_expr *e)
{
    int p;
    switch (e->kind) {
    case CEDAR_E_IF:
        return PREC_EXPR;
    case CEDAR_E_HAS_ATTR:
    case CEDAR_E_LIKE:
    case CEDAR_E_IS:
        return PREC_REL;
    case CEDAR_E_NOT:
    case CEDAR_E_NEG:
        return PREC_UNARY;
    case CEDAR_E_LONG:
        return e->u.i < 0 ? PREC_UNARY : PREC_PRIMARY;
    case CEDAR_E_GET_ATTR:
    case CEDAR_E_CONTAINS:
    case CEDAR_E_CONTAINS_ALL:
    case CEDAR_E_CONTAINS_ANY:
    case CEDAR_E_IS_EMPTY:
    case CEDAR_E_HAS_TAG:
    case CEDAR_E_GET_TAG:
        return PREC_MEMBER;
    case CEDAR_E_EXT:
        return CEDAR_EXT_IS_METHOD(e->u.ext.fn) ? PREC_MEMBER : PREC_PRIMARY;
    default:
        return binop(e->kind, &p) != NULL ? p : PREC_PRIMARY;
    }
}

static const char *const VARS[] = {"principal", "action", "resource", "context"};

static int print(warden_buf *b, const cedar_expr *e, int ctx, bool full);

/* Prints e where the grammar expects at least precedence ctx. */
static int operand(warden_buf *b, const cedar_expr *e, int ctx, bool full)
{
    int rc;
    bool parens = prec_of(e) < ctx || (full && prec_of(e) < PREC_PRIMARY && ctx > PREC_EXPR);
    if (parens)
        P(put(b, "("));
    P(print(b, e, parens ? PREC_EXPR : ctx, full));
    return parens ? put(b, ")") : 0;
}

static int print(warden_buf *b, const cedar_expr *e, int ctx, bool full)
{
    int rc = 0, prec;
    const char *op;
    (void)ctx;
    switch (e->kind) {
    case CEDAR_E_BOOL:
        return put(b, e->u.b ? "true" : "false");
    case CEDAR_E_LONG:
        return warden_buf_printf(b, "%" PRId64, e->u.i);
    case CEDAR_E_STRING:
        return put_str(b, e->u.s);
    case CEDAR_E_ENTITY:
        return put_euid(b, &e->u.euid);
    case CEDAR_E_VAR:
        return put(b, VARS[e->u.var]);
    case CEDAR_E_NOT:
        P(put(b, "!"));
        return operand(b, e->u.op.a, PREC_MEMBER, full);
    case CEDAR_E_NEG:
        P(put(b, "-"));
        /* `-5` would read back as the literal -5, not the negation of 5. */
        if (e->u.op.a->kind == CEDAR_E_LONG && e->u.op.a->u.i >= 0)
            return warden_buf_printf(b, "(%" PRId64 ")", e->u.op.a->u.i);
        return operand(b, e->u.op.a, PREC_MEMBER, full);
    case CEDAR_E_IF:
        P(put(b, "if "));
        P(operand(b, e->u.op.a, PREC_EXPR, full));
        P(put(b, " then "));
        P(operand(b, e->u.op.b, PREC_EXPR, full));
        P(put(b, " else "));
        return operand(b, e->u.op.c, PREC_EXPR, full);
    case CEDAR_E_GET_ATTR:
        P(operand(b, e->u.attr.e, PREC_MEMBER, full));
        if (plain_ident(e->u.attr.attr)) {
            P(put(b, "."));
            return warden_buf_append(b, e->u.attr.attr->p, e->u.attr.attr->len);
        }
        P(put(b, "["));
        P(put_str(b, e->u.attr.attr));
        return put(b, "]");
    case CEDAR_E_HAS_ATTR:
        P(operand(b, e->u.has.e, PREC_ADD, full));
        P(put(b, " has "));
        if (e->u.has.n == 1 && !plain_ident(e->u.has.path[0]))
            return put_str(b, e->u.has.path[0]);
        for (uint32_t i = 0; i < e->u.has.n; i++) {
            if (i > 0)
                P(put(b, "."));
            P(warden_buf_append(b, e->u.has.path[i]->p, e->u.has.path[i]->len));
        }
        return 0;
    case CEDAR_E_LIKE:
        P(operand(b, e->u.like.e, PREC_ADD, full));
        P(put(b, " like \""));
        for (uint32_t i = 0; i < e->u.like.pat.n; i++) {
            const cedar_pat_elem *el = &e->u.like.pat.elems[i];
            P(el->wildcard ? put(b, "*") : put_escaped(b, el->p, el->len, true));
        }
        return put(b, "\"");
    case CEDAR_E_IS:
        P(operand(b, e->u.is.e, PREC_ADD, full));
        P(put(b, " is "));
        P(warden_buf_append(b, e->u.is.type->p, e->u.is.type->len));
        if (e->u.is.in == NULL)
            return 0;
        P(put(b, " in "));
        return operand(b, e->u.is.in, PREC_ADD, full);
    case CEDAR_E_SET:
        P(put(b, "["));
        for (uint32_t i = 0; i < e->u.set.n; i++) {
            if (i > 0)
                P(put(b, ", "));
            P(operand(b, e->u.set.items[i], PREC_EXPR, full));
        }
        return put(b, "]");
    case CEDAR_E_RECORD:
        P(put(b, "{"));
        for (uint32_t i = 0; i < e->u.rec.n; i++) {
            const cedar_str *k = e->u.rec.items[i].key;
            if (i > 0)
                P(put(b, ", "));
            P(plain_ident(k) ? warden_buf_append(b, k->p, k->len) : put_str(b, k));
            P(put(b, ": "));
            P(operand(b, e->u.rec.items[i].value, PREC_EXPR, full));
        }
        return put(b, "}");
    case CEDAR_E_EXT: {
        uint32_t first = 0;
        if (CEDAR_EXT_IS_METHOD(e->u.ext.fn)) {
            P(operand(b, e->u.ext.args[0], PREC_MEMBER, full));
            P(put(b, "."));
            first = 1;
        }
        P(warden_buf_append(b, e->u.ext.name->p, e->u.ext.name->len));
        P(put(b, "("));
        for (uint32_t i = first; i < e->u.ext.n; i++) {
            if (i > first)
                P(put(b, ", "));
            P(operand(b, e->u.ext.args[i], PREC_EXPR, full));
        }
        return put(b, ")");
    }
    default:
        break;
    }
    if ((op = binop(e->kind, &prec)) != NULL) {
        /* Left-associative chains; relations do not chain at all. */
        P(operand(b, e->u.op.a, prec == PREC_REL ? PREC_ADD : prec, full));
        P(put(b, op));
        return operand(b, e->u.op.b, prec + 1, full);
    }
    if ((op = method(e->kind)) != NULL) {
        P(operand(b, e->u.op.a, PREC_MEMBER, full));
        P(warden_buf_printf(b, ".%s(", op));
        if (e->u.op.b != NULL)
            P(operand(b, e->u.op.b, PREC_EXPR, full));
        return put(b, ")");
    }
    return WARDEN_EINTERNAL;
}

int warden_policy_euid_print(warden_buf *out, const cedar_euid *e)
{
    return put_euid(out, e);
}

int warden_policy_expr_print(warden_buf *out, const cedar_expr *e)
{
    return print(out, e, PREC_EXPR, false);
}

int warden_policy_expr_print_full(warden_buf *out, const cedar_expr *e)
{
    return print(out, e, PREC_EXPR, true);
}

static int put_scope(warden_buf *b, const char *var, const cedar_scope *s)
{
    int rc;
    P(put(b, var));
    switch (s->op) {
    case CEDAR_SCOPE_ANY:
        return 0;
    case CEDAR_SCOPE_IS:
    case CEDAR_SCOPE_IS_IN:
        P(put(b, " is "));
        P(warden_buf_append(b, s->is_type->p, s->is_type->len));
        if (s->op == CEDAR_SCOPE_IS)
            return 0;
        P(put(b, " in "));
        break;
    case CEDAR_SCOPE_EQ:
        P(put(b, " == "));
        break;
    case CEDAR_SCOPE_IN:
        P(put(b, " in "));
        break;
    case CEDAR_SCOPE_IN_SET:
        P(put(b, " in ["));
        for (uint32_t i = 0; i < s->n_set; i++) {
            if (i > 0)
                P(put(b, ", "));
            P(put_euid(b, &s->set[i]));
        }
        return put(b, "]");
    }
    if (s->slot)
        return warden_buf_printf(b, "?%s", var);
    return put_euid(b, &s->entity);
}

int warden_policy_print(warden_buf *b, const cedar_policy *p)
{
    int rc;
    for (uint32_t i = 0; i < p->n_annos; i++) {
        P(warden_buf_printf(b, "@%s", p->annos[i].key->p));
        if (p->annos[i].has_value) {
            P(put(b, "("));
            P(put_str(b, p->annos[i].value));
            P(put(b, ")"));
        }
        P(put(b, "\n"));
    }
    P(put(b, p->effect == CEDAR_PERMIT ? "permit (\n    " : "forbid (\n    "));
    P(put_scope(b, "principal", &p->principal));
    P(put(b, ",\n    "));
    P(put_scope(b, "action", &p->action));
    P(put(b, ",\n    "));
    P(put_scope(b, "resource", &p->resource));
    P(put(b, "\n)"));
    for (uint32_t i = 0; i < p->n_conds; i++) {
        P(put(b, p->conds[i].unless ? "\nunless { " : "\nwhen { "));
        P(warden_policy_expr_print(b, p->conds[i].expr));
        P(put(b, " }"));
    }
    return put(b, ";\n");
}
