/* The demo's regions as child processes: `warden serve --cluster C --region R`, each with
 * its stderr in <region>/serve.log. Children die with the demo (PR_SET_PDEATHSIG), and
 * demo_regions_stop is called on every exit path, so no region outlives a run. */
#include "demo/demo_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    (void)nanosleep(&ts, NULL);
}

static int spawn(demo_region *r, demo *d, warden_err *err)
{
    int fd = open(r->serve_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return warden_err_set(err, WARDEN_EIO, "open %s: %s", r->serve_log, strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        return warden_err_set(err, WARDEN_EIO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        /* The child: only async-signal-safe calls until execv. */
        int null = open("/dev/null", O_RDWR);
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
        /* Its own process group: a Ctrl-C at the terminal reaches the demo only, which then
         * stops the regions in order instead of having them vanish mid-step. */
        (void)setpgid(0, 0);
        if (getppid() != parent)
            _exit(126); /* the demo died before prctl took effect */
        if (null >= 0) {
            (void)dup2(null, 0);
            (void)dup2(null, 1);
        }
        (void)dup2(fd, 2);
        char *argv[] = {"warden", "serve", "--cluster", d->cluster_path, "--region", r->name, NULL};
        execv(d->exe, argv);
        _exit(127);
    }
    close(fd);
    r->pid = pid;
    return 0;
}

/* Prints the last lines of a region's serve.log, for a region that failed. */
static void show_log(demo *d, const demo_region *r)
{
    warden_buf b;
    warden_err e;
    warden_buf_init(&b);
    if (warden_file_read(&b, r->serve_log, 1 << 20, &e) == 0 && warden_buf_cstr(&b) == 0) {
        const char *s = (const char *)b.p;
        size_t n = strlen(s);
        if (n > 2000)
            s += n - 2000;
        demo_say(d, "---- %s (last lines) ----\n%s\n----\n", r->serve_log, s);
    }
    warden_buf_fini(&b);
}

/* True when the region's serve.log holds text (the gateway's "cannot listen", say). */
static int log_mentions(const demo_region *r, const char *text)
{
    warden_buf b;
    warden_err e;
    int found = 0;
    warden_buf_init(&b);
    if (warden_file_read(&b, r->serve_log, 1 << 20, &e) == 0 && warden_buf_cstr(&b) == 0)
        found = strstr((const char *)b.p, text) != NULL;
    warden_buf_fini(&b);
    return found;
}

static int ready(demo_region *r)
{
    char url[128];
    demo_response resp;
    warden_err e;
    snprintf(url, sizeof url, "%s/readyz", r->url);
    demo_request q = {.method = "GET", .url = url};
    demo_response_init(&resp);
    int ok = demo_http(&resp, &q, &e) == 0 && resp.status == 200;
    demo_response_fini(&resp);
    return ok;
}

int demo_regions_start(demo *d, warden_err *err)
{
    int rc = 0;
    for (size_t i = 0; i < d->n_regions && rc == 0; i++)
        rc = spawn(&d->regions[i], d, err);
    if (rc != 0)
        return rc;
    /* Generous: three keyds open logs and stores at once, under ASan on a busy machine. */
    for (size_t i = 0; i < d->n_regions; i++) {
        demo_region *r = &d->regions[i];
        int up = 0;
        for (int t = 0; t < 1200 && !up && !*d->stop; t++) {
            int st;
            if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
                r->pid = 0;
                if (log_mentions(r, "cannot listen")) /* its port was taken: try others */
                    return warden_err_set(err, WARDEN_EEXIST, "region %s: port %s taken", r->name,
                                          strrchr(r->url, ':') + 1);
                show_log(d, r);
                return warden_err_set(err, WARDEN_EIO, "region %s exited during start-up (%s)",
                                      r->name, r->serve_log);
            }
            up = ready(r);
            if (!up)
                nap_ms(50);
        }
        if (*d->stop)
            return warden_err_set(err, WARDEN_EINVAL, "interrupted");
        if (!up) {
            show_log(d, r);
            return warden_err_set(err, WARDEN_EIO, "region %s did not become ready at %s/readyz",
                                  r->name, r->url);
        }
        demo_say(d, "  %-10s %-24s %-26s pid %ld\n", r->name, r->url, r->about, (long)r->pid);
    }
    return 0;
}

unsigned demo_regions_stop(demo *d)
{
    unsigned bad = 0;
    for (size_t i = 0; i < d->n_regions; i++)
        if (d->regions[i].pid > 0)
            (void)kill(d->regions[i].pid, SIGTERM);
    for (size_t i = 0; i < d->n_regions; i++) {
        demo_region *r = &d->regions[i];
        if (r->pid <= 0)
            continue;
        int st = 0;
        pid_t w = 0;
        for (int t = 0; t < 400 && w == 0; t++) { /* 20 s grace */
            w = waitpid(r->pid, &st, WNOHANG);
            if (w == 0)
                nap_ms(50);
            else if (w < 0 && errno == EINTR)
                w = 0;
        }
        if (w == 0) {
            (void)kill(r->pid, SIGKILL);
            (void)waitpid(r->pid, &st, 0);
            demo_say(d, "region %s did not stop within 20 s: killed\n", r->name);
            bad++;
        } else if (w < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            demo_say(d, "region %s stopped with %s %d (see %s)\n", r->name,
                     w > 0 && WIFSIGNALED(st) ? "signal" : "status",
                     w > 0 && WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), r->serve_log);
            show_log(d, r);
            bad++;
        }
        r->pid = 0;
    }
    return bad;
}
