/* The cluster file (warden/cluster.h): parsed strictly, because a typo in a residency
 * setting ("jurisdiction" for "jurisdictions") must stop the start, not silently let a
 * region hold data it may not. Invariant: a loaded cluster has unique region names and
 * listen addresses, absolute paths, and canonical trusted-proxy addresses. */
#define _GNU_SOURCE
#include "warden/cluster.h"
#include "warden/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define CLUSTER_FILE_MAX (1u << 20)
#define MAX_REGIONS 64
#define MAX_JURISDICTIONS 64
#define MAX_PROXIES 64
#define NAME_MAX_LEN 64
#define JUR_MAX_LEN 16
#define URL_MAX_LEN 512

typedef struct ctx {
    const char *file; /* for messages */
    const char *base; /* directory of the file, absolute */
    warden_err *err;
} ctx;

static int oom(ctx *x)
{
    return warden_err_set(x->err, WARDEN_ENOMEM, "out of memory");
}

static int check_keys(ctx *x, const json_t *o, const char *const *allowed, const char *where)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v)
    {
        const char *const *a = allowed;
        while (*a != NULL && strcmp(*a, key) != 0)
            a++;
        if (*a == NULL)
            return warden_err_set(x->err, WARDEN_EINVAL, "%s: %sunknown key \"%.64s\"", x->file,
                                  where, key);
    }
    return 0;
}

/* A string member: required or optional (NULL when absent), non-empty, no NUL. */
static int get_str(ctx *x, const char **out, const json_t *o, const char *key, bool required,
                   const char *where)
{
    const json_t *v = json_object_get(o, key);
    *out = NULL;
    if (v == NULL) {
        if (required)
            return warden_err_set(x->err, WARDEN_EINVAL, "%s: %smissing \"%s\"", x->file, where,
                                  key);
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v))
        return warden_err_set(x->err, WARDEN_EINVAL, "%s: %s\"%s\" must be a non-empty string",
                              x->file, where, key);
    *out = json_string_value(v);
    return 0;
}

static bool all_chars(const char *s, size_t max, bool upper_only)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                  (!upper_only && ((c >= 'a' && c <= 'z') || c == '.'));
        if (!ok)
            return false;
    }
    return true;
}

static int dup_to(ctx *x, char **dst, const char *s)
{
    if ((*dst = strdup(s != NULL ? s : "")) == NULL)
        return oom(x);
    return 0;
}

static int path_to(ctx *x, char **dst, const char *p)
{
    if (p[0] == '/')
        return dup_to(x, dst, p);
    if (asprintf(dst, "%s/%s", x->base, p) < 0) {
        *dst = NULL;
        return oom(x);
    }
    return 0;
}

/* "host:port" or "[v6]:port" with port 1..65535 and a host without spaces or slashes. */
static bool valid_listen(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s || colon[1] == '\0')
        return false;
    uint64_t port;
    if (warden_parse_u64(&port, colon + 1, strlen(colon + 1)) != 0 || port == 0 || port > 65535 ||
        colon[1] == '0')
        return false;
    size_t hl = (size_t)(colon - s);
    if (s[0] == '[') {
        if (hl < 3 || s[hl - 1] != ']')
            return false;
        char a[INET6_ADDRSTRLEN];
        struct in6_addr a6;
        if (hl - 2 >= sizeof a)
            return false;
        memcpy(a, s + 1, hl - 2);
        a[hl - 2] = '\0';
        return inet_pton(AF_INET6, a, &a6) == 1;
    }
    for (size_t i = 0; i < hl; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-'))
            return false;
    }
    return true;
}

/* Checks url (http or https, an authority, no spaces), stores it without trailing slashes
 * and derives "host:port" from it. */
static int parse_url(ctx *x, warden_cluster_region *r, const char *url, const char *where)
{
    size_t n = strlen(url);
    const char *auth;
    const char *defport;
    if (strncmp(url, "http://", 7) == 0)
        auth = url + 7, defport = "80";
    else if (strncmp(url, "https://", 8) == 0)
        auth = url + 8, defport = "443";
    else
        return warden_err_set(x->err, WARDEN_EINVAL,
                              "%s: %s\"url\" must start with http:// or https://", x->file, where);
    if (n > URL_MAX_LEN)
        return warden_err_set(x->err, WARDEN_EINVAL, "%s: %s\"url\" is longer than %d bytes",
                              x->file, where, URL_MAX_LEN);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f || url[i] == '?' ||
            url[i] == '#')
            return warden_err_set(x->err, WARDEN_EINVAL,
                                  "%s: %s\"url\" must be a base URL (no spaces, query or "
                                  "fragment)",
                                  x->file, where);
    }
    while (n > 0 && url[n - 1] == '/')
        n--;
    if ((r->url = strndup(url, n)) == NULL)
        return oom(x);
    size_t alen = strcspn(auth, "/");
    char hostport[URL_MAX_LEN + 8];
    memcpy(hostport, auth, alen);
    hostport[alen] = '\0';
    if (memchr(hostport, '@', alen) != NULL)
        return warden_err_set(x->err, WARDEN_EINVAL, "%s: %s\"url\" must not carry user info",
                              x->file, where);
    /* Without an explicit port the scheme's default applies. */
    const char *rb = strrchr(hostport, ']');
    const char *colon = strrchr(hostport, ':');
    bool has_port = colon != NULL && (rb == NULL || colon > rb);
    if (!has_port) {
        size_t hl = strlen(hostport);
        snprintf(hostport + hl, sizeof hostport - hl, ":%s", defport);
    }
    if (!valid_listen(hostport))
        return warden_err_set(x->err, WARDEN_EINVAL, "%s: %s\"url\" has no valid host:port",
                              x->file, where);
    if (r->listen == NULL && (r->listen = strdup(hostport)) == NULL)
        return oom(x);
    return 0;
}

static int parse_jurisdictions(ctx *x, warden_cluster_region *r, const json_t *v, const char *where)
{
    if (v == NULL)
        return 0; /* a region that holds no one's data (a legacy backup site) */
    if (!json_is_array(v) || json_array_size(v) > MAX_JURISDICTIONS)
        return warden_err_set(x->err, WARDEN_EINVAL,
                              "%s: %s\"jurisdictions\" must be an array of up to %d codes", x->file,
                              where, MAX_JURISDICTIONS);
    size_t n = json_array_size(v);
    if (n == 0)
        return 0;
    if ((r->jurisdictions = calloc(n, sizeof *r->jurisdictions)) == NULL)
        return oom(x);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e) ||
            !all_chars(json_string_value(e), JUR_MAX_LEN, true))
            return warden_err_set(x->err, WARDEN_EINVAL,
                                  "%s: %s\"jurisdictions\"[%zu] must match [A-Z0-9_-]{1,16}",
                                  x->file, where, i);
        for (size_t k = 0; k < i; k++) {
            if (strcmp(r->jurisdictions[k], json_string_value(e)) == 0)
                return warden_err_set(x->err, WARDEN_EINVAL,
                                      "%s: %s\"jurisdictions\" lists \"%s\" twice", x->file, where,
                                      json_string_value(e));
        }
        if ((r->jurisdictions[i] = strdup(json_string_value(e))) == NULL)
            return oom(x);
        r->n_jurisdictions = i + 1;
    }
    return 0;
}

static int parse_region(ctx *x, warden_cluster_region *r, const json_t *o, size_t idx)
{
    static const char *const KEYS[] = {"name", "operator", "country", "role", "jurisdictions",
                                       "url",  "listen",   "keyd",    NULL};
    char where[48];
    const char *name, *op, *country, *role, *url, *listen, *keyd;
    int rc;
    snprintf(where, sizeof where, "regions[%zu]: ", idx);
    if (!json_is_object(o))
        return warden_err_set(x->err, WARDEN_EINVAL, "%s: %smust be an object", x->file, where);
    if ((rc = check_keys(x, o, KEYS, where)) != 0 ||
        (rc = get_str(x, &name, o, "name", true, where)) != 0 ||
        (rc = get_str(x, &op, o, "operator", false, where)) != 0 ||
        (rc = get_str(x, &country, o, "country", false, where)) != 0 ||
        (rc = get_str(x, &role, o, "role", true, where)) != 0 ||
        (rc = get_str(x, &url, o, "url", true, where)) != 0 ||
        (rc = get_str(x, &listen, o, "listen", false, where)) != 0 ||
        (rc = get_str(x, &keyd, o, "keyd", true, where)) != 0)
        return rc;
    if (!all_chars(name, NAME_MAX_LEN, false))
        return warden_err_set(x->err, WARDEN_EINVAL,
                              "%s: %s\"name\" must match [A-Za-z0-9_.-]{1,64}", x->file, where);
    if (country != NULL && !all_chars(country, JUR_MAX_LEN, false))
        return warden_err_set(x->err, WARDEN_EINVAL,
                              "%s: %s\"country\" must match [A-Za-z0-9_.-]{1,16}", x->file, where);
    if (strcmp(role, "custodian") == 0)
        r->custodian = true;
    else if (strcmp(role, "legacy") == 0)
        r->custodian = false;
    else
        return warden_err_set(x->err, WARDEN_EINVAL,
                              "%s: %s\"role\" must be \"custodian\" or \"legacy\"", x->file, where);
    if (listen != NULL) {
        if (!valid_listen(listen))
            return warden_err_set(x->err, WARDEN_EINVAL,
                                  "%s: %s\"listen\" must be host:port (port 1..65535)", x->file,
                                  where);
        if ((r->listen = strdup(listen)) == NULL)
            return oom(x);
    }
    if ((rc = dup_to(x, &r->name, name)) != 0 || (rc = dup_to(x, &r->operator_name, op)) != 0 ||
        (rc = dup_to(x, &r->country, country)) != 0 || (rc = parse_url(x, r, url, where)) != 0 ||
        (rc = path_to(x, &r->keyd_config, keyd)) != 0)
        return rc;
    return parse_jurisdictions(x, r, json_object_get(o, "jurisdictions"), where);
}

/* Stores each proxy address in the text form warden_netloc_addr_text produces, so that
 * the gateway can compare strings. */
static int parse_proxies(ctx *x, warden_cluster *c, const json_t *v)
{
    if (v == NULL)
        return 0;
    if (!json_is_array(v) || json_array_size(v) > MAX_PROXIES)
        return warden_err_set(x->err, WARDEN_EINVAL,
                              "%s: \"trusted_proxies\" must be an array of up to %d addresses",
                              x->file, MAX_PROXIES);
    size_t n = json_array_size(v);
    if (n == 0)
        return 0;
    if ((c->trusted_proxies = calloc(n, sizeof *c->trusted_proxies)) == NULL)
        return oom(x);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        const char *s = json_is_string(e) ? json_string_value(e) : NULL;
        uint8_t a[16];
        char text[INET6_ADDRSTRLEN];
        int fam = 0;
        if (s != NULL && strlen(s) == json_string_length(e)) {
            if (inet_pton(AF_INET, s, a) == 1)
                fam = AF_INET;
            else if (inet_pton(AF_INET6, s, a) == 1)
                fam = AF_INET6;
        }
        if (fam == 0)
            return warden_err_set(x->err, WARDEN_EINVAL,
                                  "%s: \"trusted_proxies\"[%zu] must be an IP address", x->file, i);
        if (fam == AF_INET6 && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)a)) {
            memmove(a, a + 12, 4);
            fam = AF_INET;
        }
        if (inet_ntop(fam, a, text, sizeof text) == NULL)
            return warden_err_set(x->err, WARDEN_EINTERNAL, "cannot format an address");
        if ((c->trusted_proxies[i] = strdup(text)) == NULL)
            return oom(x);
        c->n_trusted_proxies = i + 1;
    }
    return 0;
}

static int parse_top(ctx *x, warden_cluster *c, const json_t *j)
{
    static const char *const KEYS[] = {"issuer",          "audience", "token_key", "networks",
                                       "trusted_proxies", "regions",  NULL};
    const char *issuer, *audience, *token_key, *networks;
    int rc;
    if (!json_is_object(j))
        return warden_err_set(x->err, WARDEN_EINVAL, "%s: must be a JSON object", x->file);
    if ((rc = check_keys(x, j, KEYS, "")) != 0 ||
        (rc = get_str(x, &issuer, j, "issuer", true, "")) != 0 ||
        (rc = get_str(x, &audience, j, "audience", true, "")) != 0 ||
        (rc = get_str(x, &token_key, j, "token_key", true, "")) != 0 ||
        (rc = get_str(x, &networks, j, "networks", true, "")) != 0)
        return rc;
    if ((rc = dup_to(x, &c->issuer, issuer)) != 0 ||
        (rc = dup_to(x, &c->audience, audience)) != 0 ||
        (rc = path_to(x, &c->token_key, token_key)) != 0 ||
        (rc = path_to(x, &c->networks, networks)) != 0 ||
        (rc = parse_proxies(x, c, json_object_get(j, "trusted_proxies"))) != 0)
        return rc;
    const json_t *regions = json_object_get(j, "regions");
    if (!json_is_array(regions) || json_array_size(regions) == 0 ||
        json_array_size(regions) > MAX_REGIONS)
        return warden_err_set(x->err, WARDEN_EINVAL,
                              "%s: \"regions\" must be an array of 1..%d regions", x->file,
                              MAX_REGIONS);
    size_t n = json_array_size(regions);
    if ((c->regions = calloc(n, sizeof *c->regions)) == NULL)
        return oom(x);
    for (size_t i = 0; i < n; i++) {
        c->n_regions = i + 1; /* counted first, so that free sees a half-filled region */
        if ((rc = parse_region(x, &c->regions[i], json_array_get(regions, i), i)) != 0)
            return rc;
        for (size_t k = 0; k < i; k++) {
            if (strcmp(c->regions[k].name, c->regions[i].name) == 0)
                return warden_err_set(x->err, WARDEN_EEXIST,
                                      "%s: regions[%zu]: region \"%s\" is already defined", x->file,
                                      i, c->regions[i].name);
            if (strcmp(c->regions[k].listen, c->regions[i].listen) == 0)
                return warden_err_set(x->err, WARDEN_EEXIST,
                                      "%s: regions[%zu]: listen address %s is also region "
                                      "\"%s\"'s",
                                      x->file, i, c->regions[i].listen, c->regions[k].name);
        }
    }
    return 0;
}

int warden_cluster_load(warden_cluster **out, const char *path, warden_err *err)
{
    warden_buf b;
    json_t *j = NULL;
    json_error_t jerr;
    char *base = NULL;
    int rc;
    warden_cluster *c = calloc(1, sizeof *c);
    warden_buf_init(&b);
    if (c == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    if ((rc = warden_file_read(&b, path, CLUSTER_FILE_MAX, err)) != 0)
        goto out;
    if ((c->path = realpath(path, NULL)) == NULL) {
        rc = warden_err_set(err, errno == ENOMEM ? WARDEN_ENOMEM : WARDEN_EIO, "%s: %s", path,
                            strerror(errno));
        goto out;
    }
    const char *slash = strrchr(c->path, '/');
    if ((base = strndup(c->path, slash == c->path ? 1 : (size_t)(slash - c->path))) == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    j = json_loadb((const char *)b.p, b.len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        rc = warden_err_set(err, WARDEN_EPARSE, "%s:%d:%d: %s", path, jerr.line, jerr.column,
                            jerr.text);
        goto out;
    }
    ctx x = {path, strcmp(base, "/") == 0 ? "" : base, err};
    if ((rc = parse_top(&x, c, j)) != 0)
        goto out;
    *out = c;
    c = NULL;
out:
    free(base);
    json_decref(j);
    warden_buf_fini(&b);
    warden_cluster_free(c);
    return rc;
}

static void region_fini(warden_cluster_region *r)
{
    free(r->name);
    free(r->operator_name);
    free(r->country);
    for (size_t i = 0; i < r->n_jurisdictions; i++)
        free(r->jurisdictions[i]);
    free(r->jurisdictions);
    free(r->url);
    free(r->listen);
    free(r->keyd_config);
}

void warden_cluster_free(warden_cluster *c)
{
    if (c == NULL)
        return;
    free(c->path);
    free(c->issuer);
    free(c->audience);
    free(c->token_key);
    free(c->networks);
    for (size_t i = 0; i < c->n_trusted_proxies; i++)
        free(c->trusted_proxies[i]);
    free(c->trusted_proxies);
    for (size_t i = 0; i < c->n_regions; i++)
        region_fini(&c->regions[i]);
    free(c->regions);
    free(c);
}

const warden_cluster_region *warden_cluster_region_find(const warden_cluster *c, const char *name)
{
    for (size_t i = 0; i < c->n_regions; i++) {
        if (strcmp(c->regions[i].name, name) == 0)
            return &c->regions[i];
    }
    return NULL;
}

bool warden_cluster_region_holds(const warden_cluster_region *r, const char *jur)
{
    for (size_t i = 0; i < r->n_jurisdictions; i++) {
        if (strcmp(r->jurisdictions[i], jur) == 0)
            return true;
    }
    return false;
}

const warden_cluster_region *warden_cluster_home(const warden_cluster *c, const char *jur)
{
    const warden_cluster_region *any = NULL;
    for (size_t i = 0; i < c->n_regions; i++) {
        const warden_cluster_region *r = &c->regions[i];
        if (!warden_cluster_region_holds(r, jur))
            continue;
        if (r->custodian)
            return r;
        if (any == NULL)
            any = r;
    }
    return any;
}
