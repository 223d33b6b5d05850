/* who-can: which principals could read a user's record, per data class, from which
 * locations and for which purposes, found by asking the Cedar authorizer every combination
 * instead of reading a separate table. The candidates: principals are the directory's
 * entities that are nobody's parent; purposes are the string literals of the policies and
 * the entities' attribute strings, plus one value none of them names; locations are the
 * given ones (networks table, list), else those strings, plus "unknown" (what the gateway
 * derives for an address no row covers). Equality tests on context strings can only tell
 * apart the values a policy or entity names, so one unnamed value stands for all others.
 * The request and context are built as keyd builds them (docs/keyd-protocol.md). */
#include "report/report_internal.h"
#include "warden/policy.h"

#include <arpa/inet.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#define WHOCAN_MAX_EVALS 100000
#define OTHER_PURPOSE "(other)"
#define DOC_IP "192.0.2.1" /* RFC 5737 documentation address, for listed locations */

typedef struct cand {
    json_t *principals; /* [{"type","id"}] */
    json_t *strings;    /* set of literals and attribute strings */
    json_t *locations;  /* [[location, ip, explicit]] */
    json_t *purposes;   /* [purpose] */
} cand;

static void cand_fini(cand *c)
{
    json_decref(c->principals);
    json_decref(c->strings);
    json_decref(c->locations);
    json_decref(c->purposes);
}

int report_cedar_strings(json_t *set, const char *text, size_t len)
{
    warden_buf s;
    warden_buf_init(&s);
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0; i++) {
        if (text[i] == '/' && i + 1 < len && text[i + 1] == '/') {
            while (i < len && text[i] != '\n')
                i++;
            continue;
        }
        if (text[i] != '"')
            continue;
        /* An entity id (Type::"id") is not a value a context string is compared with. */
        size_t p = i;
        while (p > 0 && (text[p - 1] == ' ' || text[p - 1] == '\t'))
            p--;
        bool uid = p >= 2 && text[p - 1] == ':' && text[p - 2] == ':';
        s.len = 0;
        for (i++; i < len && text[i] != '"' && rc == 0; i++) {
            if (text[i] == '\\' && i + 1 < len)
                i++;
            rc = warden_buf_append(&s, &text[i], 1);
        }
        /* Only text that could be a JSON string (UTF-8, no NUL) can be a context value. */
        json_t *probe = rc == 0 && !uid && s.len > 0 && memchr(s.p, 0, s.len) == NULL
                            ? json_stringn((const char *)s.p, s.len)
                            : NULL;
        if (probe != NULL)
            rc = json_object_set_new(set, json_string_value(probe), json_true());
        json_decref(probe);
    }
    warden_buf_fini(&s);
    return rc != 0 ? WARDEN_ENOMEM : 0;
}

/* Attribute strings of entities, recursively (records and sets). */
static int value_strings(json_t *set, const json_t *v, int depth)
{
    if (depth > 32)
        return 0;
    if (json_is_string(v))
        return json_object_set_new(set, json_string_value(v), json_true()) ? WARDEN_ENOMEM : 0;
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_array(v))
        json_array_foreach(v, i, x) if (value_strings(set, x, depth + 1) != 0) return WARDEN_ENOMEM;
    if (json_is_object(v))
        json_object_foreach((json_t *)v, k,
                            x) if (value_strings(set, x, depth + 1) != 0) return WARDEN_ENOMEM;
    return 0;
}

static int uid_of(const json_t *u, const char **type, const char **id)
{
    if (json_is_object(json_object_get(u, "__entity")))
        u = json_object_get(u, "__entity");
    *type = json_string_value(json_object_get(u, "type"));
    *id = json_string_value(json_object_get(u, "id"));
    return *type != NULL && *id != NULL ? 0 : -1;
}

/* Principals (entities that are nobody's parent) and attribute strings of entities JSON. */
static int scan_entities(cand *c, const json_t *ents, warden_err *err)
{
    json_t *parents = json_object();
    size_t i, j;
    json_t *e, *p;
    const char *t, *id;
    int rc = parents == NULL ? WARDEN_ENOMEM : 0;
    warden_buf key;
    warden_buf_init(&key);
    for (int pass = 0; rc == 0 && pass < 2; pass++)
        json_array_foreach(ents, i, e)
        {
            if (uid_of(json_object_get(e, "uid"), &t, &id) != 0) {
                rc = warden_err_set(err, WARDEN_EINVAL, "entities[%zu]: no uid", i);
                break;
            }
            if (pass == 0) {
                json_array_foreach(json_object_get(e, "parents"), j, p)
                {
                    const char *pt, *pid;
                    key.len = 0;
                    if (uid_of(p, &pt, &pid) == 0 &&
                        (warden_buf_printf(&key, "%s::%s", pt, pid) != 0 ||
                         warden_buf_cstr(&key) != 0 ||
                         json_object_set_new(parents, (const char *)key.p, json_true()) != 0))
                        rc = WARDEN_ENOMEM;
                }
                if (rc == 0)
                    rc = value_strings(c->strings, json_object_get(e, "attrs"), 0);
                continue;
            }
            key.len = 0;
            if (warden_buf_printf(&key, "%s::%s", t, id) != 0 || warden_buf_cstr(&key) != 0) {
                rc = WARDEN_ENOMEM;
                break;
            }
            if (json_object_get(parents, (const char *)key.p) == NULL &&
                json_array_append_new(c->principals, json_pack("{s:s, s:s}", "type", t, "id", id)))
                rc = WARDEN_ENOMEM;
        }
    if (rc == WARDEN_ENOMEM)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    json_decref(parents);
    warden_buf_fini(&key);
    return rc;
}

/* networks CSV "cidr,country,site": each country once, with its first row's address. */
static int scan_networks(cand *c, const char *path, warden_err *err)
{
    warden_buf b;
    warden_buf_init(&b);
    int rc = warden_file_read(&b, path, 16u << 20, err);
    size_t line = 0;
    warden_cursor cur;
    warden_cursor_init(&cur, b.p, b.len);
    while (rc == 0 && warden_cursor_left(&cur) > 0) {
        const uint8_t *l;
        size_t n;
        line++;
        if (warden_cursor_until(&cur, '\n', &l, &n) != 0) {
            n = warden_cursor_left(&cur);
            if (warden_cursor_bytes(&cur, &l, n) != 0)
                break;
        }
        char row[256], *save = NULL;
        if (n == 0 || l[0] == '#')
            continue;
        if (n >= sizeof row) {
            rc = warden_err_set(err, WARDEN_EPARSE, "%s:%zu: line too long", path, line);
            break;
        }
        memcpy(row, l, n);
        row[n] = '\0';
        if (row[n - 1] == '\r')
            row[n - 1] = '\0';
        char *cidr = strtok_r(row, ",", &save), *country = strtok_r(NULL, ",", &save);
        char *slash = cidr != NULL ? strchr(cidr, '/') : NULL;
        unsigned char a[16];
        uint64_t bits = 0;
        int family = 0;
        if (slash != NULL) {
            *slash = '\0';
            family = inet_pton(AF_INET, cidr, a) == 1    ? 4
                     : inet_pton(AF_INET6, cidr, a) == 1 ? 6
                                                         : 0;
        }
        bool country_ok = country != NULL && *country != '\0';
        for (const char *q = country; country_ok && *q; q++)
            country_ok = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
                                *q) != NULL;
        if (family == 0 || !country_ok ||
            warden_parse_u64(&bits, slash + 1, strlen(slash + 1)) != 0 ||
            bits > (family == 4 ? 32u : 128u)) {
            rc = warden_err_set(err, WARDEN_EPARSE, "%s:%zu: expected cidr,country,site", path,
                                line);
            break;
        }
        bool seen = false;
        size_t i;
        json_t *x;
        json_array_foreach(c->locations, i, x) seen |=
            strcmp(json_string_value(json_array_get(x, 0)), country) == 0;
        if (!seen && json_array_append_new(c->locations, json_pack("[s, s, b]", country, cidr, 1)))
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
    warden_buf_fini(&b);
    return rc;
}

/* Reads a whole file as a C string. */
static int slurp(warden_buf *b, const char *path, warden_err *err)
{
    b->len = 0;
    int rc = warden_file_read(b, path, 64u << 20, err);
    if (rc == 0 && warden_buf_cstr(b) != 0)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    return rc;
}

/* path relative to the directory of base (a config file), into out. */
static int resolve(warden_buf *out, const char *base, const char *path)
{
    out->len = 0;
    if (path[0] == '/' || base == NULL)
        return warden_buf_puts(out, path) | warden_buf_cstr(out);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", base);
    return warden_buf_printf(out, "%s/%s", dirname(tmp), path) | warden_buf_cstr(out);
}

/* Loads the policies and entities (from the query's files or its keyd config). */
static int load(warden_policies **ps, warden_entities **es, cand *c, const char **region,
                json_t **cfg, const warden_report_whocan_query *q, warden_err *err)
{
    warden_buf text, path;
    warden_buf_init(&text);
    warden_buf_init(&path);
    json_t *ents = NULL;
    int rc = warden_policies_new(ps, err);
    json_t *files = json_array();
    const char *entities = q->entities_file;
    if (rc == 0 && files == NULL)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    if (rc == 0 && q->config != NULL) {
        json_error_t je;
        *cfg = json_load_file(q->config, JSON_REJECT_DUPLICATES, &je);
        const json_t *pol = json_object_get(*cfg, "policies");
        if (*cfg == NULL || (!json_is_string(pol) && !json_is_array(pol))) {
            rc = warden_err_set(err, WARDEN_EINVAL, "%s: %s", q->config,
                                *cfg == NULL ? je.text : "no \"policies\"");
            goto out;
        }
        if (json_is_string(pol))
            (void)json_array_append(files, (json_t *)pol);
        else
            (void)json_array_extend(files, (json_t *)pol);
        entities = json_string_value(json_object_get(*cfg, "entities"));
        if (*region == NULL)
            *region = json_string_value(json_object_get(*cfg, "region"));
    } else {
        for (size_t i = 0; i < q->n_policy_files; i++)
            (void)json_array_append_new(files, json_string(q->policy_files[i]));
    }
    if (rc == 0 && json_array_size(files) == 0)
        rc = warden_err_set(err, WARDEN_EINVAL, "no policy files");
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        if (rc != 0 || !json_is_string(f) || resolve(&path, q->config, json_string_value(f)) != 0) {
            rc = rc != 0 ? rc : warden_err_set(err, WARDEN_EINVAL, "bad policy file name");
            break;
        }
        if ((rc = slurp(&text, (const char *)path.p, err)) != 0 ||
            (rc = warden_policies_add_text(*ps, (const char *)path.p, (const char *)text.p,
                                           text.len, err)) != 0)
            break;
        if (report_cedar_strings(c->strings, (const char *)text.p, text.len) != 0)
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
    if (rc != 0)
        goto out;
    if (entities == NULL) {
        rc = warden_entities_new_empty(es, err);
        goto out;
    }
    if (resolve(&path, q->config, entities) != 0 ||
        (rc = slurp(&text, (const char *)path.p, err)) != 0 ||
        (rc = warden_entities_parse_json(es, (const char *)path.p, (const char *)text.p, text.len,
                                         err)) != 0)
        goto out;
    ents = json_loadb((const char *)text.p, text.len, 0, NULL);
    rc = scan_entities(c, ents, err);
out:
    json_decref(ents);
    json_decref(files);
    warden_buf_fini(&text);
    warden_buf_fini(&path);
    return rc;
}

/* Fills locations and purposes from the query and the collected strings. */
static int candidates(cand *c, const warden_report_whocan_query *q, warden_err *err)
{
    int rc = 0;
    if (q->networks_file != NULL && (rc = scan_networks(c, q->networks_file, err)) != 0)
        return rc;
    if (q->locations != NULL) {
        char *dup = strdup(q->locations), *save = NULL;
        if (dup == NULL)
            return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        for (char *t = strtok_r(dup, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save))
            if (json_array_append_new(c->locations, json_pack("[s, s, b]", t, DOC_IP, 1)) != 0)
                rc = WARDEN_ENOMEM;
        free(dup);
    }
    bool given = json_array_size(c->locations) > 0;
    const char *s;
    json_t *v;
    json_object_foreach(c->strings, s, v)
    {
        if (!given && json_array_append_new(c->locations, json_pack("[s, s, b]", s, DOC_IP, 0)))
            rc = WARDEN_ENOMEM;
        if (json_array_append_new(c->purposes, json_string(s)) != 0)
            rc = WARDEN_ENOMEM;
    }
    if (json_array_append_new(c->locations, json_pack("[s, s, b]", "unknown", DOC_IP, 0)) != 0 ||
        json_array_append_new(c->purposes, json_string(OTHER_PURPOSE)) != 0)
        rc = WARDEN_ENOMEM;
    return rc != 0 ? warden_err_set(err, WARDEN_ENOMEM, "out of memory") : 0;
}

/* One read decision for principal p, class, location l (with its address) and purpose. */
static int decide(bool *allow, warden_authz *z, const warden_policies *ps,
                  const warden_entities *es, const json_t *p, const char *rid, const char *cls,
                  const json_t *l, const char *purpose, const char *region,
                  const warden_report_whocan_query *q, warden_err *err)
{
    warden_request *rq = NULL;
    json_t *j = json_pack(
        "{s:O, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:{s:{s:s, s:O}}, s:O, s:s, s:s, s:s, s:s, "
        "s:s, s:s}}",
        "principal", p, "action", "type", "Action", "id", "read", "resource", "type", "Record",
        "id", rid, "context", "request_id", "who-can", "source_ip", "__extn", "fn", "ip", "arg",
        json_array_get(l, 1), "location", json_array_get(l, 0), "purpose", purpose, "region",
        region, "owner", q->user, "jurisdiction", q->jurisdiction, "collection", q->collection,
        "data_class", cls);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    int rc = text == NULL ? warden_err_set(err, WARDEN_ENOMEM, "out of memory") : 0;
    warden_decision d;
    if (rc == 0 && (rc = warden_request_parse_json(&rq, text, strlen(text), err)) == 0 &&
        (rc = warden_authorize(&d, z, ps, es, rq, err)) == 0)
        *allow = d.allow;
    warden_request_free(rq);
    free(text);
    json_decref(j);
    return rc;
}

/* The purposes allowed (in candidate order) as one cell: the array of them, or when the
 * unnamed one is allowed (so every purpose no policy names is), the text "(any)" or
 * "(any) except a, b". */
static json_t *purposes_cell(const cand *c, const bool *ok)
{
    size_t n = json_array_size(c->purposes);
    bool other = ok[n - 1];
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i + 1 < n; i++)
        if (ok[i] != other)
            (void)json_array_append(a, json_array_get(c->purposes, i));
    if (!other || a == NULL)
        return a;
    warden_buf b;
    warden_buf_init(&b);
    int rc = warden_buf_puts(&b, "(any)");
    if (json_array_size(a) > 0)
        rc |= warden_buf_puts(&b, " except ") | report_cell_text(&b, a);
    json_t *cell = rc == 0 ? json_stringn((const char *)b.p, b.len) : NULL;
    warden_buf_fini(&b);
    json_decref(a);
    return cell;
}

int warden_report_whocan(json_t **out, const warden_report_whocan_query *q, warden_err *err)
{
    static const char *const COLS[] = {"principal", "location", "purposes", NULL};
    static const char *const CLS[] = {"protected", "excepted"};
    warden_policies *ps = NULL;
    warden_entities *es = NULL;
    warden_authz *z = NULL;
    json_t *cfg = NULL, *doc = NULL;
    bool *ok = NULL, *base = NULL;
    cand c = {json_array(), json_object(), json_array(), json_array()};
    const char *region = q->region;
    char rid[512];
    *out = NULL;
    int rc = 0;
    if (q->user == NULL || q->jurisdiction == NULL || q->collection == NULL)
        return warden_err_set(err, WARDEN_EINVAL,
                              "who-can needs a user, jurisdiction and "
                              "collection");
    if (c.principals == NULL || c.strings == NULL || c.locations == NULL || c.purposes == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = load(&ps, &es, &c, &region, &cfg, q, err)) != 0 ||
        (rc = candidates(&c, q, err)) != 0 || (rc = warden_authz_new(&z, err)) != 0)
        goto out;
    if (region == NULL)
        region = "texas";
    snprintf(rid, sizeof rid, "%s/%s/%s", q->user, q->collection, q->id ? q->id : "any");
    size_t np = json_array_size(c.principals), nl = json_array_size(c.locations);
    size_t nu = json_array_size(c.purposes);
    if (np * nl * nu * 2 > WHOCAN_MAX_EVALS) {
        rc = warden_err_set(err, WARDEN_ELIMIT,
                            "%zu principals x %zu locations x %zu purposes x 2 classes is over "
                            "%d decisions: give --locations or --networks",
                            np, nl, nu, WHOCAN_MAX_EVALS);
        goto out;
    }
    ok = calloc(nu, sizeof *ok);
    base = calloc(nu, sizeof *base);
    doc = report_doc_new("who-can", "Who can read this user's record");
    if (ok == NULL || base == NULL || doc == NULL ||
        (report_summary_add(doc, "user", json_string(q->user)) |
         report_summary_add(doc, "jurisdiction", json_string(q->jurisdiction)) |
         report_summary_add(doc, "resource", json_pack("s++", "Record::\"", rid, "\"")) |
         report_summary_add(doc, "region", json_string(region)) |
         report_summary_add(doc, "policies", json_integer((json_int_t)warden_policies_count(ps))) |
         report_summary_add(doc, "principals tried", json_integer((json_int_t)np)) |
         report_summary_add(doc, "locations tried", json_integer((json_int_t)nl)) |
         report_summary_add(doc, "purposes tried", json_integer((json_int_t)nu))) != 0) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < 2; k++) {
        char title[96];
        snprintf(title, sizeof title, "Who could read the %s fields", CLS[k]);
        json_t *rows = report_table_add(doc, CLS[k], title, COLS);
        size_t readers = 0;
        if (rows == NULL) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
        size_t i, li;
        json_t *p, *l;
        json_array_foreach(c.principals, i, p)
        {
            char who[600];
            snprintf(who, sizeof who, "%s::\"%s\"", json_string_value(json_object_get(p, "type")),
                     json_string_value(json_object_get(p, "id")));
            bool any = false;
            /* "unknown" is last: decide it first, to hide locations that behave like it. */
            for (size_t u = 0; u < nu; u++)
                if ((rc = decide(
                         &base[u], z, ps, es, p, rid, CLS[k], json_array_get(c.locations, nl - 1),
                         json_string_value(json_array_get(c.purposes, u)), region, q, err)) != 0)
                    goto out;
            json_array_foreach(c.locations, li, l)
            {
                bool some = false, same = true;
                for (size_t u = 0; u < nu; u++) {
                    if (li == nl - 1)
                        ok[u] = base[u];
                    else if ((rc = decide(&ok[u], z, ps, es, p, rid, CLS[k], l,
                                          json_string_value(json_array_get(c.purposes, u)), region,
                                          q, err)) != 0)
                        goto out;
                    some |= ok[u];
                    same &= ok[u] == base[u];
                }
                bool listed = json_is_true(json_array_get(l, 2)) || li == nl - 1;
                if (!some || (!listed && same))
                    continue;
                any = true;
                const char *loc = json_string_value(json_array_get(l, 0));
                json_t *row =
                    json_pack("[s, s, o]", who, li == nl - 1 ? "(any other location)" : loc,
                              purposes_cell(&c, ok));
                if (row == NULL || json_array_append_new(rows, row) != 0) {
                    rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
                    goto out;
                }
            }
            readers += any;
        }
        char label[64];
        snprintf(label, sizeof label, "principals who could read %s fields", CLS[k]);
        if (report_summary_add(doc, label, json_integer((json_int_t)readers)) != 0) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
    }
out:
    if (rc == 0) {
        *out = doc;
        doc = NULL;
    }
    json_decref(doc);
    json_decref(cfg);
    free(ok);
    free(base);
    cand_fini(&c);
    warden_authz_free(z);
    warden_policies_free(ps);
    warden_entities_free(es);
    return rc;
}
