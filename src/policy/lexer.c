/* The Cedar lexer and string unescaping (see lexer.h). Every read is checked
 * against the text length; the input was validated as UTF-8 before lexing, so a
 * lead byte is always followed by its continuation bytes. */
#include "policy/lexer.h"

#include <string.h>

void lexer_init(lexer *lx, const uint8_t *p, size_t len)
{
    lx->p = p;
    lx->len = len;
    lx->off = 0;
    lx->line = 1;
    lx->line_start = 0;
}

size_t utf8_check(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return i;
        }
        if (len - i <= n)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return len;
}

cedar_loc lexer_loc_at(const lexer *lx, size_t off)
{
    cedar_loc loc;
    if (off >= lx->line_start && off <= lx->off) {
        loc.line = lx->line;
        loc.col = (uint32_t)(off - lx->line_start + 1);
        return loc;
    }
    /* Rare (an error pointing back before the current line): recount from the start. */
    uint32_t line = 1;
    size_t start = 0;
    for (size_t i = 0; i < off && i < lx->len; i++) {
        if (lx->p[i] == '\n') {
            line++;
            start = i + 1;
        }
    }
    loc.line = line;
    loc.col = (uint32_t)(off - start + 1);
    return loc;
}

/* Length of the Unicode White_Space character (other than ASCII) at p[i], or 0. */
static size_t unicode_space(const uint8_t *p, size_t len, size_t i)
{
    size_t left = len - i;
    if (left >= 2 && p[i] == 0xC2 && (p[i + 1] == 0x85 || p[i + 1] == 0xA0))
        return 2;
    if (left < 3)
        return 0;
    uint8_t a = p[i], b = p[i + 1], c = p[i + 2];
    if (a == 0xE1 && b == 0x9A && c == 0x80) /* U+1680 */
        return 3;
    if (a == 0xE2 && b == 0x80 && (c <= 0x8A || c == 0xA8 || c == 0xA9 || c == 0xAF))
        return 3;                            /* U+2000..200A, U+2028, U+2029, U+202F */
    if (a == 0xE2 && b == 0x81 && c == 0x9F) /* U+205F */
        return 3;
    if (a == 0xE3 && b == 0x80 && c == 0x80) /* U+3000 */
        return 3;
    return 0;
}

static void skip_space(lexer *lx)
{
    const uint8_t *p = lx->p;
    while (lx->off < lx->len) {
        uint8_t c = p[lx->off];
        if (c == '\n') {
            lx->off++;
            lx->line++;
            lx->line_start = lx->off;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f') {
            lx->off++;
        } else if (c == '/' && lx->off + 1 < lx->len && p[lx->off + 1] == '/') {
            while (lx->off < lx->len && p[lx->off] != '\n' && p[lx->off] != '\r')
                lx->off++;
        } else if (c >= 0x80) {
            size_t n = unicode_space(p, lx->len, lx->off);
            if (n == 0)
                return;
            lx->off += n;
        } else {
            return;
        }
    }
}

static bool is_ident_start(uint8_t c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ident_char(uint8_t c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static kw keyword(const uint8_t *p, size_t n)
{
#define IS(lit, k) (n == sizeof(lit) - 1 && memcmp(p, lit, n) == 0) ? (k)
    /* Dispatch on the first letter: this runs for every identifier. */
    switch (p[0]) {
    case 'a':
        return IS("action", KW_ACTION) : KW_NONE;
    case 'c':
        return IS("context", KW_CONTEXT) : KW_NONE;
    case 'e':
        return IS("else", KW_ELSE) : KW_NONE;
    case 'f':
        return IS("false", KW_FALSE) : IS("forbid", KW_FORBID) : KW_NONE;
    case 'h':
        return IS("has", KW_HAS) : KW_NONE;
    case 'i':
        return IS("if", KW_IF) : IS("in", KW_IN) : IS("is", KW_IS) : KW_NONE;
    case 'l':
        return IS("like", KW_LIKE) : KW_NONE;
    case 'p':
        return IS("permit", KW_PERMIT) : IS("principal", KW_PRINCIPAL) : KW_NONE;
    case 'r':
        return IS("resource", KW_RESOURCE) : KW_NONE;
    case 't':
        return IS("true", KW_TRUE) : IS("then", KW_THEN) : KW_NONE;
    case 'u':
        return IS("unless", KW_UNLESS) : KW_NONE;
    case 'w':
        return IS("when", KW_WHEN) : KW_NONE;
    default:
        return KW_NONE;
    }
#undef IS
}

int lexer_next(lexer *lx, token *tok, const char **what)
{
    skip_space(lx);
    const uint8_t *p = lx->p;
    size_t len = lx->len;
    size_t start = lx->off;
    memset(tok, 0, sizeof *tok);
    tok->off = start;
    tok->loc = lexer_loc_at(lx, start);
    if (start >= len) {
        tok->kind = T_EOF;
        return 0;
    }
    uint8_t c = p[start];
    uint8_t n = start + 1 < len ? p[start + 1] : 0;
    size_t i = start + 1;
    tok_kind k;
    if (is_ident_start(c)) {
        while (i < len && is_ident_char(p[i]))
            i++;
        k = T_IDENT;
        tok->kw = keyword(p + start, i - start);
    } else if (c >= '0' && c <= '9') {
        uint64_t v = c - '0';
        while (i < len && p[i] >= '0' && p[i] <= '9') {
            uint64_t d = p[i] - '0';
            if (v > (UINT64_MAX - d) / 10)
                tok->overflow = true;
            else
                v = v * 10 + d;
            i++;
        }
        tok->num = v;
        k = T_INT;
    } else if (c == '"') {
        for (;;) {
            if (i >= len) {
                *what = "unterminated string literal";
                return WARDEN_EPARSE;
            }
            if (p[i] == '"') {
                i++;
                break;
            }
            if (p[i] == '\\') {
                /* The reference's `\\.` cannot match a backslash before a newline. */
                if (i + 1 >= len) {
                    *what = "unterminated string literal";
                    return WARDEN_EPARSE;
                }
                if (p[i + 1] == '\n') {
                    tok->loc = lexer_loc_at(lx, i);
                    *what = "a backslash cannot end a line inside a string literal";
                    return WARDEN_EPARSE;
                }
                i += 2;
                continue;
            }
            if (p[i] == '\n') {
                lx->line++;
                lx->line_start = i + 1;
            }
            i++;
        }
        k = T_STR;
    } else if (c == '?') {
        if (i >= len || !is_ident_start(p[i])) {
            *what = "unexpected '?': template slots are ?principal and ?resource";
            return WARDEN_EPARSE;
        }
        while (i < len && is_ident_char(p[i]))
            i++;
        k = T_SLOT;
    } else {
        i = start + 2;
        switch (c) {
        case '@':
            k = T_AT, i = start + 1;
            break;
        case '.':
            k = T_DOT, i = start + 1;
            break;
        case ',':
            k = T_COMMA, i = start + 1;
            break;
        case ';':
            k = T_SEMI, i = start + 1;
            break;
        case ':':
            if (n == ':')
                k = T_DCOLON;
            else
                k = T_COLON, i = start + 1;
            break;
        case '(':
            k = T_LPAREN, i = start + 1;
            break;
        case ')':
            k = T_RPAREN, i = start + 1;
            break;
        case '{':
            k = T_LBRACE, i = start + 1;
            break;
        case '}':
            k = T_RBRACE, i = start + 1;
            break;
        case '[':
            k = T_LBRACKET, i = start + 1;
            break;
        case ']':
            k = T_RBRACKET, i = start + 1;
            break;
        case '=':
            if (n == '=')
                k = T_EQ;
            else
                k = T_ASSIGN, i = start + 1;
            break;
        case '!':
            if (n == '=')
                k = T_NE;
            else
                k = T_BANG, i = start + 1;
            break;
        case '<':
            if (n == '=')
                k = T_LE;
            else
                k = T_LT, i = start + 1;
            break;
        case '>':
            if (n == '=')
                k = T_GE;
            else
                k = T_GT, i = start + 1;
            break;
        case '|':
            if (n != '|') {
                *what = "unexpected '|' (did you mean '||'?)";
                return WARDEN_EPARSE;
            }
            k = T_OR;
            break;
        case '&':
            if (n != '&') {
                *what = "unexpected '&' (did you mean '&&'?)";
                return WARDEN_EPARSE;
            }
            k = T_AND;
            break;
        case '+':
            k = T_PLUS, i = start + 1;
            break;
        case '-':
            k = T_MINUS, i = start + 1;
            break;
        case '*':
            k = T_STAR, i = start + 1;
            break;
        case '/':
            k = T_SLASH, i = start + 1;
            break;
        case '%':
            k = T_PERCENT, i = start + 1;
            break;
        default:
            *what = "unexpected character";
            return WARDEN_EPARSE;
        }
    }
    tok->kind = k;
    tok->len = i - start;
    lx->off = i;
    return 0;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int put_utf8(warden_buf *out, uint32_t cp)
{
    uint8_t b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (uint8_t)cp, n = 1;
    } else if (cp < 0x800) {
        b[0] = (uint8_t)(0xC0 | (cp >> 6)), b[1] = (uint8_t)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        b[0] = (uint8_t)(0xE0 | (cp >> 12)), b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (uint8_t)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        b[0] = (uint8_t)(0xF0 | (cp >> 18)), b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)), b[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return warden_buf_append(out, b, n);
}

/* Decodes one escape at p[i] == '\\' (i < end), setting *cp and the index after it.
 * Follows rustc_lexer's unescape_str, which the reference uses. *star_escape is set
 * for `\*`, which only patterns accept. */
static int unescape_one(const uint8_t *p, size_t i, size_t end, uint32_t *cp, size_t *next,
                        bool *star_escape, const char **what)
{
    *star_escape = false;
    if (i + 1 >= end) {
        *what = "lone backslash at the end of a string";
        return WARDEN_EPARSE;
    }
    uint8_t c = p[i + 1];
    size_t j = i + 2;
    switch (c) {
    case 'n':
        *cp = '\n';
        break;
    case 'r':
        *cp = '\r';
        break;
    case 't':
        *cp = '\t';
        break;
    case '\\':
        *cp = '\\';
        break;
    case '0':
        *cp = 0;
        break;
    case '\'':
        *cp = '\'';
        break;
    case '"':
        *cp = '"';
        break;
    case '*':
        *cp = '*';
        *star_escape = true;
        break;
    case 'x': {
        if (j >= end) {
            *what = "\\x escape needs two hex digits";
            return WARDEN_EPARSE;
        }
        int h = hexval(p[j]);
        if (h < 0) {
            *what = "invalid character in \\x escape";
            return WARDEN_EPARSE;
        }
        if (j + 1 >= end) {
            *what = "\\x escape needs two hex digits";
            return WARDEN_EPARSE;
        }
        int l = hexval(p[j + 1]);
        if (l < 0) {
            *what = "invalid character in \\x escape";
            return WARDEN_EPARSE;
        }
        if (h > 7) {
            *what = "\\x escape must be at most \\x7F (use \\u{...} for other characters)";
            return WARDEN_EPARSE;
        }
        *cp = (uint32_t)(h * 16 + l);
        j += 2;
        break;
    }
    case 'u': {
        if (j >= end || p[j] != '{') {
            *what = "\\u escape needs braces: \\u{...}";
            return WARDEN_EPARSE;
        }
        j++;
        if (j >= end) {
            *what = "unterminated \\u{...} escape";
            return WARDEN_EPARSE;
        }
        if (p[j] == '_') {
            *what = "\\u{...} escape cannot start with '_'";
            return WARDEN_EPARSE;
        }
        if (p[j] == '}') {
            *what = "empty \\u{} escape";
            return WARDEN_EPARSE;
        }
        uint32_t v = 0;
        unsigned digits = 0;
        for (;;) {
            if (j >= end) {
                *what = "unterminated \\u{...} escape";
                return WARDEN_EPARSE;
            }
            uint8_t d = p[j++];
            if (d == '_')
                continue;
            if (d == '}')
                break;
            int h = hexval(d);
            if (h < 0) {
                *what = "invalid character in \\u{...} escape";
                return WARDEN_EPARSE;
            }
            digits++;
            if (digits <= 6)
                v = v * 16 + (uint32_t)h;
        }
        if (digits > 6) {
            *what = "\\u{...} escape has more than 6 hex digits";
            return WARDEN_EPARSE;
        }
        if (v >= 0xD800 && v <= 0xDFFF) {
            *what = "\\u{...} escape is a lone surrogate";
            return WARDEN_EPARSE;
        }
        if (v > 0x10FFFF) {
            *what = "\\u{...} escape is beyond U+10FFFF";
            return WARDEN_EPARSE;
        }
        *cp = v;
        break;
    }
    default:
        *what = "invalid escape sequence";
        return WARDEN_EPARSE;
    }
    *next = j;
    return 0;
}

static int unescape_any(warden_buf *out, warden_buf *stars, const uint8_t *text, const token *tok,
                        const char **what, size_t *at)
{
    size_t i = tok->off + 1, end = tok->off + tok->len - 1;
    while (i < end) {
        uint8_t c = text[i];
        if (c == '\\') {
            uint32_t cp;
            size_t next;
            bool star_escape;
            int rc = unescape_one(text, i, end, &cp, &next, &star_escape, what);
            if (rc == 0 && star_escape && stars == NULL) {
                *what = "invalid escape sequence \\* (only `like` patterns accept it)";
                rc = WARDEN_EPARSE;
            }
            if (rc != 0) {
                *at = i;
                return rc;
            }
            if (stars != NULL && cp == '*' && !star_escape) {
                /* The reference turns every unescaped '*' char into a wildcard,
                 * including one written as \x2A or \u{2a}. */
                size_t pos = out->len;
                if (warden_buf_append(stars, &pos, sizeof pos) != 0)
                    return WARDEN_ENOMEM;
            } else if (put_utf8(out, cp) != 0) {
                return WARDEN_ENOMEM;
            }
            i = next;
            continue;
        }
        if (c == '\r') {
            *what = "bare carriage return in a string literal (write \\r)";
            *at = i;
            return WARDEN_EPARSE;
        }
        if (stars != NULL && c == '*') {
            size_t pos = out->len;
            if (warden_buf_append(stars, &pos, sizeof pos) != 0)
                return WARDEN_ENOMEM;
            i++;
            continue;
        }
        /* Copy a run of plain bytes at once. */
        size_t j = i + 1;
        while (j < end && text[j] != '\\' && text[j] != '\r' && (stars == NULL || text[j] != '*'))
            j++;
        if (warden_buf_append(out, text + i, j - i) != 0)
            return WARDEN_ENOMEM;
        i = j;
    }
    return 0;
}

int unescape_string(warden_buf *out, const uint8_t *text, const token *tok, const char **what,
                    size_t *at)
{
    return unescape_any(out, NULL, text, tok, what, at);
}

int unescape_pattern(warden_buf *out, warden_buf *stars, const uint8_t *text, const token *tok,
                     const char **what, size_t *at)
{
    return unescape_any(out, stars, text, tok, what, at);
}
