/* Prints ASTs back as Cedar text, fully parenthesized, so that parse(print(x))
 * has the same tree as x. Used by tests (precedence, round trips in the fuzzer),
 * and by anything that shows a policy to a person. */
#include "policy/parser.h"
#include "warden/util.h"

#include <inttypes.h>
#include <string.h>

static int put(warden_buf *b, const char *s)
{
    return warden_buf_puts(b, s);
}

static int put_quoted(warden_buf *b, const char *p, size_t len, bool pattern_literal)
{
    int rc = put(b, "\"");
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
            rc = put(b, pattern_literal ? "\\*" : "*");
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                rc = warden_buf_printf(b, "\\u{%x}", c);
            else
                rc = warden_buf_append(b, &c, 1);
        }
    }
    return rc != 0 ? rc : put(b, "\"");
}

static int put_str(warden_buf *b, const cedar_str *s)
{
    return put_quoted(b, s->p, s->len, false);
}

static int put_euid(warden_buf *b, const cedar_euid *e)
{
    int rc = warden_buf_append(b, e->type->p, e->type->len);
    if (rc == 0)
        rc = put(b, "::");
    return rc != 0 ? rc : put_str(b, e->id);
}

static const char *binop(cedar_expr_kind k)
{
    switch (k) {
    case CEDAR_E_AND:
        return " && ";
    case CEDAR_E_OR:
        return " || ";
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
        return " + ";
    case CEDAR_E_SUB:
        return " - ";
    case CEDAR_E_MUL:
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

static const char *const VARS[] = {"principal", "action", "resource", "context"};

int warden_policy_expr_print(warden_buf *b, const cedar_expr *e)
{
    int rc = 0;
    const char *op;
#define P(x)                                                                                       \
    do {                                                                                           \
        if ((rc = (x)) != 0)                                                                       \
            return rc;                                                                             \
    } while (0)
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
    case CEDAR_E_NEG:
        P(put(b, e->kind == CEDAR_E_NOT ? "(!(" : "(-("));
        P(warden_policy_expr_print(b, e->u.op.a));
        return put(b, "))");
    case CEDAR_E_IF:
        P(put(b, "(if "));
        P(warden_policy_expr_print(b, e->u.op.a));
        P(put(b, " then "));
        P(warden_policy_expr_print(b, e->u.op.b));
        P(put(b, " else "));
        P(warden_policy_expr_print(b, e->u.op.c));
        return put(b, ")");
    case CEDAR_E_GET_ATTR:
        P(put(b, "("));
        P(warden_policy_expr_print(b, e->u.attr.e));
        P(put(b, ")["));
        P(put_str(b, e->u.attr.attr));
        return put(b, "]");
    case CEDAR_E_HAS_ATTR:
        P(put(b, "(("));
        P(warden_policy_expr_print(b, e->u.has.e));
        P(put(b, ") has "));
        if (e->u.has.n == 1)
            return (rc = put_str(b, e->u.has.path[0])) != 0 ? rc : put(b, ")");
        for (uint32_t i = 0; i < e->u.has.n; i++) {
            if (i > 0)
                P(put(b, "."));
            P(warden_buf_append(b, e->u.has.path[i]->p, e->u.has.path[i]->len));
        }
        return put(b, ")");
    case CEDAR_E_LIKE:
        P(put(b, "(("));
        P(warden_policy_expr_print(b, e->u.like.e));
        P(put(b, ") like \""));
        for (uint32_t i = 0; i < e->u.like.pat.n; i++) {
            const cedar_pat_elem *el = &e->u.like.pat.elems[i];
            if (el->wildcard) {
                P(put(b, "*"));
                continue;
            }
            /* Reuse the string quoting without its quotes. */
            warden_buf tmp;
            warden_buf_init(&tmp);
            rc = put_quoted(&tmp, el->p, el->len, true);
            if (rc == 0)
                rc = warden_buf_append(b, tmp.p + 1, tmp.len - 2);
            warden_buf_fini(&tmp);
            if (rc != 0)
                return rc;
        }
        return put(b, "\")");
    case CEDAR_E_IS:
        P(put(b, "(("));
        P(warden_policy_expr_print(b, e->u.is.e));
        P(put(b, ") is "));
        P(warden_buf_append(b, e->u.is.type->p, e->u.is.type->len));
        if (e->u.is.in != NULL) {
            P(put(b, " in ("));
            P(warden_policy_expr_print(b, e->u.is.in));
            P(put(b, ")"));
        }
        return put(b, ")");
    case CEDAR_E_SET:
        P(put(b, "["));
        for (uint32_t i = 0; i < e->u.set.n; i++) {
            if (i > 0)
                P(put(b, ", "));
            P(warden_policy_expr_print(b, e->u.set.items[i]));
        }
        return put(b, "]");
    case CEDAR_E_RECORD:
        P(put(b, "{"));
        for (uint32_t i = 0; i < e->u.rec.n; i++) {
            if (i > 0)
                P(put(b, ", "));
            P(put_str(b, e->u.rec.items[i].key));
            P(put(b, ": "));
            P(warden_policy_expr_print(b, e->u.rec.items[i].value));
        }
        return put(b, "}");
    case CEDAR_E_EXT: {
        uint32_t first = 0;
        bool is_method = e->u.ext.fn > CEDAR_EXT_DURATION;
        if (is_method) {
            P(put(b, "("));
            P(warden_policy_expr_print(b, e->u.ext.args[0]));
            P(put(b, ")."));
            first = 1;
        }
        P(warden_buf_append(b, e->u.ext.name->p, e->u.ext.name->len));
        P(put(b, "("));
        for (uint32_t i = first; i < e->u.ext.n; i++) {
            if (i > first)
                P(put(b, ", "));
            P(warden_policy_expr_print(b, e->u.ext.args[i]));
        }
        return put(b, ")");
    }
    default:
        break;
    }
    if ((op = binop(e->kind)) != NULL) {
        P(put(b, "("));
        P(warden_policy_expr_print(b, e->u.op.a));
        P(put(b, op));
        P(warden_policy_expr_print(b, e->u.op.b));
        return put(b, ")");
    }
    if ((op = method(e->kind)) != NULL) {
        P(put(b, "("));
        P(warden_policy_expr_print(b, e->u.op.a));
        P(warden_buf_printf(b, ").%s(", op));
        if (e->u.op.b != NULL)
            P(warden_policy_expr_print(b, e->u.op.b));
        return put(b, ")");
    }
    return WARDEN_EINTERNAL;
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
#undef P
}
