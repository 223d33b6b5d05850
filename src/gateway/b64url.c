/* Unpadded base64url (RFC 4648 section 5, as JWS uses it, RFC 7515 section 2). Decoding is
 * canonical: one string per byte sequence, so a token cannot be re-encoded into a second
 * form that a cache or a replay check would see as different. */
#include "gateway/token_internal.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t token_b64url_encoded_len(size_t n)
{
    return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

int token_b64url_encode(warden_buf *out, const uint8_t *p, size_t n)
{
    size_t need = token_b64url_encoded_len(n);
    if (warden_buf_reserve(out, need) != 0)
        return WARDEN_ENOMEM;
    char *o = (char *)out->p + out->len;
    size_t i = 0, j = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        o[j++] = ALPHABET[v >> 18 & 63];
        o[j++] = ALPHABET[v >> 12 & 63];
        o[j++] = ALPHABET[v >> 6 & 63];
        o[j++] = ALPHABET[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        o[j++] = ALPHABET[v >> 18 & 63];
        o[j++] = ALPHABET[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        o[j++] = ALPHABET[v >> 18 & 63];
        o[j++] = ALPHABET[v >> 12 & 63];
        o[j++] = ALPHABET[v >> 6 & 63];
    }
    out->len += j;
    return 0;
}

static int value_of(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int token_b64url_decode(uint8_t *out, size_t cap, size_t *n, const uint8_t *s, size_t len)
{
    size_t rem = len % 4;
    if (rem == 1)
        return -1; /* no byte sequence encodes to 4k+1 characters */
    size_t outlen = len / 4 * 3 + (rem == 0 ? 0 : rem - 1);
    if (outlen > cap)
        return -1;
    size_t i = 0, j = 0;
    for (; i + 4 <= len; i += 4) {
        int a = value_of(s[i]), b = value_of(s[i + 1]), c = value_of(s[i + 2]),
            d = value_of(s[i + 3]);
        if ((a | b | c | d) < 0)
            return -1;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        out[j++] = (uint8_t)(v >> 16);
        out[j++] = (uint8_t)(v >> 8);
        out[j++] = (uint8_t)v;
    }
    if (rem != 0) {
        int a = value_of(s[i]), b = value_of(s[i + 1]);
        int c = rem == 3 ? value_of(s[i + 2]) : 0;
        if ((a | b | c) < 0)
            return -1;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
        /* The unused low bits must be zero, or two strings would decode alike. */
        if ((rem == 2 && (v & 0xffff) != 0) || (rem == 3 && (v & 0xff) != 0))
            return -1;
        out[j++] = (uint8_t)(v >> 16);
        if (rem == 3)
            out[j++] = (uint8_t)(v >> 8);
    }
    *n = j;
    return 0;
}
