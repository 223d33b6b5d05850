/* The Cedar lexer: turns policy text (pointer + length, UTF-8, never assumed
 * NUL-terminated) into tokens on demand, and unescapes string literals.
 * Invariant: the lexer never reads at or beyond text[len]; a token's bytes are
 * text[off .. off+len). Token rules follow the reference grammar (lalrpop):
 * Unicode whitespace, `//` comments, ASCII identifiers, decimal integers, strings
 * `"(\\.|[^"\\])*"` where `.` excludes a newline. */
#ifndef WARDEN_POLICY_LEXER_H
#define WARDEN_POLICY_LEXER_H

#include "policy/ast.h"
#include "warden/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum tok_kind {
    T_EOF,
    T_IDENT, /* includes keywords: see tok.kw */
    T_INT,   /* decimal digits; tok.num holds the value when !tok.overflow */
    T_STR,   /* a string literal, quotes included in off/len, not unescaped */
    T_SLOT,  /* `?name` */
    T_AT,
    T_DOT,
    T_COMMA,
    T_SEMI,
    T_COLON,
    T_DCOLON,
    T_LPAREN,
    T_RPAREN,
    T_LBRACE,
    T_RBRACE,
    T_LBRACKET,
    T_RBRACKET,
    T_EQ, /* == */
    T_NE, /* != */
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_OR,  /* || */
    T_AND, /* && */
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,   /* only for a helpful error */
    T_PERCENT, /* only for a helpful error */
    T_BANG,
    T_ASSIGN /* `=`, only for a helpful error */
} tok_kind;

/* Identifiers with a role in the grammar. The reserved ones (TRUE .. LIKE) can
 * never name an attribute, a type or a variable. */
typedef enum kw {
    KW_NONE,
    KW_TRUE,
    KW_FALSE,
    KW_IF,
    KW_THEN,
    KW_ELSE,
    KW_IN,
    KW_IS,
    KW_HAS,
    KW_LIKE,
    KW_PERMIT,
    KW_FORBID,
    KW_WHEN,
    KW_UNLESS,
    KW_PRINCIPAL,
    KW_ACTION,
    KW_RESOURCE,
    KW_CONTEXT
} kw;

#define KW_IS_RESERVED(k) ((k) >= KW_TRUE && (k) <= KW_LIKE)

typedef struct token {
    tok_kind kind;
    kw kw;
    size_t off, len;
    cedar_loc loc;
    uint64_t num;
    bool overflow; /* T_INT larger than UINT64_MAX */
} token;

typedef struct lexer {
    const uint8_t *p;
    size_t len;
    size_t off;
    uint32_t line;
    size_t line_start;
} lexer;

/* Starts lexing p[0..len). */
void lexer_init(lexer *lx, const uint8_t *p, size_t len);

/* Returns the first offset at which p[0..len) is not valid UTF-8 (overlong forms,
 * surrogates and code points above U+10FFFF are invalid), or len when it is valid. */
size_t utf8_check(const uint8_t *p, size_t len);

/* Reads the next token. On a lexical error returns WARDEN_EPARSE with *what set to a
 * static description and tok->loc at the offending position. */
int lexer_next(lexer *lx, token *tok, const char **what);

/* The location of byte offset off, which must be >= the start of lx's current line
 * or anywhere when recomputing from the start. */
cedar_loc lexer_loc_at(const lexer *lx, size_t off);

/* Unescapes the body of string token tok (quotes excluded) into out (appending), with
 * the reference's rules (Rust string escapes: \n \r \t \\ \0 \' \" \xHH up to 7F,
 * \u{1-6 hex}; a raw carriage return is an error). On error returns WARDEN_EPARSE
 * (or WARDEN_ENOMEM) with *what describing the problem and *at its byte offset. */
int unescape_string(warden_buf *out, const uint8_t *text, const token *tok, const char **what,
                    size_t *at);

/* Unescapes a `like` pattern body: appends the literal bytes to out and records,
 * for each wildcard, its byte position in out in *stars (appending size_t values to
 * the buffer stars). `\*` is a literal star. Errors: as unescape_string. */
int unescape_pattern(warden_buf *out, warden_buf *stars, const uint8_t *text, const token *tok,
                     const char **what, size_t *at);

#endif
