/* Cedar's ipaddr extension: ip() parsing, isIpv4/isIpv6/isLoopback/isMulticast, isInRange
 * and ==. The accepted strings are exactly those of cedar-policy-core 4.x, which checks
 * the length and the "no IPv4 embedded in IPv6" rule itself and hands the address to Rust's
 * std::net parser; tests/vectors/cedar_ext/ip*.jsonl (from cedar-wasm) pin every rule.
 * Invariant: a parsed value has prefix <= 32 (v4) or <= 128 (v6) and, for v4, zero bytes in
 * addr[4..15]; the address bits are kept as written, never masked. */
#include "policy/ext.h"

#include <stdio.h>
#include <string.h>

/* Cedar rejects anything longer than "ABCD:EF01:2345:6789:ABCD:EF01:2345:6789/128". */
#define IP_STR_MAX 43

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static int hex_val(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Rust's Ipv4Addr grammar: four '.'-separated decimal octets of 1 to 3 digits, each <= 255,
 * and no leading zero (it refuses octal-looking "010"). */
static bool parse_v4(uint8_t out[4], const uint8_t *s, size_t len)
{
    size_t i = 0;
    for (int k = 0; k < 4; k++) {
        if (k > 0) {
            if (i >= len || s[i] != '.')
                return false;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < len && is_digit(s[i]) && i - start < 4) {
            v = v * 10 + (unsigned)(s[i] - '0');
            i++;
        }
        size_t n = i - start;
        if (n == 0 || n > 3 || v > 255 || (n > 1 && s[start] == '0'))
            return false;
        out[k] = (uint8_t)v;
    }
    return i == len;
}

/* Reads up to limit ':'-separated groups of 1 to 4 hex digits starting at *pos. A group that
 * does not parse (with its separator) is left unread, as Rust's parser rolls it back. */
static size_t read_groups(uint16_t *g, size_t limit, const uint8_t *s, size_t len, size_t *pos)
{
    size_t i;
    for (i = 0; i < limit; i++) {
        size_t p = *pos;
        if (i > 0) {
            if (p >= len || s[p] != ':')
                break;
            p++;
        }
        size_t start = p;
        unsigned v = 0;
        while (p < len && hex_val(s[p]) >= 0 && p - start < 5) {
            v = v * 16 + (unsigned)hex_val(s[p]);
            p++;
        }
        if (p == start || p - start > 4)
            break;
        g[i] = (uint16_t)v;
        *pos = p;
    }
    return i;
}

/* Rust's Ipv6Addr grammar without the embedded-IPv4 tail (Cedar rejects those earlier):
 * eight groups, or a head, "::" standing for at least one zero group, and a tail. */
static bool parse_v6(uint8_t out[16], const uint8_t *s, size_t len)
{
    uint16_t head[8] = {0}, tail[7] = {0};
    size_t pos = 0;
    size_t hn = read_groups(head, 8, s, len, &pos);
    if (hn < 8) {
        if (len - pos < 2 || s[pos] != ':' || s[pos + 1] != ':')
            return false;
        pos += 2;
        size_t tn = read_groups(tail, 7 - hn, s, len, &pos);
        memcpy(&head[8 - tn], tail, tn * sizeof tail[0]);
    }
    if (pos != len)
        return false;
    for (int i = 0; i < 8; i++) {
        out[2 * i] = (uint8_t)(head[i] >> 8);
        out[2 * i + 1] = (uint8_t)(head[i] & 0xff);
    }
    return true;
}

static bool parse_addr(cedar_ipaddr *out, const uint8_t *s, size_t len)
{
    memset(out, 0, sizeof *out);
    if (parse_v4(out->addr, s, len)) {
        out->prefix = 32;
        return true;
    }
    if (parse_v6(out->addr, s, len)) {
        out->v6 = 1;
        out->prefix = 128;
        return true;
    }
    return false;
}

/* Cedar's prefix rule: only ASCII digits, at most 2 (v4) or 3 (v6) of them, no leading zero
 * except "0" itself, and not above the family's width. No sign, no spaces, not empty. */
static bool parse_prefix(uint8_t *out, const uint8_t *s, size_t len, bool v6)
{
    size_t max_len = v6 ? 3 : 2;
    unsigned max = v6 ? 128 : 32, v = 0;
    if (len == 0 || len > max_len || (s[0] == '0' && len > 1))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > max)
        return false;
    *out = (uint8_t)v;
    return true;
}

int cedar_ip_parse(cedar_ipaddr *out, const char *str, size_t len)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t colons = 0, dots = 0, slash = len;
    if (len > IP_STR_MAX)
        return WARDEN_EINVAL;
    for (size_t i = 0; i < len; i++) {
        colons += s[i] == ':';
        dots += s[i] == '.';
        if (s[i] == '/' && slash == len)
            slash = i;
    }
    /* Mixed notation ("::ffff:1.2.3.4") is refused so that v4 and v6 never alias. */
    if (colons >= 2 && dots >= 2)
        return WARDEN_EINVAL;
    cedar_ipaddr v;
    if (!parse_addr(&v, s, slash))
        return WARDEN_EINVAL;
    if (slash < len && !parse_prefix(&v.prefix, s + slash + 1, len - slash - 1, v.v6 != 0))
        return WARDEN_EINVAL;
    *out = v;
    return 0;
}

static size_t addr_len(const cedar_ipaddr *a)
{
    return a->v6 ? 16 : 4;
}

bool cedar_ip_equal(const cedar_ipaddr *a, const cedar_ipaddr *b)
{
    return a->v6 == b->v6 && a->prefix == b->prefix && memcmp(a->addr, b->addr, addr_len(a)) == 0;
}

bool cedar_ip_is_ipv4(const cedar_ipaddr *a)
{
    return !a->v6;
}

bool cedar_ip_is_ipv6(const cedar_ipaddr *a)
{
    return a->v6 != 0;
}

bool cedar_ip_is_loopback(const cedar_ipaddr *a)
{
    static const uint8_t v6_loopback[16] = {[15] = 1};
    if (!a->v6)
        return a->addr[0] == 127 && a->prefix >= 8;
    return memcmp(a->addr, v6_loopback, 16) == 0 && a->prefix >= 128;
}

bool cedar_ip_is_multicast(const cedar_ipaddr *a)
{
    if (!a->v6)
        return a->addr[0] >= 224 && a->addr[0] <= 239 && a->prefix >= 4;
    return a->addr[0] == 0xff && a->prefix >= 8;
}

/* First (network) and last (broadcast) address of a's range, big-endian bytes. */
static void range_bounds(uint8_t lo[16], uint8_t hi[16], const cedar_ipaddr *a)
{
    size_t n = addr_len(a);
    for (size_t i = 0; i < n; i++) {
        size_t bit = i * 8;
        uint8_t mask;
        if (a->prefix >= bit + 8)
            mask = 0xff;
        else if (a->prefix <= bit)
            mask = 0;
        else
            mask = (uint8_t)(0xff << (8 - (a->prefix - bit)));
        lo[i] = a->addr[i] & mask;
        hi[i] = a->addr[i] | (uint8_t)~mask;
    }
}

bool cedar_ip_in_range(const cedar_ipaddr *a, const cedar_ipaddr *range)
{
    if (a->v6 != range->v6)
        return false;
    uint8_t alo[16], ahi[16], rlo[16], rhi[16];
    size_t n = addr_len(a);
    range_bounds(alo, ahi, a);
    range_bounds(rlo, rhi, range);
    /* memcmp on big-endian bytes is unsigned integer comparison. */
    return memcmp(rlo, alo, n) <= 0 && memcmp(ahi, rhi, n) <= 0;
}

int cedar_ip_format(char *out, size_t cap, const cedar_ipaddr *a)
{
    char buf[CEDAR_IP_FORMAT_MAX];
    size_t n = 0;
    if (!a->v6) {
        n = (size_t)snprintf(buf, sizeof buf, "%u.%u.%u.%u/%u", a->addr[0], a->addr[1], a->addr[2],
                             a->addr[3], a->prefix);
    } else {
        /* RFC 5952: lowercase, no leading zeros, the longest run (>= 2) of zero groups
         * (the first on a tie) written as "::". Never mixed notation: Cedar rejects it. */
        unsigned g[8];
        int best = -1, best_len = 1;
        for (int i = 0; i < 8; i++)
            g[i] = (unsigned)a->addr[2 * i] << 8 | a->addr[2 * i + 1];
        for (int i = 0; i < 8;) {
            int j = i;
            while (j < 8 && g[j] == 0)
                j++;
            if (j - i > best_len) {
                best = i;
                best_len = j - i;
            }
            i = j > i ? j : i + 1;
        }
        for (int i = 0; i < 8; i++) {
            if (i == best) {
                n += (size_t)snprintf(buf + n, sizeof buf - n, "::");
                i += best_len - 1;
                continue;
            }
            bool sep = i > 0 && i != best + best_len;
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%x", sep ? ":" : "", g[i]);
        }
        n += (size_t)snprintf(buf + n, sizeof buf - n, "/%u", a->prefix);
    }
    if (n >= cap)
        return WARDEN_ELIMIT;
    memcpy(out, buf, n + 1);
    return 0;
}
