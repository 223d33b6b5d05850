/* Where a caller is: from the TCP peer's address, never from anything the caller writes,
 * unless the peer is one of the cluster's trusted proxies. Then X-Forwarded-For is read
 * right to left and the first address that is not itself a trusted proxy is the caller (the
 * entries left of it were written by the caller and prove nothing). An unusable entry there
 * gives address 0.0.0.0 and location "unknown", never the proxy's own, which may be trusted. */
#include "gateway/gateway_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

int gw_cidr_parse(gw_cidr *out, const char *text, warden_err *err)
{
    char buf[64];
    size_t n = strlen(text);
    memset(out, 0, sizeof *out);
    if (n == 0 || n >= sizeof buf)
        return warden_err_set(err, WARDEN_EINVAL, "trusted proxy \"%.80s\": not an address", text);
    memcpy(buf, text, n + 1);
    char *slash = strchr(buf, '/');
    uint64_t prefix = 0;
    if (slash != NULL) {
        *slash = '\0';
        if (warden_parse_u64(&prefix, slash + 1, strlen(slash + 1)) != 0)
            return warden_err_set(err, WARDEN_EINVAL, "trusted proxy \"%s\": bad prefix", text);
    }
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        out->prefix = slash != NULL ? (unsigned)prefix : 32;
        if (prefix > 32)
            return warden_err_set(err, WARDEN_EINVAL, "trusted proxy \"%s\": prefix > 32", text);
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        out->prefix = slash != NULL ? (unsigned)prefix : 128;
        if (prefix > 128)
            return warden_err_set(err, WARDEN_EINVAL, "trusted proxy \"%s\": prefix > 128", text);
    } else {
        return warden_err_set(err, WARDEN_EINVAL, "trusted proxy \"%s\": not an address", text);
    }
    return 0;
}

/* A parsed address, IPv4-mapped IPv6 folded to IPv4. */
typedef struct addr {
    int family;
    uint8_t b[16];
} addr;

static int addr_text(addr *a, const char *s)
{
    if (inet_pton(AF_INET, s, a->b) == 1) {
        a->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, a->b) != 1)
        return -1;
    static const uint8_t MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a->b, MAPPED, 12) == 0) {
        memmove(a->b, a->b + 12, 4);
        a->family = AF_INET;
    } else {
        a->family = AF_INET6;
    }
    return 0;
}

static bool in_cidr(const addr *a, const gw_cidr *c)
{
    if (a->family != c->family)
        return false;
    unsigned full = c->prefix / 8, rem = c->prefix % 8;
    if (memcmp(a->b, c->addr, full) != 0)
        return false;
    if (rem == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rem));
    return (a->b[full] & mask) == (c->addr[full] & mask);
}

static bool trusted(const addr *a, const gw_cidr *proxies, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (in_cidr(a, &proxies[i]))
            return true;
    return false;
}

/* Copies one X-Forwarded-For element p[0..n) without spaces, brackets or port into out. */
static int xff_element(char out[64], const char *p, size_t n)
{
    while (n > 0 && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n > 0 && p[0] == '[') { /* "[v6]" or "[v6]:port" */
        const char *close = memchr(p, ']', n);
        if (close == NULL)
            return -1;
        n = (size_t)(close - p) - 1;
        p++;
    } else {
        const char *colon = memchr(p, ':', n);
        if (colon != NULL && memchr(colon + 1, ':', n - (size_t)(colon - p) - 1) == NULL)
            n = (size_t)(colon - p); /* "v4:port" */
    }
    if (n == 0 || n >= 64)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

static void set_location(gw_caller *out, const warden_netloc *table, const char *ip)
{
    warden_netloc_match m;
    if (ip == NULL || warden_netloc_lookup_text(&m, table, ip, NULL) != 0) {
        m.country = WARDEN_NETLOC_UNKNOWN;
        m.site = WARDEN_NETLOC_UNKNOWN;
    }
    snprintf(out->country, sizeof out->country, "%s", m.country);
    snprintf(out->site, sizeof out->site, "%s", m.site);
}

void gw_locate(gw_caller *out, const warden_netloc *table, const gw_cidr *proxies, size_t n_proxies,
               const struct sockaddr *peer, const char *xff)
{
    memset(out, 0, sizeof *out);
    addr pa;
    if (peer == NULL || warden_netloc_addr_text(out->peer_ip, peer, NULL) != 0 ||
        addr_text(&pa, out->peer_ip) != 0) {
        /* no usable peer address (not IP): decide as an unknown caller */
        snprintf(out->peer_ip, sizeof out->peer_ip, "0.0.0.0");
        snprintf(out->source_ip, sizeof out->source_ip, "0.0.0.0");
        set_location(out, table, NULL);
        return;
    }
    memcpy(out->source_ip, out->peer_ip, sizeof out->source_ip);
    if (xff == NULL || !trusted(&pa, proxies, n_proxies)) {
        set_location(out, table, out->source_ip);
        return;
    }
    /* Right to left: skip our own proxies; the first other hop is the caller. */
    size_t end = strlen(xff);
    char el[64];
    char last_trusted[64] = "";
    for (;;) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        addr a;
        if (xff_element(el, xff + start, end - start) != 0 || addr_text(&a, el) != 0) {
            if (end - start == 0 && start == 0 && end == 0)
                break; /* empty header: nothing forwarded */
            /* A hop our proxy should have written is garbage: the caller is unknown, and
             * decisions must not see the proxy's own (perhaps trusted) address either. */
            out->via_proxy = true;
            snprintf(out->source_ip, sizeof out->source_ip, "0.0.0.0");
            set_location(out, table, NULL);
            return;
        }
        if (!trusted(&a, proxies, n_proxies)) {
            snprintf(out->source_ip, sizeof out->source_ip, "%s", el);
            out->via_proxy = true;
            set_location(out, table, out->source_ip);
            return;
        }
        memcpy(last_trusted, el, sizeof el);
        if (start == 0)
            break;
        end = start - 1;
    }
    /* Every hop was a trusted proxy: the left-most is the origin. */
    if (last_trusted[0] != '\0') {
        snprintf(out->source_ip, sizeof out->source_ip, "%s", last_trusted);
        out->via_proxy = true;
    }
    set_location(out, table, out->source_ip);
}
