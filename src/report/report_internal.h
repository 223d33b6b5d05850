/* report's internals shared by its files: the report document's builders, opening a log
 * and its policy archive from a directory or URL, and the access aggregation (exposed so
 * unit tests can feed it entries without a log). Not part of the public API. */
#ifndef WARDEN_REPORT_INTERNAL_H
#define WARDEN_REPORT_INTERNAL_H

#include "warden/report.h"
#include "warden/tlog.h"

#include <stdbool.h>
#include <stdint.h>

/* A new document {"report":kind,"title":title,"generated":now,"summary":[],"tables":[]},
 * or NULL when out of memory. */
json_t *report_doc_new(const char *kind, const char *title);
/* Appends [label, value] to the summary; value is stolen. Returns 0 or WARDEN_ENOMEM. */
int report_summary_add(json_t *doc, const char *label, json_t *value);
/* Appends a table with the NULL-terminated columns; returns its (borrowed) rows array, or
 * NULL when out of memory. */
json_t *report_table_add(json_t *doc, const char *name, const char *title,
                         const char *const *columns);

/* Opens src's log and archive as tlog sources (either may be NULL when not wanted).
 * Errors: WARDEN_EINVAL (bad URL), WARDEN_ENOMEM. */
WARDEN_MUST_USE int report_open(warden_tlog_source **log, warden_tlog_source **archive,
                                const warden_report_log *src, warden_err *err);

/* Outcome columns of the access report, in order. */
enum { REPORT_ALLOW, REPORT_PARTIAL, REPORT_DENY, REPORT_REFUSED, REPORT_N_OUTCOMES };

/* The access report's running aggregation. */
typedef struct report_access {
    char since[40];    /* "" for all */
    uint64_t size;     /* log entries seen */
    uint64_t accesses; /* decision + refusal entries counted */
    uint64_t totals[REPORT_N_OUTCOMES];
    json_t *by_principal, *by_location, *by_purpose, *by_action; /* name -> [n per outcome] */
    json_t *cross;   /* rows of cross-border accesses to protected data */
    json_t *minutes; /* "YYYY-MM-DDTHH:MM" -> [n per outcome] */
} report_access;

/* Starts an aggregation of accesses at or after since (NULL: all). Errors: WARDEN_EINVAL
 * (since is not an RFC 3339 date or date-time prefix), WARDEN_ENOMEM. */
WARDEN_MUST_USE int report_access_init(report_access *a, const char *since, warden_err *err);
/* Counts one log entry (other types than decision and refusal are skipped). Errors:
 * WARDEN_ECORRUPT (an access entry without the fields docs/audit-entry.md lists),
 * WARDEN_ENOMEM. */
WARDEN_MUST_USE int report_access_add(report_access *a, uint64_t index, const json_t *entry,
                                      warden_err *err);
/* Builds the report document from what was counted. Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int report_access_finish(json_t **doc, const report_access *a, warden_err *err);
/* Frees the aggregation. */
void report_access_fini(report_access *a);

/* Chooses the timeline's bucket for times from first to last (RFC 3339): "minute" up to 2
 * hours, "hour" up to 4 days, "day" up to 400 days, then "week", "month" (30 days), "year",
 * "century", so that a chart has a bounded number of bars; sets *width to its seconds. */
const char *report_bucket_for(const char *first, const char *last, long *width);

/* Collects the distinct string literals of Cedar policy text (comments skipped) into set
 * (an object used as a set). Returns 0 or WARDEN_ENOMEM. */
int report_cedar_strings(json_t *set, const char *text, size_t len);

/* Formats a cell value for text and HTML: strings as is, numbers in decimal, arrays
 * joined by ", ", null as "". Appends to out. Returns 0 or WARDEN_ENOMEM. */
int report_cell_text(warden_buf *out, const json_t *v);

#endif
