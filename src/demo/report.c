/* The demo's evidence: each region's transparency log read back over HTTP (/log/, the
 * C2SP tlog-tiles layout) with the tlog library's URL source — the same code path as
 * `warden log verify --url` — and the closing summary table. */
#include "demo/demo_internal.h"

#include "warden/keyd.h"
#include "warden/tlog.h"

#include <stdlib.h>

#include <stdarg.h>
#include <string.h>
#include <time.h>

void demo_say(demo *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(d->out, fmt, ap);
    va_end(ap);
    fflush(d->out);
}

static int open_source(warden_tlog_source **src, warden_tlog_verifier **v, const demo_region *r,
                       warden_err *err)
{
    char url[128];
    int rc;
    snprintf(url, sizeof url, "%s/log", r->url);
    if ((rc = warden_tlog_verifier_new(v, r->vkey, strlen(r->vkey), err)) != 0)
        return rc;
    return warden_tlog_source_url_new(src, url, err);
}

int demo_log_entry(json_t **out, demo_region *r, uint64_t index, warden_err *err)
{
    warden_tlog_source *src = NULL;
    warden_tlog_verifier *v = NULL;
    warden_tlog_checkpoint cp;
    warden_buf b;
    int rc;
    *out = NULL;
    warden_buf_init(&b);
    if ((rc = open_source(&src, &v, r, err)) != 0)
        goto out;
    /* keyd answers once the entry is journaled; the checkpoint covering it follows within
     * one integration, so wait for it (up to about 10 s). */
    for (int i = 0; i < 500; i++) {
        if ((rc = warden_tlog_source_checkpoint(&cp, src, v, err)) != 0)
            goto out;
        if (cp.size > index)
            break;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (cp.size <= index) {
        rc = warden_err_set(err, WARDEN_ENOTFOUND, "%s: log size %llu does not reach index %llu",
                            r->name, (unsigned long long)cp.size, (unsigned long long)index);
        goto out;
    }
    if ((rc = warden_tlog_source_entry(&b, src, cp.size, index, err)) != 0)
        goto out;
    json_error_t je;
    *out = json_loadb((const char *)b.p, b.len, 0, &je);
    if (*out == NULL)
        rc = warden_err_set(err, WARDEN_ECORRUPT, "%s: entry %llu is not JSON: %s", r->name,
                            (unsigned long long)index, je.text);
out:
    warden_buf_fini(&b);
    warden_tlog_source_free(src);
    warden_tlog_verifier_free(v);
    return rc;
}

/* The auditor's check for one region: every tile and bundle re-hashed up to a checkpoint
 * signed by the region's log key. */
static void verify_region(demo *d, demo_region *r)
{
    warden_tlog_source *src = NULL;
    warden_tlog_verifier *v = NULL;
    warden_tlog_checkpoint cp;
    warden_err e;
    if (open_source(&src, &v, r, &e) == 0 && warden_tlog_verify(&cp, src, v, &e) == 0) {
        char root[48];
        warden_tlog_hash_b64(root, &cp.root);
        r->verified = 1;
        r->log_size = cp.size;
        demo_say(d, "  %-10s ok: %llu entries, root %.12s..., signed by %s\n", r->name,
                 (unsigned long long)cp.size, root, warden_tlog_verifier_name(v));
    } else {
        r->verified = 0;
        d->failed++;
        demo_say(d, "  %-10s EXPECTED: the log verifies\n  %-10s GOT: %s\n", r->name, "", e.msg);
    }
    warden_tlog_source_free(src);
    warden_tlog_verifier_free(v);
}

/* The auditor's second check, offline: every decision in the region's log re-run with the
 * policy set it names (from the archive, checked against its hash) must give the logged
 * result (warden_keyd_audit_check, as `warden keyd check`). */
static void rerun_region(demo *d, demo_region *r)
{
    char *sock = NULL, *log_dir = NULL, *archive = NULL;
    warden_err e;
    int rc = warden_keyd_config_paths(&sock, &log_dir, r->keyd_config, &e);
    if (rc == 0 && (archive = malloc(strlen(log_dir) + sizeof ".policysets")) == NULL)
        rc = warden_err_set(&e, WARDEN_ENOMEM, "out of memory");
    if (rc == 0) {
        memcpy(archive, log_dir, strlen(log_dir));
        memcpy(archive + strlen(log_dir), ".policysets", sizeof ".policysets");
        rc = warden_keyd_audit_check(&r->rerun, log_dir, archive, r->vkey, &e);
    }
    if (rc == 0) {
        r->rerun_ok = 1;
        demo_say(d, "  %-10s ok: %llu decisions re-run offline, each gives the logged result\n",
                 r->name, (unsigned long long)r->rerun);
    } else {
        d->failed++;
        demo_say(d,
                 "  %-10s EXPECTED: every logged decision re-runs to the same result\n"
                 "  %-10s GOT: %s\n",
                 r->name, "", e.msg);
    }
    free(sock);
    free(log_dir);
    free(archive);
}

/* Adds to *sum the value of every Prometheus sample whose name and labels start with key
 * (followed by a space, '{' or ',': a whole name or a whole label).
 * The text comes from our own gateway, but is still read through bounds: line by line,
 * digits only. */
static void metric_add(uint64_t *sum, const warden_buf *text, const char *key)
{
    warden_cursor c;
    const uint8_t *line;
    size_t n, kl = strlen(key);
    warden_cursor_init(&c, text->p, text->len);
    while (warden_cursor_until(&c, '\n', &line, &n) == 0) {
        if (n <= kl || memcmp(line, key, kl) != 0 ||
            (line[kl] != ' ' && line[kl] != '{' && line[kl] != ','))
            continue;
        size_t i = n;
        while (i > 0 && line[i - 1] != ' ')
            i--;
        uint64_t v;
        if (i > kl && warden_parse_u64(&v, (const char *)line + i, n - i) == 0)
            *sum += v;
    }
}

/* The gateway's own counters (/metrics) must agree with what the demo saw. */
static void metrics_region(demo *d, demo_region *r)
{
    char url[128];
    demo_response resp;
    warden_err e;
    uint64_t req = 0, allow = 0, deny = 0, redir = 0;
    snprintf(url, sizeof url, "%s/metrics", r->url);
    demo_request q = {.method = "GET", .url = url};
    demo_response_init(&resp);
    if (demo_http(&resp, &q, &e) != 0 || resp.status != 200) {
        d->failed++;
        demo_say(d, "  %-10s EXPECTED: /metrics answers 200\n  %-10s GOT: %s\n", r->name, "",
                 resp.status ? "another status" : e.msg);
        goto out;
    }
    static const char *const routes[] = {"me_record", "me_export", "user_record", "user_export"};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        char key[96];
        snprintf(key, sizeof key, "warden_gateway_requests_total{route=\"%s\"", routes[i]);
        metric_add(&req, &resp.body, key);
    }
    metric_add(&allow, &resp.body, "warden_gateway_decisions_total{decision=\"allow\"}");
    metric_add(&allow, &resp.body, "warden_gateway_decisions_total{decision=\"partial\"}");
    metric_add(&deny, &resp.body, "warden_gateway_decisions_total{decision=\"deny\"}");
    metric_add(&redir, &resp.body, "warden_gateway_redirects_total");
    r->metrics_ok =
        req == r->requests && allow == r->allowed && deny == r->denied && redir == r->redirected;
    if (r->metrics_ok) {
        demo_say(d,
                 "  %-10s agree: %llu data requests, %llu allowed, %llu denied, %llu redirected\n",
                 r->name, (unsigned long long)req, (unsigned long long)allow,
                 (unsigned long long)deny, (unsigned long long)redir);
    } else {
        d->failed++;
        demo_say(d,
                 "  %-10s EXPECTED: %u requests, %u allowed, %u denied, %u redirected\n"
                 "  %-10s GOT:      %llu requests, %llu allowed, %llu denied, %llu redirected\n",
                 r->name, r->requests, r->allowed, r->denied, r->redirected, "",
                 (unsigned long long)req, (unsigned long long)allow, (unsigned long long)deny,
                 (unsigned long long)redir);
    }
out:
    demo_response_fini(&resp);
}

void demo_report(demo *d)
{
    demo_say(d, "\nEach region's log, fetched over HTTP from <url>/log/ and verified as an auditor "
                "would\n(`warden log verify --url <url>/log --vkey <key>`):\n");
    for (size_t i = 0; i < d->n_regions; i++)
        verify_region(d, &d->regions[i]);
    demo_say(d, "\nEvery decision re-run from the log alone with the policy set it names, as\n"
                "`warden keyd check --log DIR --archive DIR --vkey KEY` does:\n");
    for (size_t i = 0; i < d->n_regions; i++)
        rerun_region(d, &d->regions[i]);
    demo_say(d, "\nEach gateway's own counters (/metrics) against what the demo saw:\n");
    for (size_t i = 0; i < d->n_regions; i++)
        metrics_region(d, &d->regions[i]);
    demo_say(d, "\n%-10s %9s %8s %7s %11s %9s %9s %8s %8s\n", "region", "requests", "allowed",
             "denied", "redirected", "log size", "verified", "re-run", "metrics");
    for (size_t i = 0; i < d->n_regions; i++) {
        const demo_region *r = &d->regions[i];
        demo_say(d, "%-10s %9u %8u %7u %11u %9llu %9s %8s %8s\n", r->name, r->requests, r->allowed,
                 r->denied, r->redirected, (unsigned long long)r->log_size,
                 r->verified ? "yes" : "NO", r->rerun_ok ? "same" : "DIFFERS",
                 r->metrics_ok ? "agree" : "DIFFER");
    }
}
