/* The stop and reload flags of the long-running commands (keyd, serve, gateway, demo), set
 * from signal handlers: the one place a global is forced on us. */
#include "cli/cli.h"

#include <signal.h>

volatile sig_atomic_t cli_stop, cli_reload;

static void on_stop(int sig)
{
    (void)sig;
    cli_stop = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    cli_reload = 1;
}

void cli_signals_catch(bool hup_reloads)
{
    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = hup_reloads ? on_hup : on_stop;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a peer that goes away is an error return, not a death */
}
