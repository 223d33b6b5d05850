/* State shared by the two halves of the Cedar parser: parse_expr.c (expressions)
 * and parser.c (policies, scopes, annotations, entry points). Both are recursive
 * descent over the on-demand lexer with one token of lookahead (plus peek_next for
 * the few places the reference grammar needs two). */
#ifndef WARDEN_POLICY_PARSE_INTERNAL_H
#define WARDEN_POLICY_PARSE_INTERNAL_H

#include "policy/lexer.h"
#include "policy/pset_internal.h"

typedef struct parser {
    cedar_pset *set;
    policy_arena *arena;
    const char *file;
    const uint8_t *text;
    size_t len;
    lexer lx;
    token tok;       /* current token */
    unsigned depth;  /* syntactic nesting, <= CEDAR_MAX_DEPTH */
    size_t nodes;    /* AST nodes made by this parse call, <= CEDAR_MAX_NODES */
    bool in_policy;  /* parsing a condition: slots get a specific message */
    warden_buf sbuf; /* scratch for unescaping */
    warden_buf stars;
    warden_buf pbuf; /* scratch for type paths */
    warden_err *err;
} parser;

/* Formats "file:line:col: message" into ps->err and returns code. */
int perr(parser *ps, cedar_loc loc, int code, const char *fmt, ...) WARDEN_PRINTF(4, 5);
/* Moves to the next token. Errors: WARDEN_EPARSE (lexical error, already reported). */
int advance(parser *ps);
/* Lexes the token after the current one without consuming anything. On a lexical
 * error the returned token is T_EOF (the error surfaces when it is reached). */
token peek_next(const parser *ps);
/* A short description of tok for messages ("')'", "identifier `foo`", "end of input"). */
const char *tok_desc(const parser *ps, const token *tok, char *buf, size_t size);
/* Reports "expected <what>, found <tok>" at the current token; returns WARDEN_EPARSE. */
int expect_fail(parser *ps, const char *what);
/* Consumes a token of kind k or reports "expected <what>". */
int expect(parser *ps, tok_kind k, const char *what);
/* Unescapes the current T_STR token and interns it. */
int str_token(parser *ps, const cedar_str **out);
/* Parses `Ident :: Ident ... :: "id"` starting at the current identifier into *out,
 * rejecting reserved path components. */
int parse_entity_ref(parser *ps, cedar_euid *out);
/* Checks and interns a type path `A::B` (current token an identifier): stops before a
 * `::` that is followed by a string (which would make it an entity literal). */
int parse_type_path(parser *ps, const cedar_str **out, cedar_loc *loc);
/* Sorts keys[0..n) (interned pointers) and returns one that occurs twice, or NULL:
 * duplicate detection in O(n log n) for long records and annotation lists. */
const cedar_str *first_dup(const cedar_str **keys, size_t n);
/* ---- node construction and special forms (parse_forms.c) ---- */

/* Counts one more node (expression, scope entity, annotation, policy) against
 * CEDAR_MAX_NODES; ELIMIT past it. */
int node_budget(parser *ps, cedar_loc loc);
/* Allocates a leaf node (height 1), counting it against CEDAR_MAX_NODES. */
int node_new(parser *ps, cedar_expr **out, cedar_expr_kind kind, cedar_loc loc);
/* Raises e's height above child's (NULL is ignored); ELIMIT past CEDAR_MAX_HEIGHT. */
int grow(parser *ps, cedar_expr *e, const cedar_expr *child);
/* Builds kind(a, b) (b may be NULL). */
int binary(parser *ps, cedar_expr **out, cedar_expr_kind kind, cedar_loc loc, cedar_expr *a,
           cedar_expr *b);
/* Raises e's height above each of items[0..n). */
int set_children(parser *ps, cedar_expr *e, cedar_expr **items, uint32_t n);
/* Checks that the current identifier may name an attribute (not reserved, not
 * `__cedar`); role names the use in the message. */
int check_unreserved(parser *ps, const char *role);
/* Interns the current identifier token. */
int ident_token(parser *ps, const cedar_str **out);
/* Comma<Expr> up to the closing token (trailing comma allowed); consumes it. */
int parse_list(parser *ps, tok_kind close, const char *closer, cedar_expr ***items, uint32_t *n);
/* `( args )` at the current '('. */
int parse_call_args(parser *ps, cedar_expr ***args, uint32_t *n);
/* recv.name(args): builtin method or extension method, checked. */
int make_method(parser *ps, cedar_expr **out, cedar_loc loc, cedar_expr *recv,
                const cedar_str *name, cedar_expr **args, uint32_t n);
/* `{ key: value, ... }` at the current '{'. */
int parse_record(parser *ps, cedar_expr **out);
/* A name in expression position: entity literal, extension function call, or error. */
int parse_name_primary(parser *ps, cedar_expr **out);
/* The right-hand sides of `has`, `like`, `is` (the operator already consumed). */
int parse_has(parser *ps, cedar_expr **out, cedar_loc loc, cedar_expr *target);
int parse_like(parser *ps, cedar_expr **out, cedar_loc loc, cedar_expr *target);
int parse_is(parser *ps, cedar_expr **out, cedar_loc loc, cedar_expr *target);

/* ---- precedence levels (parse_expr.c) ---- */

/* Parses Cedar's `Add` level (operands of relations, `is ... in`). */
int parse_add(parser *ps, cedar_expr **out);
/* Parses one expression (Cedar's `Expr`). */
int parse_expr(parser *ps, cedar_expr **out);

#endif
