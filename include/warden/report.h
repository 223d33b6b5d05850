/* The auditor's reports. Two read a region's transparency log after verifying it, and trust
 * nothing else: "access" (who accessed what, from where, for what; cross-border accesses
 * to protected data one by one) and "replay" (every logged decision re-run with the
 * archived policy set; any difference listed). "who-can" evaluates the current policies and
 * directory for one user's record: which principals could read its protected and excepted
 * fields, from which locations and for which purposes.
 *
 * Each report is built as one JSON document (what --json prints), the same shape for all:
 *     {"report":"access"|"replay"|"who-can","title":..,"generated":<RFC 3339>,
 *      "summary":[[label, value], ...],
 *      "tables":[{"name":..,"title":..,"columns":[..],"rows":[[..], ..]}, ..],
 *      "timeline":{"bucket":"minute"|"hour"|"day","series":[..],
 *                  "points":[{"t":<bucket start>,"counts":[..per series..]}, ..]}   (access)}
 * and rendered from it as text tables or one self-contained HTML page (inline CSS and SVG,
 * no external resources). docs/audit-entry.md says where archived policy sets are fetched. */
#ifndef WARDEN_REPORT_H
#define WARDEN_REPORT_H

#include "warden/common.h"
#include "warden/util.h"

#include <jansson.h>
#include <stddef.h>

/* Where a log is read from. log is a directory or an http(s) URL; archive (the policy-set
 * archive) likewise, or NULL for the default next to the log: "<dir>.policysets" for a
 * directory (keyd's default), "<url>/policysets" for a URL. vkey is the verifier key text. */
typedef struct warden_report_log {
    const char *log;
    const char *archive;
    const char *vkey;
} warden_report_log;

/* Builds the access report from the verified log: accesses (decision and refusal entries)
 * with time >= since (RFC 3339 prefix such as "2026-11-25" or "2026-11-25T13:00"; NULL: all)
 * by outcome, principal, location, purpose and action, the cross-border accesses to
 * protected data (location differs from the owner's jurisdiction and the protected class,
 * or for writes and deletes the whole record, was allowed) one by one, and a timeline.
 * Errors: those of warden_keyd_audit_each (WARDEN_EVERIFY, WARDEN_ENOTFOUND, WARDEN_EIO,
 * WARDEN_ECORRUPT), WARDEN_EINVAL (bad since), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_report_access(json_t **out, const warden_report_log *src,
                                         const char *since, warden_err *err);

/* Builds the replay report: every decision entry of the verified log re-run with the
 * archived policy set it names; *differ gets the number of entries whose re-run differs
 * (each differing class is a row). Errors: those of warden_keyd_audit_replay other than a
 * difference (which is reported, not an error). */
WARDEN_MUST_USE int warden_report_replay(json_t **out, uint64_t *differ,
                                         const warden_report_log *src, warden_err *err);

/* The question who-can answers, and the policies and directory it is answered under. */
typedef struct warden_report_whocan_query {
    const char *config;              /* a keyd config: policies, entities, region (or NULL) */
    const char *const *policy_files; /* without config: Cedar policy files */
    size_t n_policy_files;
    const char *entities_file; /* without config: Cedar entities JSON (or NULL) */
    const char *region;        /* overrides the config's; default "texas" */
    const char *user, *jurisdiction, *collection;
    const char *id;            /* record id; NULL: "any" */
    const char *networks_file; /* CSV cidr,country,site: locations and an address each */
    const char *locations;     /* comma-separated locations (with or instead of it) */
} warden_report_whocan_query;

/* Builds the who-can report by evaluating the policies: principals are the directory's
 * entities that are nobody's parent (groups are not callers); locations come from the
 * networks table and/or the list, plus the string literals of the policies and entities
 * (so every location a policy can tell apart is tried) and one unlisted location; purposes
 * are the string literals plus one unlisted purpose ("(other)"). Each principal, location
 * and purpose is decided for the data classes "protected" and "excepted" of a read of
 * Record::"<user>/<collection>/<id>". Errors: WARDEN_ENOTFOUND, WARDEN_EPARSE,
 * WARDEN_EINVAL (files and arguments: the message names which), WARDEN_ELIMIT (more than
 * 100000 evaluations), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_report_whocan(json_t **out, const warden_report_whocan_query *q,
                                         warden_err *err);

/* A legacy copy outside keyd: region name and a libpq connection string. */
typedef struct warden_report_legacy {
    const char *region;
    const char *conninfo;
} warden_report_legacy;

/* What the residency report looks at: the cluster file (each region's keyd is asked over
 * its socket, from its keyd config) and optional legacy PostgreSQL copies. */
typedef struct warden_report_residency_query {
    const char *cluster;
    const warden_report_legacy *legacy;
    size_t n_legacy;
    const char *legacy_table; /* NULL: "legacy_records" (docs/migrate.md's schema) */
} warden_report_residency_query;

/* Builds the residency report: per jurisdiction, each region (and store) holding its
 * active users' records, and every holding the cluster file or the region's keyd config
 * forbids; *violations gets their number (rows of the "violations" table). Errors:
 * those of warden_cluster_load, WARDEN_EIO (a keyd or database unreachable: the message
 * names the region), WARDEN_ECORRUPT (a keyd answering as another region), WARDEN_EINVAL
 * (a legacy region not in the cluster), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_report_residency(json_t **out, uint64_t *violations,
                                            const warden_report_residency_query *q,
                                            warden_err *err);

/* Appends report (a document built above) as plain-text tables to out. Errors:
 * WARDEN_EINVAL (not a report document), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_report_render_text(warden_buf *out, const json_t *report,
                                              warden_err *err);

/* Appends report as one self-contained HTML page (inline CSS, an inline SVG chart of the
 * timeline when there is one, every value escaped) to out. Errors: as render_text. */
WARDEN_MUST_USE int warden_report_render_html(warden_buf *out, const json_t *report,
                                              warden_err *err);

#endif
