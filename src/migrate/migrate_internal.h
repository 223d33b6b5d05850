/* The migration's internals shared by its files: one record as read from a source, its
 * canonical form and leaf hash, the streaming Merkle tree, the sources, the keyd client
 * connections and the statements. Not part of the public API (include/warden/migrate.h). */
#ifndef WARDEN_MIGRATE_INTERNAL_H
#define WARDEN_MIGRATE_INTERNAL_H

#include "warden/migrate.h"
#include "warden/tlog.h"
#include "warden/util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Progress state of a record in the source database before this pass. */
enum { MIG_PREV_NONE = 0, MIG_PREV_PENDING = 1, MIG_PREV_DONE = 2 };

/* What happened to a record in this pass. */
enum {
    MIG_O_TODO = 0,
    MIG_O_SKIP,     /* migrated earlier and unchanged */
    MIG_O_DONE,     /* written (or found written by us) and verified now */
    MIG_O_REFUSED,  /* residency */
    MIG_O_INVALID,  /* not a record keyd could hold */
    MIG_O_CONFLICT, /* the destination holds another copy */
    MIG_O_FAILED,   /* write denied or read-back mismatch */
};

typedef struct mig_rec {
    char *user, *jur, *coll, *id; /* owned */
    json_t *doc;                  /* NULL when invalid */
    int prev;                     /* MIG_PREV_* */
    uint64_t prev_version;        /* destination version recorded by an earlier pass */
    warden_tlog_hash leaf;        /* of the canonical record (valid records only) */
    warden_buf canon;             /* the document's canonical text (valid records only) */
    uint8_t docsum[32];           /* SHA-256 of canon: what keyd's IMPORT read-back answers */
    char src_digest[65];          /* PostgreSQL's digest of the row (pg.c ROW_DIGEST), or "" */
    char prev_src_digest[65];     /* that digest as recorded by an earlier pass, or "" */
    warden_tlog_hash prev_leaf;   /* recorded by an earlier pass (prev != NONE) */
    int outcome;                  /* MIG_O_* */
    uint64_t version;             /* destination version after this pass */
    uint64_t want;                /* version to write */
    bool preread, written, conflict_read;
    char why[160]; /* for INVALID / FAILED / CONFLICT / REFUSED */
} mig_rec;

/* Frees the record's strings and document and zeroes it. */
void mig_rec_fini(mig_rec *r);

/* Checks names and document against what keyd accepts (the keyd protocol's rules, so that
 * keyd never sees a frame it must treat as a violation); on failure fills r->why and
 * returns false. On success computes r->canon, r->docsum and r->leaf. */
bool mig_rec_check(mig_rec *r);

/* The canonical form of a record: compact JSON, sorted keys, ASCII, of
 * {"collection","document","id","jurisdiction","user"}; appended to out. NULL-safe doc
 * required. Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int mig_canonical(warden_buf *out, const char *user, const char *jur,
                                  const char *coll, const char *id, const json_t *doc,
                                  warden_err *err);

/* Leaf hash (RFC 6962) of the canonical record; false on allocation failure. */
bool mig_leaf(warden_tlog_hash *out, const char *user, const char *jur, const char *coll,
              const char *id, const json_t *doc);

/* Byte order of (user, collection, id): <0, 0, >0. */
int mig_key_cmp(const char *u1, const char *c1, const char *i1, const char *u2, const char *c2,
                const char *i2);

/* A Merkle tree built leaf by leaf in O(log n) memory; root equals RFC 6962's MTH. */
typedef struct mig_merkle {
    warden_tlog_hash stack[64];
    unsigned top;
    uint64_t n;
} mig_merkle;
void mig_merkle_init(mig_merkle *m);
void mig_merkle_add(mig_merkle *m, const warden_tlog_hash *leaf);
void mig_merkle_root(warden_tlog_hash *out, const mig_merkle *m);

/* Lower-case hex of h (64 chars + NUL) and back. */
void mig_hex(char out[65], const warden_tlog_hash *h);
bool mig_unhex(warden_tlog_hash *h, const char *s);

/* ---- sources ---- */

typedef struct mig_pg mig_pg;

/* Connects two sessions (a reader holding the snapshot, a writer for progress and
 * deletion). create: make the progress tables (not in a dry run). Errors: WARDEN_EIO,
 * WARDEN_EINVAL (bad table name), WARDEN_ENOMEM. */
WARDEN_MUST_USE int mig_pg_open(mig_pg **out, const char *conninfo, const char *table, bool create,
                                warden_err *err);
void mig_pg_free(mig_pg *p);
/* "postgresql:<db>/<table>" for the statements. */
void mig_pg_name(char *out, size_t cap, const mig_pg *p);
/* The run id recorded for this table (creating one for destination), or EEXIST if the table
 * is being migrated to another destination. */
WARDEN_MUST_USE int mig_pg_run(char run[20], mig_pg *p, const char *destination, warden_err *err);
/* Starts a scan in snapshot order (user, collection, id); new_snapshot: begin a new
 * repeatable-read transaction first (else reuse the current one); digests: have
 * PostgreSQL compute each row's src_digest (a migration pass; the source root needs none). */
WARDEN_MUST_USE int mig_pg_scan_begin(mig_pg *p, bool new_snapshot, bool digests,
                                      warden_err *err);
/* Fetches up to max records into recs (zeroed); *n = 0 at the end. */
WARDEN_MUST_USE int mig_pg_scan_next(mig_pg *p, mig_rec *recs, size_t max, size_t *n,
                                     warden_err *err);
WARDEN_MUST_USE int mig_pg_scan_end(mig_pg *p, bool commit, warden_err *err);
/* Records the records of recs[] whose outcome is TODO and that will be written as pending
 * (one transaction). */
WARDEN_MUST_USE int mig_pg_mark_pending(mig_pg *p, mig_rec *recs, size_t n, warden_err *err);
/* Records DONE records as done with their version (one transaction). */
WARDEN_MUST_USE int mig_pg_mark_done(mig_pg *p, mig_rec *recs, size_t n, warden_err *err);
/* Root and count over every record recorded done, in key order. */
WARDEN_MUST_USE int mig_pg_done_root(warden_tlog_hash *root, uint64_t *count, mig_pg *p,
                                     warden_err *err);
/* Deletion, phase 1: locks the table against writers and checks that every row recorded
 * done still hashes as recorded. *changed counts rows that must be migrated again (then
 * the transaction is rolled back), *deletable the rows to delete, *kept the others. */
WARDEN_MUST_USE int mig_pg_delete_check(mig_pg *p, uint64_t *deletable, uint64_t *changed,
                                        uint64_t *kept, warden_err *err);
/* Deletion, phase 2 (after the statement is logged): deletes exactly the rows recorded done
 * and commits; WARDEN_ECORRUPT (rolled back) if the count differs from expect. */
WARDEN_MUST_USE int mig_pg_delete_commit(mig_pg *p, uint64_t expect, warden_err *err);
int mig_pg_rollback(mig_pg *p, warden_err *err);

typedef struct mig_jsonl mig_jsonl;
WARDEN_MUST_USE int mig_jsonl_open(mig_jsonl **out, const char *path, warden_err *err);
void mig_jsonl_free(mig_jsonl *j);
/* Rewinds to the first line. */
WARDEN_MUST_USE int mig_jsonl_rewind(mig_jsonl *j, warden_err *err);
/* Reads up to max records; *n = 0 at the end. Errors: WARDEN_EPARSE (file:line:col),
 * WARDEN_ECORRUPT (out of order: file:line), WARDEN_EIO. */
WARDEN_MUST_USE int mig_jsonl_next(mig_jsonl *j, mig_rec *recs, size_t max, size_t *n,
                                   warden_err *err);

/* ---- keyd client ---- */

typedef struct mig_conn {
    int fd;
    warden_buf out, in;
    size_t queued; /* requests sent whose replies are unread */
} mig_conn;

WARDEN_MUST_USE int mig_conn_open(mig_conn *c, const char *socket_path, warden_err *err);
void mig_conn_close(mig_conn *c);
/* Queues a request whose payload is JSON text the caller wrote (with keyd's canonical
 * writer). */
WARDEN_MUST_USE int mig_conn_send_raw(mig_conn *c, uint16_t type, const uint8_t *payload,
                                      size_t len, warden_err *err);
/* Queues a request (written on the next recv or when the buffer is large). */
WARDEN_MUST_USE int mig_conn_send(mig_conn *c, uint16_t type, const json_t *body, warden_err *err);
/* Flushes queued requests and reads the next reply (an ERROR reply sets *is_error). */
WARDEN_MUST_USE int mig_conn_recv(json_t **reply, int *is_error, mig_conn *c, warden_err *err);
/* One request and its reply; an ERROR reply becomes WARDEN_E* with its message. */
WARDEN_MUST_USE int mig_conn_call(json_t **reply, mig_conn *c, uint16_t type, const json_t *body,
                                  warden_err *err);

/* ---- the destination: keyd connections working in parallel (apply.c) ---- */

#define MIG_MAX_CONNS 64

typedef struct mig_dest {
    mig_conn conns[MIG_MAX_CONNS];
    unsigned n;
    const char *principal, *purpose, *source_ip, *location;
    char run[20];
    long pid;
    unsigned long long reqno; /* atomically incremented */
    char last_user[256];      /* registration cache: records arrive sorted by user */
    int last_ok;              /* 1 registered (or existing), 0 refused */
    FILE *report;
    bool single; /* one ACCESS write + read per record instead of IMPORT batches */
} mig_dest;

/* Opens n connections to keyd. The string options are borrowed. */
WARDEN_MUST_USE int mig_dest_open(mig_dest *d, const char *socket, unsigned n, warden_err *err);
void mig_dest_close(mig_dest *d);
/* The destination's region name (STATUS). */
WARDEN_MUST_USE int mig_dest_region(char out[72], mig_dest *d, warden_err *err);
/* ATTESTs a statement; *index is its log index. Errors: WARDEN_EDENIED (Cedar denied). */
WARDEN_MUST_USE int mig_dest_attest(uint64_t *index, mig_dest *d, const char *statement,
                                    warden_err *err);
/* Registers the users of the TODO records (one REGISTER per user, pipelined); the records
 * of users keyd refuses become REFUSED. */
WARDEN_MUST_USE int mig_dest_register(mig_dest *d, mig_rec *recs, size_t n, warden_err *err);
/* Writes, reads back and compares every TODO record (pre-reading those marked preread),
 * on all connections in parallel; sets each record's outcome. */
WARDEN_MUST_USE int mig_dest_apply(mig_dest *d, mig_rec *recs, size_t n, warden_err *err);
/* Reads each record (user, coll, id, jur set) back and sets leaf and version; outcome DONE
 * when readable in full, FAILED otherwise (why says what). For verify. */
WARDEN_MUST_USE int mig_dest_read_all(mig_dest *d, mig_rec *recs, size_t n, warden_err *err);
/* Logs the keys of the DONE records as batch statements. */
WARDEN_MUST_USE int mig_dest_attest_batch(mig_dest *d, const mig_rec *recs, size_t n,
                                          warden_err *err);

/* ---- statements (docs/migrate.md) ---- */

typedef struct mig_statement {
    char kind[16]; /* "start", "end", "delete" */
    char run[20];
    char source[256], destination[72];
    uint64_t records, migrated, refused, conflicts, failed, deleted, kept;
    warden_tlog_hash source_root, dest_root;
} mig_statement;

/* Appends the signed note of st to out. Errors: those of warden_tlog_note_sign. */
WARDEN_MUST_USE int mig_statement_sign(warden_buf *out, const mig_statement *st,
                                       const warden_tlog_signer *s, warden_err *err);
/* Opens a signed statement note with v and parses it. Errors: WARDEN_EVERIFY (signature),
 * WARDEN_EPARSE (not a statement). */
WARDEN_MUST_USE int mig_statement_open(mig_statement *st, const char *note, size_t len,
                                       const warden_tlog_verifier *v, warden_err *err);
/* Parses statement note text (without signatures; ends in '\n'). Errors: WARDEN_EPARSE. */
WARDEN_MUST_USE int mig_statement_parse(mig_statement *st, const char *text, size_t len,
                                        warden_err *err);
/* True if text looks like a statement note (its first line). */
bool mig_statement_is(const char *text, size_t len);

#define MIG_NOTE_HEADER "warden-migration/v1 "
#define MIG_BATCH_TYPE "warden-migration-batch"

#endif
