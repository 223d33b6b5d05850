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
/* Parses one expression (Cedar's `Expr`). */
int parse_expr(parser *ps, cedar_expr **out);

#endif
