/* warden demo: the whole Project Texas story, run for real. In a fresh directory it copies
 * the cluster template (examples/cluster/), creates every key, starts three regions as
 * `warden serve` child processes on 127.0.0.1 (texas: the custodian, holds US data;
 * virginia and singapore: legacy, hold no US data), issues tokens, replays the scenario with
 * real HTTP requests from source addresses that the networks table places in different
 * countries, prints what happened and why (decision, determining policies, withheld fields,
 * log index), and ends by verifying every region's transparency log over HTTP.
 * docs/demo.md explains each step. */
#ifndef WARDEN_DEMO_H
#define WARDEN_DEMO_H

#include "warden/common.h"

#include <signal.h>
#include <stdio.h>

typedef struct warden_demo_options {
    const char *template_dir; /* NULL: examples/cluster beside the binary's source tree */
    const char *dir;          /* NULL: a new temporary directory, removed at the end */
    const char *exe;          /* the warden binary for `serve`; NULL: /proc/self/exe */
    int keep;                 /* leave the regions running until *stop, print curl commands */
    FILE *out;                /* where the story is printed (stdout when NULL) */
} warden_demo_options;

/* Runs the demo. *failed counts the steps and checks that did not behave as expected (each
 * is printed with EXPECTED and GOT); 0 means the whole story held. The child processes are
 * stopped (SIGTERM, then waited for) on every path, also when *stop becomes non-zero (a
 * signal handler sets it), which ends the demo early with WARDEN_EINVAL "interrupted".
 * Errors (the demo could not run): WARDEN_ENOTFOUND (no template), WARDEN_EEXIST (dir is
 * not empty), WARDEN_EIO (files, processes, a region that does not come up: the message
 * names its log file), and those of warden_token_key_generate and warden_keyd_keys_init. */
WARDEN_MUST_USE int warden_demo_run(unsigned *failed, const warden_demo_options *o,
                                    volatile sig_atomic_t *stop, warden_err *err);

#endif
