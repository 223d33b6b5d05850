/* The PostgreSQL source: the legacy table (docs/migrate.md has its schema), read with a
 * server-side cursor inside one repeatable-read transaction so that the source root and
 * the migration pass see the same snapshot and memory does not grow with the table; and
 * the progress table warden_migration, kept in the source database so that the deletion
 * of migrated rows and the record of what was migrated commit in one transaction.
 * Two sessions: "rd" holds the snapshot and its cursor, "wr" writes progress (committed
 * batch by batch, independent of the long read) and performs the deletion. */
#include "migrate/migrate_internal.h"

#include <libpq-fe.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mig_pg {
    PGconn *rd, *wr;
    char table[128];
    char *lit; /* the table name as an SQL literal (PQescapeLiteral) */
    bool has_progress;
    bool in_scan;
    bool byte_order; /* the key columns' collation already is byte order (C / POSIX) */
};

/* fillfactor 50: every row is written "pending" and then updated to "done"; with room left
 * on its page the update is a heap-only tuple (no index entries), half the cost. */
#define PROGRESS_DDL                                                                               \
    "CREATE TABLE IF NOT EXISTS warden_migration ("                                                \
    " source_table text NOT NULL, user_id text NOT NULL, collection text NOT NULL,"                \
    " id text NOT NULL, state text NOT NULL CHECK (state IN ('pending','done')),"                  \
    " leaf_hash text NOT NULL, dest_version bigint, migrated_at timestamptz,"                      \
    " PRIMARY KEY (source_table, user_id, collection, id)) WITH (fillfactor = 50);"                \
    "CREATE TABLE IF NOT EXISTS warden_migration_run ("                                            \
    " source_table text PRIMARY KEY, run_id text NOT NULL, destination text NOT NULL,"             \
    " created_at timestamptz NOT NULL DEFAULT now());"                                             \
    "ALTER TABLE warden_migration ADD COLUMN IF NOT EXISTS source_digest text;"                   \
    "ALTER TABLE warden_migration SET (fillfactor = 50)"

/* The digest of a source row's content as PostgreSQL renders it (the key columns are the
 * join): recorded with the progress of the snapshot row that was migrated, so that the
 * deletion can check "unchanged since migrated" inside PostgreSQL, without sending every
 * row to the migrator to be parsed and hashed again. */
#define ROW_DIGEST(s)                                                                              \
    "encode(sha256(convert_to(" s ".jurisdiction || E'\\n' || " s ".document::text, 'UTF8')), "   \
    "'hex')"

static int pgerr(warden_err *err, int code, PGconn *c, const char *what)
{
    const char *m = PQerrorMessage(c);
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    return warden_err_set(err, code, "postgresql: %s: %.*s", what, (int)n, m);
}

/* Runs a command without results; ok is the expected status. */
static int exec(PGconn *c, const char *sql, warden_err *err)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : pgerr(err, WARDEN_EIO, c, sql);
    PQclear(r);
    return rc;
}

static int connect_one(PGconn **out, const char *conninfo, warden_err *err)
{
    *out = PQconnectdb(conninfo);
    if (*out == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "postgresql: out of memory");
    if (PQstatus(*out) != CONNECTION_OK)
        return pgerr(err, WARDEN_EIO, *out, "connect");
    return 0;
}

static bool table_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n >= 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.'))
            return false;
    }
    return t[0] != '.' && t[n - 1] != '.';
}

/* Whether the key columns already sort in byte order (the database's collation is C or
 * POSIX and the columns use it). Then the scan can ask for plain ORDER BY and read the
 * table through its primary key in order, instead of sorting every row with its document
 * (a sort that spills the whole table to disk); enable_sort off in the reading session
 * makes the planner take the index. Any doubt (an error, another collation) keeps the
 * explicit COLLATE "C" and the sort. */
static void detect_byte_order(mig_pg *p)
{
    const char *v[1] = {p->table};
    PGresult *r = PQexecParams(
        p->rd,
        "SELECT d.datcollate IN ('C', 'POSIX') AND NOT EXISTS (SELECT 1 FROM pg_attribute a "
        "WHERE a.attrelid = $1::regclass AND a.attname IN ('user_id', 'collection', 'id') AND "
        "a.attcollation <> (SELECT oid FROM pg_collation WHERE collname = 'default')) "
        "FROM pg_database d WHERE d.datname = current_database()",
        1, NULL, v, NULL, NULL, 0);
    p->byte_order = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                    strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (p->byte_order && exec(p->rd, "SET enable_sort = off", NULL) != 0)
        p->byte_order = false;
}

int mig_pg_open(mig_pg **out, const char *conninfo, const char *table, bool create, warden_err *err)
{
    *out = NULL;
    if (!table_ok(table))
        return warden_err_set(err, WARDEN_EINVAL,
                              "table name \"%.64s\": use letters, digits, '_' and one '.'", table);
    mig_pg *p = calloc(1, sizeof *p);
    if (p == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    snprintf(p->table, sizeof p->table, "%s", table);
    int rc = connect_one(&p->rd, conninfo, err);
    if (rc == 0)
        rc = connect_one(&p->wr, conninfo, err);
    if (rc == 0 && (p->lit = PQescapeLiteral(p->wr, table, strlen(table))) == NULL)
        rc = pgerr(err, WARDEN_ENOMEM, p->wr, "escape");
    if (rc == 0 && create)
        rc = exec(p->wr, PROGRESS_DDL, err);
    if (rc == 0) {
        PGresult *r = PQexec(p->wr, "SELECT to_regclass('warden_migration') IS NOT NULL");
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            rc = pgerr(err, WARDEN_EIO, p->wr, "to_regclass");
        else
            p->has_progress = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
    }
    if (rc == 0)
        detect_byte_order(p);
    if (rc != 0) {
        mig_pg_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void mig_pg_free(mig_pg *p)
{
    if (p == NULL)
        return;
    if (p->rd != NULL)
        PQfinish(p->rd);
    if (p->wr != NULL)
        PQfinish(p->wr);
    PQfreemem(p->lit);
    free(p);
}

void mig_pg_name(char *out, size_t cap, const mig_pg *p)
{
    snprintf(out, cap, "postgresql:%s/%s", PQdb(p->rd), p->table);
}

int mig_pg_run(char run[20], mig_pg *p, const char *destination, warden_err *err)
{
    uint8_t rnd[8];
    char hex[17];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return warden_err_set(err, WARDEN_EINTERNAL, "no random bytes for a run id");
    warden_hex_encode(hex, rnd, sizeof rnd);
    const char *v[3] = {p->table, hex, destination};
    PGresult *r = PQexecParams(p->wr,
                               "INSERT INTO warden_migration_run (source_table, run_id, "
                               "destination) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                               3, NULL, v, NULL, NULL, 0);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : pgerr(err, WARDEN_EIO, p->wr, "run");
    PQclear(r);
    if (rc != 0)
        return rc;
    r = PQexecParams(p->wr,
                     "SELECT run_id, destination FROM warden_migration_run WHERE source_table=$1",
                     1, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        rc = pgerr(err, WARDEN_EIO, p->wr, "run");
    else if (strcmp(PQgetvalue(r, 0, 1), destination) != 0)
        rc = warden_err_set(err, WARDEN_EEXIST,
                            "table %s is being migrated to \"%.64s\", not \"%.64s\"", p->table,
                            PQgetvalue(r, 0, 1), destination);
    else
        snprintf(run, 20, "%.16s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

int mig_pg_scan_begin(mig_pg *p, bool new_snapshot, bool digests, warden_err *err)
{
    char sql[1024], order[128];
    const char *digest = digests ? ROW_DIGEST("s") : "NULL";
    snprintf(order, sizeof order, "ORDER BY s.user_id%s, s.collection%s, s.id%s",
             p->byte_order ? "" : " COLLATE \"C\"", p->byte_order ? "" : " COLLATE \"C\"",
             p->byte_order ? "" : " COLLATE \"C\"");
    int rc = 0;
    if (new_snapshot &&
        (rc = exec(p->rd, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err)) != 0)
        return rc;
    /* Byte order (COLLATE "C") is the order the roots are defined in. */
    if (p->has_progress)
        snprintf(sql, sizeof sql,
                 "DECLARE mig NO SCROLL CURSOR FOR SELECT s.user_id, s.jurisdiction, "
                 "s.collection, s.id, s.document::text, m.state, m.leaf_hash, m.dest_version, "
                 "%s, m.source_digest "
                 "FROM %s s LEFT JOIN warden_migration m ON m.source_table = %s AND "
                 "m.user_id = s.user_id AND m.collection = s.collection AND m.id = s.id %s",
                 digest, p->table, p->lit, order);
    else
        snprintf(sql, sizeof sql,
                 "DECLARE mig NO SCROLL CURSOR FOR SELECT s.user_id, s.jurisdiction, "
                 "s.collection, s.id, s.document::text, NULL, NULL, NULL, %s, NULL FROM %s s %s",
                 digest, p->table, order);
    rc = exec(p->rd, sql, err);
    p->in_scan = rc == 0;
    return rc;
}

static char *dup_or_null(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

int mig_pg_scan_next(mig_pg *p, mig_rec *recs, size_t max, size_t *n, warden_err *err)
{
    char sql[64];
    *n = 0;
    snprintf(sql, sizeof sql, "FETCH FORWARD %zu FROM mig", max);
    PGresult *r = PQexec(p->rd, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = pgerr(err, WARDEN_EIO, p->rd, "fetch");
        PQclear(r);
        return rc;
    }
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        mig_rec *x = &recs[i];
        memset(x, 0, sizeof *x);
        x->user = dup_or_null(r, i, 0);
        x->jur = dup_or_null(r, i, 1);
        x->coll = dup_or_null(r, i, 2);
        x->id = dup_or_null(r, i, 3);
        if (!PQgetisnull(r, i, 4))
            x->doc = json_loadb(PQgetvalue(r, i, 4), (size_t)PQgetlength(r, i, 4),
                                JSON_REJECT_DUPLICATES, NULL);
        if (!PQgetisnull(r, i, 5)) {
            x->prev = strcmp(PQgetvalue(r, i, 5), "done") == 0 ? MIG_PREV_DONE : MIG_PREV_PENDING;
            if (!mig_unhex(&x->prev_leaf, PQgetvalue(r, i, 6)))
                x->prev = MIG_PREV_PENDING; /* unreadable progress: re-check the destination */
            if (!PQgetisnull(r, i, 7) && warden_parse_u64(&x->prev_version, PQgetvalue(r, i, 7),
                                                          (size_t)PQgetlength(r, i, 7)) != 0)
                x->prev = MIG_PREV_PENDING;
            if (!PQgetisnull(r, i, 9))
                snprintf(x->prev_src_digest, sizeof x->prev_src_digest, "%s",
                         PQgetvalue(r, i, 9));
        }
        if (!PQgetisnull(r, i, 8))
            snprintf(x->src_digest, sizeof x->src_digest, "%s", PQgetvalue(r, i, 8));
        *n = (size_t)i + 1;
        /* a NULL name is invalid, not a crash: mig_rec_check reports it */
        if (x->user == NULL)
            x->user = strdup("");
        if (x->jur == NULL)
            x->jur = strdup("");
        if (x->coll == NULL)
            x->coll = strdup("");
        if (x->id == NULL)
            x->id = strdup("");
        if (x->user == NULL || x->jur == NULL || x->coll == NULL || x->id == NULL) {
            PQclear(r);
            return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        }
    }
    PQclear(r);
    return 0;
}

int mig_pg_scan_end(mig_pg *p, bool commit, warden_err *err)
{
    int rc = p->in_scan ? exec(p->rd, "CLOSE mig", err) : 0;
    p->in_scan = false;
    if (rc == 0 && commit)
        rc = exec(p->rd, "COMMIT", err);
    return rc;
}

/* Appends s to a PostgreSQL array literal as one quoted element. */
static int array_elem(warden_buf *a, const char *s)
{
    int rc = warden_buf_puts(a, a->len > 1 ? ",\"" : "\"");
    for (; rc == 0 && *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            rc = warden_buf_puts(a, "\\");
        if (rc == 0)
            rc = warden_buf_append(a, s, 1);
    }
    return rc == 0 ? warden_buf_puts(a, "\"") : rc;
}

/* One INSERT .. SELECT FROM unnest(arrays) .. ON CONFLICT for the records of recs[] that
 * pick() selects. Why arrays and not a VALUES row per record: PostgreSQL parsed and planned
 * five parameters per row, which cost more than the rows themselves. */
static int upsert(mig_pg *p, mig_rec *recs, size_t n, bool (*pick)(const mig_rec *),
                  const char *state, warden_err *err)
{
    warden_buf sql, col[6];
    warden_buf_init(&sql);
    for (size_t c = 0; c < 6; c++)
        warden_buf_init(&col[c]);
    size_t rows = 0;
    bool done = strcmp(state, "done") == 0;
    int rc = 0;
    for (size_t c = 0; c < 6 && rc == 0; c++)
        rc = warden_buf_puts(&col[c], "{");
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!pick(&recs[i]))
            continue;
        char hex[65], ver[24];
        mig_hex(hex, &recs[i].leaf);
        snprintf(ver, sizeof ver, "%llu", done ? (unsigned long long)recs[i].version : 0ULL);
        const char *v[6] = {recs[i].user, recs[i].coll, recs[i].id, hex, ver, recs[i].src_digest};
        for (size_t c = 0; c < 6 && rc == 0; c++)
            rc = array_elem(&col[c], v[c]);
        rows++;
    }
    for (size_t c = 0; c < 6 && rc == 0; c++)
        rc = warden_buf_puts(&col[c], "}") != 0 ? WARDEN_ENOMEM : warden_buf_cstr(&col[c]);
    /* pending keeps the version an earlier pass recorded: the destination may hold it */
    if (rc == 0)
        rc = warden_buf_printf(
            &sql,
            "INSERT INTO warden_migration (source_table, user_id, collection, id, state, "
            "leaf_hash, dest_version, migrated_at, source_digest) SELECT $1, u, c, i, '%s', h, "
            "NULLIF(v, 0), %s, NULLIF(d, '') FROM unnest($2::text[], $3::text[], $4::text[], "
            "$5::text[], $6::bigint[], $7::text[]) AS t(u, c, i, h, v, d) "
            "ON CONFLICT (source_table, user_id, collection, id) DO UPDATE SET "
            "state = EXCLUDED.state, leaf_hash = EXCLUDED.leaf_hash, "
            "source_digest = EXCLUDED.source_digest, "
            "dest_version = COALESCE(EXCLUDED.dest_version, warden_migration.dest_version), "
            "migrated_at = COALESCE(EXCLUDED.migrated_at, warden_migration.migrated_at)",
            state, done ? "now()" : "NULL::timestamptz");
    if (rc == 0)
        rc = warden_buf_cstr(&sql);
    if (rc != 0) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if (rows == 0)
        goto out;
    const char *vals[7] = {p->table,
                           (const char *)col[0].p,
                           (const char *)col[1].p,
                           (const char *)col[2].p,
                           (const char *)col[3].p,
                           (const char *)col[4].p,
                           (const char *)col[5].p};
    PGresult *r = PQexecParams(p->wr, (const char *)sql.p, 7, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pgerr(err, WARDEN_EIO, p->wr, "record progress");
    PQclear(r);
out:
    for (size_t c = 0; c < 6; c++)
        warden_buf_fini(&col[c]);
    warden_buf_fini(&sql);
    return rc;
}

static bool is_todo(const mig_rec *r)
{
    return r->outcome == MIG_O_TODO;
}

/* Migrated now, or earlier and unchanged but recorded with another (or no) row digest: the
 * canonical record is the same, only PostgreSQL's rendering of it differs (e.g. 1.0 and
 * 1.00). */
static bool is_done(const mig_rec *r)
{
    return r->outcome == MIG_O_DONE ||
           (r->outcome == MIG_O_SKIP && strcmp(r->src_digest, r->prev_src_digest) != 0);
}

int mig_pg_mark_pending(mig_pg *p, mig_rec *recs, size_t n, warden_err *err)
{
    return upsert(p, recs, n, is_todo, "pending", err);
}

int mig_pg_mark_done(mig_pg *p, mig_rec *recs, size_t n, warden_err *err)
{
    return upsert(p, recs, n, is_done, "done", err);
}

int mig_pg_done_root(warden_tlog_hash *root, uint64_t *count, mig_pg *p, warden_err *err)
{
    char sql[512];
    mig_merkle m;
    mig_merkle_init(&m);
    int rc = exec(p->wr, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
    if (rc != 0)
        return rc;
    snprintf(sql, sizeof sql,
             "DECLARE root NO SCROLL CURSOR FOR SELECT leaf_hash FROM warden_migration "
             "WHERE source_table = %s AND state = 'done' "
             "ORDER BY user_id COLLATE \"C\", collection COLLATE \"C\", id COLLATE \"C\"",
             p->lit);
    if ((rc = exec(p->wr, sql, err)) != 0)
        goto out;
    for (;;) {
        PGresult *r = PQexec(p->wr, "FETCH FORWARD 10000 FROM root");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = pgerr(err, WARDEN_EIO, p->wr, "fetch");
            PQclear(r);
            goto out;
        }
        int rows = PQntuples(r);
        for (int i = 0; i < rows && rc == 0; i++) {
            warden_tlog_hash h;
            if (!mig_unhex(&h, PQgetvalue(r, i, 0)))
                rc = warden_err_set(err, WARDEN_ECORRUPT, "warden_migration: bad leaf_hash");
            else
                mig_merkle_add(&m, &h);
        }
        PQclear(r);
        if (rc != 0)
            goto out;
        if (rows == 0)
            break;
    }
out:
    if (rc == 0)
        rc = exec(p->wr, "COMMIT", err);
    else
        (void)exec(p->wr, "ROLLBACK", NULL);
    mig_merkle_root(root, &m);
    *count = m.n;
    return rc;
}

int mig_pg_delete_check(mig_pg *p, uint64_t *deletable, uint64_t *changed, uint64_t *kept,
                        warden_err *err)
{
    char sql[1024];
    *deletable = *changed = *kept = 0;
    int rc = exec(p->wr, "BEGIN", err);
    if (rc != 0)
        return rc;
    /* Writers wait until we commit; readers do not. */
    snprintf(sql, sizeof sql, "LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE", p->table);
    if ((rc = exec(p->wr, sql, err)) != 0)
        goto fail;
    /* A row recorded done is deletable only if its content still has the digest recorded
     * with the snapshot row that was migrated; computed here, under the lock. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FILTER (WHERE m.state = 'done' AND m.source_digest = d), "
             "count(*) FILTER (WHERE m.state = 'done' AND m.source_digest IS DISTINCT FROM d), "
             "count(*) FILTER (WHERE m.state IS DISTINCT FROM 'done') FROM (SELECT s.*, "
             ROW_DIGEST("s") " AS d FROM %s s) s LEFT JOIN warden_migration m ON "
             "m.source_table = %s AND m.user_id = s.user_id AND m.collection = s.collection "
             "AND m.id = s.id",
             p->table, p->lit);
    PGresult *r = PQexec(p->wr, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        rc = pgerr(err, WARDEN_EIO, p->wr, "check before deleting");
        PQclear(r);
        goto fail;
    }
    uint64_t *out[3] = {deletable, changed, kept};
    for (int c = 0; c < 3 && rc == 0; c++)
        if (warden_parse_u64(out[c], PQgetvalue(r, 0, c), (size_t)PQgetlength(r, 0, c)) != 0)
            rc = warden_err_set(err, WARDEN_ECORRUPT, "postgresql: a count is not a number");
    PQclear(r);
    if (rc != 0)
        goto fail;
    if (*changed > 0)
        return mig_pg_rollback(p, err);
    return 0; /* the lock is held until mig_pg_delete_commit */
fail:
    (void)exec(p->wr, "ROLLBACK", NULL);
    return rc;
}

int mig_pg_delete_commit(mig_pg *p, uint64_t expect, warden_err *err)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "DELETE FROM %s s USING warden_migration m WHERE m.source_table = %s AND "
             "m.state = 'done' AND m.user_id = s.user_id AND m.collection = s.collection AND "
             "m.id = s.id",
             p->table, p->lit);
    PGresult *r = PQexec(p->wr, sql);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = pgerr(err, WARDEN_EIO, p->wr, "delete");
    } else {
        uint64_t got = 0;
        const char *t = PQcmdTuples(r);
        if (warden_parse_u64(&got, t, strlen(t)) != 0 || got != expect)
            rc = warden_err_set(err, WARDEN_ECORRUPT,
                                "delete removed %s rows, expected %llu: rolled back", t,
                                (unsigned long long)expect);
    }
    PQclear(r);
    if (rc == 0)
        return exec(p->wr, "COMMIT", err);
    (void)exec(p->wr, "ROLLBACK", NULL);
    return rc;
}

int mig_pg_rollback(mig_pg *p, warden_err *err)
{
    return exec(p->wr, "ROLLBACK", err);
}

int warden_migrate_census(json_t **out, const char *conninfo, const char *table, warden_err *err)
{
    *out = NULL;
    if (table == NULL)
        table = "legacy_records";
    if (!table_ok(table))
        return warden_err_set(err, WARDEN_EINVAL,
                              "table name \"%.64s\": use letters, digits, '_' and one '.'", table);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT jurisdiction, count(DISTINCT user_id), count(*) FROM %s "
             "GROUP BY jurisdiction ORDER BY jurisdiction COLLATE \"C\"",
             table);
    PGconn *c = NULL;
    PGresult *r = NULL;
    json_t *rows = json_array();
    int rc = rows == NULL ? warden_err_set(err, WARDEN_ENOMEM, "out of memory")
                          : connect_one(&c, conninfo, err);
    if (rc == 0) {
        r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            rc = pgerr(err, WARDEN_EIO, c, table);
    }
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        uint64_t users = 0, records = 0;
        if (warden_parse_u64(&users, PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1)) != 0 ||
            warden_parse_u64(&records, PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2)) != 0) {
            rc = warden_err_set(err, WARDEN_ECORRUPT, "postgresql: a count is not a number");
            break;
        }
        json_t *row = json_pack("{s:s, s:I, s:I}", "jurisdiction", PQgetvalue(r, i, 0), "users",
                                (json_int_t)users, "records", (json_int_t)records);
        if (row == NULL || json_array_append_new(rows, row) != 0)
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
    PQclear(r);
    if (c != NULL)
        PQfinish(c);
    if (rc != 0)
        json_decref(rows);
    else
        *out = rows;
    return rc;
}
