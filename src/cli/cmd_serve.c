/* `warden serve --cluster FILE --region NAME [--listen HOST:PORT]`: one region (keyd and
 * gateway) in one process, until SIGTERM or SIGINT. */
#include "cli/cli.h"
#include "warden/serve.h"
#include "warden/util.h"

#include <signal.h>
#include <string.h>


void cmd_serve_usage(FILE *out)
{
    fprintf(out, "usage: warden serve --cluster FILE --region NAME [--listen HOST:PORT]\n\n"
                 "Runs one region of a cluster: its custodian (keyd, from the region's \"keyd\"\n"
                 "config) and its HTTP gateway on the region's listen address (default: the\n"
                 "cluster's \"listen\", or host:port of its url). SIGTERM or SIGINT stops the\n"
                 "gateway, then keyd, and exits 0; SIGHUP makes keyd reload its policies and\n"
                 "entities. The cluster file is described in include/warden/cluster.h.\n");
}

int cmd_serve(int argc, char **argv)
{
    warden_serve_options o = {NULL, NULL, NULL};
    for (int i = 1; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--cluster") == 0  ? &o.cluster_path
                            : strcmp(argv[i], "--region") == 0 ? &o.region
                            : strcmp(argv[i], "--listen") == 0 ? &o.listen
                                                               : NULL;
        if (slot == NULL || i + 1 >= argc) {
            fprintf(stderr, "warden serve: %s '%s'\n",
                    slot == NULL ? "unknown option" : "missing value for", argv[i]);
            cmd_serve_usage(stderr);
            return 2;
        }
        *slot = argv[++i];
    }
    if (o.cluster_path == NULL || o.region == NULL) {
        cmd_serve_usage(stderr);
        return 2;
    }
    warden_err err;
    if (warden_disable_core_dumps(&err) != 0) {
        fprintf(stderr, "warden serve: %s\n", err.msg);
        return 1;
    }
    /* Handlers before anything starts: a signal during start-up must stop cleanly too. */
    cli_signals_catch(true);
    if (warden_serve_run(&o, &cli_stop, &cli_reload, &err) != 0) {
        fprintf(stderr, "warden serve: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "warden serve: %s stopped\n", o.region);
    return 0;
}
