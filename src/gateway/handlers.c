/* The /v1 API: every data request becomes keyd requests over the unix socket; the gateway
 * holds no key and decides nothing itself except who is calling (token), from where (source
 * address) and whether this region may serve them at all (residency: an end user whose
 * jurisdiction this region may not hold is sent home with 307 before keyd is asked). */
#include "gateway/gateway_internal.h"

#include <stdio.h>
#include <string.h>

/* The purpose recorded for an end user's own requests. */
#define GW_SELF_PURPOSE "self-service"

static bool is_me(const gw_route *r)
{
    return r->kind == GW_R_ME_RECORD || r->kind == GW_R_ME_EXPORT;
}

/* Warden-Purpose: printable ASCII without quotes or backslashes, 1..256 bytes (keyd's rule). */
static bool purpose_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 256)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '"' || p[i] == '\\')
            return false;
    return true;
}

enum MHD_Result gw_precheck_v1(warden_gateway *g, struct MHD_Connection *c, gw_req *q)
{
    warden_err err;
    int rc = gw_authenticate(&q->claims, g, c, &err);
    if (rc == WARDEN_ENOMEM)
        return gw_respond_error(c, q, 503, "unavailable", "out of memory");
    if (rc != 0)
        return gw_respond_error_hdr(c, q, 401, "unauthenticated", err.msg, "WWW-Authenticate",
                                    "Bearer realm=\"warden\", error=\"invalid_token\"");
    bool me = is_me(&q->route);
    if (me && q->claims.kind != WARDEN_TOKEN_USER)
        return gw_respond_error(c, q, 403, "denied", "/v1/me takes an end user's token");
    if (!me && q->claims.kind != WARDEN_TOKEN_EMPLOYEE)
        return gw_respond_error(c, q, 403, "denied", "/v1/users takes an employee's token");
    if (!me) {
        const char *p = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Warden-Purpose");
        if (p == NULL)
            return gw_respond_error(c, q, 400, "invalid",
                                    "missing Warden-Purpose header: employees must declare why");
        if (!purpose_ok(p))
            return gw_respond_error(c, q, 400, "invalid",
                                    "Warden-Purpose must be 1..256 printable ASCII characters "
                                    "without quotes or backslashes");
        return MHD_YES;
    }
    /* Residency: never read or write locally what this region may not hold. */
    if (warden_cluster_region_holds(g->region, q->claims.jur))
        return MHD_YES;
    const warden_cluster_region *home = warden_cluster_home(g->cluster, q->claims.jur);
    if (home == NULL)
        return gw_respond_error(c, q, 403, "residency",
                                "no region of this cluster may hold your jurisdiction's data");
    warden_buf loc;
    warden_buf_init(&loc);
    if (warden_buf_puts(&loc, home->url) != 0 || warden_buf_append(&loc, q->uri, q->uri_len) != 0 ||
        warden_buf_cstr(&loc) != 0) {
        warden_buf_fini(&loc);
        return gw_respond_error(c, q, 503, "unavailable", "out of memory");
    }
    char msg[256];
    snprintf(msg, sizeof msg, "data of jurisdiction %s is served by region %s", q->claims.jur,
             home->name);
    atomic_fetch_add_explicit(&g->metrics.redirects, 1, memory_order_relaxed);
    enum MHD_Result r =
        gw_respond_error_hdr(c, q, 307, "redirect", msg, "Location", (const char *)loc.p);
    warden_buf_fini(&loc);
    return r;
}

/* The request body JSON keyd gets for this route (without "document"). */
static json_t *keyd_body(const warden_gateway *g, const gw_req *q, const char *action,
                         const char *purpose)
{
    (void)g;
    bool me = is_me(&q->route);
    char principal[WARDEN_TOKEN_SUB_MAX + 16];
    snprintf(principal, sizeof principal, "%s::\"%s\"", me ? "User" : "Employee", q->claims.sub);
    json_t *b = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "request_id", q->request_id,
                          "principal", principal, "user", me ? q->claims.sub : q->route.user,
                          "context", "source_ip", q->caller.source_ip, "location",
                          q->caller.country, "site", q->caller.site, "purpose", purpose);
    if (b == NULL)
        return NULL;
    if (action == NULL) /* REGISTER */
        return b;
    int bad = json_object_set_new(b, "action", json_string(action));
    if (q->route.kind == GW_R_ME_RECORD || q->route.kind == GW_R_USER_RECORD) {
        bad |= json_object_set_new(b, "collection", json_string(q->route.collection));
        bad |= json_object_set_new(b, "id", json_string(q->route.id));
    }
    if (bad != 0) {
        json_decref(b);
        return NULL;
    }
    return b;
}

/* Turns keyd's reply into the HTTP answer. */
static enum MHD_Result relay(warden_gateway *g, struct MHD_Connection *c, gw_req *q, int rc,
                             json_t *reply, int is_error, const warden_err *err)
{
    char msg[WARDEN_ERR_MAX + 128];
    if (rc != 0) {
        atomic_fetch_add_explicit(&g->metrics.keyd_failures, 1, memory_order_relaxed);
        json_decref(reply);
        snprintf(msg, sizeof msg, "the custodian (keyd) is unavailable: %s", err->msg);
        return gw_respond_error(c, q, 503, "unavailable", msg);
    }
    if (is_error) {
        const char *kind = json_string_value(json_object_get(reply, "kind"));
        const char *why = json_string_value(json_object_get(reply, "error"));
        gw_status st = gw_status_for_keyd_kind(kind);
        if (st.status == 404 && !is_me(&q->route))
            snprintf(msg, sizeof msg, "user %s is not held in region %s (%s)", q->route.user,
                     g->region->name, why != NULL ? why : "unknown user");
        else if (st.status == 404)
            snprintf(msg, sizeof msg, "you have no data in region %s", g->region->name);
        else
            snprintf(msg, sizeof msg, "keyd refused the request: %s", why != NULL ? why : "?");
        /* keyd logs refusals it cannot decide: say where (log_index, decision "refused") */
        json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "error", msg, "kind", st.kind, "request_id",
                              q->request_id, "region", g->region->name);
        const char *keep[] = {"log_index", "decision", "policy_set"};
        for (size_t i = 0; o != NULL && i < sizeof keep / sizeof keep[0]; i++)
            if (json_object_get(reply, keep[i]) != NULL)
                (void)json_object_set(o, keep[i], json_object_get(reply, keep[i]));
        json_decref(reply);
        if (o == NULL)
            return gw_respond_error(c, q, 503, "unavailable", "out of memory");
        return gw_respond_json(c, q, st.status, o);
    }
    const char *decision = json_string_value(json_object_get(reply, "decision"));
    const char *outcome = json_string_value(json_object_get(reply, "outcome"));
    gw_metrics_decision(&g->metrics, decision, outcome);
    unsigned status = 200;
    const char *kind = NULL, *text = NULL;
    if (decision == NULL || strcmp(decision, "deny") == 0) {
        status = 403, kind = "denied", text = "denied by policy; the decision is logged";
    } else if (outcome != NULL && strcmp(outcome, "not_found") == 0) {
        status = 404, kind = "not_found", text = "no such record";
    } else if (outcome != NULL && strcmp(outcome, "key_destroyed") == 0) {
        status = 410, kind = "key_destroyed",
        text = "this user's data key was destroyed (crypto-shredded): the data can never be "
               "read again";
    }
    if (kind == NULL) {
        /* The common case, a 200: keyd's answer text as it came (jansson has just parsed it:
         * one object, no duplicate key) with the region added in front, instead of dumping
         * the parsed copy again. */
        const warden_buf *t = &q->keyd_payload;
        if (t->len > 2 && t->p[0] == '{' && t->p[1] == '"' &&
            json_object_get(reply, "region") == NULL) {
            warden_buf out;
            warden_buf_init(&out);
            json_decref(reply);
            /* region names are [A-Za-z0-9_.-] (cluster.c): nothing to escape */
            if (warden_buf_reserve(&out, t->len + 80) != 0 ||
                warden_buf_printf(&out, "{\"region\":\"%s\",", g->region->name) != 0 ||
                warden_buf_append(&out, t->p + 1, t->len - 1) != 0 || warden_buf_cstr(&out) != 0) {
                warden_buf_fini_wipe(&out);
                return gw_respond_error(c, q, 503, "unavailable", "out of memory");
            }
            return gw_respond_json_text(c, q, status, (char *)out.p, out.len);
        }
    }
    int bad = json_object_set_new(reply, "region", json_string(g->region->name));
    if (kind != NULL) {
        bad |= json_object_set_new(reply, "error", json_string(text));
        bad |= json_object_set_new(reply, "kind", json_string(kind));
    }
    if (bad != 0) {
        json_decref(reply);
        return gw_respond_error(c, q, 503, "unavailable", "out of memory");
    }
    return gw_respond_json(c, q, status, reply);
}

/* Which keyd request of a route's sequence is in flight (gw_req.step). */
enum {
    STEP_ACCESS = 1, /* the one ACCESS of a read, delete or export */
    STEP_PUT_WRITE,  /* a PUT's write */
    STEP_PUT_REGISTER,
    STEP_PUT_WRITE_AGAIN, /* the write after registering */
    STEP_READYZ,
};

/* The keyd client's I/O thread: the answer is in. Resuming is the last touch of q, since the
 * connection's thread may then run (and free q) at once. */
static void keyd_done(void *arg, int rc, uint16_t type, warden_buf *payload, const warden_err *err)
{
    gw_req *q = arg;
    struct MHD_Connection *c = q->conn;
    q->keyd_rc = rc;
    q->keyd_type = type;
    if (payload != NULL) { /* decoded by the connection's thread (gw_continue) */
        q->keyd_payload = *payload;
        warden_buf_init(payload);
    }
    if (rc != 0)
        q->keyd_err = *err;
    MHD_resume_connection(c);
}

/* Sends body (borrowed) to keyd and suspends the connection until the answer is in, so this
 * thread serves other connections meanwhile; gw_continue takes it from there. */
static enum MHD_Result ask_keyd(warden_gateway *g, struct MHD_Connection *c, gw_req *q,
                                uint16_t type, const json_t *body, unsigned step)
{
    warden_err err;
    q->conn = c;
    q->step = step;
    q->waiting = true;
    q->keyd_rc = 0;
    warden_buf_fini_wipe(&q->keyd_payload);
    warden_buf_init(&q->keyd_payload);
    MHD_suspend_connection(c);
    int rc = warden_keyd_client_submit(g->keyd, type, body, keyd_done, q, &err);
    if (rc != 0) { /* keyd_done will not run: answer the failure on the next call */
        q->keyd_rc = rc;
        q->keyd_err = err;
        MHD_resume_connection(c);
    }
    return MHD_YES;
}

/* PUT /v1/me/...: the document, then (for a user keyd does not know yet) REGISTER with the
 * token's jurisdiction, then the write again (gw_continue). */
static enum MHD_Result put_record(warden_gateway *g, struct MHD_Connection *c, gw_req *q)
{
    json_error_t jerr;
    char msg[256];
    json_t *doc = json_loadb((const char *)q->body.p, q->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        snprintf(msg, sizeof msg, "body:%d:%d: %s", jerr.line, jerr.column, jerr.text);
        return gw_respond_error(c, q, 400, "invalid", msg);
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        return gw_respond_error(c, q, 400, "invalid", "body must be a JSON object");
    }
    json_t *body = keyd_body(g, q, "write", GW_SELF_PURPOSE);
    if (body == NULL || json_object_set_new(body, "document", doc) != 0) {
        json_decref(body);
        return gw_respond_error(c, q, 503, "unavailable", "out of memory");
    }
    q->put_body = body; /* freed with q */
    return ask_keyd(g, c, q, WARDEN_KEYD_MSG_ACCESS, body, STEP_PUT_WRITE);
}

static enum MHD_Result readyz_answer(warden_gateway *g, struct MHD_Connection *c, gw_req *q,
                                     int rc, json_t *reply, int is_error)
{
    if (rc != 0 || is_error) {
        json_decref(reply);
        atomic_fetch_add_explicit(&g->metrics.keyd_failures, 1, memory_order_relaxed);
        return gw_respond_error(c, q, 503, "unavailable",
                                rc != 0 ? q->keyd_err.msg : "keyd answered STATUS with an error");
    }
    json_t *o = json_pack("{s:s, s:s, s:O, s:O}", "status", "ready", "region", g->region->name,
                          "policy_set", json_object_get(reply, "policy_set"), "log_size",
                          json_object_get(reply, "log_size"));
    json_decref(reply);
    if (o == NULL)
        return gw_respond_error(c, q, 503, "unavailable", "keyd STATUS lacks fields");
    return gw_respond_json(c, q, 200, o);
}

enum MHD_Result gw_continue(warden_gateway *g, struct MHD_Connection *c, gw_req *q)
{
    json_t *reply = NULL;
    int rc = q->keyd_rc, is_error = 0;
    q->waiting = false;
    if (rc == 0)
        rc = warden_keyd_reply_decode(&reply, &is_error, q->keyd_type, q->keyd_payload.p,
                                      q->keyd_payload.len, &q->keyd_err);
    switch (q->step) {
    case STEP_READYZ:
        return readyz_answer(g, c, q, rc, reply, is_error);
    case STEP_PUT_WRITE:
        if (rc == 0 && is_error &&
            gw_status_for_keyd_kind(json_string_value(json_object_get(reply, "kind"))).status ==
                404) {
            json_decref(reply);
            json_t *reg = keyd_body(g, q, NULL, GW_SELF_PURPOSE);
            if (reg == NULL ||
                json_object_set_new(reg, "jurisdiction", json_string(q->claims.jur)) != 0) {
                json_decref(reg);
                return gw_respond_error(c, q, 503, "unavailable", "out of memory");
            }
            enum MHD_Result r =
                ask_keyd(g, c, q, WARDEN_KEYD_MSG_REGISTER, reg, STEP_PUT_REGISTER);
            json_decref(reg);
            return r;
        }
        break;
    case STEP_PUT_REGISTER: {
        const char *d =
            rc == 0 && !is_error ? json_string_value(json_object_get(reply, "decision")) : NULL;
        if (d != NULL && strcmp(d, "allow") == 0) { /* registered (or raced): write again */
            json_decref(reply);
            return ask_keyd(g, c, q, WARDEN_KEYD_MSG_ACCESS, q->put_body, STEP_PUT_WRITE_AGAIN);
        }
        break;
    }
    default:
        break;
    }
    return relay(g, c, q, rc, reply, is_error, &q->keyd_err);
}

enum MHD_Result gw_handle_v1(warden_gateway *g, struct MHD_Connection *c, gw_req *q)
{
    const gw_route *r = &q->route;
    const char *action = NULL;
    if (r->kind == GW_R_ME_EXPORT || r->kind == GW_R_USER_EXPORT)
        action = "export";
    else if (r->method == GW_M_PUT)
        return put_record(g, c, q);
    else if (r->method == GW_M_DELETE)
        action = "delete";
    else
        action = "read";
    const char *purpose = GW_SELF_PURPOSE;
    if (!is_me(r))
        purpose = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Warden-Purpose");
    json_t *body = keyd_body(g, q, action, purpose != NULL ? purpose : GW_SELF_PURPOSE);
    if (body == NULL)
        return gw_respond_error(c, q, 503, "unavailable", "out of memory");
    enum MHD_Result res = ask_keyd(g, c, q, WARDEN_KEYD_MSG_ACCESS, body, STEP_ACCESS);
    json_decref(body);
    return res;
}

enum MHD_Result gw_handle_readyz(warden_gateway *g, struct MHD_Connection *c, gw_req *q)
{
    return ask_keyd(g, c, q, WARDEN_KEYD_MSG_STATUS, NULL, STEP_READYZ);
}
