/* The demo's parts, shared between its files: setup (directory, template, ports, keys),
 * regions (child processes), http (libcurl client), steps (the scenario table), report
 * (the log and the summary). One `demo` value holds the whole run's state. */
#ifndef WARDEN_DEMO_INTERNAL_H
#define WARDEN_DEMO_INTERNAL_H

#include "warden/common.h"
#include "warden/demo.h"
#include "warden/token.h"
#include "warden/util.h"

#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define DEMO_REGIONS_MAX 4
#define DEMO_POLICIES_MAX 64

typedef struct demo_region {
    char name[32];
    char url[64];          /* http://127.0.0.1:<port> */
    char about[128];       /* "custodian, holds US" */
    char dir[PATH_MAX];    /* <demo dir>/<name> */
    char socket[PATH_MAX]; /* keyd's unix socket */
    char keyd_config[PATH_MAX];
    char serve_log[PATH_MAX];
    char vkey[256]; /* the log's verifier key */
    pid_t pid;      /* 0: not running */
    /* what the demo saw, for the summary */
    unsigned requests, allowed, denied, redirected;
    uint64_t log_size;
    int verified;
    uint64_t rerun; /* decisions re-run offline from the log and the archived policy sets */
    int rerun_ok;
    int metrics_ok; /* the gateway's /metrics counters equal the demo's */
} demo_region;

/* The demo's PostgreSQL server (pg.c): the legacy regions' databases. */
typedef struct demo_pg {
    char dir[64]; /* its temporary directory under /tmp ("" when none) */
    pid_t pid;          /* the postmaster, 0 when not running */
    int port;
    bool as_other; /* root: run as uid/gid of warden-pg */
    uid_t uid;
    gid_t gid;
} demo_pg;

typedef struct demo {
    FILE *out;
    volatile sig_atomic_t *stop;
    char dir[PATH_MAX];
    int remove_dir; /* a temporary directory of ours */
    char exe[PATH_MAX];
    char cluster_path[PATH_MAX];
    demo_region regions[DEMO_REGIONS_MAX];
    size_t n_regions;
    warden_token_key *token_key;
    char issuer[WARDEN_TOKEN_ISS_MAX + 1];
    char audience[WARDEN_TOKEN_AUD_MAX + 1];
    /* policyN -> its @id and @reason annotations, read from the template's policies */
    char *policy_id[DEMO_POLICIES_MAX];
    char *policy_reason[DEMO_POLICIES_MAX];
    size_t n_policies;
    unsigned steps, failed;
    demo_pg pg;
    char mig_key[PATH_MAX + 32]; /* the migration signing key, once made */
    char mig_vkey[256];
    char mig_run[DEMO_REGIONS_MAX][20]; /* run ids of the migrations, in order */
    uint64_t mig_done[DEMO_REGIONS_MAX];
    size_t n_mig;
} demo;

/* ---- setup.c ---- */

/* Chooses and fills the directory, copies the template, picks free ports and writes the
 * cluster file, creates the token key and each region's keys. */
int demo_setup(demo *d, const warden_demo_options *o, warden_err *err);
/* Picks free ports for every region and writes them into the cluster file (url, listen):
 * again after a start that failed, in case another process took a port meanwhile. */
int demo_setup_ports(demo *d, warden_err *err);
/* Frees what setup allocated and removes the directory if it is a temporary one. */
void demo_teardown(demo *d);
/* The region named name, or NULL. */
demo_region *demo_region_find(demo *d, const char *name);
/* "policy6" -> "forbid-us-protected-off-custodian" (or the id itself when unknown). */
const char *demo_policy_name(const demo *d, const char *id);
const char *demo_policy_reason(const demo *d, const char *id);

/* ---- regions.c ---- */

/* Starts every region as `warden serve` (stderr to <region>/serve.log) and waits until each
 * answers /readyz. Errors: WARDEN_EEXIST (a region's port was taken: pick others and start
 * again), WARDEN_EIO (a region failed: its log is shown), WARDEN_EINVAL (interrupted). */
int demo_regions_start(demo *d, warden_err *err);
/* SIGTERM to every running region, then waits (SIGKILL after a grace period). Returns the
 * number of regions that did not exit 0. */
unsigned demo_regions_stop(demo *d);

/* ---- pg.c ---- */

/* Starts PostgreSQL (initdb in a new temporary directory, the server as our child).
 * Errors: WARDEN_ENOTFOUND (not installed: the message says so), WARDEN_EIO. */
int demo_pg_start(demo_pg *p, warden_err *err);
/* Stops the server (if running) and removes its directory; safe to call twice. */
void demo_pg_stop(demo_pg *p);
/* The libpq connection string of database db. */
void demo_pg_conninfo(char *out, size_t cap, const demo_pg *p, const char *db);
/* Runs sql (one or more commands) in database db. Errors: WARDEN_EIO. */
int demo_pg_exec(const demo_pg *p, const char *db, const char *sql, warden_err *err);

/* ---- http.c ---- */

typedef struct demo_request {
    const char *method;
    const char *url;
    const char *token;   /* bearer token or NULL */
    const char *from;    /* source address to bind, or NULL */
    const char *purpose; /* Warden-Purpose header or NULL */
    const char *xff;     /* X-Forwarded-For header or NULL */
    const char *body;    /* JSON body or NULL */
} demo_request;

typedef struct demo_response {
    long status;
    warden_buf body;
    char location[512]; /* Location header, "" when none */
    json_t *json;       /* parsed body when it is a JSON object, else NULL */
} demo_response;

void demo_response_init(demo_response *r);
void demo_response_fini(demo_response *r);
/* Sends one request (timeout 30 s). Errors: WARDEN_EIO (connection failed: the message
 * says why), WARDEN_ENOMEM. */
int demo_http(demo_response *r, const demo_request *q, warden_err *err);

/* ---- the scenario (chapters.c) and its runner (steps.c) ---- */

/* A person of the story: who they are, and the address they connect from. */
typedef struct demo_person {
    const char *name;
    warden_token_kind kind;
    const char *jur;  /* users: home jurisdiction */
    const char *from; /* source address (networks.csv places it) */
    const char *desc;
    const char *env; /* variable name in tokens.env (--keep) */
} demo_person;

/* Every person, ended by a NULL name. */
extern const demo_person demo_people[];

/* Collects one step's mismatches; each is printed as EXPECTED / GOT. */
typedef struct demo_check {
    demo *d;
    int bad;
} demo_check;

/* Counts a mismatch unless ok, printing what was expected and what happened. */
void demo_expect(demo_check *c, int ok, const char *what, const char *got);

/* One step and what must happen; NULL / 0 expectations are not checked. A step with run set
 * is an action of its own (an operator's call to keyd, a migration, a report); otherwise it
 * is the HTTP request described by who, region, method, path and the optional fields. */
typedef struct demo_step {
    const char *title;
    void (*run)(demo *d, const struct demo_step *s, demo_check *c);
    const char *who, *region, *method, *path;
    const char *purpose, *from, *xff, *body;
    int want_status;           /* 2: any 2xx */
    const char *want_decision; /* allow | partial | deny (from the answer or the log entry) */
    const char *want_policy;   /* an @id among the determining policies (log entry) */
    const char *want_withheld; /* a JSON Pointer the answer lists as withheld */
    const char *want_text;     /* must appear in the body */
    const char *not_text;      /* must not appear in the body */
    const char *want_redirect; /* the region whose URL + path the Location must be */
    const char *want_location; /* the location the log entry records */
    const char *why;
    int registers; /* the first request of a user: show the registration ("store") entry */
} demo_step;

/* A chapter of the story: a title and its steps, run in order. */
typedef struct demo_chapter {
    const char *title;
    const demo_step *steps;
    size_t n_steps;
} demo_chapter;

/* The chapters, in order, ended by a NULL title. A new chapter is a table in chapters.c (or
 * its own file) and one line in this list. */
extern const demo_chapter demo_chapters[];

/* Step actions of their own (steps.c). */
void demo_step_shred(demo *d, const demo_step *s, demo_check *c);
/* The migration chapter's actions (migration.c). */
void demo_step_legacy(demo *d, const demo_step *s, demo_check *c);
void demo_step_residency(demo *d, const demo_step *s, demo_check *c);
void demo_step_migrate(demo *d, const demo_step *s, demo_check *c);
void demo_step_verify(demo *d, const demo_step *s, demo_check *c);

/* Replays the scenario; counts into d->steps and d->failed. Errors only when the demo cannot
 * go on (interrupted, out of memory). */
int demo_steps_run(demo *d, warden_err *err);
/* Prints curl commands to try against the running regions (for --keep). */
void demo_steps_print_try(demo *d);
/* Issues a token for a demo person (1 hour). */
int demo_token(warden_buf *out, demo *d, const char *who, warden_err *err);

/* ---- report.c ---- */

/* Fetches entry index of region r's log over HTTP (waiting briefly for the checkpoint to
 * cover it) and parses it. */
int demo_log_entry(json_t **out, demo_region *r, uint64_t index, warden_err *err);
/* Verifies every region's log over HTTP and prints the summary table; failures count. */
void demo_report(demo *d);

/* Prints a line of the story (to d->out). */
void demo_say(demo *d, const char *fmt, ...) WARDEN_PRINTF(2, 3);

#endif
