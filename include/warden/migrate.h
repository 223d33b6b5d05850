/* Verified migration of legacy copies into a region's keyd (`warden migrate`).
 *
 * Records come from a legacy PostgreSQL table (streamed with a server-side cursor) or a
 * JSON Lines export; each goes through the destination keyd as any client's would: the
 * user is registered with the record's home jurisdiction (keyd's "store" decision is the
 * residency check: refused records are reported and stay in the source), the record is
 * written with a compare-and-set version, read back, and compared by the hash of its
 * canonical form. Before the first write the source set's RFC 6962 Merkle root is logged
 * in the destination's log in a signed statement; at the end a signed statement gives the
 * counts and the migrated set's root; then (PostgreSQL, unless keep_source) the migrated
 * rows are deleted in one transaction, logged first. Progress lives in the source database
 * (table warden_migration), so a migration killed at any point is resumed by running it
 * again, and nothing is written twice. Formats, tables and the crash argument:
 * docs/migrate.md. */
#ifndef WARDEN_MIGRATE_H
#define WARDEN_MIGRATE_H

#include "warden/common.h"
#include "warden/tlog.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

/* Counts of a run, reported as it goes (progress callback) and at the end. */
typedef struct warden_migrate_stats {
    uint64_t total;      /* records in the source set */
    uint64_t seen;       /* records looked at by the migration pass so far */
    uint64_t migrated;   /* written (or found written) and verified in this invocation */
    uint64_t already;    /* migrated by an earlier invocation, unchanged since */
    uint64_t refused;    /* residency: the destination may not hold them (left in source) */
    uint64_t invalid;    /* not a valid record (bad name, document not a JSON object) */
    uint64_t conflicts;  /* the destination holds a different copy that we did not write */
    uint64_t failed;     /* read-back did not match, or keyd refused the write */
    uint64_t done_total; /* records migrated over all invocations of this run */
    uint64_t deleted;    /* source rows deleted */
    uint64_t fresh, changed, pending; /* source pass: never migrated, changed since, interrupted */
    char run[20];                     /* the run id (hex) */
    char destination[72];
    warden_tlog_hash source_root, dest_root;
    uint64_t start_index, end_index, delete_index; /* log indexes of the statements */
} warden_migrate_stats;

typedef void (*warden_migrate_progress_fn)(void *ctx, const warden_migrate_stats *st, bool final);

typedef struct warden_migrate_opts {
    const char *pg_conninfo; /* libpq connection string; or NULL with jsonl_path */
    const char *table;       /* legacy table (default "legacy_records"), [A-Za-z0-9_.] */
    const char *jsonl_path;  /* JSON Lines export sorted by (user, collection, id) */
    const char *source_name; /* name in the statements (default derived from the source) */
    const char *socket;      /* the destination keyd's unix socket */
    const char *key_path;    /* the migration signing key (signed-note, warden_tlog_key_*) */
    const char *principal;   /* default Service::"migrator" */
    const char *purpose;     /* default "migration" */
    const char *source_ip;   /* default 127.0.0.1 */
    const char *location;    /* default "US" */
    unsigned connections;    /* keyd connections working in parallel (default 4, max 64) */
    unsigned batch;          /* records per batch (default 2000, max 10000) */
    bool dry_run;            /* count and report only: no keyd call, no write anywhere */
    bool keep_source;        /* do not delete migrated rows (always for JSON Lines) */
    bool single_writes;      /* one ACCESS write + read per record, not IMPORT batches */
    warden_migrate_progress_fn progress;
    void *progress_ctx;
    FILE *report; /* one line per record not migrated (refused, invalid, conflict, failed) */
} warden_migrate_opts;

/* Runs (or resumes) a migration and fills *st. Returns 0 when every record was either
 * migrated or refused for residency/invalid (reported, left in the source); conflicts and
 * failed records are counted in *st and also return 0: the caller decides. Errors:
 * WARDEN_EINVAL (bad options), WARDEN_EIO (source or keyd unreachable, keyd failed closed),
 * WARDEN_EPARSE (a JSON Lines line: file:line:col), WARDEN_ECORRUPT (source not sorted,
 * a reply without the fields it must have), WARDEN_EDENIED (keyd refused an attestation),
 * WARDEN_ENOMEM, and those of warden_tlog_signer_load. */
WARDEN_MUST_USE int warden_migrate_run(warden_migrate_stats *st, const warden_migrate_opts *o,
                                       warden_err *err);

/* What `warden migrate verify` found. */
typedef struct warden_migrate_report {
    char run[20];
    uint64_t source_records, migrated, refused, deleted;
    uint64_t checked; /* migrated records read back from the destination and matched */
    warden_tlog_hash source_root, dest_root;
    uint64_t end_index; /* log index of the end statement */
    bool has_delete;
} warden_migrate_report;

typedef struct warden_migrate_verify_opts {
    const char *log;       /* log directory or http(s) URL */
    const char *log_vkey;  /* the log's verifier key text */
    const char *mig_vkey;  /* the migration key's verifier key text */
    const char *socket;    /* the destination keyd (reads back every migrated record) */
    const char *run;       /* NULL: the last run with an end statement in the log */
    const char *principal; /* as in warden_migrate_opts */
    const char *purpose;
    const char *source_ip;
    const char *location;
} warden_migrate_verify_opts;

/* Checks a finished migration from the verified log and the destination alone: the log
 * verifies under log_vkey; the run's end statement is signed by mig_vkey, a start statement
 * with the same source root precedes it; the run's batch statements name exactly
 * `migrated` records; each is read from the destination and the Merkle root over their
 * canonical forms equals the statement's destination root. Errors: those of
 * warden_tlog_verify; WARDEN_ENOTFOUND (no end statement for the run), WARDEN_EVERIFY (a
 * signature, a root or a count does not match: the message says which), WARDEN_EIO (keyd),
 * WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_migrate_verify(warden_migrate_report *r,
                                          const warden_migrate_verify_opts *o, warden_err *err);

/* Counts a legacy PostgreSQL table (NULL: "legacy_records") by home jurisdiction, for the
 * residency report: *out is an array of {"jurisdiction","users","records"}, in byte order
 * of jurisdiction. Errors: WARDEN_EINVAL (table name), WARDEN_EIO (connect or query: the
 * server's message), WARDEN_ECORRUPT, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_migrate_census(json_t **out, const char *conninfo, const char *table,
                                          warden_err *err);

#endif
