/* Helpers shared by the policy unit tests that read vector files (included by *_test.c
 * after cmocka.h; not a test itself). */
#ifndef WARDEN_POLICY_TESTUTIL_H
#define WARDEN_POLICY_TESTUTIL_H

#include <stdlib.h>
#include <string.h>

#include "warden/util.h"

/* Reads rel (relative to $WARDEN_SOURCE_DIR) as a NUL-terminated string the caller frees. */
static inline char *slurp(const char *rel, size_t *len)
{
    const char *dir = getenv("WARDEN_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : ".", rel);
    warden_buf b;
    warden_buf_init(&b);
    warden_err err;
    if (warden_file_read(&b, path, 64u << 20, &err) != 0 || warden_buf_cstr(&b) != 0)
        fail_msg("cannot read %s: %s", path, err.msg);
    *len = b.len;
    return (char *)b.p;
}

/* Splits "a<TAB>b<TAB>c" in place. */
static inline void split3(char *line, char **a, char **b, char **c)
{
    *a = line;
    *b = strchr(line, '\t');
    assert_non_null(*b);
    *(*b)++ = '\0';
    *c = strchr(*b, '\t');
    assert_non_null(*c);
    *(*c)++ = '\0';
}

#endif
