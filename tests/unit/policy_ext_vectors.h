/* Known-answer vector reader shared by the policy_ext_*_test.c files: walks one JSON Lines
 * file of tests/vectors/cedar_ext/ (generated from cedar-wasm by gen.mjs there). Included
 * after <cmocka.h>; every helper fails the running test rather than skipping a vector. */
#ifndef WARDEN_TEST_POLICY_EXT_VECTORS_H
#define WARDEN_TEST_POLICY_EXT_VECTORS_H

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warden/util.h"

typedef void (*vector_fn)(json_t *row, size_t line);

/* Calls fn for every line of tests/vectors/cedar_ext/<name>; returns the number of rows. */
static inline size_t vectors_each(const char *name, vector_fn fn)
{
    const char *src = getenv("WARDEN_SOURCE_DIR");
    char path[4096];
    warden_buf b;
    warden_err err;
    if (src == NULL)
        fail_msg("WARDEN_SOURCE_DIR is not set (run through ctest)");
    snprintf(path, sizeof path, "%s/tests/vectors/cedar_ext/%s", src, name);
    warden_buf_init(&b);
    if (warden_file_read(&b, path, 16u << 20, &err) != 0)
        fail_msg("%s: %s", path, err.msg);
    size_t rows = 0, line = 0, start = 0;
    for (size_t i = 0; i <= b.len; i++) {
        if (i < b.len && b.p[i] != '\n')
            continue;
        line++;
        if (i > start) {
            json_error_t jerr;
            json_t *row = json_loadb((const char *)b.p + start, i - start, JSON_ALLOW_NUL, &jerr);
            if (row == NULL)
                fail_msg("%s:%zu: %s", path, line, jerr.text);
            fn(row, line);
            json_decref(row);
            rows++;
        }
        start = i + 1;
    }
    warden_buf_fini(&b);
    return rows;
}

/* The string member key of row (may contain NUL bytes), with its length. */
static inline const char *vec_str(json_t *row, const char *key, size_t *len)
{
    json_t *v = json_object_get(row, key);
    if (!json_is_string(v))
        fail_msg("vector has no string \"%s\"", key);
    *len = json_string_length(v);
    return json_string_value(v);
}

static inline bool vec_bool(json_t *row, const char *key)
{
    json_t *v = json_object_get(row, key);
    if (!json_is_boolean(v))
        fail_msg("vector has no boolean \"%s\"", key);
    return json_is_true(v);
}

/* Decimal int64 carried as a JSON string (JSON numbers lose precision past 2^53). */
static inline int64_t vec_i64(json_t *row, const char *key)
{
    size_t len;
    const char *s = vec_str(row, key, &len);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end != s + len || len == 0)
        fail_msg("vector \"%s\" is not an int64: %s", key, s);
    return (int64_t)v;
}

/* The row as JSON text, for failure messages (inputs may hold NUL or control bytes). */
static inline const char *vec_show(json_t *row)
{
    static char buf[1024];
    char *s = json_dumps(row, JSON_COMPACT | JSON_ENSURE_ASCII);
    snprintf(buf, sizeof buf, "%s", s ? s : "?");
    free(s);
    return buf;
}

static inline bool vec_is_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

#endif
