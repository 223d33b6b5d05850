/* keyd's canonical JSON writer: the same bytes as json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS
 * | JSON_ENSURE_ASCII), written straight into a warden_buf.
 *
 * Why not json_dumps: every audit entry and every answer went through it, and it grows a
 * private buffer from 16 bytes by doubling (each step a malloc and a wiped free), copies
 * the result once more with strdup, and allocates a key array per object. Here the text
 * goes into the caller's buffer, which keeps its capacity from request to request. The
 * bytes must not change (entries are signed and compared); tests/unit/keyd_canon_test.c
 * compares this writer with jansson over many values. Reals are rare here and jansson's
 * formatting of them is subtle, so they are delegated to jansson. */
#include "keyd/keyd_internal.h"

#include <stdlib.h>
#include <string.h>

/* Grows without leaving a copy behind: answers carry plaintext. */
static int put(warden_buf *out, const void *p, size_t n)
{
    if (warden_buf_reserve_wipe(out, n) != 0)
        return WARDEN_ENOMEM;
    memcpy(out->p + out->len, p, n);
    out->len += n;
    return 0;
}

/* Decodes one UTF-8 code point at s[0..n) as jansson accepts it (no overlong forms, no
 * surrogates, at most U+10FFFF); returns its length, 0 when invalid. */
static size_t utf8_next(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint8_t c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

static int put_u16(warden_buf *out, uint32_t u)
{
    static const char HEX[] = "0123456789ABCDEF";
    char e[6] = {'\\', 'u', HEX[(u >> 12) & 15], HEX[(u >> 8) & 15], HEX[(u >> 4) & 15],
                 HEX[u & 15]};
    return put(out, e, sizeof e);
}

static int put_string(warden_buf *out, const char *str, size_t n)
{
    const uint8_t *s = (const uint8_t *)str;
    /* Most strings need no escape: reserve once for the common case. */
    if (warden_buf_reserve_wipe(out, n + 2) != 0)
        return WARDEN_ENOMEM;
    out->p[out->len++] = '"';
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i && put(out, s + i, run - i) != 0)
            return WARDEN_ENOMEM;
        i = run;
        if (i == n)
            break;
        uint32_t cp;
        size_t len = utf8_next(s + i, n - i, &cp);
        if (len == 0)
            return WARDEN_EINVAL;
        i += len;
        const char *e = NULL;
        switch (cp) {
        case '"': e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        default: break;
        }
        int rc;
        if (e != NULL)
            rc = put(out, e, 2);
        else if (cp < 0x10000)
            rc = put_u16(out, cp);
        else
            rc = put_u16(out, 0xD800 | ((cp - 0x10000) >> 10)) != 0
                     ? WARDEN_ENOMEM
                     : put_u16(out, 0xDC00 | ((cp - 0x10000) & 0x3FF));
        if (rc != 0)
            return rc;
    }
    return put(out, "\"", 1);
}

typedef struct key {
    const char *s;
    size_t n;
    json_t *v;
} key;

/* jansson's order: bytewise over the shorter length, then the shorter first. */
static int key_cmp(const void *a, const void *b)
{
    const key *x = a, *y = b;
    int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
    return c != 0 ? c : (x->n > y->n) - (x->n < y->n);
}

static int put_value(warden_buf *out, const json_t *j);

static int put_object(warden_buf *out, const json_t *j)
{
    size_t n = json_object_size(j);
    if (n == 0)
        return put(out, "{}", 2);
    key small[16], *k = n <= 16 ? small : malloc(n * sizeof *k);
    if (k == NULL)
        return WARDEN_ENOMEM;
    size_t i = 0;
    const char *name;
    size_t name_len;
    json_t *v;
    json_object_keylen_foreach((json_t *)j, name, name_len, v)
    {
        if (i < n)
            k[i++] = (key){name, name_len, v};
    }
    qsort(k, i, sizeof *k, key_cmp);
    int rc = put(out, "{", 1);
    for (size_t m = 0; rc == 0 && m < i; m++) {
        if (m > 0)
            rc = put(out, ",", 1);
        if (rc == 0)
            rc = put_string(out, k[m].s, k[m].n);
        if (rc == 0)
            rc = put(out, ":", 1);
        if (rc == 0)
            rc = put_value(out, k[m].v);
    }
    if (rc == 0)
        rc = put(out, "}", 1);
    if (k != small)
        free(k);
    return rc;
}

static int put_value(warden_buf *out, const json_t *j)
{
    char num[32];
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return put_object(out, j);
    case JSON_ARRAY: {
        int rc = put(out, "[", 1);
        for (size_t i = 0; rc == 0 && i < json_array_size(j); i++) {
            if (i > 0)
                rc = put(out, ",", 1);
            if (rc == 0)
                rc = put_value(out, json_array_get(j, i));
        }
        return rc != 0 ? rc : put(out, "]", 1);
    }
    case JSON_STRING:
        return put_string(out, json_string_value(j), json_string_length(j));
    case JSON_INTEGER: {
        int n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return put(out, num, (size_t)n);
    }
    case JSON_REAL: {
        char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
        if (s == NULL)
            return WARDEN_ENOMEM;
        int rc = put(out, s, strlen(s));
        free(s);
        return rc;
    }
    case JSON_TRUE:
        return put(out, "true", 4);
    case JSON_FALSE:
        return put(out, "false", 5);
    case JSON_NULL:
        return put(out, "null", 4);
    }
    return WARDEN_EINVAL;
}

int keyd_json_canon(warden_buf *out, const json_t *j, warden_err *err)
{
    size_t start = out->len;
    int rc = j == NULL ? WARDEN_EINVAL : put_value(out, j);
    if (rc == 0)
        return 0;
    warden_wipe(out->p + start, out->len - start);
    out->len = start;
    return rc == WARDEN_ENOMEM ? warden_err_set(err, rc, "out of memory serialising JSON")
                               : warden_err_set(err, rc, "JSON value not serialisable");
}

int keyd_json_canon_str(warden_buf *out, const char *s)
{
    if (s == NULL)
        return WARDEN_EINVAL;
    size_t start = out->len;
    int rc = put_string(out, s, strlen(s));
    if (rc != 0) {
        warden_wipe(out->p + start, out->len - start);
        out->len = start;
    }
    return rc;
}
