/* The demo's step runner: sends each step of each chapter (chapters.c), prints what
 * happened and why — the answer, and the region's own log entry for the decision (its data
 * classes, determining policies and their @reason) — and checks it against the step's
 * expectations. */
#include "demo/demo_internal.h"

#include "warden/keyd.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const demo_person *person_find(const char *name)
{
    for (const demo_person *p = demo_people; p->name != NULL; p++)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

int demo_token(warden_buf *out, demo *d, const char *who, warden_err *err)
{
    const demo_person *p = person_find(who);
    warden_token_claims c;
    memset(&c, 0, sizeof c);
    if (p == NULL)
        return warden_err_set(err, WARDEN_EINVAL, "no person %s in the demo", who);
    c.kind = p->kind;
    snprintf(c.sub, sizeof c.sub, "%s", p->name);
    snprintf(c.iss, sizeof c.iss, "%s", d->issuer);
    snprintf(c.aud, sizeof c.aud, "%s", d->audience);
    snprintf(c.jur, sizeof c.jur, "%s", p->jur);
    c.iat = (int64_t)time(NULL);
    c.exp = c.iat + 3600;
    return warden_token_issue(out, &c, d->token_key, err);
}

/* ---- checking ---- */

void demo_expect(demo_check *c, int ok, const char *what, const char *got)
{
    if (ok)
        return;
    c->bad++;
    demo_say(c->d, "     EXPECTED: %s\n     GOT:      %s\n", what, got);
}

static int has_string(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i,
                       v) if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return 1;
    return 0;
}

static void print_short_json(demo *d, const char *label, const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s == NULL)
        return;
    size_t n = strlen(s);
    demo_say(d, "     %-9s %.*s%s\n", label, (int)(n > 150 ? 150 : n), s, n > 150 ? "..." : "");
    free(s);
}

/* Prints each data class's decision and its determining policies (with @reason); returns
 * 1 when want_policy is among them. */
static int explain_entry(demo *d, const json_t *entry, const char *want_policy)
{
    const json_t *classes = json_object_get(entry, "classes");
    const char *cls;
    const json_t *v;
    int found = 0;
    json_object_foreach((json_t *)classes, cls, v)
    {
        const char *dec = json_string_value(json_object_get(v, "decision"));
        const json_t *pol = json_object_get(v, "policies");
        if (json_array_size(pol) == 0) {
            demo_say(d, "     %-9s %s (%s)\n", cls, dec ? dec : "?",
                     dec && strcmp(dec, "deny") == 0 ? "no policy permits it" : "no policy");
            continue;
        }
        size_t i;
        const json_t *p;
        json_array_foreach(pol, i, p)
        {
            const char *id = json_string_value(p);
            if (id == NULL)
                continue;
            const char *name = demo_policy_name(d, id), *why = demo_policy_reason(d, id);
            if (want_policy != NULL && strcmp(name, want_policy) == 0)
                found = 1;
            demo_say(d, "     %-9s %s by %s (%s)%s%s%s\n", i == 0 ? cls : "", dec ? dec : "?", name,
                     id, why ? ": \"" : "", why ? why : "", why ? "\"" : "");
        }
    }
    return found;
}

/* The gateway registers a user (keyd's REGISTER: Cedar action "store" on the region) just
 * before their first write: finds that entry among the few before the write's and shows it. */
static void show_registration(demo *d, demo_region *r, const char *who, uint64_t write_index,
                              demo_check *c)
{
    json_t *e = NULL;
    warden_err err;
    for (uint64_t i = write_index; i > 0 && i + 4 > write_index; i--) {
        if (demo_log_entry(&e, r, i - 1, &err) != 0)
            break;
        const json_t *res = json_object_get(e, "resource");
        const char *action = json_string_value(json_object_get(e, "action"));
        const char *owner = json_string_value(json_object_get(res, "owner"));
        if (action != NULL && strcmp(action, "store") == 0 && owner != NULL &&
            strcmp(owner, who) == 0) {
            demo_say(d, "     registered %s (jurisdiction %s) in %s: log index %llu\n", who,
                     json_string_value(json_object_get(res, "jurisdiction")), r->name,
                     (unsigned long long)(i - 1));
            int found = explain_entry(d, e, "store-where-region-holds");
            const char *dec = json_string_value(json_object_get(e, "decision"));
            demo_expect(c, found && dec != NULL && strcmp(dec, "allow") == 0,
                        "registration allowed by store-where-region-holds", dec ? dec : "?");
            json_decref(e);
            return;
        }
        json_decref(e);
        e = NULL;
    }
    demo_expect(c, 0, "the user's registration entry just before the first write", "not found");
}

static void count(demo_region *r, const char *decision)
{
    if (decision == NULL)
        return;
    /* "refused" (keyd could not decide, e.g. a user the region does not hold) is logged but
     * is no policy decision, so the gateway counts it in neither column either. */
    if (strcmp(decision, "deny") == 0)
        r->denied++;
    else if (strcmp(decision, "allow") == 0 || strcmp(decision, "partial") == 0)
        r->allowed++;
}

static void run_http(demo *d, const demo_step *s, demo_check *c)
{
    const demo_person *p = person_find(s->who);
    demo_region *r = demo_region_find(d, s->region);
    demo_response resp;
    warden_buf tok, url;
    warden_err e;
    json_t *entry = NULL;
    char got[600];
    warden_buf_init(&tok);
    warden_buf_init(&url);
    demo_response_init(&resp);
    if (p == NULL || r == NULL || demo_token(&tok, d, s->who, &e) != 0 ||
        warden_buf_cstr(&tok) != 0 || warden_buf_printf(&url, "%s%s", r->url, s->path) != 0 ||
        warden_buf_cstr(&url) != 0) {
        demo_expect(c, 0, "the request can be prepared",
                    p == NULL || r == NULL ? "bad step" : e.msg);
        goto out;
    }
    const char *from = s->from ? s->from : p->from;
    demo_say(d, "     %s (%s) from %s%s%s: %s %s at %s", p->name, p->desc, from,
             s->xff ? " with X-Forwarded-For: " : "", s->xff ? s->xff : "", s->method, s->path,
             r->name);
    if (s->purpose)
        demo_say(d, ", purpose \"%s\"", s->purpose);
    demo_say(d, "\n");
    demo_request q = {s->method, (const char *)url.p, (const char *)tok.p, from, s->purpose, s->xff,
                      s->body};
    int rc = demo_http(&resp, &q, &e);
    warden_wipe(tok.p, tok.len);
    if (rc != 0) {
        demo_expect(c, 0, "an HTTP answer", e.msg);
        goto out;
    }
    r->requests++;
    if (resp.status == 307) {
        r->redirected++;
        demo_say(d, "  -> 307 Location: %s\n", resp.location);
    }
    const char *dec = json_string_value(json_object_get(resp.json, "decision"));
    const json_t *li = json_object_get(resp.json, "log_index");
    if (json_is_integer(li)) {
        if (demo_log_entry(&entry, r, (uint64_t)json_integer_value(li), &e) != 0)
            demo_expect(c, 0, "the decision's entry in the region's log", e.msg);
        if (dec == NULL && entry != NULL)
            dec = json_string_value(json_object_get(entry, "decision"));
    }
    if (resp.status != 307) {
        demo_say(d, "  -> %ld%s%s", resp.status, dec ? " " : "", dec ? dec : "");
        if (json_is_integer(li))
            demo_say(d, ", log index %lld in %s's log", (long long)json_integer_value(li), r->name);
        demo_say(d, "\n");
        count(r, dec);
    }
    if (s->registers && json_is_integer(li))
        show_registration(d, r, s->who, (uint64_t)json_integer_value(li), c);
    int policy_found = entry != NULL ? explain_entry(d, entry, s->want_policy) : 0;
    const json_t *withheld = json_object_get(resp.json, "withheld");
    if (json_array_size(withheld) > 0)
        print_short_json(d, "withheld", withheld);
    const json_t *recs = json_object_get(resp.json, "records");
    if (json_is_array(recs)) { /* an export: name the records, not their contents */
        size_t i;
        const json_t *rec;
        demo_say(d, "     records  ");
        json_array_foreach(recs, i, rec)
        {
            demo_say(d, " %s/%s", json_string_value(json_object_get(rec, "collection")),
                     json_string_value(json_object_get(rec, "id")));
        }
        demo_say(d, " (%zu)\n", json_array_size(recs));
    }
    if (json_object_get(resp.json, "document") != NULL)
        print_short_json(d, "document", json_object_get(resp.json, "document"));
    else if (resp.status >= 300 && json_string_value(json_object_get(resp.json, "error")) != NULL)
        demo_say(d, "     message   %s\n", json_string_value(json_object_get(resp.json, "error")));
    if (entry != NULL && s->want_location != NULL)
        demo_say(d, "     logged    source %s, location %s, site %s\n",
                 json_string_value(json_object_get(entry, "source")),
                 json_string_value(json_object_get(entry, "location")),
                 json_string_value(json_object_get(entry, "site")));
    demo_say(d, "     why:      %s\n", s->why);

    /* what must have happened */
    snprintf(got, sizeof got, "HTTP %ld", resp.status);
    if (s->want_status == 2)
        demo_expect(c, resp.status >= 200 && resp.status < 300, "HTTP 2xx", got);
    else {
        char want[32];
        snprintf(want, sizeof want, "HTTP %d", s->want_status);
        demo_expect(c, resp.status == s->want_status, want, got);
    }
    if (s->want_decision != NULL) {
        snprintf(got, sizeof got, "decision %s", dec ? dec : "(none)");
        char want[64];
        snprintf(want, sizeof want, "decision %s", s->want_decision);
        demo_expect(c, dec != NULL && strcmp(dec, s->want_decision) == 0, want, got);
    }
    if (s->want_policy != NULL) {
        char want[160];
        snprintf(want, sizeof want, "determining policy %s in the log entry", s->want_policy);
        demo_expect(c, policy_found, want, entry ? "not among them" : "no log entry");
    }
    if (s->want_withheld != NULL) {
        char want[160];
        snprintf(want, sizeof want, "%s withheld", s->want_withheld);
        demo_expect(c, has_string(withheld, s->want_withheld), want, "not listed as withheld");
    }
    const char *body =
        resp.body.len > 0 && warden_buf_cstr(&resp.body) == 0 ? (const char *)resp.body.p : "";
    if (s->want_text != NULL) {
        snprintf(got, sizeof got, "body: %.400s", body);
        char want[160];
        snprintf(want, sizeof want, "the body shows \"%s\"", s->want_text);
        demo_expect(c, strstr(body, s->want_text) != NULL, want, got);
    }
    if (s->not_text != NULL) {
        char want[160];
        snprintf(want, sizeof want, "\"%s\" never released", s->not_text);
        demo_expect(c, strstr(body, s->not_text) == NULL, want, "it is in the body");
    }
    if (s->want_redirect != NULL) {
        demo_region *home = demo_region_find(d, s->want_redirect);
        char want[600];
        snprintf(want, sizeof want, "Location: %s%s", home ? home->url : "?", s->path);
        snprintf(got, sizeof got, "Location: %s", resp.location);
        demo_expect(c, strcmp(want + 10, resp.location) == 0, want, got);
    }
    if (s->want_location != NULL) {
        const char *loc = json_string_value(json_object_get(entry, "location"));
        snprintf(got, sizeof got, "location %s", loc ? loc : "(no entry)");
        char want[64];
        snprintf(want, sizeof want, "location %s in the log entry", s->want_location);
        demo_expect(c, loc != NULL && strcmp(loc, s->want_location) == 0, want, got);
    }
    if (entry != NULL) { /* the entry at log_index is this very request's */
        const char *rid = json_string_value(json_object_get(resp.json, "request_id"));
        const char *erid = json_string_value(json_object_get(entry, "request_id"));
        snprintf(got, sizeof got, "entry of request %s, answer of request %s", erid ? erid : "?",
                 rid ? rid : "?");
        demo_expect(c, rid != NULL && erid != NULL && strcmp(rid, erid) == 0,
                    "the log entry carries the answer's request_id", got);
    }
    if (entry != NULL && dec != NULL) {
        const char *edec = json_string_value(json_object_get(entry, "decision"));
        snprintf(got, sizeof got, "entry decision %s", edec ? edec : "(none)");
        demo_expect(c, edec != NULL && strcmp(edec, dec) == 0,
                    "the log entry records the same decision", got);
    }
out:
    json_decref(entry);
    demo_response_fini(&resp);
    warden_buf_fini_wipe(&tok);
    warden_buf_fini(&url);
}

void demo_step_shred(demo *d, const demo_step *s, demo_check *c)
{
    demo_region *r = demo_region_find(d, s->region);
    json_t *body = json_pack("{s:s, s:s}", "request_id", "demo-shred-1", "user", s->who);
    json_t *reply = NULL, *entry = NULL;
    int is_error = 0;
    warden_err e;
    if (r == NULL || body == NULL) {
        demo_expect(c, 0, "the shred can be prepared", "bad step");
        goto out;
    }
    demo_say(d, "     operator (uid of keyd) on %s: SHRED user %s\n", r->socket, s->who);
    if (warden_keyd_call(&reply, &is_error, r->socket, WARDEN_KEYD_MSG_SHRED, body, &e) != 0) {
        demo_expect(c, 0, "keyd answers SHRED", e.msg);
        goto out;
    }
    const char *dec = json_string_value(json_object_get(reply, "decision"));
    const json_t *li = json_object_get(reply, "log_index");
    if (is_error || dec == NULL) {
        char *t = json_dumps(reply, JSON_COMPACT);
        demo_expect(c, 0, "a SHRED answer", t ? t : "?");
        free(t);
        goto out;
    }
    demo_say(d, "  -> %s, log index %lld in %s's log\n", dec, (long long)json_integer_value(li),
             r->name);
    if (json_is_integer(li) &&
        demo_log_entry(&entry, r, (uint64_t)json_integer_value(li), &e) == 0) {
        const char *type = json_string_value(json_object_get(entry, "type"));
        demo_say(d, "     entry     type \"%s\", principal %s\n", type ? type : "?",
                 json_string_value(json_object_get(entry, "principal")));
        demo_expect(c, type != NULL && strcmp(type, "shred") == 0, "a shred entry",
                    type ? type : "none");
    } else {
        demo_expect(c, 0, "the shred's entry in the log", e.msg);
    }
    demo_say(d, "     why:      %s\n", s->why);
    demo_expect(c, strcmp(dec, s->want_decision) == 0, "decision allow", dec);
out:
    json_decref(body);
    json_decref(reply);
    json_decref(entry);
}

int demo_steps_run(demo *d, warden_err *err)
{
    unsigned n = 0;
    for (const demo_chapter *ch = demo_chapters; ch->title != NULL; ch++) {
        demo_say(d, "\n== %s ==\n", ch->title);
        for (size_t i = 0; i < ch->n_steps; i++) {
            const demo_step *s = &ch->steps[i];
            demo_check c = {d, 0};
            if (*d->stop)
                return warden_err_set(err, WARDEN_EINVAL, "interrupted");
            demo_say(d, "\n[%2u] %s\n", ++n, s->title);
            if (s->run != NULL)
                s->run(d, s, &c);
            else
                run_http(d, s, &c);
            d->steps++;
            if (c.bad > 0) {
                d->failed++;
                demo_say(d, "     => step %u did NOT behave as expected\n", n);
            } else {
                demo_say(d, "     => as expected\n");
            }
        }
    }
    return 0;
}

void demo_steps_print_try(demo *d)
{
    char path[PATH_MAX + 16];
    warden_buf env;
    warden_err e;
    warden_buf_init(&env);
    snprintf(path, sizeof path, "%s/tokens.env", d->dir);
    for (const demo_person *p = demo_people; p->name != NULL; p++) {
        warden_buf tok;
        warden_buf_init(&tok);
        if (demo_token(&tok, d, p->name, &e) != 0 || warden_buf_cstr(&tok) != 0 ||
            warden_buf_printf(&env, "%s=%s\n", p->env, (const char *)tok.p) != 0) {
            warden_buf_fini_wipe(&tok);
            demo_say(d, "cannot issue tokens: %s\n", e.msg);
            warden_buf_fini_wipe(&env);
            return;
        }
        warden_buf_fini_wipe(&tok);
    }
    if (warden_file_write_atomic(path, env.p, env.len, 0600, &e) != 0)
        demo_say(d, "cannot write %s: %s\n", path, e.msg);
    warden_buf_fini_wipe(&env);
    demo_region *tx = demo_region_find(d, "texas"), *sg = demo_region_find(d, "singapore");
    if (tx == NULL || sg == NULL)
        return;
    demo_say(
        d,
        "\nThe regions keep running. Tokens (valid 1 hour) are in %s (mode 0600):\n\n"
        "  . %s\n"
        "  # ava reads her message in texas:\n"
        "  curl -s --interface 127.0.3.10 -H \"Authorization: Bearer $AVA\" %s/v1/me/messages/m1\n"
        "  # ...and is redirected from singapore:\n"
        "  curl -si --interface 127.0.3.10 -H \"Authorization: Bearer $AVA\" %s/v1/me/messages/m1\n"
        "  # an engineer in Beijing (127.0.1.5) is denied:\n"
        "  curl -s --interface 127.0.1.5 -H \"Authorization: Bearer $LI_WEI\" "
        "-H \"Warden-Purpose: debugging\" %s/v1/users/ava/messages/m1\n"
        "  # trust & safety on the custodian network (127.0.2.7) is allowed:\n"
        "  curl -s --interface 127.0.2.7 -H \"Authorization: Bearer $JORDAN\" "
        "-H \"Warden-Purpose: safety-review\" %s/v1/users/ava/messages/m1\n"
        "  curl -s %s/metrics\n"
        "  warden log verify --url %s/log --vkey '%s'\n"
        "\nPress Ctrl-C to stop the regions.\n",
        path, path, tx->url, sg->url, tx->url, tx->url, tx->url, tx->url, tx->vkey);
}
