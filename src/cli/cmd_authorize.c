/* `warden authorize`: decides Cedar requests against a policy set and an entity store and
 * prints one JSON line (or a table row) per request, in input order. Only argument and
 * output handling lives here; the decisions come from include/warden/policy.h. */
#include "cli/cli.h"
#include "warden/policy.h"
#include "warden/util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_POLICY_BYTES ((size_t)16 * 1024 * 1024)
#define MAX_ENTITY_BYTES ((size_t)256 * 1024 * 1024)
#define MAX_LINK_BYTES ((size_t)64 * 1024 * 1024)
#define MAX_LINE_BYTES ((size_t)16 * 1024 * 1024)

void cmd_authorize_usage(FILE *out)
{
    fprintf(
        out,
        "usage: warden authorize --policies P.cedar [--entities E.json] [--links L.json]\n"
        "                        (--requests R.jsonl | --principal UID --action UID\n"
        "                         --resource UID [--context JSON]) [--format json|table]\n"
        "\n"
        "Decides Cedar authorization requests exactly as the reference implementation\n"
        "(Cedar 4.x) does, and prints one result per request, in input order.\n"
        "\n"
        "  --policies FILE    Cedar policies and templates; ids are policy0, policy1, ...\n"
        "                     in source order\n"
        "  --entities FILE    entities JSON: [{\"uid\":{\"type\":..,\"id\":..},\"attrs\":{..},\n"
        "                     \"parents\":[..],\"tags\":{..}}, ...] (default: none)\n"
        "  --links FILE       template links, cedar-wasm's templateLinks format:\n"
        "                     [{\"templateId\":\"policy2\",\"newId\":\"link0\",\n"
        "                       \"values\":{\"?principal\":{\"type\":\"User\",\"id\":\"a\"}}}]\n"
        "  --requests FILE    one JSON request per line ('-' for stdin):\n"
        "                     {\"principal\":..,\"action\":..,\"resource\":..,\"context\":{..}}\n"
        "                     entities as {\"type\":..,\"id\":..}, {\"__entity\":..} or\n"
        "                     \"Type::\\\"id\\\"\"; blank lines are skipped\n"
        "  --principal UID, --action UID, --resource UID, --context JSON\n"
        "                     a single request instead of --requests (UID is Type::\"id\")\n"
        "  --format json|table  output (default json):\n"
        "                     json: {\"decision\":\"allow\"|\"deny\",\"reasons\":[ids],\n"
        "                            \"errors\":[{\"policy\":id,\"message\":..}]}\n"
        "                     with reasons and errors sorted by policy id (byte order);\n"
        "                     a malformed request yields {\"error\":\"line N: message\"}\n"
        "                     table: an aligned table of request, decision, reasons, errors\n"
        "  --repeat N         decide each request N times and print timing to stderr\n"
        "                     (for benchmarks; output is printed once)\n"
        "\n"
        "Reasons are the determining policies: the satisfied forbids when denied by a\n"
        "forbid, else the satisfied permits when allowed, else none. A policy whose\n"
        "evaluation fails is skipped and listed in errors.\n"
        "\n"
        "Exit status: 0 when every request was decided; 1 when some request line was\n"
        "malformed (the others are still decided) or a file could not be loaded (a\n"
        "'file:line:col: message' on stderr, before any decision); 2 for usage errors.\n");
}

typedef struct opts {
    const char *policies, *entities, *links, *requests;
    const char *principal, *action, *resource, *context;
    bool table;
    unsigned long repeat;
} opts;

typedef struct row {
    char *cells[7];
} row;

typedef struct table {
    row *rows;
    size_t n, cap;
} table;

/* JSON string escaping for ids and messages (valid UTF-8 passes through). */
static int put_json_str(warden_buf *b, const char *s)
{
    int rc = warden_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            rc = warden_buf_append(b, e, 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            rc = warden_buf_printf(b, "\\u%04x", *p);
        } else {
            rc = warden_buf_append(b, p, 1);
        }
    }
    if (rc == 0)
        rc = warden_buf_append(b, "\"", 1);
    return rc;
}

static int put_decision(warden_buf *b, const warden_decision *d)
{
    int rc = warden_buf_puts(b, d->allow ? "{\"decision\":\"allow\",\"reasons\":["
                                         : "{\"decision\":\"deny\",\"reasons\":[");
    for (size_t i = 0; rc == 0 && i < d->n_reasons; i++) {
        if (i)
            rc = warden_buf_append(b, ",", 1);
        if (rc == 0)
            rc = put_json_str(b, d->reasons[i]);
    }
    if (rc == 0)
        rc = warden_buf_puts(b, "],\"errors\":[");
    for (size_t i = 0; rc == 0 && i < d->n_errors; i++) {
        if (i)
            rc = warden_buf_append(b, ",", 1);
        if (rc == 0)
            rc = warden_buf_puts(b, "{\"policy\":");
        if (rc == 0)
            rc = put_json_str(b, d->errors[i].policy);
        if (rc == 0)
            rc = warden_buf_puts(b, ",\"message\":");
        if (rc == 0)
            rc = put_json_str(b, d->errors[i].message);
        if (rc == 0)
            rc = warden_buf_append(b, "}", 1);
    }
    if (rc == 0)
        rc = warden_buf_puts(b, "]}\n");
    return rc;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d != NULL)
        memcpy(d, s, n + 1);
    return d;
}

static int table_add(table *t, const char *cells[7])
{
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        row *nr = realloc(t->rows, ncap * sizeof *nr);
        if (nr == NULL)
            return WARDEN_ENOMEM;
        t->rows = nr;
        t->cap = ncap;
    }
    row *r = &t->rows[t->n];
    for (int i = 0; i < 7; i++) {
        r->cells[i] = dup_str(cells[i]);
        if (r->cells[i] == NULL) {
            for (int j = 0; j < i; j++)
                free(r->cells[j]);
            return WARDEN_ENOMEM;
        }
    }
    t->n++;
    return 0;
}

static void table_print(const table *t, FILE *out)
{
    static const char *const head[7] = {"#",        "principal", "action", "resource",
                                        "decision", "reasons",   "errors"};
    size_t w[7];
    for (int i = 0; i < 7; i++) {
        w[i] = strlen(head[i]);
        for (size_t r = 0; r < t->n; r++) {
            size_t l = strlen(t->rows[r].cells[i]);
            if (l > w[i])
                w[i] = l;
        }
    }
    for (int i = 0; i < 6; i++)
        fprintf(out, "%-*s  ", (int)w[i], head[i]);
    fprintf(out, "%s\n", head[6]);
    for (int i = 0; i < 7; i++) {
        for (size_t k = 0; k < w[i] && (i < 6 || k < strlen(head[i]) + 20); k++)
            fputc('-', out);
        fputs(i < 6 ? "  " : "\n", out);
    }
    for (size_t r = 0; r < t->n; r++) {
        for (int i = 0; i < 6; i++)
            fprintf(out, "%-*s  ", (int)w[i], t->rows[r].cells[i]);
        fprintf(out, "%s\n", t->rows[r].cells[6]);
    }
}

static void table_free(table *t)
{
    for (size_t r = 0; r < t->n; r++)
        for (int i = 0; i < 7; i++)
            free(t->rows[r].cells[i]);
    free(t->rows);
}

static int table_decision(table *t, size_t no, const warden_request *rq, const warden_decision *d)
{
    char num[32], p[256], a[256], r[256];
    warden_buf reasons, errors;
    warden_buf_init(&reasons);
    warden_buf_init(&errors);
    int rc = 0;
    snprintf(num, sizeof num, "%zu", no);
    for (size_t i = 0; rc == 0 && i < d->n_reasons; i++)
        rc = warden_buf_printf(&reasons, "%s%s", i ? ", " : "", d->reasons[i]);
    for (size_t i = 0; rc == 0 && i < d->n_errors; i++)
        rc = warden_buf_printf(&errors, "%s%s: %s", i ? "; " : "", d->errors[i].policy,
                               d->errors[i].message);
    if (rc == 0)
        rc = warden_buf_cstr(&reasons);
    if (rc == 0)
        rc = warden_buf_cstr(&errors);
    if (rc == 0) {
        const char *cells[7] = {num,
                                warden_request_show(rq, 0, p, sizeof p),
                                warden_request_show(rq, 1, a, sizeof a),
                                warden_request_show(rq, 2, r, sizeof r),
                                d->allow ? "ALLOW" : "deny",
                                reasons.len ? (char *)reasons.p : "-",
                                errors.len ? (char *)errors.p : "-"};
        rc = table_add(t, cells);
    }
    warden_buf_fini(&reasons);
    warden_buf_fini(&errors);
    return rc;
}

typedef struct run {
    const opts *o;
    warden_policies *ps;
    warden_entities *es;
    warden_authz *z;
    warden_buf out;
    table tab;
    size_t n_decided, n_bad;
    double secs;
} run;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int decide_one(run *r, size_t no, const warden_request *rq, warden_err *err)
{
    warden_decision d;
    int rc = 0;
    double t0 = now();
    for (unsigned long k = 0; k < r->o->repeat && rc == 0; k++)
        rc = warden_authorize(&d, r->z, r->ps, r->es, rq, err);
    r->secs += now() - t0;
    if (rc != 0)
        return rc;
    r->n_decided++;
    if (r->o->table)
        return table_decision(&r->tab, no, rq, &d);
    return put_decision(&r->out, &d);
}

static int bad_line(run *r, size_t no, const char *msg)
{
    r->n_bad++;
    if (r->o->table) {
        char num[32], m[600];
        snprintf(num, sizeof num, "%zu", no);
        snprintf(m, sizeof m, "line %zu: %s", no, msg);
        const char *cells[7] = {num, "-", "-", "-", "error", "-", m};
        return table_add(&r->tab, cells);
    }
    char m[600];
    snprintf(m, sizeof m, "line %zu: %s", no, msg);
    int rc = warden_buf_puts(&r->out, "{\"error\":");
    if (rc == 0)
        rc = put_json_str(&r->out, m);
    if (rc == 0)
        rc = warden_buf_puts(&r->out, "}\n");
    return rc;
}

static int flush_out(run *r)
{
    if (r->out.len && fwrite(r->out.p, 1, r->out.len, stdout) != r->out.len)
        return WARDEN_EIO;
    r->out.len = 0;
    return 0;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

static int run_requests(run *r, warden_err *err)
{
    FILE *f = strcmp(r->o->requests, "-") == 0 ? stdin : fopen(r->o->requests, "r");
    if (f == NULL)
        return warden_err_set(err, WARDEN_EIO, "%s: %s", r->o->requests, strerror(errno));
    char *line = NULL;
    size_t cap = 0, no = 0;
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        no++;
        if (blank(line, (size_t)n))
            continue;
        warden_request *rq = NULL;
        warden_err lerr;
        warden_err_clear(&lerr);
        if ((size_t)n > MAX_LINE_BYTES) {
            rc = bad_line(r, no, "request larger than 16 MiB");
        } else if (warden_request_parse_json(&rq, line, (size_t)n, &lerr) != 0) {
            rc = bad_line(r, no, lerr.msg);
        } else {
            rc = decide_one(r, no, rq, err);
        }
        warden_request_free(rq);
        if (rc == 0 && r->out.len > 65536)
            rc = flush_out(r);
    }
    if (rc == 0 && ferror(f))
        rc = warden_err_set(err, WARDEN_EIO, "%s: read error", r->o->requests);
    free(line);
    if (f != stdin)
        fclose(f);
    if (rc != 0 && err->code == 0)
        warden_err_set(err, rc, "%s", warden_strerror(rc));
    return rc;
}

static int load(run *r, warden_err *err)
{
    const opts *o = r->o;
    warden_buf b;
    warden_buf_init(&b);
    int rc = warden_policies_new(&r->ps, err);
    if (rc == 0)
        rc = warden_file_read(&b, o->policies, MAX_POLICY_BYTES, err);
    if (rc == 0)
        rc = warden_policies_add_text(r->ps, o->policies, (const char *)b.p, b.len, err);
    if (rc == 0 && o->links != NULL) {
        b.len = 0;
        rc = warden_file_read(&b, o->links, MAX_LINK_BYTES, err);
        if (rc == 0)
            rc = warden_policies_link_json(r->ps, o->links, (const char *)b.p, b.len, err);
    }
    if (rc == 0 && o->entities != NULL) {
        b.len = 0;
        rc = warden_file_read(&b, o->entities, MAX_ENTITY_BYTES, err);
        if (rc == 0)
            rc = warden_entities_parse_json(&r->es, o->entities, (const char *)b.p, b.len, err);
    } else if (rc == 0) {
        rc = warden_entities_new_empty(&r->es, err);
    }
    if (rc == 0)
        rc = warden_authz_new(&r->z, err);
    warden_buf_fini(&b);
    return rc;
}

static int parse_args(opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->repeat = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--policies") == 0)
            slot = &o->policies;
        else if (strcmp(a, "--entities") == 0)
            slot = &o->entities;
        else if (strcmp(a, "--links") == 0)
            slot = &o->links;
        else if (strcmp(a, "--requests") == 0)
            slot = &o->requests;
        else if (strcmp(a, "--principal") == 0)
            slot = &o->principal;
        else if (strcmp(a, "--action") == 0)
            slot = &o->action;
        else if (strcmp(a, "--resource") == 0)
            slot = &o->resource;
        else if (strcmp(a, "--context") == 0)
            slot = &o->context;
        if (slot == NULL && strcmp(a, "--format") != 0 && strcmp(a, "--repeat") != 0) {
            fprintf(stderr, "warden authorize: unknown option '%s' (see --help)\n", a);
            return -1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "warden authorize: %s needs a value\n", a);
            return -1;
        }
        const char *v = argv[++i];
        if (slot != NULL) {
            *slot = v;
        } else if (strcmp(a, "--format") == 0) {
            if (strcmp(v, "json") != 0 && strcmp(v, "table") != 0) {
                fprintf(stderr, "warden authorize: --format must be json or table\n");
                return -1;
            }
            o->table = strcmp(v, "table") == 0;
        } else {
            uint64_t n;
            if (warden_parse_u64(&n, v, strlen(v)) != 0 || n == 0 || n > 100000000) {
                fprintf(stderr, "warden authorize: --repeat needs a count from 1 to 10^8\n");
                return -1;
            }
            o->repeat = (unsigned long)n;
        }
    }
    bool single = o->principal || o->action || o->resource || o->context;
    if (o->policies == NULL) {
        fprintf(stderr, "warden authorize: --policies is required (see --help)\n");
        return -1;
    }
    if (single == (o->requests != NULL)) {
        fprintf(stderr, "warden authorize: give either --requests or "
                        "--principal/--action/--resource\n");
        return -1;
    }
    if (single && (!o->principal || !o->action || !o->resource)) {
        fprintf(stderr, "warden authorize: --principal, --action and --resource go together\n");
        return -1;
    }
    return 0;
}

int cmd_authorize(int argc, char **argv)
{
    opts o;
    if (parse_args(&o, argc, argv) != 0)
        return 2;
    run r;
    memset(&r, 0, sizeof r);
    r.o = &o;
    warden_buf_init(&r.out);
    warden_err err;
    warden_err_clear(&err);
    int status = 0;
    int rc = load(&r, &err);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err.msg);
        status = 1;
        goto out;
    }
    if (o.requests != NULL) {
        rc = run_requests(&r, &err);
    } else {
        warden_request *rq = NULL;
        rc = warden_request_new(&rq, o.principal, o.action, o.resource, o.context, &err);
        if (rc == 0)
            rc = decide_one(&r, 1, rq, &err);
        else
            rc = bad_line(&r, 1, err.msg);
        warden_request_free(rq);
    }
    if (rc == 0)
        rc = flush_out(&r);
    if (rc != 0) {
        fprintf(stderr, "warden authorize: %s\n", err.msg[0] ? err.msg : warden_strerror(rc));
        status = 1;
        goto out;
    }
    if (o.table)
        table_print(&r.tab, stdout);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "warden authorize: cannot write output\n");
        status = 1;
        goto out;
    }
    if (o.repeat > 1 && r.n_decided > 0) {
        double n = (double)r.n_decided * (double)o.repeat;
        fprintf(stderr, "decisions: %.0f  seconds: %.6f  us/decision: %.3f  decisions/s: %.0f\n", n,
                r.secs, r.secs * 1e6 / n, n / r.secs);
    }
    if (r.n_bad > 0)
        status = 1;
out:
    warden_buf_fini(&r.out);
    table_free(&r.tab);
    warden_authz_free(r.z);
    warden_entities_free(r.es);
    warden_policies_free(r.ps);
    return status;
}
