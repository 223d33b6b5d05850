/* `warden report`: the auditor's reports (include/warden/report.h). Only argument handling
 * and output selection live here. */
#include "cli/cli.h"
#include "warden/report.h"
#include "warden/util.h"

#include <stdlib.h>
#include <string.h>

#define MAX_POLICY_FILES 32

void cmd_report_usage(FILE *out)
{
    fprintf(out,
            "usage: warden report replay  (--log URL | --dir DIR) --vkey VKEY [--archive URL|DIR]\n"
            "       warden report access  (--log URL | --dir DIR) --vkey VKEY [--since TIME]\n"
            "       warden report who-can (--config KEYD.JSON | --policies FILE... [--entities "
            "FILE])\n"
            "                             --user U --jurisdiction J --collection C [--id ID]\n"
            "                             [--region R] [--networks CSV] [--locations L1,L2,..]\n"
            "       warden report residency --cluster CLUSTER.JSON [--legacy REGION=CONNINFO]...\n"
            "                             [--legacy-table TABLE]\n"
            "  every report: [--json | --html] [--out FILE]\n\n"
            "replay re-runs every decision of the verified log with the archived policy set it\n"
            "names (default archive: DIR.policysets, or URL/policysets) and lists those that\n"
            "differ (exit status 3 when any does). access counts the verified log's accesses by\n"
            "outcome, principal, location, purpose and action, lists cross-border accesses to\n"
            "protected data, and charts them over time (TIME: 2026-11-25 or 2026-11-25T13:00).\n"
            "who-can evaluates the policies for every principal of the directory, location and\n"
            "purpose, and lists who could read the record's protected and excepted fields.\n"
            "residency asks every region's keyd what it holds (and counts legacy PostgreSQL\n"
            "copies by jurisdiction) and lists holdings the cluster file or the region's keyd\n"
            "config forbids (exit status 3 when any is found).\n"
            "Output: text tables, JSON (--json) or one self-contained HTML page (--html).\n"
            "VKEY is the log's verifier key text or a file holding it.\n");
}

/* Loads a verifier key given as text (it contains '+') or as a file. */
static int vkey_load(warden_buf *vk, const char *arg, warden_err *err)
{
    int rc =
        strchr(arg, '+') != NULL ? warden_buf_puts(vk, arg) : warden_file_read(vk, arg, 4096, err);
    if (rc == 0 && warden_buf_cstr(vk) != 0)
        rc = WARDEN_ENOMEM;
    while (rc == 0 && vk->len > 0 && (vk->p[vk->len - 1] == '\n' || vk->p[vk->len - 1] == '\r'))
        vk->p[--vk->len] = '\0';
    if (rc == WARDEN_ENOMEM)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    return rc;
}

static int emit(const json_t *doc, int format, const char *path, warden_err *err)
{
    warden_buf b;
    warden_buf_init(&b);
    int rc = 0;
    if (format == 1) {
        char *s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
        rc = s == NULL || warden_buf_puts(&b, s) != 0 || warden_buf_puts(&b, "\n") != 0
                 ? warden_err_set(err, WARDEN_ENOMEM, "out of memory")
                 : 0;
        free(s);
    } else if (format == 2) {
        rc = warden_report_render_html(&b, doc, err);
    } else {
        rc = warden_report_render_text(&b, doc, err);
    }
    if (rc == 0 && path != NULL)
        rc = warden_file_write_atomic(path, b.p, b.len, 0644, err);
    else if (rc == 0 && b.len > 0 && fwrite(b.p, 1, b.len, stdout) != b.len)
        rc = warden_err_set(err, WARDEN_EIO, "writing the report failed");
    warden_buf_fini(&b);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    enum {
        LOG,
        DIR,
        VKEY,
        ARCHIVE,
        SINCE,
        CONFIG,
        ENTITIES,
        USER,
        JUR,
        COLL,
        ID,
        REGION,
        NETS,
        LOCS,
        OUT,
        CLUSTER,
        LTABLE,
        NOPTS
    };
    static const char *const NAMES[NOPTS] = {"log",          "dir",        "vkey",     "archive",
                                             "since",        "config",     "entities", "user",
                                             "jurisdiction", "collection", "id",       "region",
                                             "networks",     "locations",  "out",      "cluster",
                                             "legacy-table"};
    const char *v[NOPTS] = {0};
    const char *policies[MAX_POLICY_FILES];
    size_t npol = 0, nleg = 0;
    warden_report_legacy legacy[MAX_POLICY_FILES];
    int format = 0;
    if (argc < 2) {
        cmd_report_usage(stderr);
        return 2;
    }
    const char *what = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0 || strcmp(a, "--html") == 0) {
            format = a[2] == 'j' ? 1 : 2;
            continue;
        }
        int k = -1;
        for (int j = 0; j < NOPTS && strncmp(a, "--", 2) == 0; j++)
            if (strcmp(a + 2, NAMES[j]) == 0)
                k = j;
        bool pol = strcmp(a, "--policies") == 0, leg = strcmp(a, "--legacy") == 0;
        if ((k < 0 && !pol && !leg) || i + 1 >= argc) {
            fprintf(stderr, "warden report: %s '%s'\n",
                    k < 0 && !pol && !leg ? "unknown argument" : "missing value for", a);
            return 2;
        }
        if (leg) {
            char *eq = strchr(argv[i + 1], '=');
            if (eq == NULL || eq == argv[i + 1] || nleg == MAX_POLICY_FILES) {
                fprintf(stderr, "warden report: --legacy wants REGION=CONNINFO (at most %d)\n",
                        MAX_POLICY_FILES);
                return 2;
            }
            *eq = '\0';
            legacy[nleg].region = argv[++i];
            legacy[nleg++].conninfo = eq + 1;
        } else if (pol) {
            if (npol == MAX_POLICY_FILES) {
                fprintf(stderr, "warden report: more than %d --policies\n", MAX_POLICY_FILES);
                return 2;
            }
            policies[npol++] = argv[++i];
        } else {
            v[k] = argv[++i];
        }
    }
    warden_err err;
    warden_buf vk;
    warden_buf_init(&vk);
    json_t *doc = NULL;
    uint64_t differ = 0, violations = 0;
    int rc, st = 0;
    if (strcmp(what, "replay") == 0 || strcmp(what, "access") == 0) {
        if ((v[LOG] == NULL) == (v[DIR] == NULL) || v[VKEY] == NULL) {
            fprintf(stderr, "warden report %s: give --log URL or --dir DIR, and --vkey\n", what);
            return 2;
        }
        if ((rc = vkey_load(&vk, v[VKEY], &err)) == 0) {
            warden_report_log src = {v[LOG] != NULL ? v[LOG] : v[DIR], v[ARCHIVE],
                                     (const char *)vk.p};
            rc = what[0] == 'r' ? warden_report_replay(&doc, &differ, &src, &err)
                                : warden_report_access(&doc, &src, v[SINCE], &err);
        }
    } else if (strcmp(what, "who-can") == 0) {
        if ((v[CONFIG] == NULL) == (npol == 0) || v[USER] == NULL || v[JUR] == NULL ||
            v[COLL] == NULL) {
            fprintf(stderr, "warden report who-can: give --config or --policies, and --user, "
                            "--jurisdiction, --collection\n");
            return 2;
        }
        warden_report_whocan_query q = {.config = v[CONFIG],
                                        .policy_files = policies,
                                        .n_policy_files = npol,
                                        .entities_file = v[ENTITIES],
                                        .region = v[REGION],
                                        .user = v[USER],
                                        .jurisdiction = v[JUR],
                                        .collection = v[COLL],
                                        .id = v[ID],
                                        .networks_file = v[NETS],
                                        .locations = v[LOCS]};
        rc = warden_report_whocan(&doc, &q, &err);
    } else if (strcmp(what, "residency") == 0) {
        if (v[CLUSTER] == NULL) {
            fprintf(stderr, "warden report residency: give --cluster\n");
            return 2;
        }
        warden_report_residency_query q = {.cluster = v[CLUSTER],
                                           .legacy = legacy,
                                           .n_legacy = nleg,
                                           .legacy_table = v[LTABLE]};
        rc = warden_report_residency(&doc, &violations, &q, &err);
    } else {
        fprintf(stderr, "warden report: unknown report '%s'\n", what);
        cmd_report_usage(stderr);
        return 2;
    }
    if (rc == 0)
        rc = emit(doc, format, v[OUT], &err);
    if (rc != 0) {
        fprintf(stderr, "warden report %s: %s\n", what, err.msg);
        st = 1;
    } else if (differ > 0) {
        fflush(stdout);
        fprintf(stderr, "warden report replay: %llu decisions differ from the log\n",
                (unsigned long long)differ);
        st = 3;
    } else if (violations > 0) {
        fflush(stdout);
        fprintf(stderr, "warden report residency: %llu holdings where the placement policy "
                        "forbids them\n",
                (unsigned long long)violations);
        st = 3;
    }
    json_decref(doc);
    warden_buf_fini(&vk);
    return st;
}
