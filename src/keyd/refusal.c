/* Refusals: requests keyd answers without a Cedar decision are logged too, so that the log
 * shows every attempt, not only the ones that reached the policy engine.
 *
 * Two kinds (docs/audit-entry.md, type "refusal", decision "refused"):
 *  - a request that decoded but could not be decided (unknown user, a principal that is
 *    not Cedar text, a store error while reading the owner): logged with the request's
 *    validated fields and the reason, then answered with an ERROR carrying the log index.
 *    Fail closed: if that append fails the caller answers "unavailable" instead.
 *  - a protocol violation (bad frame header, a payload that is not the listed fields): the
 *    connection closes as before; the entry holds only what keyd itself computed (peer
 *    uid/pid, message type, length, a fixed category), never bytes of the payload, which
 *    could carry a document's plaintext. These are rate limited globally (a token bucket)
 *    so that a peer reconnecting in a loop cannot flood the log; suppressed ones are
 *    counted in the next entry that is written. */
#include "keyd/keyd_internal.h"
#include "keyd/protocol.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define VIOLATION_BURST 10.0 /* entries */
#define VIOLATION_RATE 1.0   /* entries per second, refilled */

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Adds key: value to o when value is not NULL. */
static int set_opt(json_t *o, const char *key, const char *value)
{
    return value == NULL ? 0 : json_object_set_new(o, key, json_string(value));
}

static json_t *request_entry(warden_keyd *k, const keyd_pset *p, uint16_t type, const json_t *body,
                             int code, const char *reason)
{
    char t[32];
    keyd_audit_time(t);
    const json_t *ctx = json_object_get(body, "context");
    bool reg = type == KEYD_MSG_REGISTER;
    json_t *e = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "v", 1, "type", "refusal",
                          "time", t, "region", k->cfg.region, "policy_set", p->hash, "decision",
                          "refused", "code", code, "reason", reason);
    json_t *res = json_object();
    int bad = e == NULL || res == NULL;
    if (!bad) {
        const char *user = str(body, "user");
        if (reg)
            bad |= set_opt(res, "type", "Region") | set_opt(res, "id", k->cfg.region) |
                   set_opt(res, "jurisdiction", str(body, "jurisdiction"));
        else
            bad |= set_opt(res, "type", str(body, "collection") != NULL ? "Record" : "User") |
                   set_opt(res, "collection", str(body, "collection")) |
                   set_opt(res, "record", str(body, "id"));
        bad |= set_opt(res, "owner", user);
        bad |= set_opt(e, "request_id", str(body, "request_id")) |
               set_opt(e, "principal", str(body, "principal")) |
               set_opt(e, "action", reg ? "store" : str(body, "action")) |
               set_opt(e, "source", str(ctx, "source_ip")) |
               set_opt(e, "location", str(ctx, "location")) |
               set_opt(e, "purpose", str(ctx, "purpose"));
        bad |= json_object_set(e, "resource", res);
    }
    json_decref(res);
    if (bad) {
        json_decref(e);
        return NULL;
    }
    return e;
}

int keyd_refusal_log(json_t **answer, warden_keyd *k, uint16_t type, const json_t *body, int code,
                     warden_err *err)
{
    /* err holds why the request could not be decided; keep it for the ERROR reply. */
    warden_err why;
    if (err != NULL)
        why = *err;
    else
        warden_err_set(&why, code, "%s", warden_strerror(code));
    keyd_pset *p = keyd_pset_acquire(k);
    json_t *e = request_entry(k, p, type, body, code, why.msg);
    uint64_t index = 0;
    int rc = e == NULL ? warden_err_set(err, WARDEN_ENOMEM, "out of memory")
                       : keyd_audit_append(&index, k, e, err);
    json_decref(e);
    keyd_pset_put(p, k);
    *answer = NULL;
    if (rc != 0)
        return rc == WARDEN_EIO
                   ? rc
                   : warden_err_set(err, WARDEN_EIO, "refusal not logged: %s", warden_strerror(rc));
    *answer = json_pack("{s:s, s:I}", "decision", "refused", "log_index", (json_int_t)index);
    if (err != NULL)
        *err = why;
    return code;
}

/* The token bucket shared by every connection. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static double g_tokens = VIOLATION_BURST;
static struct timespec g_last;
static uint64_t g_suppressed;

/* Takes a token if one is left; else counts the violation as suppressed. On success
 * *suppressed is the number dropped since the last entry written. */
static bool take_token(uint64_t *suppressed)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&g_mu);
    if (g_last.tv_sec != 0 || g_last.tv_nsec != 0) {
        double dt = (double)(now.tv_sec - g_last.tv_sec) + (now.tv_nsec - g_last.tv_nsec) / 1e9;
        g_tokens += dt * VIOLATION_RATE;
        if (g_tokens > VIOLATION_BURST)
            g_tokens = VIOLATION_BURST;
    }
    g_last = now;
    bool ok = g_tokens >= 1.0;
    if (ok) {
        g_tokens -= 1.0;
        *suppressed = g_suppressed;
        g_suppressed = 0;
    } else {
        g_suppressed++;
    }
    pthread_mutex_unlock(&g_mu);
    return ok;
}

void keyd_violation_log(warden_keyd *k, const warden_keyd_peer *peer,
                        const uint8_t header[KEYD_FRAME_HEADER], int code, const char *category)
{
    uint64_t suppressed = 0, index = 0;
    if (!take_token(&suppressed))
        return;
    /* The header's numbers as sent, read by hand: the decoder refused them. */
    uint32_t len = (uint32_t)header[0] << 24 | (uint32_t)header[1] << 16 |
                   (uint32_t)header[2] << 8 | header[3];
    uint16_t type = (uint16_t)(header[4] << 8 | header[5]);
    char t[32];
    keyd_audit_time(t);
    const keyd_msg_spec *spec = keyd_msg_lookup(type);
    keyd_pset *p = keyd_pset_acquire(k);
    warden_err err;
    json_t *e = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:{s:I, s:I}, s:I, s:I, s:I}",
                          "v", 1, "type", "refusal", "time", t, "region", k->cfg.region,
                          "policy_set", p->hash, "decision", "refused", "code", code, "reason",
                          category, "peer", "uid", (json_int_t)peer->uid, "pid",
                          (json_int_t)peer->pid, "message_type", (json_int_t)type, "payload_bytes",
                          (json_int_t)len, "suppressed", (json_int_t)suppressed);
    if (e != NULL && spec != NULL)
        (void)json_object_set_new(e, "message", json_string(spec->name));
    int rc = e == NULL ? warden_err_set(&err, WARDEN_ENOMEM, "out of memory")
                       : keyd_audit_append(&index, k, e, &err);
    json_decref(e);
    keyd_pset_put(p, k);
    /* The connection closes whatever happens here; a failed append only loses this note. */
    if (rc != 0)
        fprintf(stderr, "keyd: protocol violation not logged: %s\n", err.msg);
    else
        fprintf(stderr, "keyd: protocol violation logged at index %llu\n",
                (unsigned long long)index);
}
