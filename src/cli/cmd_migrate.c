/* `warden migrate`: move legacy copies into a region's keyd, verified record by record, and
 * `warden migrate verify`, the auditor's check of a finished migration. Only argument
 * handling and output live here; see include/warden/migrate.h and docs/migrate.md. */
#include "cli/cli.h"
#include "warden/migrate.h"
#include "warden/tlog.h"
#include "warden/util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void cmd_migrate_usage(FILE *out)
{
    fprintf(out,
            "usage: warden migrate (--pg CONNINFO [--table T] | --jsonl FILE) --socket PATH\n"
            "                      --key KEYFILE [--dry-run] [--keep-source] [--source-name N]\n"
            "                      [--connections N] [--batch N] [--principal P] [--purpose P]\n"
            "                      [--source-ip IP] [--location L] [--single-writes]\n"
            "       warden migrate keygen --key KEYFILE [--name NAME]\n"
            "       warden migrate verify --log DIR|URL --vkey VKEY --migration-vkey VKEY\n"
            "                      --socket PATH [--run RUN]\n\n"
            "Moves legacy records (a PostgreSQL table, default legacy_records, or a JSON Lines\n"
            "export sorted by user, collection, id) into the keyd at PATH: residency checked by\n"
            "keyd, each record written, read back and compared by hash. The source set's Merkle\n"
            "root and a signed statement (counts, roots) are logged in the destination's log;\n"
            "then migrated PostgreSQL rows are deleted unless --keep-source. Killed at any point,\n"
            "run it again: it resumes and writes nothing twice. KEYFILE is the migration signing\n"
            "key (keygen makes one and prints its verifier key). Records go to keyd in IMPORT\n"
            "batches (one log batch and one store commit each); --single-writes sends one\n"
            "ACCESS write and read per record instead. verify checks a finished\n"
            "migration from the log and the destination alone (VKEY: key text or a file).\n"
            "Records not migrated are listed on stderr. Exit status: 0 done, 3 some records\n"
            "conflict or failed (listed), 1 error, 2 usage. Details: docs/migrate.md.\n");
}

static const char *const NAMES[] = {
    "pg",          "table", "jsonl",     "socket",         "key",       "source-name",
    "connections", "batch", "principal", "purpose",        "source-ip", "location",
    "name",        "log",   "vkey",      "migration-vkey", "run",       NULL};
enum {
    O_PG,
    O_TABLE,
    O_JSONL,
    O_SOCKET,
    O_KEY,
    O_SOURCE_NAME,
    O_CONNS,
    O_BATCH,
    O_PRINCIPAL,
    O_PURPOSE,
    O_SOURCE_IP,
    O_LOCATION,
    O_NAME,
    O_LOG,
    O_VKEY,
    O_MVKEY,
    O_RUN,
    O_COUNT
};

static bool g_single;

static int parse(const char **v, bool *dry, bool *keep, int argc, char **argv, int first)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--single-writes") == 0 && dry != NULL) {
            g_single = true;
            continue;
        }
        if (strcmp(a, "--dry-run") == 0 && dry != NULL) {
            *dry = true;
            continue;
        }
        if (strcmp(a, "--keep-source") == 0 && keep != NULL) {
            *keep = true;
            continue;
        }
        int k = -1;
        if (strncmp(a, "--", 2) == 0)
            for (int j = 0; NAMES[j] != NULL; j++)
                if (strcmp(a + 2, NAMES[j]) == 0)
                    k = j;
        if (k < 0 || i + 1 >= argc) {
            fprintf(stderr, "warden migrate: %s '%s'\n",
                    k < 0 ? "unknown argument" : "missing value for", a);
            return -1;
        }
        v[k] = argv[++i];
    }
    return 0;
}

static int number(unsigned *out, const char *s, const char *what, uint64_t max)
{
    uint64_t n = 0;
    if (s == NULL)
        return 0;
    if (warden_parse_u64(&n, s, strlen(s)) != 0 || n == 0 || n > max) {
        fprintf(stderr, "warden migrate: --%s must be 1..%llu\n", what, (unsigned long long)max);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

typedef struct progress_state {
    bool tty;
    struct timespec t0, last;
    uint64_t base; /* records seen at t0 */
} progress_state;

static double since(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* A bar on a terminal, a line every two seconds otherwise. */
static void on_progress(void *ctx, const warden_migrate_stats *st, bool final)
{
    progress_state *p = ctx;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (st->seen == 0 && !final)
        return;
    if (!final && !p->tty && since(&p->last, &now) < 2.0)
        return;
    if (!final && p->tty && since(&p->last, &now) < 0.1)
        return;
    p->last = now;
    double dt = since(&p->t0, &now);
    double rate = dt > 0 ? (double)st->seen / dt : 0;
    double eta = rate > 0 && st->total > st->seen ? (double)(st->total - st->seen) / rate : 0;
    unsigned pct = st->total ? (unsigned)(st->seen * 100 / st->total) : 100;
    if (p->tty) {
        char bar[31];
        unsigned fill = pct * 30 / 100;
        for (unsigned i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r[%s] %3u%% %llu/%llu records  %.0f rec/s  ETA %um%02us ", bar, pct,
                (unsigned long long)st->seen, (unsigned long long)st->total, rate,
                (unsigned)eta / 60, (unsigned)eta % 60);
        if (final)
            fputc('\n', stderr);
    } else if (st->seen > 0) {
        fprintf(stderr, "migrate: %llu/%llu records (%u%%), %.0f records/s, ETA %.0f s\n",
                (unsigned long long)st->seen, (unsigned long long)st->total, pct, rate, eta);
    }
    fflush(stderr);
}

static int load_text(warden_buf *b, const char *arg, warden_err *e)
{
    struct stat st;
    if (strchr(arg, '+') == NULL || stat(arg, &st) == 0) {
        if (warden_file_read(b, arg, 4096, e) != 0)
            return -1;
    } else if (warden_buf_puts(b, arg) != 0) {
        return -1;
    }
    while (b->len > 0 && (b->p[b->len - 1] == '\n' || b->p[b->len - 1] == ' '))
        b->len--;
    return warden_buf_cstr(b);
}

static int do_keygen(const char **v)
{
    warden_err e;
    warden_tlog_signer *s = NULL;
    warden_buf vk;
    warden_buf_init(&vk);
    if (v[O_KEY] == NULL) {
        cmd_migrate_usage(stderr);
        return 2;
    }
    int rc =
        warden_tlog_key_generate(v[O_KEY], v[O_NAME] ? v[O_NAME] : "warden-migration", NULL, &e);
    if (rc == 0)
        rc = warden_tlog_signer_load(&s, v[O_KEY], &e);
    if (rc == 0)
        rc = warden_tlog_signer_vkey(&vk, s, &e);
    if (rc == 0)
        printf("%.*s\n", (int)vk.len, (const char *)vk.p);
    else
        fprintf(stderr, "warden migrate keygen: %s\n", e.msg);
    warden_tlog_signer_free(s);
    warden_buf_fini(&vk);
    return rc == 0 ? 0 : 1;
}

static int do_verify(const char **v)
{
    warden_err e;
    warden_buf lk, mk;
    warden_buf_init(&lk);
    warden_buf_init(&mk);
    if (v[O_LOG] == NULL || v[O_VKEY] == NULL || v[O_MVKEY] == NULL || v[O_SOCKET] == NULL) {
        cmd_migrate_usage(stderr);
        return 2;
    }
    int st = 1;
    if (load_text(&lk, v[O_VKEY], &e) != 0 || load_text(&mk, v[O_MVKEY], &e) != 0) {
        fprintf(stderr, "warden migrate verify: cannot read a verifier key\n");
        goto out;
    }
    warden_migrate_verify_opts o = {.log = v[O_LOG],
                                    .log_vkey = (const char *)lk.p,
                                    .mig_vkey = (const char *)mk.p,
                                    .socket = v[O_SOCKET],
                                    .run = v[O_RUN],
                                    .principal = v[O_PRINCIPAL],
                                    .purpose = v[O_PURPOSE],
                                    .source_ip = v[O_SOURCE_IP],
                                    .location = v[O_LOCATION]};
    warden_migrate_report r;
    if (warden_migrate_verify(&r, &o, &e) != 0) {
        fprintf(stderr, "warden migrate verify: FAILED: %s\n", e.msg);
        goto out;
    }
    char sr[48], dr[48];
    warden_tlog_hash_b64(sr, &r.source_root);
    warden_tlog_hash_b64(dr, &r.dest_root);
    printf("migration %s verified: statement signed (log index %llu)\n", r.run,
           (unsigned long long)r.end_index);
    printf("source: %llu records, root %s\n", (unsigned long long)r.source_records, sr);
    printf("destination: %llu migrated records read back, root %s matches\n",
           (unsigned long long)r.checked, dr);
    if (r.has_delete)
        printf("deletion logged: %llu source rows deleted\n", (unsigned long long)r.deleted);
    st = 0;
out:
    warden_buf_fini(&lk);
    warden_buf_fini(&mk);
    return st;
}

int cmd_migrate(int argc, char **argv)
{
    const char *v[O_COUNT] = {0};
    bool dry = false, keep = false;
    if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
        return parse(v, NULL, NULL, argc, argv, 2) != 0 ? 2 : do_keygen(v);
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return parse(v, NULL, NULL, argc, argv, 2) != 0 ? 2 : do_verify(v);
    warden_migrate_opts o = {0};
    if (parse(v, &dry, &keep, argc, argv, 1) != 0 ||
        number(&o.connections, v[O_CONNS], "connections", 64) != 0 ||
        number(&o.batch, v[O_BATCH], "batch", 10000) != 0 ||
        (v[O_PG] == NULL) == (v[O_JSONL] == NULL) ||
        (!dry && (v[O_SOCKET] == NULL || v[O_KEY] == NULL))) {
        cmd_migrate_usage(stderr);
        return 2;
    }
    progress_state ps = {.tty = isatty(2) == 1};
    clock_gettime(CLOCK_MONOTONIC, &ps.t0);
    ps.last = ps.t0;
    o.pg_conninfo = v[O_PG];
    o.table = v[O_TABLE];
    o.jsonl_path = v[O_JSONL];
    o.source_name = v[O_SOURCE_NAME];
    o.socket = v[O_SOCKET];
    o.key_path = v[O_KEY];
    o.principal = v[O_PRINCIPAL];
    o.purpose = v[O_PURPOSE];
    o.source_ip = v[O_SOURCE_IP];
    o.location = v[O_LOCATION];
    o.dry_run = dry;
    o.single_writes = g_single;
    o.keep_source = keep || v[O_JSONL] != NULL;
    o.progress = dry ? NULL : on_progress;
    o.progress_ctx = &ps;
    o.report = stderr;
    warden_migrate_stats st;
    warden_err e;
    int rc = warden_migrate_run(&st, &o, &e);
    char sr[48], dr[48];
    warden_tlog_hash_b64(sr, &st.source_root);
    warden_tlog_hash_b64(dr, &st.dest_root);
    if (rc != 0) {
        fprintf(stderr, "warden migrate: %s\n", e.msg);
        return 1;
    }
    if (dry) {
        printf("dry run: %llu source records, root %s\n", (unsigned long long)st.total, sr);
        printf("would migrate %llu: %llu new, %llu changed since migrated, %llu interrupted\n",
               (unsigned long long)(st.fresh + st.changed + st.pending),
               (unsigned long long)st.fresh, (unsigned long long)st.changed,
               (unsigned long long)st.pending);
        printf("already migrated and unchanged: %llu; invalid (would be reported): %llu\n",
               (unsigned long long)st.already, (unsigned long long)st.invalid);
        printf("residency is decided by the destination's keyd: records it refuses stay in "
               "the source\n");
        return 0;
    }
    printf("run %s: %s -> %s\n", st.run, v[O_PG] ? "postgresql" : v[O_JSONL], st.destination);
    printf("source: %llu records, root %s (start statement at log index %llu)\n",
           (unsigned long long)st.total, sr, (unsigned long long)st.start_index);
    printf("migrated now %llu, earlier %llu; refused %llu; invalid %llu; conflicts %llu; "
           "failed %llu\n",
           (unsigned long long)st.migrated, (unsigned long long)st.already,
           (unsigned long long)st.refused, (unsigned long long)st.invalid,
           (unsigned long long)st.conflicts, (unsigned long long)st.failed);
    printf("destination: %llu records, root %s (end statement at log index %llu)\n",
           (unsigned long long)st.done_total, dr, (unsigned long long)st.end_index);
    if (st.deleted > 0 || st.delete_index > 0)
        printf("deleted %llu source rows (deletion statement at log index %llu)\n",
               (unsigned long long)st.deleted, (unsigned long long)st.delete_index);
    else if (o.keep_source)
        printf("source kept (%s)\n", v[O_JSONL] ? "JSON Lines export" : "--keep-source");
    return st.conflicts > 0 || st.failed > 0 ? 3 : 0;
}
