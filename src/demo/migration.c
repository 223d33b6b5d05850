/* The migration chapter's actions: the legacy regions' PostgreSQL copies of US records
 * (the demo's own server, pg.c), the residency report before and after, `warden migrate`
 * of each legacy database into the custodian's region, and `warden migrate verify` of
 * every run. The same library calls as the commands (warden_report_residency,
 * warden_migrate_run, warden_migrate_verify). Step fields used: region (the legacy region
 * a migration reads), path (its destination region), want_decision ("violations" or "none"
 * for a residency report). */
#include "demo/demo_internal.h"

#include "warden/migrate.h"
#include "warden/report.h"
#include "warden/tlog.h"

#include <stdlib.h>
#include <string.h>

#define LEGACY_DDL                                                                                 \
    "CREATE TABLE legacy_records (user_id text NOT NULL, jurisdiction text NOT NULL,"             \
    " collection text NOT NULL, id text NOT NULL, document jsonb NOT NULL,"                      \
    " updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (user_id, collection, id));"

/* users first..last (US), n messages each; plus sg SG users with 2 messages each */
static int fill(const demo_pg *p, const char *db, int first, int last, int n, int sg,
                warden_err *err)
{
    char sql[1536];
    snprintf(sql, sizeof sql,
             LEGACY_DDL
             "INSERT INTO legacy_records (user_id, jurisdiction, collection, id, document) "
             "SELECT 'us-legacy-' || lpad(u::text, 3, '0'), 'US', 'messages', 'm' || m, "
             "jsonb_build_object('to', 'friend-' || u, 'body', 'backup of message ' || m, "
             "'sent', '2019-06-0' || m || 'T10:00Z') "
             "FROM generate_series(%d, %d) u, generate_series(1, %d) m;"
             "INSERT INTO legacy_records (user_id, jurisdiction, collection, id, document) "
             "SELECT 'sg-legacy-' || u, 'SG', 'messages', 'm' || m, "
             "jsonb_build_object('to', 'siti', 'body', 'lah ' || m, 'sent', '2019-07-01T08:00Z') "
             "FROM generate_series(1, %d) u, generate_series(1, 2) m;",
             first, last, n, sg);
    return demo_pg_exec(p, db, sql, err);
}

void demo_step_legacy(demo *d, const demo_step *s, demo_check *c)
{
    warden_err e;
    char sql[96];
    (void)s;
    demo_say(d, "     starting PostgreSQL (initdb in a temporary directory, 127.0.0.1 only)\n");
    if (demo_pg_start(&d->pg, &e) != 0) {
        demo_expect(c, 0, "a PostgreSQL server for the legacy copies", e.msg);
        return;
    }
    demo_say(d, "     PostgreSQL in %s, port %d\n", d->pg.dir, d->pg.port);
    static const char *const DBS[] = {"virginia", "singapore"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", DBS[i]);
        if (demo_pg_exec(&d->pg, "postgres", sql, &e) != 0 ||
            fill(&d->pg, DBS[i], i == 0 ? 1 : 41, i == 0 ? 40 : 60, i == 0 ? 5 : 3, i == 0 ? 0 : 5,
                 &e) != 0) {
            demo_expect(c, 0, "the legacy databases filled", e.msg);
            return;
        }
    }
    demo_say(d, "     database virginia:  200 US records (40 users x 5 messages), from backups\n"
                "     database singapore:  60 US records (20 users x 3 messages) and 10 SG "
                "records (5 users)\n");
    demo_say(d, "     why:      %s\n", s->why);
}

void demo_step_residency(demo *d, const demo_step *s, demo_check *c)
{
    warden_err e;
    char ci[2][256];
    json_t *doc = NULL;
    uint64_t violations = 0;
    if (d->pg.pid <= 0) {
        demo_expect(c, 0, "the legacy databases (previous step)", "PostgreSQL is not running");
        return;
    }
    demo_pg_conninfo(ci[0], sizeof ci[0], &d->pg, "virginia");
    demo_pg_conninfo(ci[1], sizeof ci[1], &d->pg, "singapore");
    warden_report_legacy leg[2] = {{"virginia", ci[0]}, {"singapore", ci[1]}};
    warden_report_residency_query q = {.cluster = d->cluster_path, .legacy = leg, .n_legacy = 2};
    demo_say(d, "     auditor: warden report residency --cluster cluster.json "
                "--legacy virginia=... --legacy singapore=...\n");
    if (warden_report_residency(&doc, &violations, &q, &e) != 0) {
        demo_expect(c, 0, "a residency report", e.msg);
        return;
    }
    json_t *t;
    size_t i, j;
    json_array_foreach(json_object_get(doc, "tables"), i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        json_t *row;
        bool viol = strcmp(name, "violations") == 0;
        if (strcmp(name, "placement") != 0 && !viol)
            continue;
        demo_say(d, "     %s:\n", viol ? "VIOLATIONS (held where the placement policy forbids)"
                                        : "where each jurisdiction's records are");
        if (viol && json_array_size(json_object_get(t, "rows")) == 0)
            demo_say(d, "       none\n");
        json_array_foreach(json_object_get(t, "rows"), j, row)
        {
            if (viol)
                demo_say(d, "       %-10s %-10s %-3s %4lld users %5lld records: %s\n",
                         json_string_value(json_array_get(row, 0)),
                         json_string_value(json_array_get(row, 1)),
                         json_string_value(json_array_get(row, 2)),
                         (long long)json_integer_value(json_array_get(row, 3)),
                         (long long)json_integer_value(json_array_get(row, 4)),
                         json_string_value(json_array_get(row, 5)));
            else
                demo_say(d, "       %-3s in %-10s (%s, %s) %4lld users %5lld records%s\n",
                         json_string_value(json_array_get(row, 0)),
                         json_string_value(json_array_get(row, 1)),
                         json_string_value(json_array_get(row, 2)),
                         json_string_value(json_array_get(row, 3)),
                         (long long)json_integer_value(json_array_get(row, 4)),
                         (long long)json_integer_value(json_array_get(row, 5)),
                         strcmp(json_string_value(json_array_get(row, 6)), "yes") == 0
                             ? ""
                             : "  <- not allowed");
        }
    }
    demo_say(d, "  -> %llu violation%s\n", (unsigned long long)violations,
             violations == 1 ? "" : "s");
    demo_say(d, "     why:      %s\n", s->why);
    char got[32];
    snprintf(got, sizeof got, "%llu violations", (unsigned long long)violations);
    if (strcmp(s->want_decision, "none") == 0)
        demo_expect(c, violations == 0, "no violations", got);
    else
        demo_expect(c, violations > 0, "violations listed", got);
    json_decref(doc);
}

static int mig_key(demo *d, warden_err *err)
{
    if (d->mig_key[0] != '\0')
        return 0;
    char path[PATH_MAX + 32];
    warden_tlog_signer *sg = NULL;
    warden_buf vk;
    warden_buf_init(&vk);
    snprintf(path, sizeof path, "%s/migration.key", d->dir);
    int rc = warden_tlog_key_generate(path, "warden-migration", NULL, err);
    if (rc == 0)
        rc = warden_tlog_signer_load(&sg, path, err);
    if (rc == 0)
        rc = warden_tlog_signer_vkey(&vk, sg, err);
    if (rc == 0) {
        snprintf(d->mig_vkey, sizeof d->mig_vkey, "%.*s", (int)vk.len, (const char *)vk.p);
        snprintf(d->mig_key, sizeof d->mig_key, "%s", path);
    }
    warden_tlog_signer_free(sg);
    warden_buf_fini(&vk);
    return rc;
}

void demo_step_migrate(demo *d, const demo_step *s, demo_check *c)
{
    warden_err e;
    char ci[256];
    demo_region *dst = demo_region_find(d, s->path);
    if (d->pg.pid <= 0 || dst == NULL || d->n_mig == DEMO_REGIONS_MAX) {
        demo_expect(c, 0, "the legacy databases and the destination", "not available");
        return;
    }
    if (mig_key(d, &e) != 0) {
        demo_expect(c, 0, "a migration signing key", e.msg);
        return;
    }
    demo_pg_conninfo(ci, sizeof ci, &d->pg, s->region);
    demo_say(d, "     operator: warden migrate --pg 'dbname=%s ...' --socket %s/keyd.sock "
                "--key migration.key\n",
             s->region, dst->name);
    warden_migrate_stats st;
    warden_migrate_opts o = {.pg_conninfo = ci, .socket = dst->socket, .key_path = d->mig_key,
                             .connections = 2};
    if (warden_migrate_run(&st, &o, &e) != 0) {
        demo_expect(c, 0, "the migration runs", e.msg);
        return;
    }
    demo_say(d,
             "  -> run %s: %llu source records (root logged first), %llu migrated (written, read "
             "back, hash compared), %llu refused by residency (left in %s), %llu conflicts, "
             "%llu failed; %llu source rows deleted\n",
             st.run, (unsigned long long)st.total, (unsigned long long)st.migrated,
             (unsigned long long)st.refused, s->region, (unsigned long long)st.conflicts,
             (unsigned long long)st.failed, (unsigned long long)st.deleted);
    demo_say(d, "     statements in %s's log: start %llu, end %llu, deletion %llu\n", dst->name,
             (unsigned long long)st.start_index, (unsigned long long)st.end_index,
             (unsigned long long)st.delete_index);
    demo_say(d, "     why:      %s\n", s->why);
    snprintf(d->mig_run[d->n_mig], sizeof d->mig_run[0], "%s", st.run);
    d->mig_done[d->n_mig++] = st.migrated;
    char got[96];
    snprintf(got, sizeof got, "%llu migrated, %llu deleted, %llu conflicts, %llu failed",
             (unsigned long long)st.migrated, (unsigned long long)st.deleted,
             (unsigned long long)st.conflicts, (unsigned long long)st.failed);
    demo_expect(c,
                st.migrated > 0 && st.deleted == st.migrated && st.conflicts == 0 &&
                    st.failed == 0 && st.migrated + st.refused == st.total,
                "every US record migrated and deleted, nothing failed", got);
}

void demo_step_verify(demo *d, const demo_step *s, demo_check *c)
{
    demo_region *dst = demo_region_find(d, s->path);
    char log[96];
    if (dst == NULL || d->n_mig == 0) {
        demo_expect(c, 0, "migrations to verify", "none ran");
        return;
    }
    snprintf(log, sizeof log, "%s/log", dst->url);
    for (size_t i = 0; i < d->n_mig; i++) {
        warden_err e;
        warden_migrate_report r;
        warden_migrate_verify_opts o = {.log = log, .log_vkey = dst->vkey,
                                        .mig_vkey = d->mig_vkey, .socket = dst->socket,
                                        .run = d->mig_run[i]};
        demo_say(d, "     auditor: warden migrate verify --log %s --run %s ...\n", log,
                 d->mig_run[i]);
        if (warden_migrate_verify(&r, &o, &e) != 0) {
            demo_expect(c, 0, "the migration verifies", e.msg);
            continue;
        }
        char sr[48], dr[48];
        warden_tlog_hash_b64(sr, &r.source_root);
        warden_tlog_hash_b64(dr, &r.dest_root);
        demo_say(d,
                 "  -> migration %s verified: statement signed (log index %llu); source %llu "
                 "records, root %s; %llu migrated records read back, root %s matches; %llu "
                 "source rows deleted (logged)\n",
                 r.run, (unsigned long long)r.end_index, (unsigned long long)r.source_records,
                 sr, (unsigned long long)r.checked, dr, (unsigned long long)r.deleted);
        char got[64];
        snprintf(got, sizeof got, "%llu of %llu read back", (unsigned long long)r.checked,
                 (unsigned long long)d->mig_done[i]);
        demo_expect(c, r.checked == d->mig_done[i] && r.has_delete,
                    "every migrated record read back, deletion logged", got);
    }
    demo_say(d, "     why:      %s\n", s->why);
}
