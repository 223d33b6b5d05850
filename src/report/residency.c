/* The residency report: for every jurisdiction, which regions hold its users' records, and
 * every holding the placement policy forbids. Each region's keyd is asked what it holds
 * (INVENTORY: users, their jurisdiction, live records per collection; no contents), and
 * legacy PostgreSQL copies are counted by jurisdiction (warden_migrate_census). A holding
 * is forbidden when the cluster file does not list the jurisdiction for the region, or the
 * region's own keyd config does not (so a keyd configured more loosely than the cluster
 * file is caught by the first rule, and one that no longer lists what it holds by the
 * second). Shredded users hold nothing readable and are not counted. */
#include "report/report_internal.h"

#include "warden/cluster.h"
#include "warden/keyd.h"
#include "warden/migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One (region, store, jurisdiction) holding. */
typedef struct holding {
    const warden_cluster_region *r;
    const char *store; /* "keyd" or "postgresql" */
    char jur[64];
    json_int_t users, records;
    bool keyd_lists; /* keyd store: the keyd config lists jur */
} holding;

typedef struct holdings {
    holding *v;
    size_t n, cap;
} holdings;

static holding *holding_get(holdings *h, const warden_cluster_region *r, const char *store,
                            const char *jur)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].r == r && strcmp(h->v[i].store, store) == 0 && strcmp(h->v[i].jur, jur) == 0)
            return &h->v[i];
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 16;
        holding *v = realloc(h->v, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        h->v = v;
        h->cap = cap;
    }
    holding *x = &h->v[h->n++];
    memset(x, 0, sizeof *x);
    x->r = r;
    x->store = store;
    snprintf(x->jur, sizeof x->jur, "%s", jur);
    return x;
}

static int holding_cmp(const void *a, const void *b)
{
    const holding *x = a, *y = b;
    int c = strcmp(x->jur, y->jur);
    if (c == 0)
        c = strcmp(x->r->name, y->r->name);
    return c != 0 ? c : strcmp(x->store, y->store);
}

static bool listed(const json_t *jurs, const char *jur)
{
    size_t i;
    json_t *v;
    json_array_foreach(jurs, i, v) if (json_is_string(v) && strcmp(json_string_value(v), jur) == 0)
        return true;
    return false;
}

/* Asks r's keyd what it holds and adds it to h; adds r's row to the regions table. */
static int inventory(holdings *h, json_t *regions, const warden_cluster_region *r,
                     warden_err *err)
{
    char *sock = NULL, *logdir = NULL;
    json_t *a = NULL;
    int is_error = 0;
    int rc = warden_keyd_config_paths(&sock, &logdir, r->keyd_config, err);
    if (rc == 0 && (rc = warden_keyd_call(&a, &is_error, sock, WARDEN_KEYD_MSG_INVENTORY, NULL,
                                          err)) != 0)
        rc = warden_err_set(err, rc, "region %s: %s", r->name, err->msg);
    if (rc == 0 && is_error)
        rc = warden_err_set(err, WARDEN_EIO, "region %s: keyd: %s", r->name,
                            json_string_value(json_object_get(a, "error")) != NULL
                                ? json_string_value(json_object_get(a, "error"))
                                : "error");
    const json_t *users = json_object_get(a, "users"), *jurs = json_object_get(a, "jurisdictions");
    const char *name = json_string_value(json_object_get(a, "region"));
    if (rc == 0 && (!json_is_array(users) || !json_is_array(jurs) || name == NULL))
        rc = warden_err_set(err, WARDEN_ECORRUPT, "region %s: an inventory without users",
                            r->name);
    if (rc == 0 && strcmp(name, r->name) != 0)
        rc = warden_err_set(err, WARDEN_ECORRUPT,
                            "region %s: its keyd (%s) answers as region \"%.64s\"", r->name, sock,
                            name);
    size_t i;
    json_t *u;
    if (rc == 0)
        json_array_foreach(users, i, u)
        {
            const char *jur = json_string_value(json_object_get(u, "jurisdiction"));
            const char *state = json_string_value(json_object_get(u, "state"));
            json_t *n = json_object_get(u, "records");
            if (jur == NULL || state == NULL || !json_is_integer(n)) {
                rc = warden_err_set(err, WARDEN_ECORRUPT, "region %s: a malformed inventory row",
                                    r->name);
                break;
            }
            if (strcmp(state, "active") != 0)
                continue;
            holding *x = holding_get(h, r, "keyd", jur);
            if (x == NULL) {
                rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
                break;
            }
            x->users++;
            x->records += json_integer_value(n);
            x->keyd_lists = listed(jurs, jur);
        }
    if (rc == 0) {
        json_t *may = json_array();
        for (size_t j = 0; may != NULL && j < r->n_jurisdictions; j++)
            (void)json_array_append_new(may, json_string(r->jurisdictions[j]));
        bool agree = may != NULL && json_equal(may, jurs);
        json_t *row = may != NULL ? json_pack("[s, s, o, O, s]", r->name,
                                              r->custodian ? "custodian" : "legacy", may, jurs,
                                              agree ? "yes" : "no")
                                  : NULL;
        if (row == NULL || json_array_append_new(regions, row) != 0)
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
    json_decref(a);
    free(sock);
    free(logdir);
    return rc;
}

/* Counts a region's legacy PostgreSQL copy into h. */
static int legacy(holdings *h, const warden_cluster *c, const warden_report_legacy *l,
                  const char *table, warden_err *err)
{
    const warden_cluster_region *r = warden_cluster_region_find(c, l->region);
    if (r == NULL)
        return warden_err_set(err, WARDEN_EINVAL, "--legacy %s: no such region in %s", l->region,
                              c->path);
    json_t *rows = NULL;
    int rc = warden_migrate_census(&rows, l->conninfo, table, err);
    if (rc != 0)
        return warden_err_set(err, rc, "--legacy %s: %s", l->region, err->msg);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        holding *x = holding_get(h, r, "postgresql", json_string_value(json_object_get(row,
                                                                                   "jurisdiction")));
        if (x == NULL) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            break;
        }
        x->users += json_integer_value(json_object_get(row, "users"));
        x->records += json_integer_value(json_object_get(row, "records"));
        x->keyd_lists = true; /* not a keyd: only the cluster file applies */
    }
    json_decref(rows);
    return rc;
}

static int build(json_t *doc, uint64_t *violations, holdings *h, const warden_cluster *c,
                 json_t *regions_rows)
{
    static const char *const PC[] = {"jurisdiction", "region", "role",   "store",
                                     "users",        "records", "allowed", NULL};
    static const char *const VC[] = {"region", "store", "jurisdiction", "users", "records", "why",
                                     NULL};
    static const char *const RC[] = {"region", "role", "cluster file allows", "keyd config lists",
                                     "agree", NULL};
    json_t *place = report_table_add(doc, "placement", "Where each jurisdiction's data is stored",
                                     PC);
    json_t *viol = report_table_add(doc, "violations",
                                    "Records held where the placement policy forbids them", VC);
    json_t *regs = report_table_add(doc, "regions", "Regions and the jurisdictions they may hold",
                                    RC);
    if (place == NULL || viol == NULL || regs == NULL ||
        json_array_extend(regs, regions_rows) != 0)
        return WARDEN_ENOMEM;
    qsort(h->v, h->n, sizeof *h->v, holding_cmp);
    json_t *jurs = json_array();
    json_int_t users = 0, records = 0, vrec = 0;
    if (jurs == NULL)
        return WARDEN_ENOMEM;
    for (size_t i = 0; i < h->n; i++) {
        const holding *x = &h->v[i];
        bool cluster_ok = warden_cluster_region_holds(x->r, x->jur);
        bool ok = cluster_ok && x->keyd_lists;
        users += x->users;
        records += x->records;
        if (i == 0 || strcmp(x->jur, h->v[i - 1].jur) != 0)
            (void)json_array_append_new(jurs, json_string(x->jur));
        json_t *row = json_pack("[s, s, s, s, I, I, s]", x->jur, x->r->name,
                                x->r->custodian ? "custodian" : "legacy", x->store, x->users,
                                x->records, ok ? "yes" : "NO");
        if (row == NULL || json_array_append_new(place, row) != 0) {
            json_decref(jurs);
            return WARDEN_ENOMEM;
        }
        if (ok)
            continue;
        char why[256];
        snprintf(why, sizeof why, "%s%s%s",
                 cluster_ok ? "" : "the cluster file does not let this region hold it",
                 !cluster_ok && !x->keyd_lists ? "; " : "",
                 x->keyd_lists ? "" : "the region's keyd config does not list it");
        (*violations)++;
        vrec += x->records;
        row = json_pack("[s, s, s, I, I, s]", x->r->name, x->store, x->jur, x->users, x->records,
                        why);
        if (row == NULL || json_array_append_new(viol, row) != 0) {
            json_decref(jurs);
            return WARDEN_ENOMEM;
        }
    }
    int rc = report_summary_add(doc, "cluster", json_string(c->path)) |
             report_summary_add(doc, "regions", json_integer((json_int_t)c->n_regions)) |
             report_summary_add(doc, "jurisdictions", jurs) |
             report_summary_add(doc, "users", json_integer(users)) |
             report_summary_add(doc, "records", json_integer(records)) |
             report_summary_add(doc, "violations", json_integer((json_int_t)*violations)) |
             report_summary_add(doc, "records in violation", json_integer(vrec));
    return rc != 0 ? WARDEN_ENOMEM : 0;
}

int warden_report_residency(json_t **out, uint64_t *violations,
                            const warden_report_residency_query *q, warden_err *err)
{
    *out = NULL;
    *violations = 0;
    warden_cluster *c = NULL;
    holdings h = {0};
    json_t *doc = NULL, *regions = json_array();
    int rc = regions == NULL ? warden_err_set(err, WARDEN_ENOMEM, "out of memory")
                             : warden_cluster_load(&c, q->cluster, err);
    for (size_t i = 0; rc == 0 && i < c->n_regions; i++)
        rc = inventory(&h, regions, &c->regions[i], err);
    for (size_t i = 0; rc == 0 && i < q->n_legacy; i++)
        rc = legacy(&h, c, &q->legacy[i], q->legacy_table, err);
    if (rc != 0)
        goto out;
    doc = report_doc_new("residency", "Data residency");
    if (doc == NULL || build(doc, violations, &h, c, regions) != 0) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    *out = doc;
    doc = NULL;
out:
    json_decref(doc);
    json_decref(regions);
    free(h.v);
    warden_cluster_free(c);
    return rc;
}
