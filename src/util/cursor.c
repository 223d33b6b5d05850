/* Bounds-checked reads over untrusted bytes. Invariant: off <= len, always. */
#include "warden/util.h"

#include <string.h>

void warden_cursor_init(warden_cursor *c, const void *p, size_t len)
{
    c->p = p;
    c->len = len;
    c->off = 0;
}

size_t warden_cursor_left(const warden_cursor *c)
{
    return c->len - c->off;
}

int warden_cursor_bytes(warden_cursor *c, const uint8_t **out, size_t n)
{
    if (n > warden_cursor_left(c))
        return WARDEN_ETRUNC;
    *out = c->p + c->off;
    c->off += n;
    return 0;
}

int warden_cursor_u8(warden_cursor *c, uint8_t *out)
{
    const uint8_t *p;
    int rc = warden_cursor_bytes(c, &p, 1);
    if (rc == 0)
        *out = p[0];
    return rc;
}

int warden_cursor_be16(warden_cursor *c, uint16_t *out)
{
    const uint8_t *p;
    int rc = warden_cursor_bytes(c, &p, 2);
    if (rc == 0)
        *out = (uint16_t)((unsigned)p[0] << 8 | p[1]);
    return rc;
}

int warden_cursor_be32(warden_cursor *c, uint32_t *out)
{
    const uint8_t *p;
    int rc = warden_cursor_bytes(c, &p, 4);
    if (rc == 0)
        *out = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return rc;
}

int warden_cursor_be64(warden_cursor *c, uint64_t *out)
{
    const uint8_t *p;
    int rc = warden_cursor_bytes(c, &p, 8);
    if (rc != 0)
        return rc;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    *out = v;
    return 0;
}

int warden_cursor_until(warden_cursor *c, uint8_t delim, const uint8_t **out, size_t *n)
{
    size_t left = warden_cursor_left(c);
    const uint8_t *start = c->p + c->off;
    const uint8_t *hit = left ? memchr(start, delim, left) : NULL;
    if (hit == NULL)
        return WARDEN_ETRUNC;
    *out = start;
    *n = (size_t)(hit - start);
    c->off += *n + 1;
    return 0;
}
