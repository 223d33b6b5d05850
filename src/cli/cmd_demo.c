/* `warden demo [--keep] [--dir DIR] [--template DIR]`: the Project Texas story, run for
 * real on 127.0.0.1 (include/warden/demo.h, docs/demo.md). */
#include "cli/cli.h"
#include "warden/demo.h"

#include <signal.h>
#include <string.h>

void cmd_demo_usage(FILE *out)
{
    fprintf(
        out,
        "usage: warden demo [--keep] [--dir DIR] [--template DIR]\n\n"
        "Starts three regions on 127.0.0.1 (texas: the custodian, holds US data; virginia\n"
        "and singapore: legacy, hold no US data), replays the Project Texas scenario with\n"
        "real HTTP requests, prints what happened and why, and verifies every region's log.\n"
        "Exit status 0 only if every step behaved as expected.\n\n"
        "  --keep          leave the regions running and print curl commands (Ctrl-C stops)\n"
        "  --dir DIR       work in DIR (new or empty) and keep it; default: a temporary\n"
        "                  directory, removed at the end unless --keep\n"
        "  --template DIR  the cluster template (default: examples/cluster of the source tree)\n");
}

int cmd_demo(int argc, char **argv)
{
    warden_demo_options o = {NULL, NULL, NULL, 0, stdout};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--keep") == 0) {
            o.keep = 1;
            continue;
        }
        const char **slot = strcmp(argv[i], "--dir") == 0        ? &o.dir
                            : strcmp(argv[i], "--template") == 0 ? &o.template_dir
                                                                 : NULL;
        if (slot == NULL || i + 1 >= argc) {
            fprintf(stderr, "warden demo: %s '%s'\n",
                    slot == NULL ? "unknown option" : "missing value for", argv[i]);
            cmd_demo_usage(stderr);
            return 2;
        }
        *slot = argv[++i];
    }
    cli_signals_catch(false);
    warden_err err;
    unsigned failed = 0;
    if (warden_demo_run(&failed, &o, &cli_stop, &err) != 0) {
        fprintf(stderr, "warden demo: %s\n", err.msg);
        return 1;
    }
    return failed == 0 ? 0 : 1;
}
