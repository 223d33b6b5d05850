/* The networks table: CIDR -> (country, site), longest prefix wins. Rows are kept in one
 * array sorted by (family, prefix length, address); a lookup tries each prefix length the
 * table uses, longest first, with a binary search: O(lengths x log rows), no allocation.
 * Invariant: every stored address has its host bits clear, so masking the looked-up
 * address to a length and searching for equality is exact. */
#include "warden/netloc.h"
#include "warden/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Bounds that keep a bad file from exhausting memory (and lines short enough to name). */
#define NETLOC_MAX_ROWS 1000000
#define NETLOC_LINE_MAX 512
#define NETLOC_FILE_MAX (64u << 20)

typedef struct row {
    uint8_t fam;      /* 4 or 6 */
    uint8_t len;      /* prefix length */
    uint8_t addr[16]; /* IPv4 in the first 4 bytes */
    char country[WARDEN_NETLOC_COUNTRY_MAX + 1];
    char site[WARDEN_NETLOC_SITE_MAX + 1];
    size_t line;
} row;

struct warden_netloc {
    row *rows;
    size_t n;
    /* Which prefix lengths occur, per family (index 0: IPv4, 1: IPv6). */
    bool used[2][129];
};

static int row_cmp(const void *a, const void *b)
{
    const row *x = a, *y = b;
    if (x->fam != y->fam)
        return x->fam < y->fam ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->addr, y->addr, 16);
}

static void mask(uint8_t out[16], const uint8_t in[16], unsigned len)
{
    memset(out, 0, 16);
    unsigned full = len / 8;
    memcpy(out, in, full);
    if (len % 8 != 0)
        out[full] = (uint8_t)(in[full] & (0xff00u >> (len % 8)));
}

static bool name_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* Trims spaces and tabs at both ends of p[0..*n). */
static const uint8_t *trim(const uint8_t *p, size_t *n)
{
    while (*n > 0 && (p[0] == ' ' || p[0] == '\t'))
        p++, (*n)--;
    while (*n > 0 && (p[*n - 1] == ' ' || p[*n - 1] == '\t'))
        (*n)--;
    return p;
}

static int parse_cidr(row *r, const uint8_t *p, size_t n, const char *name, size_t line,
                      warden_err *err)
{
    char addr[64];
    size_t slash = n;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '/') {
            slash = i;
            break;
        }
    }
    if (slash == n)
        return warden_err_set(err, WARDEN_EPARSE, "%s:%zu: CIDR needs a /prefix length", name,
                              line);
    if (slash == 0 || slash >= sizeof addr)
        return warden_err_set(err, WARDEN_EPARSE, "%s:%zu: bad address in CIDR", name, line);
    /* inet_pton stops at a NUL, so vet every byte: "10.0.0.0\0junk" is not an address. */
    for (size_t i = 0; i < slash; i++) {
        uint8_t ch = p[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') ||
              ch == '.' || ch == ':'))
            return warden_err_set(err, WARDEN_EPARSE, "%s:%zu: bad character in the address", name,
                                  line);
    }
    memcpy(addr, p, slash);
    addr[slash] = '\0';
    memset(r->addr, 0, sizeof r->addr);
    if (inet_pton(AF_INET, addr, r->addr) == 1) {
        r->fam = 4;
    } else if (inet_pton(AF_INET6, addr, r->addr) == 1) {
        r->fam = 6;
    } else {
        return warden_err_set(err, WARDEN_EPARSE, "%s:%zu: \"%.45s\" is not an IP address", name,
                              line, addr);
    }
    const uint8_t *lp = p + slash + 1;
    size_t ln = n - slash - 1;
    uint64_t len;
    unsigned max = r->fam == 4 ? 32 : 128;
    if (ln == 0 || (ln > 1 && lp[0] == '0') || warden_parse_u64(&len, (const char *)lp, ln) != 0 ||
        len > max)
        return warden_err_set(err, WARDEN_EPARSE, "%s:%zu: prefix length must be 0..%u", name, line,
                              max);
    r->len = (uint8_t)len;
    uint8_t m[16];
    mask(m, r->addr, r->len);
    if (memcmp(m, r->addr, 16) != 0)
        return warden_err_set(err, WARDEN_EPARSE,
                              "%s:%zu: host bits set in %s/%u (the network is not aligned to "
                              "its prefix)",
                              name, line, addr, r->len);
    /* An IPv4-mapped row is an IPv4 row: lookups of mapped addresses are IPv4 lookups. */
    static const uint8_t MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (r->fam == 6 && r->len >= 96 && memcmp(r->addr, MAPPED, 12) == 0) {
        memmove(r->addr, r->addr + 12, 4);
        memset(r->addr + 4, 0, 12);
        r->fam = 4;
        r->len = (uint8_t)(r->len - 96);
    }
    return 0;
}

static int parse_word(char *dst, size_t max, const uint8_t *p, size_t n, const char *what,
                      const char *name, size_t line, warden_err *err)
{
    p = trim(p, &n);
    if (n == 0)
        return warden_err_set(err, WARDEN_EPARSE, "%s:%zu: empty %s column", name, line, what);
    if (n > max)
        return warden_err_set(err, WARDEN_EPARSE, "%s:%zu: %s longer than %zu characters", name,
                              line, what, max);
    for (size_t i = 0; i < n; i++) {
        if (!name_char(p[i]))
            return warden_err_set(err, WARDEN_EPARSE, "%s:%zu: %s may only contain [A-Za-z0-9_.-]",
                                  name, line, what);
    }
    memcpy(dst, p, n);
    dst[n] = '\0';
    return 0;
}

/* One non-comment line: "cidr,country,site" with optional spaces around fields. */
static int parse_row(row *r, const uint8_t *p, size_t n, const char *name, size_t line,
                     warden_err *err)
{
    const uint8_t *f[3];
    size_t fl[3], k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == ',') {
            if (k == 3)
                return warden_err_set(err, WARDEN_EPARSE,
                                      "%s:%zu: too many columns (want cidr,country,site)", name,
                                      line);
            f[k] = p + start;
            fl[k] = i - start;
            k++;
            start = i + 1;
        }
    }
    if (k != 3)
        return warden_err_set(err, WARDEN_EPARSE, "%s:%zu: missing column (want cidr,country,site)",
                              name, line);
    f[0] = trim(f[0], &fl[0]);
    int rc = parse_cidr(r, f[0], fl[0], name, line, err);
    if (rc == 0)
        rc = parse_word(r->country, WARDEN_NETLOC_COUNTRY_MAX, f[1], fl[1], "country", name, line,
                        err);
    if (rc == 0)
        rc = parse_word(r->site, WARDEN_NETLOC_SITE_MAX, f[2], fl[2], "site", name, line, err);
    r->line = line;
    return rc;
}

int warden_netloc_parse(warden_netloc **out, const char *text, size_t len, const char *name,
                        warden_err *err)
{
    warden_netloc *t = calloc(1, sizeof *t);
    warden_cursor c;
    size_t cap = 0, line = 0;
    int rc = 0;
    if (t == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    warden_cursor_init(&c, text, len);
    while (warden_cursor_left(&c) > 0) {
        const uint8_t *p;
        size_t n;
        line++;
        if (warden_cursor_until(&c, '\n', &p, &n) != 0) {
            n = warden_cursor_left(&c); /* last line without a newline */
            if (warden_cursor_bytes(&c, &p, n) != 0) {
                rc = warden_err_set(err, WARDEN_EINTERNAL, "%s: cursor out of step", name);
                goto out;
            }
        }
        if (n > NETLOC_LINE_MAX) {
            rc = warden_err_set(err, WARDEN_ELIMIT, "%s:%zu: line longer than %d bytes", name, line,
                                NETLOC_LINE_MAX);
            goto out;
        }
        if (n > 0 && p[n - 1] == '\r')
            n--;
        /* '#' starts a comment anywhere: no column may contain it. */
        for (size_t i = 0; i < n; i++) {
            if (p[i] == '#') {
                n = i;
                break;
            }
        }
        p = trim(p, &n);
        if (n == 0)
            continue;
        if (t->n == NETLOC_MAX_ROWS) {
            rc = warden_err_set(err, WARDEN_ELIMIT, "%s:%zu: more than %d rows", name, line,
                                NETLOC_MAX_ROWS);
            goto out;
        }
        if (t->n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            row *nr = realloc(t->rows, ncap * sizeof *nr);
            if (nr == NULL) {
                rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
                goto out;
            }
            t->rows = nr;
            cap = ncap;
        }
        if ((rc = parse_row(&t->rows[t->n], p, n, name, line, err)) != 0)
            goto out;
        t->n++;
    }
    if (t->n > 0)
        qsort(t->rows, t->n, sizeof *t->rows, row_cmp);
    for (size_t i = 0; i < t->n; i++) {
        const row *r = &t->rows[i];
        if (i > 0 && row_cmp(&t->rows[i - 1], r) == 0) {
            size_t a = t->rows[i - 1].line, b = r->line;
            rc = warden_err_set(err, WARDEN_EEXIST, "%s:%zu: the same network as line %zu", name,
                                a > b ? a : b, a > b ? b : a);
            goto out;
        }
        t->used[r->fam == 6][r->len] = true;
    }
    *out = t;
    t = NULL;
out:
    warden_netloc_free(t);
    return rc;
}

int warden_netloc_load(warden_netloc **out, const char *path, warden_err *err)
{
    warden_buf b;
    warden_buf_init(&b);
    int rc = warden_file_read(&b, path, NETLOC_FILE_MAX, err);
    if (rc == 0)
        rc = warden_netloc_parse(out, (const char *)b.p, b.len, path, err);
    warden_buf_fini(&b);
    return rc;
}

void warden_netloc_free(warden_netloc *t)
{
    if (t == NULL)
        return;
    free(t->rows);
    free(t);
}

static void lookup(warden_netloc_match *m, const warden_netloc *t, uint8_t fam,
                   const uint8_t addr[16])
{
    m->country = WARDEN_NETLOC_UNKNOWN;
    m->site = WARDEN_NETLOC_UNKNOWN;
    m->prefix_len = 0;
    if (t == NULL || t->n == 0)
        return;
    const bool *used = t->used[fam == 6];
    row key;
    memset(&key, 0, sizeof key);
    key.fam = fam;
    for (int len = fam == 4 ? 32 : 128; len >= 0; len--) {
        if (!used[len])
            continue;
        key.len = (uint8_t)len;
        mask(key.addr, addr, (unsigned)len);
        const row *r = bsearch(&key, t->rows, t->n, sizeof *t->rows, row_cmp);
        if (r != NULL) {
            m->country = r->country;
            m->site = r->site;
            m->prefix_len = r->len;
            return;
        }
    }
}

/* Reduces sa to (family, 16 address bytes); IPv4-mapped IPv6 becomes IPv4. */
static bool addr_of(uint8_t *fam, uint8_t addr[16], const struct sockaddr *sa)
{
    memset(addr, 0, 16);
    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        memcpy(addr, &s4->sin_addr, 4);
        *fam = 4;
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            memcpy(addr, s6->sin6_addr.s6_addr + 12, 4);
            *fam = 4;
        } else {
            memcpy(addr, s6->sin6_addr.s6_addr, 16);
            *fam = 6;
        }
        return true;
    }
    return false;
}

void warden_netloc_lookup(warden_netloc_match *m, const warden_netloc *t, const struct sockaddr *sa)
{
    uint8_t fam = 0, addr[16];
    if (!addr_of(&fam, addr, sa)) {
        lookup(m, NULL, 0, addr);
        return;
    }
    lookup(m, t, fam, addr);
}

int warden_netloc_lookup_text(warden_netloc_match *m, const warden_netloc *t, const char *addr,
                              warden_err *err)
{
    struct sockaddr_in6 s6;
    struct sockaddr_in s4;
    memset(&s6, 0, sizeof s6);
    memset(&s4, 0, sizeof s4);
    if (strnlen(addr, 64) < 64 && inet_pton(AF_INET, addr, &s4.sin_addr) == 1) {
        s4.sin_family = AF_INET;
        warden_netloc_lookup(m, t, (const struct sockaddr *)&s4);
        return 0;
    }
    if (strnlen(addr, 64) < 64 && inet_pton(AF_INET6, addr, &s6.sin6_addr) == 1) {
        s6.sin6_family = AF_INET6;
        warden_netloc_lookup(m, t, (const struct sockaddr *)&s6);
        return 0;
    }
    lookup(m, NULL, 0, s6.sin6_addr.s6_addr);
    /* Not echoed: the text may come from a request header. */
    return warden_err_set(err, WARDEN_EINVAL, "not an IP address");
}

int warden_netloc_addr_text(char out[64], const struct sockaddr *sa, warden_err *err)
{
    uint8_t fam = 0, addr[16];
    out[0] = '\0';
    if (!addr_of(&fam, addr, sa))
        return warden_err_set(err, WARDEN_EINVAL, "unsupported address family");
    if (inet_ntop(fam == 4 ? AF_INET : AF_INET6, addr, out, 64) == NULL)
        return warden_err_set(err, WARDEN_EINTERNAL, "cannot format the address");
    return 0;
}
