/* Growable byte buffer. Invariant: len <= cap, and p is NULL only when cap is 0. */
#include "warden/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void warden_buf_init(warden_buf *b)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}

void warden_buf_fini(warden_buf *b)
{
    free(b->p);
    warden_buf_init(b);
}

void warden_buf_fini_wipe(warden_buf *b)
{
    if (b->p != NULL)
        warden_wipe(b->p, b->cap);
    warden_buf_fini(b);
}

int warden_buf_reserve(warden_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return WARDEN_ELIMIT;
    size_t need = b->len + extra + 1; /* +1 keeps room for warden_buf_cstr */
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL)
        return WARDEN_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int warden_buf_reserve_wipe(warden_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return WARDEN_ELIMIT;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    warden_buf n;
    warden_buf_init(&n);
    int rc = warden_buf_reserve(&n, b->len + extra);
    if (rc != 0)
        return rc;
    if (b->len > 0)
        memcpy(n.p, b->p, b->len);
    n.len = b->len;
    warden_buf_fini_wipe(b);
    *b = n;
    return 0;
}

int warden_buf_append(warden_buf *b, const void *p, size_t len)
{
    int rc = warden_buf_reserve(b, len);
    if (rc != 0)
        return rc;
    if (len > 0)
        memcpy(b->p + b->len, p, len);
    b->len += len;
    return 0;
}

int warden_buf_puts(warden_buf *b, const char *s)
{
    return warden_buf_append(b, s, strlen(s));
}

int warden_buf_printf(warden_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return WARDEN_EINVAL;
    int rc = warden_buf_reserve(b, (size_t)n + 1);
    if (rc != 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int warden_buf_cstr(warden_buf *b)
{
    int rc = warden_buf_reserve(b, 0);
    if (rc != 0)
        return rc;
    b->p[b->len] = '\0';
    return 0;
}
