/* `warden <command> [args]`: git-style dispatch over a fixed table of subcommands. */
#include "cli/cli.h"
#include "warden/common.h"

#include <string.h>

/* Filled as components land; a command is listed only once it works. */
static const cli_command COMMANDS[] = {
    {"authorize", "decide Cedar authorization requests", cmd_authorize, cmd_authorize_usage},
    {"log", "transparency log: init, append, verify, prove, serve", cmd_log, cmd_log_usage},
    {"keyd", "the custodian: keys, records, log-before-release", cmd_keyd, cmd_keyd_usage},
    {"keys", "custodian keys: init, rotate, shred", cmd_keys, cmd_keys_usage},
    {"access", "send one access request to keyd", cmd_access, cmd_access_usage},
    {"gateway", "serve a region's HTTP API (tokens, location, routing)", cmd_gateway,
     cmd_gateway_usage},
    {"serve", "run one region of a cluster: keyd and its gateway", cmd_serve, cmd_serve_usage},
    {"demo", "run the Project Texas story end to end on 127.0.0.1", cmd_demo, cmd_demo_usage},
    {"token", "bearer tokens: keygen, pubkey, issue, verify", cmd_token, cmd_token_usage},
    {"report", "auditor's reports: replay, access, who-can, residency", cmd_report, cmd_report_usage},
    {"migrate", "move legacy copies in, verified; verify a migration", cmd_migrate,
     cmd_migrate_usage},
    {NULL, NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: warden <command> [options]\n"
                 "       warden help [command]\n"
                 "       warden --version\n\n"
                 "warden keeps one jurisdiction's user data under a custodian's control and\n"
                 "makes that control checkable by an outsider.\n\ncommands:\n");
    for (const cli_command *c = COMMANDS; c->name != NULL; c++)
        fprintf(out, "  %-12s %s\n", c->name, c->summary);
    fprintf(out, "\nRun 'warden <command> --help' for a command's options.\n");
}

static const cli_command *find(const char *name)
{
    for (const cli_command *c = COMMANDS; c->name != NULL; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("warden %s\n", WARDEN_VERSION);
        return 0;
    }
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        const cli_command *c = find(argv[2]);
        if (c == NULL) {
            fprintf(stderr, "warden: unknown command '%s'\n", argv[2]);
            return 2;
        }
        c->usage(stdout);
        return 0;
    }
    const cli_command *c = find(name);
    if (c == NULL) {
        fprintf(stderr, "warden: unknown command '%s' (see 'warden help')\n", name);
        return 2;
    }
    if (cli_wants_help(argc - 1, argv + 1)) {
        c->usage(stdout);
        return 0;
    }
    return c->run(argc - 1, argv + 1);
}
