/* Cedar's JSON value format (entity attrs and tags, request context) and entity
 * references, converted into values (see entities.h). Follows the reference's untagged
 * decoding without a schema: an object whose only key is "__entity" or "__extn" is an
 * escape when its payload has the escape's shape, and otherwise an ordinary record. */
#include "policy/entities.h"
#include "policy/eval.h"

#include <string.h>

static const char *const RESERVED[] = {"true", "false", "if",   "then", "else",
                                       "in",   "is",    "like", "has"};

static bool ident_ok(const char *p, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return false;
    }
    for (size_t i = 0; i < sizeof RESERVED / sizeof RESERVED[0]; i++)
        if (strlen(RESERVED[i]) == len && memcmp(RESERVED[i], p, len) == 0)
            return false;
    if (len == 7 && memcmp(p, "__cedar", 7) == 0)
        return false;
    return true;
}

bool cedar_type_name_valid(const char *p, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || (p[i] == ':' && i + 1 < len && p[i + 1] == ':')) {
            if (!ident_ok(p + start, i - start))
                return false;
            if (i == len)
                return true;
            i++;
            start = i + 1;
        } else if (p[i] == ':') {
            return false;
        }
    }
    return true;
}

static int uid_from_strings(cedar_uid *out, const json_t *type, const json_t *id, cedar_varena *a,
                            const char *what, warden_err *err)
{
    size_t tl = json_string_length(type), il = json_string_length(id);
    const char *t = json_string_value(type), *i = json_string_value(id);
    if (!cedar_type_name_valid(t, tl))
        return warden_err_set(err, WARDEN_EINVAL, "%s: invalid entity type name \"%.*s\"", what,
                              (int)(tl > 64 ? 64 : tl), t);
    char *tc = cedar_varena_strdup(a, t, tl), *ic = cedar_varena_strdup(a, i, il);
    if (tc == NULL || ic == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    cedar_uid_init(out, tc, tl, ic, il);
    return 0;
}

/* {"type": "..", "id": ".."} with both strings (other keys ignored, as the reference). */
static bool type_and_id(const json_t *o, const json_t **type, const json_t **id)
{
    if (!json_is_object(o))
        return false;
    *type = json_object_get(o, "type");
    *id = json_object_get(o, "id");
    return json_is_string(*type) && json_is_string(*id);
}

int cedar_json_to_uid(cedar_uid *out, const json_t *j, cedar_varena *a, bool allow_string,
                      const char *what, warden_err *err)
{
    const json_t *type, *id;
    if (allow_string && json_is_string(j)) {
        int rc = cedar_parse_uid_text(out, json_string_value(j), json_string_length(j), a, err);
        if (rc != 0)
            return warden_err_prefix(err, "%s", what);
        return 0;
    }
    if (json_is_object(j) && json_object_size(j) >= 1) {
        const json_t *esc = json_object_get(j, "__entity");
        if (esc != NULL && type_and_id(esc, &type, &id))
            return uid_from_strings(out, type, id, a, what, err);
    }
    if (type_and_id(j, &type, &id))
        return uid_from_strings(out, type, id, a, what, err);
    return warden_err_set(err, WARDEN_EINVAL,
                          "%s: expected an entity reference {\"type\": .., \"id\": ..}%s", what,
                          allow_string ? " or Type::\"id\"" : "");
}

static int to_value(cedar_value *out, const json_t *j, cedar_varena *a, const char *what,
                    unsigned depth, warden_err *err);
static int to_record(cedar_value *out, const json_t *j, cedar_varena *a, const char *what,
                     unsigned depth, warden_err *err);

static int extn(cedar_value *out, const json_t *fn, const json_t *arg, const json_t *args,
                cedar_varena *a, const char *what, unsigned depth, warden_err *err)
{
    cedar_ext e;
    size_t fl = json_string_length(fn);
    const char *fp = json_string_value(fn);
    if (!cedar_ext_lookup(&e, fp, fl))
        return warden_err_set(err, WARDEN_EINVAL, "%s: extension function `%.*s` does not exist",
                              what, (int)(fl > 64 ? 64 : fl), fp);
    cedar_value av[4];
    uint32_t n = 0;
    if (arg != NULL) {
        int rc = to_value(&av[0], arg, a, what, depth + 1, err);
        if (rc != 0)
            return rc;
        n = 1;
    } else {
        if (json_array_size(args) > 4)
            return warden_err_set(err, WARDEN_EINVAL,
                                  "%s: too many arguments to extension function `%.*s`", what,
                                  (int)(fl > 64 ? 64 : fl), fp);
        for (size_t i = 0; i < json_array_size(args); i++) {
            int rc = to_value(&av[n], json_array_get(args, i), a, what, depth + 1, err);
            if (rc != 0)
                return rc;
            n++;
        }
    }
    char msg[CEDAR_EVAL_MSG_MAX];
    if (cedar_ext_apply(out, e, av, n, a, msg, sizeof msg) != 0)
        return warden_err_set(err, WARDEN_EINVAL, "%s: %s", what, msg);
    return 0;
}

static int to_value(cedar_value *out, const json_t *j, cedar_varena *a, const char *what,
                    unsigned depth, warden_err *err)
{
    if (depth > CEDAR_JSON_MAX_DEPTH)
        return warden_err_set(err, WARDEN_ELIMIT, "%s: values nested deeper than %u", what,
                              CEDAR_JSON_MAX_DEPTH);
    switch (json_typeof(j)) {
    case JSON_TRUE:
    case JSON_FALSE:
        out->kind = CEDAR_V_BOOL;
        out->u.b = json_is_true(j);
        return 0;
    case JSON_INTEGER:
        out->kind = CEDAR_V_LONG;
        out->u.i = (int64_t)json_integer_value(j);
        return 0;
    case JSON_REAL:
        return warden_err_set(err, WARDEN_EINVAL, "%s: numbers must be integers", what);
    case JSON_NULL:
        return warden_err_set(err, WARDEN_EINVAL, "%s: JSON null is not allowed in Cedar", what);
    case JSON_STRING: {
        cedar_str *s = cedar_varena_alloc(a, sizeof *s);
        char *p = cedar_varena_strdup(a, json_string_value(j), json_string_length(j));
        if (s == NULL || p == NULL)
            return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        cedar_str_init(s, p, json_string_length(j));
        out->kind = CEDAR_V_STRING;
        out->u.s = s;
        return 0;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        cedar_value *tmp = cedar_varena_alloc(a, (n ? n : 1) * sizeof *tmp);
        if (tmp == NULL)
            return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            int rc = to_value(&tmp[i], json_array_get(j, i), a, what, depth + 1, err);
            if (rc != 0)
                return rc;
        }
        const cedar_set *s = cedar_set_build(a, tmp, n);
        if (s == NULL)
            return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        out->kind = CEDAR_V_SET;
        out->u.set = s;
        return 0;
    }
    case JSON_OBJECT:
        break;
    }
    if (json_object_size(j) == 1) {
        /* Cedar 4 removed the `__expr` escape and refuses it rather than reading a record. */
        if (json_is_string(json_object_get(j, "__expr")))
            return warden_err_set(err, WARDEN_EINVAL,
                                  "%s: the `__expr` escape is no longer supported", what);
        const json_t *esc = json_object_get(j, "__entity"), *type, *id;
        if (esc != NULL && type_and_id(esc, &type, &id)) {
            cedar_uid *u = cedar_varena_alloc(a, sizeof *u);
            if (u == NULL)
                return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            int rc = uid_from_strings(u, type, id, a, what, err);
            if (rc != 0)
                return rc;
            out->kind = CEDAR_V_ENTITY;
            out->u.uid = u;
            return 0;
        }
        esc = json_object_get(j, "__extn");
        if (json_is_object(esc)) {
            const json_t *fn = json_object_get(esc, "fn"), *arg = json_object_get(esc, "arg");
            const json_t *args = json_object_get(esc, "args");
            if (json_is_string(fn) && (arg != NULL || json_is_array(args)))
                return extn(out, fn, arg, args, a, what, depth, err);
        }
    }
    return to_record(out, j, a, what, depth, err);
}

int cedar_json_to_value(cedar_value *out, const json_t *j, cedar_varena *a, const char *what,
                        warden_err *err)
{
    return to_value(out, j, a, what, 0, err);
}

/* The members of object j as a record (never an escape: entity attrs and tags are maps). */
static int to_record(cedar_value *out, const json_t *j, cedar_varena *a, const char *what,
                     unsigned depth, warden_err *err)
{
    size_t n = json_object_size(j), i = 0;
    cedar_field *f = cedar_varena_alloc(a, (n ? n : 1) * sizeof *f);
    if (f == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    const char *key;
    json_t *val;
    void *iter = json_object_iter((json_t *)j);
    while (iter != NULL) {
        key = json_object_iter_key(iter);
        val = json_object_iter_value(iter);
        size_t kl = strlen(key); /* jansson keys cannot hold NUL */
        cedar_str *ks = cedar_varena_alloc(a, sizeof *ks);
        char *kp = cedar_varena_strdup(a, key, kl);
        if (ks == NULL || kp == NULL)
            return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        cedar_str_init(ks, kp, kl);
        f[i].key = ks;
        int rc = to_value(&f[i].v, val, a, what, depth + 1, err);
        if (rc != 0)
            return rc;
        i++;
        iter = json_object_iter_next((json_t *)j, iter);
    }
    const cedar_record *r = cedar_record_build(a, f, i);
    if (r == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    out->kind = CEDAR_V_RECORD;
    out->u.rec = r;
    return 0;
}

int cedar_json_to_record(cedar_value *out, const json_t *j, cedar_varena *a, const char *what,
                         warden_err *err)
{
    if (!json_is_object(j))
        return warden_err_set(err, WARDEN_EINVAL, "%s: expected a JSON object", what);
    return to_record(out, j, a, what, 0, err);
}

/* ---- Type::"id" text ---- */

static void skip_ws(const char *p, size_t len, size_t *i)
{
    while (*i < len && (p[*i] == ' ' || p[*i] == '\t' || p[*i] == '\n' || p[*i] == '\r'))
        (*i)++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t utf8_put(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF), as Rust's str. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            k = 1, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        i += k + 1;
    }
    return true;
}

int cedar_parse_uid_text(cedar_uid *out, const char *p, size_t len, cedar_varena *a,
                         warden_err *err)
{
    if (!utf8_valid((const unsigned char *)p, len))
        return warden_err_set(err, WARDEN_EINVAL, "entity reference: not valid UTF-8");
    size_t i = 0;
    /* The type: identifiers joined by "::", whitespace allowed around "::". */
    char *type = cedar_varena_alloc(a, len + 1);
    char *id = cedar_varena_alloc(a, len + 1);
    if (type == NULL || id == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    size_t tl = 0, il = 0;
    skip_ws(p, len, &i);
    for (;;) {
        size_t s = i;
        while (i < len && ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
                           p[i] == '_' || (i > s && p[i] >= '0' && p[i] <= '9')))
            i++;
        if (i == s)
            return warden_err_set(err, WARDEN_EINVAL,
                                  "entity reference: expected an identifier at offset %zu", i);
        if (tl) {
            type[tl++] = ':';
            type[tl++] = ':';
        }
        memcpy(type + tl, p + s, i - s);
        tl += i - s;
        skip_ws(p, len, &i);
        if (i + 1 >= len || p[i] != ':' || p[i + 1] != ':')
            return warden_err_set(err, WARDEN_EINVAL,
                                  "entity reference: expected `::` at offset %zu", i);
        i += 2;
        skip_ws(p, len, &i);
        if (i < len && p[i] == '"')
            break;
    }
    if (!cedar_type_name_valid(type, tl))
        return warden_err_set(err, WARDEN_EINVAL, "entity reference: invalid entity type \"%.*s\"",
                              (int)(tl > 64 ? 64 : tl), type);
    i++; /* opening quote */
    for (;;) {
        if (i >= len)
            return warden_err_set(err, WARDEN_EINVAL, "entity reference: unterminated string");
        char c = p[i++];
        if (c == '"')
            break;
        if (c != '\\') {
            id[il++] = c;
            continue;
        }
        if (i >= len)
            return warden_err_set(err, WARDEN_EINVAL, "entity reference: unterminated string");
        c = p[i++];
        switch (c) {
        case 'n':
            id[il++] = '\n';
            break;
        case 'r':
            id[il++] = '\r';
            break;
        case 't':
            id[il++] = '\t';
            break;
        case '0':
            id[il++] = '\0';
            break;
        case '\\':
        case '"':
        case '\'':
            id[il++] = c;
            break;
        case 'x': {
            int h1 = i < len ? hexval(p[i]) : -1, h2 = i + 1 < len ? hexval(p[i + 1]) : -1;
            if (h1 < 0 || h2 < 0 || h1 > 7)
                return warden_err_set(err, WARDEN_EINVAL, "entity reference: bad \\x escape");
            id[il++] = (char)(h1 * 16 + h2);
            i += 2;
            break;
        }
        case 'u': {
            if (i >= len || p[i] != '{')
                return warden_err_set(err, WARDEN_EINVAL, "entity reference: bad \\u escape");
            i++;
            uint32_t cp = 0;
            int nd = 0;
            while (i < len && p[i] != '}' && nd <= 6) {
                int h = hexval(p[i]);
                if (h < 0)
                    break;
                cp = cp * 16 + (uint32_t)h;
                nd++;
                i++;
            }
            if (i >= len || p[i] != '}' || nd == 0 || nd > 6 || cp > 0x10FFFF ||
                (cp >= 0xD800 && cp <= 0xDFFF))
                return warden_err_set(err, WARDEN_EINVAL, "entity reference: bad \\u escape");
            i++;
            /* Each escape is >= 4 input bytes and <= 4 output bytes: id never overflows. */
            il += utf8_put(id + il, cp);
            break;
        }
        default:
            return warden_err_set(err, WARDEN_EINVAL, "entity reference: unknown escape \\%c", c);
        }
    }
    skip_ws(p, len, &i);
    if (i != len)
        return warden_err_set(err, WARDEN_EINVAL,
                              "entity reference: unexpected text after the id at offset %zu", i);
    type[tl] = '\0';
    id[il] = '\0';
    cedar_uid_init(out, type, tl, id, il);
    return 0;
}
