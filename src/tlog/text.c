/* Text rules shared by notes, keys and checkpoints: strict base64, UTF-8 decoding and the
 * key-name grammar. Everything here reads bounded buffers and never assumes a NUL. */
#include "tlog/tlog_internal.h"

#include <openssl/evp.h>
#include <string.h>

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t tlog_b64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

void tlog_b64_encode(char *out, const uint8_t *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? B64[v & 63] : '=';
    }
    out[o] = '\0';
}

static int b64_val(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int tlog_b64_decode(uint8_t *out, size_t cap, size_t *n, const uint8_t *s, size_t len)
{
    size_t o = 0;
    if (len % 4 != 0)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            uint8_t c = s[i + (size_t)j];
            if (c == '=' && i + 4 == len && j >= 2) {
                v[j] = 0;
                pad++;
                continue;
            }
            if (pad > 0 || (v[j] = b64_val(c)) < 0)
                return -1;
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        size_t bytes = 3 - (size_t)pad;
        /* Canonical only: the bits the padding hides must be zero. */
        if ((pad == 1 && (w & 0xff) != 0) || (pad == 2 && (w & 0xffff) != 0))
            return -1;
        if (o + bytes > cap)
            return -1;
        out[o++] = (uint8_t)(w >> 16);
        if (bytes > 1)
            out[o++] = (uint8_t)(w >> 8);
        if (bytes > 2)
            out[o++] = (uint8_t)w;
    }
    *n = o;
    return 0;
}

size_t tlog_utf8_decode(uint32_t *cp, const uint8_t *p, size_t len)
{
    if (len == 0)
        return 0;
    uint8_t c = p[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        n = 2, v = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3, v = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

/* Go's unicode.IsSpace: the Unicode White_Space property. */
static bool is_unicode_space(uint32_t c)
{
    switch (c) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
        return true;
    default:
        return c >= 0x2000 && c <= 0x200a;
    }
}

bool tlog_valid_key_name(const uint8_t *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t n = tlog_utf8_decode(&c, s + i, len - i);
        if (n == 0 || c == '+' || is_unicode_space(c))
            return false;
        i += n;
    }
    return true;
}

uint32_t tlog_key_hash(const char *name, size_t name_len, const uint8_t pub[32])
{
    uint8_t msg[WARDEN_TLOG_ORIGIN_MAX + 34];
    uint8_t sum[32];
    unsigned int n = 0;
    /* Names are bounded by their parsers; a longer one would be a caller bug. */
    if (name_len > WARDEN_TLOG_ORIGIN_MAX)
        name_len = WARDEN_TLOG_ORIGIN_MAX;
    memcpy(msg, name, name_len);
    msg[name_len] = '\n';
    msg[name_len + 1] = 0x01;
    memcpy(msg + name_len + 2, pub, 32);
    if (EVP_Digest(msg, name_len + 34, sum, &n, EVP_sha256(), NULL) != 1)
        return 0;
    return (uint32_t)sum[0] << 24 | (uint32_t)sum[1] << 16 | (uint32_t)sum[2] << 8 | sum[3];
}

void warden_tlog_hash_b64(char out[48], const warden_tlog_hash *h)
{
    tlog_b64_encode(out, h->b, WARDEN_TLOG_HASH_SIZE);
}

int warden_tlog_hash_from_b64(warden_tlog_hash *h, const char *s, size_t len)
{
    size_t n = 0;
    if (tlog_b64_decode(h->b, sizeof h->b, &n, (const uint8_t *)s, len) != 0 ||
        n != WARDEN_TLOG_HASH_SIZE)
        return WARDEN_EPARSE;
    return 0;
}
