/* warden demo's driver (include/warden/demo.h): setup, regions up, the scenario, the
 * evidence, and — on every path — the regions stopped and the directory cleaned. */
#include "demo/demo_internal.h"

#include <curl/curl.h>
#include <string.h>
#include <time.h>

int warden_demo_run(unsigned *failed, const warden_demo_options *o, volatile sig_atomic_t *stop,
                    warden_err *err)
{
    demo d;
    int rc;
    memset(&d, 0, sizeof d);
    d.out = o->out != NULL ? o->out : stdout;
    d.stop = stop;
    *failed = 0;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return warden_err_set(err, WARDEN_EINTERNAL, "curl_global_init failed");
    demo_say(&d, "warden demo: the Project Texas arrangement, end to end, over real HTTP\n");
    if ((rc = demo_setup(&d, o, err)) != 0)
        goto out;
    demo_say(&d,
             "\nIn %s: cluster.json, policies.cedar, entities.json, networks.csv, schemas/,\n"
             "a token issuer key, and for each region a KEK and a log signing key.\n"
             "Starting the regions (`warden serve`: keyd + gateway each):\n",
             d.dir);
    /* A port picked as free can be taken before a gateway binds it: start again on new
     * ports (twice at most) rather than fail the whole run. */
    for (int attempt = 1; (rc = demo_regions_start(&d, err)) != 0; attempt++) {
        if (rc != WARDEN_EEXIST || *stop || attempt == 3)
            goto out;
        demo_say(&d, "  (%s: starting again on new ports)\n", err->msg);
        (void)demo_regions_stop(&d);
        if ((rc = demo_setup_ports(&d, err)) != 0)
            goto out;
    }
    if ((rc = demo_steps_run(&d, err)) != 0)
        goto out;
    demo_say(&d, "\n== Evidence - every decision above is in a verifiable log ==\n");
    demo_report(&d);
    if (o->keep) {
        demo_steps_print_try(&d);
        while (!*stop) {
            struct timespec ts = {0, 200 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
out:;
    demo_pg_stop(&d.pg);
    unsigned bad = demo_regions_stop(&d);
    d.failed += bad;
    if (rc == 0) {
        if (bad == 0)
            demo_say(&d, "\nAll regions stopped cleanly.\n");
        if (d.failed == 0)
            demo_say(&d, "RESULT: all %u steps behaved as expected; every region's log verified.\n",
                     d.steps);
        else
            demo_say(&d, "RESULT: %u of %u steps or checks did NOT behave as expected.\n", d.failed,
                     d.steps);
    }
    if (d.remove_dir == 0 && d.dir[0] != '\0')
        demo_say(&d, "The demo's files stay in %s\n", d.dir);
    demo_teardown(&d);
    *failed = d.failed;
    return rc;
}
