/* The warden command line: each subcommand is one cmd_<name>.c that turns arguments
 * into library calls. Every command prints its usage for --help and returns a process
 * exit status (0 ok, 1 failure, 2 usage error). */
#ifndef WARDEN_CLI_H
#define WARDEN_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
    void (*usage)(FILE *out);
} cli_command;

/* True when argv holds -h or --help (before any "--"). */
int cli_wants_help(int argc, char **argv);

/* Subcommands (one file each). */
int cmd_authorize(int argc, char **argv);
void cmd_authorize_usage(FILE *out);
int cmd_log(int argc, char **argv);
void cmd_log_usage(FILE *out);
int cmd_keyd(int argc, char **argv);
void cmd_keyd_usage(FILE *out);
int cmd_keys(int argc, char **argv);
void cmd_keys_usage(FILE *out);
int cmd_access(int argc, char **argv);
void cmd_access_usage(FILE *out);
int cmd_gateway(int argc, char **argv);
void cmd_gateway_usage(FILE *out);
int cmd_serve(int argc, char **argv);
void cmd_serve_usage(FILE *out);
int cmd_demo(int argc, char **argv);
void cmd_demo_usage(FILE *out);
int cmd_token(int argc, char **argv);
void cmd_token_usage(FILE *out);
int cmd_report(int argc, char **argv);
void cmd_report_usage(FILE *out);
int cmd_migrate(int argc, char **argv);
void cmd_migrate_usage(FILE *out);

/* Set by SIGTERM/SIGINT (stop) and SIGHUP (reload, or stop when !hup_reloads). */
extern volatile sig_atomic_t cli_stop, cli_reload;
/* Installs the handlers for the flags above and ignores SIGPIPE. */
void cli_signals_catch(bool hup_reloads);

#endif
