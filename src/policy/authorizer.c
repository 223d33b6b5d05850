/* The authorizer: policy sets with a scope index, and decisions (see policy.h).
 *
 * Index: each policy is filed under exactly one key kind, chosen by the most selective
 * scope it has: its principal entity (== / in / is-in), else its resource entity, else its
 * action entity or entities, else the "unindexed" list. A policy scoped `principal in G`
 * can only match a principal that is G or has G as an ancestor, so a decision visits the
 * buckets of the principal and of each of its ancestors (likewise resource and action)
 * plus the unindexed list, and evaluates only those candidates. Each candidate is then
 * checked in full (scope and conditions), so the index only has to be complete, never
 * exact. Policies filed under several action keys are deduplicated with a per-decision
 * stamp. Evaluation order cannot change a decision: results are sets. */
#include "policy/eval.h"
#include "policy/parser.h"
#include "policy/request.h"
#include "warden/policy.h"

#include <stdlib.h>
#include <string.h>

typedef struct cpol {
    const cedar_policy *p;
    cedar_uid pe, ae, re; /* scope entities (EQ, IN, IS_IN) */
    cedar_uid *aset;      /* action IN_SET */
    uint32_t n_aset;
} cpol;

typedef struct ix_entry {
    cedar_uid key; /* strings borrowed from the policy set */
    uint32_t *items;
    uint32_t n, cap;
    bool used;
} ix_entry;

typedef struct ix_map {
    ix_entry *slots;
    size_t cap, n;
} ix_map;

struct warden_policies {
    cedar_pset *set;
    cedar_varena consts; /* folded constants hung on cedar_expr.aux: lives with the set */
    cedar_varena ixa;    /* index data, rebuilt on every change */
    cpol *pols;
    size_t n_pols;
    ix_map by_principal, by_resource, by_action;
    uint32_t *unindexed;
    size_t n_unindexed;
};

struct warden_authz {
    cedar_varena arena;
    uint32_t *stamps;
    size_t n_stamps;
    uint32_t stamp;
    const char **permits, **forbids;
    size_t n_permits, n_forbids, cap_permits, cap_forbids;
    warden_policy_error *errors;
    size_t n_errors, cap_errors;
};

/* ---- index ---- */

static void ix_free(ix_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].items);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static ix_entry *ix_find(const ix_map *m, const cedar_uid *k)
{
    if (m->cap == 0)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t s = (size_t)k->hash & mask;; s = (s + 1) & mask) {
        ix_entry *e = &m->slots[s];
        if (!e->used)
            return NULL;
        if (cedar_uid_eq(&e->key, k))
            return e;
    }
}

static int ix_add(ix_map *m, const cedar_uid *k, uint32_t idx)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        ix_entry *ns = calloc(ncap, sizeof *ns);
        if (ns == NULL)
            return WARDEN_ENOMEM;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->slots[i].used)
                continue;
            size_t s = (size_t)m->slots[i].key.hash & (ncap - 1);
            while (ns[s].used)
                s = (s + 1) & (ncap - 1);
            ns[s] = m->slots[i];
        }
        free(m->slots);
        m->slots = ns;
        m->cap = ncap;
    }
    size_t mask = m->cap - 1, s = (size_t)k->hash & mask;
    while (m->slots[s].used && !cedar_uid_eq(&m->slots[s].key, k))
        s = (s + 1) & mask;
    ix_entry *e = &m->slots[s];
    if (!e->used) {
        e->used = true;
        e->key = *k;
        m->n++;
    }
    if (e->n == e->cap) {
        uint32_t ncap = e->cap ? e->cap * 2 : 4;
        uint32_t *ni = realloc(e->items, ncap * sizeof *ni);
        if (ni == NULL)
            return WARDEN_ENOMEM;
        e->items = ni;
        e->cap = ncap;
    }
    e->items[e->n++] = idx;
    return 0;
}

static bool has_entity(const cedar_scope *s)
{
    return !s->slot &&
           (s->op == CEDAR_SCOPE_EQ || s->op == CEDAR_SCOPE_IN || s->op == CEDAR_SCOPE_IS_IN);
}

static void index_clear(warden_policies *ps)
{
    ix_free(&ps->by_principal);
    ix_free(&ps->by_resource);
    ix_free(&ps->by_action);
    free(ps->pols);
    free(ps->unindexed);
    ps->pols = NULL;
    ps->unindexed = NULL;
    ps->n_pols = ps->n_unindexed = 0;
    cedar_varena_reset(&ps->ixa);
}

static int rebuild(warden_policies *ps, warden_err *err)
{
    index_clear(ps);
    size_t n = ps->set->n_policies;
    ps->pols = calloc(n ? n : 1, sizeof *ps->pols);
    ps->unindexed = calloc(n ? n : 1, sizeof *ps->unindexed);
    if (ps->pols == NULL || ps->unindexed == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const cedar_policy *p = ps->set->policies[i];
        cpol *c = &ps->pols[i];
        c->p = p;
        for (uint32_t k = 0; k < p->n_conds; k++) {
            int rc = cedar_eval_prepare(p->conds[k].expr, &ps->consts, err);
            if (rc != 0)
                return rc;
        }
        if (has_entity(&p->principal))
            cedar_uid_from_euid(&c->pe, &p->principal.entity);
        if (has_entity(&p->resource))
            cedar_uid_from_euid(&c->re, &p->resource.entity);
        if (has_entity(&p->action))
            cedar_uid_from_euid(&c->ae, &p->action.entity);
        if (p->action.op == CEDAR_SCOPE_IN_SET) {
            c->n_aset = p->action.n_set;
            c->aset = cedar_varena_alloc(&ps->ixa, (c->n_aset ? c->n_aset : 1) * sizeof *c->aset);
            if (c->aset == NULL)
                return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            for (uint32_t k = 0; k < c->n_aset; k++)
                cedar_uid_from_euid(&c->aset[k], &p->action.set[k]);
        }
        int rc = 0;
        if (has_entity(&p->principal)) {
            rc = ix_add(&ps->by_principal, &c->pe, (uint32_t)i);
        } else if (has_entity(&p->resource)) {
            rc = ix_add(&ps->by_resource, &c->re, (uint32_t)i);
        } else if (has_entity(&p->action)) {
            rc = ix_add(&ps->by_action, &c->ae, (uint32_t)i);
        } else if (p->action.op == CEDAR_SCOPE_IN_SET) {
            /* `action in []` matches nothing: it is filed nowhere. */
            for (uint32_t k = 0; k < c->n_aset && rc == 0; k++)
                rc = ix_add(&ps->by_action, &c->aset[k], (uint32_t)i);
        } else {
            ps->unindexed[ps->n_unindexed++] = (uint32_t)i;
        }
        if (rc != 0)
            return warden_err_set(err, rc, "out of memory");
    }
    ps->n_pols = n;
    return 0;
}

/* ---- policy sets ---- */

int warden_policies_new(warden_policies **out, warden_err *err)
{
    *out = NULL;
    warden_policies *ps = calloc(1, sizeof *ps);
    if (ps == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    cedar_varena_init(&ps->consts, 0);
    cedar_varena_init(&ps->ixa, 0);
    int rc = warden_policy_set_new(&ps->set, err);
    if (rc != 0) {
        warden_policies_free(ps);
        return rc;
    }
    *out = ps;
    return 0;
}

void warden_policies_free(warden_policies *ps)
{
    if (ps == NULL)
        return;
    index_clear(ps);
    cedar_varena_fini(&ps->consts);
    cedar_varena_fini(&ps->ixa);
    warden_policy_set_free(ps->set);
    free(ps);
}

int warden_policies_add_text(warden_policies *ps, const char *file, const char *text, size_t len,
                             warden_err *err)
{
    int rc = warden_policy_set_parse(ps->set, file, (const uint8_t *)text, len, err);
    if (rc != 0)
        return rc;
    return rebuild(ps, err);
}

size_t warden_policies_count(const warden_policies *ps)
{
    return ps ? ps->set->n_policies : 0;
}

/* One link in cedar-wasm's templateLinks format, as strictly as cedar-wasm reads it:
 * exactly the fields templateId, newId and values; slot values are entity reference
 * objects ({"type","id"} or {"__entity":..}), not Type::"id" text. */
static int link_one(warden_policies *ps, const json_t *l, size_t idx, cedar_varena *tmp,
                    warden_err *err)
{
    char what[64];
    snprintf(what, sizeof what, "link #%zu", idx);
    if (!json_is_object(l))
        return warden_err_set(err, WARDEN_EINVAL,
                              "%s: expected {\"templateId\": .., \"newId\": .., \"values\": {..}}",
                              what);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)l, key, v)
    {
        if (strcmp(key, "templateId") != 0 && strcmp(key, "newId") != 0 &&
            strcmp(key, "values") != 0)
            return warden_err_set(err, WARDEN_EINVAL, "%s: unknown field \"%s\"", what, key);
    }
    const json_t *tid = json_object_get(l, "templateId"), *nid = json_object_get(l, "newId");
    const json_t *vals = json_object_get(l, "values");
    if (!json_is_string(tid) || !json_is_string(nid))
        return warden_err_set(err, WARDEN_EINVAL,
                              "%s: \"templateId\" and \"newId\" must be strings", what);
    if (!json_is_object(vals))
        return warden_err_set(err, WARDEN_EINVAL, "%s: \"values\" must be an object", what);
    cedar_uid u[2];
    cedar_euid e[2];
    bool have[2] = {false, false};
    json_object_foreach((json_t *)vals, key, v)
    {
        int which = strcmp(key, "?principal") == 0 ? 0 : strcmp(key, "?resource") == 0 ? 1 : -1;
        if (which < 0)
            return warden_err_set(err, WARDEN_EINVAL, "%s: unknown slot \"%s\"", what, key);
        int rc = cedar_json_to_uid(&u[which], v, tmp, false, what, err);
        if (rc != 0)
            return rc;
        e[which].type = &u[which].type;
        e[which].id = &u[which].id;
        have[which] = true;
    }
    int rc = warden_policy_set_link(NULL, ps->set, json_string_value(tid), json_string_length(tid),
                                    json_string_value(nid), json_string_length(nid),
                                    have[0] ? &e[0] : NULL, have[1] ? &e[1] : NULL, err);
    if (rc != 0)
        return warden_err_prefix(err, "%s", what);
    return 0;
}

int warden_policies_link_json(warden_policies *ps, const char *file, const char *json, size_t len,
                              warden_err *err)
{
    json_error_t je;
    cedar_varena tmp;
    cedar_varena_init(&tmp, 0);
    int rc = 0;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        rc = warden_err_set(err, WARDEN_EPARSE, "%s:%d:%d: %s", file, je.line, je.column, je.text);
        goto out;
    }
    if (!json_is_array(root)) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: expected a JSON array of links", file);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(root); i++) {
        rc = link_one(ps, json_array_get(root, i), i, &tmp, err);
        if (rc != 0) {
            warden_err_prefix(err, "%s", file);
            break;
        }
    }
    /* Links applied before an error stay, so the index must cover them either way. */
    warden_err lerr;
    int rc2 = rebuild(ps, &lerr);
    if (rc == 0 && rc2 != 0) {
        rc = rc2;
        *err = lerr;
    }
out:
    json_decref(root);
    cedar_varena_fini(&tmp);
    return rc;
}

/* ---- decisions ---- */

int warden_authz_new(warden_authz **out, warden_err *err)
{
    *out = calloc(1, sizeof **out);
    if (*out == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    cedar_varena_init(&(*out)->arena, 0);
    return 0;
}

void warden_authz_free(warden_authz *z)
{
    if (z == NULL)
        return;
    cedar_varena_fini(&z->arena);
    free(z->stamps);
    free(z->permits);
    free(z->forbids);
    free(z->errors);
    free(z);
}

static int push_id(const char ***arr, size_t *n, size_t *cap, const char *id)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        const char **na = realloc((void *)*arr, ncap * sizeof *na);
        if (na == NULL)
            return WARDEN_ENOMEM;
        *arr = na;
        *cap = ncap;
    }
    (*arr)[(*n)++] = id;
    return 0;
}

static bool scope_match(const cedar_scope *s, const cedar_uid *se, const cedar_uid *aset,
                        uint32_t n_aset, const cedar_uid *x, const cedar_entity *xe)
{
    switch (s->op) {
    case CEDAR_SCOPE_ANY:
        return true;
    case CEDAR_SCOPE_EQ:
        return cedar_uid_eq(x, se);
    case CEDAR_SCOPE_IS_IN:
        if (!cedar_str_eq(&x->type, s->is_type))
            return false;
        /* fall through */
    case CEDAR_SCOPE_IN:
        return cedar_uid_eq(x, se) || (xe != NULL && cedar_entity_has_ancestor(xe, se));
    case CEDAR_SCOPE_IS:
        return cedar_str_eq(&x->type, s->is_type);
    case CEDAR_SCOPE_IN_SET:
        for (uint32_t i = 0; i < n_aset; i++)
            if (cedar_uid_eq(x, &aset[i]) ||
                (xe != NULL && cedar_entity_has_ancestor(xe, &aset[i])))
                return true;
        return false;
    }
    return false;
}

typedef struct decide {
    warden_authz *z;
    const warden_policies *ps;
    cedar_evctx ctx;
    const cedar_entity *pe, *ae, *re;
    int rc;
} decide;

static void consider(decide *d, uint32_t idx)
{
    warden_authz *z = d->z;
    if (z->stamps[idx] == z->stamp)
        return;
    z->stamps[idx] = z->stamp;
    const cpol *c = &d->ps->pols[idx];
    const cedar_policy *p = c->p;
    if (!scope_match(&p->principal, &c->pe, NULL, 0, &d->ctx.var[CEDAR_VAR_PRINCIPAL].u.uid[0],
                     d->pe) ||
        !scope_match(&p->action, &c->ae, c->aset, c->n_aset, d->ctx.var[CEDAR_VAR_ACTION].u.uid,
                     d->ae) ||
        !scope_match(&p->resource, &c->re, NULL, 0, d->ctx.var[CEDAR_VAR_RESOURCE].u.uid, d->re))
        return;
    for (uint32_t k = 0; k < p->n_conds; k++) {
        cedar_value v;
        const char *msg = NULL;
        if (cedar_eval(&v, p->conds[k].expr, &d->ctx) != 0) {
            msg = d->ctx.msg;
        } else if (v.kind != CEDAR_V_BOOL) {
            snprintf(d->ctx.msg, sizeof d->ctx.msg, "type error: expected bool, got %s",
                     cedar_kind_name(v.kind));
            msg = d->ctx.msg;
        }
        if (msg != NULL) {
            if (z->n_errors == z->cap_errors) {
                size_t ncap = z->cap_errors ? z->cap_errors * 2 : 16;
                warden_policy_error *ne = realloc(z->errors, ncap * sizeof *ne);
                if (ne == NULL) {
                    d->rc = WARDEN_ENOMEM;
                    return;
                }
                z->errors = ne;
                z->cap_errors = ncap;
            }
            char *m = cedar_varena_strdup(&z->arena, msg, strlen(msg));
            if (m == NULL) {
                d->rc = WARDEN_ENOMEM;
                return;
            }
            z->errors[z->n_errors].policy = p->id->p;
            z->errors[z->n_errors].message = m;
            z->n_errors++;
            return;
        }
        if (v.u.b == p->conds[k].unless)
            return;
    }
    int rc = p->effect == CEDAR_PERMIT
                 ? push_id(&z->permits, &z->n_permits, &z->cap_permits, p->id->p)
                 : push_id(&z->forbids, &z->n_forbids, &z->cap_forbids, p->id->p);
    if (rc != 0)
        d->rc = rc;
}

static void visit(decide *d, const ix_map *m, const cedar_uid *u, const cedar_entity *e)
{
    const ix_entry *b = ix_find(m, u);
    for (uint32_t i = 0; b != NULL && i < b->n; i++)
        consider(d, b->items[i]);
    for (uint32_t k = 0; e != NULL && k < e->n_anc; k++) {
        b = ix_find(m, e->anc[k]);
        for (uint32_t i = 0; b != NULL && i < b->n; i++)
            consider(d, b->items[i]);
    }
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_err(const void *a, const void *b)
{
    return strcmp(((const warden_policy_error *)a)->policy,
                  ((const warden_policy_error *)b)->policy);
}

int warden_authorize(warden_decision *out, warden_authz *z, const warden_policies *ps,
                     const warden_entities *es, const warden_request *rq, warden_err *err)
{
    memset(out, 0, sizeof *out);
    cedar_varena_reset(&z->arena);
    z->n_permits = z->n_forbids = z->n_errors = 0;
    if (z->n_stamps < ps->n_pols) {
        uint32_t *ns = realloc(z->stamps, ps->n_pols * sizeof *ns);
        if (ns == NULL)
            return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        memset(ns + z->n_stamps, 0, (ps->n_pols - z->n_stamps) * sizeof *ns);
        z->stamps = ns;
        z->n_stamps = ps->n_pols;
    }
    if (++z->stamp == 0) {
        memset(z->stamps, 0, z->n_stamps * sizeof *z->stamps);
        z->stamp = 1;
    }
    static const struct warden_entities empty = {0};
    decide d;
    memset(&d, 0, sizeof d);
    d.z = z;
    d.ps = ps;
    d.ctx.ents = es ? es : &empty;
    d.ctx.arena = &z->arena;
    d.ctx.var[CEDAR_VAR_PRINCIPAL] = (cedar_value){.kind = CEDAR_V_ENTITY, .u.uid = &rq->principal};
    d.ctx.var[CEDAR_VAR_ACTION] = (cedar_value){.kind = CEDAR_V_ENTITY, .u.uid = &rq->action};
    d.ctx.var[CEDAR_VAR_RESOURCE] = (cedar_value){.kind = CEDAR_V_ENTITY, .u.uid = &rq->resource};
    d.ctx.var[CEDAR_VAR_CONTEXT] = rq->context;
    d.pe = cedar_entities_find(d.ctx.ents, &rq->principal);
    d.ae = cedar_entities_find(d.ctx.ents, &rq->action);
    d.re = cedar_entities_find(d.ctx.ents, &rq->resource);
    d.ctx.ent[CEDAR_VAR_PRINCIPAL] = d.pe;
    d.ctx.ent[CEDAR_VAR_ACTION] = d.ae;
    d.ctx.ent[CEDAR_VAR_RESOURCE] = d.re;

    for (size_t i = 0; i < ps->n_unindexed && d.rc == 0; i++)
        consider(&d, ps->unindexed[i]);
    visit(&d, &ps->by_principal, &rq->principal, d.pe);
    visit(&d, &ps->by_resource, &rq->resource, d.re);
    visit(&d, &ps->by_action, &rq->action, d.ae);
    if (d.rc != 0)
        return warden_err_set(err, d.rc, "out of memory while deciding");

    if (z->n_forbids > 0) {
        out->allow = false;
        qsort((void *)z->forbids, z->n_forbids, sizeof *z->forbids, cmp_id);
        out->reasons = z->forbids;
        out->n_reasons = z->n_forbids;
    } else if (z->n_permits > 0) {
        out->allow = true;
        qsort((void *)z->permits, z->n_permits, sizeof *z->permits, cmp_id);
        out->reasons = z->permits;
        out->n_reasons = z->n_permits;
    }
    if (z->n_errors > 1)
        qsort(z->errors, z->n_errors, sizeof *z->errors, cmp_err);
    out->errors = z->errors;
    out->n_errors = z->n_errors;
    return 0;
}
