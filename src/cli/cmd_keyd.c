/* `warden keyd`, `warden keys` and `warden access`: the custodian service and its operator
 * clients. Only argument handling lives here; see include/warden/keyd.h. */
#include "cli/cli.h"
#include "keyd/protocol.h"
#include "warden/keyd.h"
#include "warden/util.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void cmd_keyd_usage(FILE *out)
{
    fprintf(out,
            "usage: warden keyd --config FILE\n"
            "       warden keyd reload --socket PATH\n"
            "       warden keyd status --socket PATH\n"
            "       warden keyd inventory --socket PATH\n"
            "       warden keyd check --log DIR --archive DIR --vkey VKEY\n\n"
            "Runs the custodian for one region: the only process holding keys and plaintext.\n"
            "Every request is decided with Cedar and logged durably before anything is\n"
            "released. Listens on the config's unix socket (mode 0660) for the uids it lists.\n"
            "SIGHUP or 'warden keyd reload' swaps policies and entities atomically; SIGTERM or\n"
            "SIGINT stops it. Core dumps are disabled. The config is described in\n"
            "docs/keyd-protocol.md. check is the auditor's offline re-run of every decision\n"
            "in a log with the archived policy sets (VKEY: key text or a file).\n");
}

void cmd_keys_usage(FILE *out)
{
    fprintf(out,
            "usage: warden keys init --config FILE\n"
            "       warden keys rotate --socket PATH\n"
            "       warden keys retire --socket PATH --version N\n"
            "       warden keys shred --socket PATH --user USER\n\n"
            "init creates the config's KEK (key file 0600 or PKCS#11 token key) and the\n"
            "log signing key when missing. rotate makes a new KEK version in the running\n"
            "keyd and re-wraps every DEK online; retire then destroys an old version (refused\n"
            "while a DEK still uses it), so old backups' wrapped DEKs die with it. shred destroys "
            "USER's data key: every\n"
            "copy of their records becomes unreadable; the shred is logged.\n");
}

void cmd_access_usage(FILE *out)
{
    fprintf(out, "usage: warden access --socket PATH --principal 'Type::\"id\"' --action ACTION\n"
                 "                     --user USER [--collection C --id ID] [--document JSON]\n"
                 "                     [--jurisdiction J] --purpose P --source-ip IP\n"
                 "                     [--location L] [--site S] [--request-id R]\n\n"
                 "Sends one request to keyd and prints its JSON answer on stdout and the log\n"
                 "index of its audit entry on stderr. ACTION is read, write, delete, export or\n"
                 "register (with --jurisdiction). Exit status 0 allowed, 3 denied, 1 error.\n");
}


/* --name VALUE pairs into vals[] by the names in names[] (NULL-terminated). */
static int opts(const char **vals, const char *const *names, int argc, char **argv, int first,
                const char *cmd)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        int k = -1;
        if (strncmp(a, "--", 2) == 0)
            for (int j = 0; names[j] != NULL; j++)
                if (strcmp(a + 2, names[j]) == 0)
                    k = j;
        if (k < 0 || i + 1 >= argc) {
            fprintf(stderr, "warden %s: %s '%s'\n", cmd,
                    k < 0 ? "unknown argument" : "missing value for", a);
            return -1;
        }
        vals[k] = argv[++i];
    }
    return 0;
}

/* Prints a reply; returns the exit status. */
static int show(json_t *reply, int is_error)
{
    char *s = json_dumps(reply, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (s != NULL)
        printf("%s\n", s);
    free(s);
    const json_t *idx = json_object_get(reply, "log_index");
    if (is_error) {
        fprintf(stderr, "warden: keyd refused: %s\n",
                json_string_value(json_object_get(reply, "error")));
        if (json_is_integer(idx)) /* a logged refusal */
            fprintf(stderr, "log index: %lld\n", (long long)json_integer_value(idx));
        return 1;
    }
    if (json_is_integer(idx))
        fprintf(stderr, "log index: %lld\n", (long long)json_integer_value(idx));
    const char *d = json_string_value(json_object_get(reply, "decision"));
    return d != NULL && strcmp(d, "deny") == 0 ? 3 : 0;
}

static int call(const char *socket, uint16_t type, json_t *body)
{
    warden_err err;
    json_t *reply = NULL;
    int is_error = 0;
    if (warden_keyd_call(&reply, &is_error, socket, type, body, &err) != 0) {
        fprintf(stderr, "warden: %s\n", err.msg);
        return 1;
    }
    int st = show(reply, is_error);
    json_decref(reply);
    return st;
}

int cmd_keyd(int argc, char **argv)
{
    static const char *const N[] = {"config", "socket", "log", "archive", "vkey", NULL};
    const char *v[5] = {NULL, NULL, NULL, NULL, NULL};
    warden_err err;
    if (argc >= 2 && strcmp(argv[1], "check") == 0) {
        if (opts(v, N, argc, argv, 2, "keyd") != 0 || v[2] == NULL || v[3] == NULL ||
            v[4] == NULL) {
            cmd_keyd_usage(stderr);
            return 2;
        }
        warden_buf vk;
        warden_buf_init(&vk);
        if (strchr(v[4], '+') == NULL) { /* a file holding the key */
            if (warden_file_read(&vk, v[4], 4096, &err) != 0 || warden_buf_cstr(&vk) != 0) {
                fprintf(stderr, "warden keyd check: %s\n", err.msg);
                warden_buf_fini(&vk);
                return 1;
            }
        } else if (warden_buf_puts(&vk, v[4]) != 0 || warden_buf_cstr(&vk) != 0) {
            warden_buf_fini(&vk);
            return 1;
        }
        uint64_t n = 0;
        int rc = warden_keyd_audit_check(&n, v[2], v[3], (const char *)vk.p, &err);
        warden_buf_fini(&vk);
        if (rc != 0) {
            fprintf(stderr, "warden keyd check: %s\n", err.msg);
            return 1;
        }
        printf("ok %llu decisions re-run\n", (unsigned long long)n);
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "reload") == 0 || strcmp(argv[1], "status") == 0 ||
                      strcmp(argv[1], "inventory") == 0)) {
        if (opts(v, N, argc, argv, 2, "keyd") != 0 || v[1] == NULL) {
            cmd_keyd_usage(stderr);
            return 2;
        }
        return call(v[1],
                    strcmp(argv[1], "reload") == 0   ? KEYD_MSG_RELOAD
                    : strcmp(argv[1], "status") == 0 ? KEYD_MSG_STATUS
                                                     : KEYD_MSG_INVENTORY,
                    NULL);
    }
    if (opts(v, N, argc, argv, 1, "keyd") != 0 || v[0] == NULL) {
        cmd_keyd_usage(stderr);
        return 2;
    }
    if (warden_disable_core_dumps(&err) != 0) {
        fprintf(stderr, "warden keyd: %s\n", err.msg);
        return 1;
    }
    /* Handlers first: a SIGHUP during start-up must not kill keyd. */
    cli_signals_catch(true);
    warden_keyd *k = NULL;
    if (warden_keyd_open(&k, v[0], &err) != 0) {
        fprintf(stderr, "warden keyd: %s\n", err.msg);
        return 1;
    }
    char hash[72];
    warden_keyd_policy_hash(hash, k);
    fprintf(stderr, "warden keyd: serving %s with policy set %s\n", warden_keyd_socket_path(k),
            hash);
    int rc = warden_keyd_serve(k, &cli_stop, &cli_reload, &err);
    if (rc != 0)
        fprintf(stderr, "warden keyd: %s\n", err.msg);
    warden_keyd_free(k);
    return rc == 0 ? 0 : 1;
}

int cmd_keys(int argc, char **argv)
{
    static const char *const N[] = {"config", "socket", "user", "version", NULL};
    const char *v[4] = {NULL, NULL, NULL, NULL};
    warden_err err;
    const char *sub = argc >= 2 ? argv[1] : "";
    if (opts(v, N, argc, argv, 2, "keys") != 0) {
        cmd_keys_usage(stderr);
        return 2;
    }
    if (strcmp(sub, "init") == 0 && v[0] != NULL) {
        int created = 0;
        if (warden_keyd_keys_init(&created, v[0], &err) != 0) {
            fprintf(stderr, "warden keys init: %s\n", err.msg);
            return 1;
        }
        printf("KEK: %s\nlog key: %s\n", (created & 1) ? "created" : "exists",
               (created & 2) ? "created" : "exists");
        return 0;
    }
    if (strcmp(sub, "rotate") == 0 && v[1] != NULL)
        return call(v[1], KEYD_MSG_ROTATE, NULL);
    uint64_t ver = 0;
    if (strcmp(sub, "retire") == 0 && v[1] != NULL && v[3] != NULL &&
        warden_parse_u64(&ver, v[3], strlen(v[3])) == 0 && ver > 0 && ver <= 0xffffffffu) {
        char rid[64];
        snprintf(rid, sizeof rid, "cli-retire-%ld-%ld", (long)time(NULL), (long)getpid());
        json_t *body = json_pack("{s:s, s:I}", "request_id", rid, "version", (json_int_t)ver);
        int st = body != NULL ? call(v[1], KEYD_MSG_RETIRE, body) : 1;
        json_decref(body);
        return st;
    }
    if (strcmp(sub, "shred") == 0 && v[1] != NULL && v[2] != NULL) {
        char rid[64];
        snprintf(rid, sizeof rid, "cli-shred-%ld-%ld", (long)time(NULL), (long)getpid());
        json_t *body = json_pack("{s:s, s:s}", "request_id", rid, "user", v[2]);
        int st = body != NULL ? call(v[1], KEYD_MSG_SHRED, body) : 1;
        json_decref(body);
        return st;
    }
    cmd_keys_usage(stderr);
    return 2;
}

int cmd_access(int argc, char **argv)
{
    enum { SOCK, PRIN, ACT, USER, COLL, ID, DOC, JUR, PURP, IP, LOC, RID, SITE, NOPT };
    static const char *const N[] = {
        "socket",       "principal", "action",    "user",     "collection", "id",   "document",
        "jurisdiction", "purpose",   "source-ip", "location", "request-id", "site", NULL};
    const char *v[NOPT] = {0};
    if (opts(v, N, argc, argv, 1, "access") != 0 || v[SOCK] == NULL || v[PRIN] == NULL ||
        v[ACT] == NULL || v[USER] == NULL || v[PURP] == NULL || v[IP] == NULL) {
        cmd_access_usage(stderr);
        return 2;
    }
    char rid[64];
    if (v[RID] == NULL) {
        snprintf(rid, sizeof rid, "cli-%ld-%ld", (long)time(NULL), (long)getpid());
        v[RID] = rid;
    }
    json_t *body = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "request_id", v[RID],
                             "principal", v[PRIN], "user", v[USER], "context", "source_ip", v[IP],
                             "location", v[LOC] ? v[LOC] : "unknown", "purpose", v[PURP]);
    if (body == NULL) {
        fprintf(stderr, "warden access: arguments must be UTF-8\n");
        return 2;
    }
    if (v[SITE] != NULL && json_object_set_new(json_object_get(body, "context"), "site",
                                               json_string(v[SITE])) != 0) {
        fprintf(stderr, "warden access: --site must be UTF-8\n");
        json_decref(body);
        return 2;
    }
    uint16_t type = KEYD_MSG_ACCESS;
    int bad = 0;
    if (strcmp(v[ACT], "register") == 0) {
        type = KEYD_MSG_REGISTER;
        bad = v[JUR] == NULL || json_object_set_new(body, "jurisdiction", json_string(v[JUR])) != 0;
    } else {
        bad = json_object_set_new(body, "action", json_string(v[ACT])) != 0;
        if (v[COLL] != NULL)
            bad |= json_object_set_new(body, "collection", json_string(v[COLL])) != 0;
        if (v[ID] != NULL)
            bad |= json_object_set_new(body, "id", json_string(v[ID])) != 0;
        if (v[DOC] != NULL) {
            json_error_t je;
            json_t *d = json_loads(v[DOC], JSON_REJECT_DUPLICATES, &je);
            if (d == NULL) {
                fprintf(stderr, "warden access: --document:%d:%d: %s\n", je.line, je.column,
                        je.text);
                json_decref(body);
                return 2;
            }
            bad |= json_object_set_new(body, "document", d) != 0;
        }
    }
    if (bad) {
        fprintf(stderr, "warden access: bad arguments\n");
        cmd_access_usage(stderr);
        json_decref(body);
        return 2;
    }
    int st = call(v[SOCK], type, body);
    json_decref(body);
    return st;
}
