/* Helpers shared by the tlog unit tests: vector files and scratch directories. */
#ifndef WARDEN_TLOG_TESTUTIL_H
#define WARDEN_TLOG_TESTUTIL_H

#include "warden/tlog.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Path of a file under tests/vectors/tlog/. */
static inline const char *vec_path(const char *name)
{
    static char path[4096];
    const char *src = getenv("WARDEN_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/vectors/tlog/%s", src ? src : ".", name);
    return path;
}

/* Reads a vector file into b (NUL-terminated). */
static inline void vec_read(warden_buf *b, const char *name)
{
    warden_err e;
    warden_buf_init(b);
    assert_int_equal(warden_file_read(b, vec_path(name), 1 << 20, &e), 0);
    assert_int_equal(warden_buf_cstr(b), 0);
}

static inline int hex_val(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes hex of exactly 2*n characters. */
static inline void hex_decode(uint8_t *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);
        assert_true(hi >= 0 && lo >= 0);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
}

/* Parses "h1,h2,..." or "-" into hashes; returns the count. */
static inline size_t parse_hash_list(warden_tlog_hash *out, const char *s)
{
    size_t n = 0;
    if (strcmp(s, "-") == 0)
        return 0;
    for (;;) {
        assert_true(strlen(s) >= 64);
        hex_decode(out[n++].b, s, 32);
        s += 64;
        if (*s != ',')
            break;
        s++;
    }
    return n;
}

/* A fresh empty scratch directory (removed first if present). */
static inline const char *scratch_dir(const char *name)
{
    static char path[1024];
    char cmd[2200];
    snprintf(path, sizeof path, "%.900s/warden-tlog-test-%d-%.60s",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
    assert_int_equal(system(cmd), 0);
    return path;
}

static inline void remove_tree(const char *path)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%.1000s'", path);
    assert_int_equal(system(cmd), 0);
}

#endif
