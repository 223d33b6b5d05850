/* The router: a pure function from (method, raw request target) to a route. It is the first
 * code that reads a request's path, so it accepts only the canonical spelling of each route
 * and decodes each segment into a bounded buffer with an allow-list of bytes; everything
 * else is a 4xx before any other code looks at it. Fuzzed by fuzz/gateway_route_fuzz.c. */
#include "gateway/gateway_internal.h"

#include <string.h>

#define ROUTE_METHODS_RECORD_ME "GET, PUT, DELETE"
#define ROUTE_METHODS_RECORD_EMP "GET, DELETE"
#define ROUTE_METHODS_READ "GET"
#define ROUTE_METHODS_STATIC "GET, HEAD"

const char *gw_route_name(gw_route_kind k)
{
    static const char *const NAMES[GW_R_COUNT] = {"none",        "me_record",   "me_export",
                                                  "user_record", "user_export", "log",
                                                  "metrics",     "healthz",     "readyz"};
    return (unsigned)k < GW_R_COUNT ? NAMES[k] : "none";
}

static gw_method method_of(const char *m)
{
    return strcmp(m, "GET") == 0      ? GW_M_GET
           : strcmp(m, "HEAD") == 0   ? GW_M_HEAD
           : strcmp(m, "PUT") == 0    ? GW_M_PUT
           : strcmp(m, "DELETE") == 0 ? GW_M_DELETE
                                      : GW_M_OTHER;
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

/* One raw segment p[0..n) of the path. */
typedef struct seg {
    const char *p;
    size_t n;
} seg;

/* Decodes s into out (cap bytes incl. NUL). Returns 0, or -1 when the segment is not an
 * acceptable name (bad escape, byte outside the allow-list, too long, "." or ".."). */
static int decode(char *out, size_t cap, seg s, bool collection)
{
    size_t o = 0;
    for (size_t i = 0; i < s.n; i++) {
        int ch = (unsigned char)s.p[i];
        if (ch == '%') {
            if (i + 2 >= s.n)
                return -1;
            int hi = hexval(s.p[i + 1]), lo = hexval(s.p[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            ch = hi * 16 + lo;
            i += 2;
        }
        bool ok = collection ? (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                                   (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.'
                             : ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\\' && ch != '/';
        if (!ok || o + 1 >= cap)
            return -1;
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    if (o == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        return -1;
    return 0;
}

static void set(gw_route *r, gw_route_kind k, const char *allow)
{
    r->kind = k;
    r->allow = allow;
}

static void fail(gw_route *r, int status, const char *why)
{
    r->status = status;
    r->error = why;
}

/* True when the route takes the request's method; else records 405. */
static bool method_ok(gw_route *r)
{
    const char *a = r->allow;
    bool ok = false;
    switch (r->method) {
    case GW_M_GET:
        ok = true; /* every route takes GET */
        break;
    case GW_M_HEAD:
        ok = strstr(a, "HEAD") != NULL;
        break;
    case GW_M_PUT:
        ok = strstr(a, "PUT") != NULL;
        break;
    case GW_M_DELETE:
        ok = strstr(a, "DELETE") != NULL;
        break;
    default:
        ok = false;
    }
    if (!ok)
        fail(r, 405, "method not allowed on this route");
    return ok;
}

void gw_route_parse(gw_route *r, const char *method, const char *uri, size_t len)
{
    memset(r, 0, sizeof *r);
    r->allow = "";
    r->method = method_of(method);
    if (len > GW_URI_MAX) {
        fail(r, 414, "request target too long");
        return;
    }
    size_t plen = 0;
    while (plen < len && uri[plen] != '?' && uri[plen] != '#')
        plen++;
    r->path_len = plen;
    if (plen == 0 || uri[0] != '/') {
        fail(r, 404, "no such route");
        return;
    }
    /* Split into at most 6 segments; more never matches a route. */
    seg s[6];
    size_t n = 0, start = 1;
    for (size_t i = 1; i <= plen; i++) {
        if (i == plen || uri[i] == '/') {
            if (n == 6) {
                fail(r, 404, "no such route");
                return;
            }
            s[n].p = uri + start;
            s[n].n = i - start;
            n++;
            start = i + 1;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (s[i].n == 0) { /* "//", a trailing '/' */
            fail(r, 404, "no such route");
            return;
        }
#define IS(k, lit) (s[k].n == sizeof(lit) - 1 && memcmp(s[k].p, lit, sizeof(lit) - 1) == 0)
    if (n == 1 && IS(0, "metrics"))
        set(r, GW_R_METRICS, ROUTE_METHODS_STATIC);
    else if (n == 1 && IS(0, "healthz"))
        set(r, GW_R_HEALTHZ, ROUTE_METHODS_STATIC);
    else if (n == 1 && IS(0, "readyz"))
        set(r, GW_R_READYZ, ROUTE_METHODS_STATIC);
    else if (n >= 2 && IS(0, "log")) {
        /* The rest is matched byte for byte against the tlog-tiles grammar by logserve;
         * escapes never appear in it, so any '%' is simply not found. */
        size_t off = (size_t)(s[1].p - uri), rest = plen - off;
        if (rest >= sizeof r->log_path) {
            fail(r, 404, "no such log file");
            return;
        }
        memcpy(r->log_path, uri + off, rest);
        r->log_path[rest] = '\0';
        set(r, GW_R_LOG, ROUTE_METHODS_STATIC);
    } else if (n >= 3 && IS(0, "v1") && IS(1, "me")) {
        if (n == 3 && IS(2, "export"))
            set(r, GW_R_ME_EXPORT, ROUTE_METHODS_READ);
        else if (n == 4)
            set(r, GW_R_ME_RECORD, ROUTE_METHODS_RECORD_ME);
        else {
            fail(r, 404, "no such route");
            return;
        }
        if (!method_ok(r))
            return;
        if (n == 4 && (decode(r->collection, sizeof r->collection, s[2], true) != 0 ||
                       decode(r->id, sizeof r->id, s[3], false) != 0))
            fail(r, 400, "collection or record id is not a valid name");
        return;
    } else if (n >= 4 && IS(0, "v1") && IS(1, "users")) {
        if (n == 4 && IS(3, "export"))
            set(r, GW_R_USER_EXPORT, ROUTE_METHODS_READ);
        else if (n == 5)
            set(r, GW_R_USER_RECORD, ROUTE_METHODS_RECORD_EMP);
        else {
            fail(r, 404, "no such route");
            return;
        }
        if (!method_ok(r))
            return;
        if (decode(r->user, sizeof r->user, s[2], false) != 0 ||
            (n == 5 && (decode(r->collection, sizeof r->collection, s[3], true) != 0 ||
                        decode(r->id, sizeof r->id, s[4], false) != 0)))
            fail(r, 400, "user, collection or record id is not a valid name");
        return;
    } else {
        fail(r, 404, "no such route");
        return;
    }
#undef IS
    (void)method_ok(r);
}
