/* The demo's own PostgreSQL server, holding the legacy regions' copies: initdb in a fresh
 * temporary directory, the server listening on 127.0.0.1 at a free port and on a unix
 * socket in that directory, trust authentication for one superuser; stopped and removed on
 * every exit path (demo_pg_stop), and dying with the demo (PR_SET_PDEATHSIG: the server is
 * our child, run without pg_ctl). initdb refuses to run as root, so as root the server runs
 * as the unprivileged user "warden-pg" (created with useradd when missing), as
 * tests/lib/pg.sh does. A demo killed with SIGKILL cannot remove its directory; the next
 * demo does, once the pid recorded in it (owner.pid) is no longer running. */
#define _GNU_SOURCE /* strverscmp */
#include "demo/demo_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG_USER "warden-pg"

static int find_bindir(char *out, size_t cap, warden_err *err)
{
    glob_t g;
    int rc = glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g);
    if (rc != 0)
        return warden_err_set(err, WARDEN_ENOTFOUND,
                              "PostgreSQL server binaries not found "
                              "(/usr/lib/postgresql/*/bin/initdb): install Debian's postgresql");
    const char *best = g.gl_pathv[0];
    for (size_t i = 1; i < g.gl_pathc; i++)
        if (strverscmp(g.gl_pathv[i], best) > 0)
            best = g.gl_pathv[i];
    snprintf(out, cap, "%.*s", (int)(strlen(best) - strlen("/initdb")), best);
    globfree(&g);
    return 0;
}

/* fork + exec argv (as uid/gid when p->as_other), stdout/stderr to log; child dies with us.
 * Returns the pid or -1. */
static pid_t spawn(const demo_pg *p, char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        (void)dup2(fd, 1);
        (void)dup2(fd, 2);
    }
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0)
        (void)dup2(nul, 0);
    if (p->as_other &&
        (setgroups(0, NULL) != 0 || setgid(p->gid) != 0 || setuid(p->uid) != 0))
        _exit(126);
    /* after the credentials change, which clears it */
    (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
    execv(argv[0], argv);
    _exit(127);
}

static int run_wait(const demo_pg *p, char *const argv[], const char *log, warden_err *err)
{
    pid_t pid = spawn(p, argv, log);
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return warden_err_set(err, WARDEN_EIO, "%s failed (see %s)", argv[0], log);
    return 0;
}

static int pg_user(demo_pg *p, warden_err *err)
{
    struct passwd *pw = getpwnam(PG_USER);
    if (pw == NULL) {
        char *argv[] = {"/usr/sbin/useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", PG_USER, NULL};
        demo_pg self = {0};
        int rc = run_wait(&self, argv, "/dev/null", err);
        if (rc != 0)
            return warden_err_set(err, rc, "cannot create the user %s to run PostgreSQL as: %s",
                                  PG_USER, err->msg);
        if ((pw = getpwnam(PG_USER)) == NULL)
            return warden_err_set(err, WARDEN_EIO, "user %s not found after useradd", PG_USER);
    }
    p->uid = pw->pw_uid;
    p->gid = pw->pw_gid;
    p->as_other = true;
    return 0;
}

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    int port = -1;
    if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &n) == 0)
        port = ntohs(a.sin_port);
    if (s >= 0)
        close(s);
    return port;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Removes the directories of earlier demos whose process is gone. A directory without a
 * readable owner.pid, or whose pid still runs (or was reused), is left alone: a wrong
 * "gone" would delete a running demo's database. */
static void sweep_stale(void)
{
    glob_t g;
    if (glob("/tmp/warden-demo-pg.*/owner.pid", 0, NULL, &g) != 0)
        return;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char buf[32] = {0}, dir[PATH_MAX];
        int fd = open(g.gl_pathv[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        struct stat st;
        bool mine = fstat(fd, &st) == 0 && st.st_uid == geteuid();
        close(fd);
        char *end = NULL;
        long pid = n > 0 ? strtol(buf, &end, 10) : 0;
        if (!mine || pid <= 0 || end == buf || (*end != '\n' && *end != '\0'))
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(dir, sizeof dir, "%.*s", (int)(strlen(g.gl_pathv[i]) - strlen("/owner.pid")),
                 g.gl_pathv[i]);
        (void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    globfree(&g);
}

/* Records our pid in the directory, for sweep_stale. */
static int write_owner(const char *dir, warden_err *err)
{
    char path[PATH_MAX], pid[32];
    snprintf(path, sizeof path, "%s/owner.pid", dir);
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, pid, (size_t)n) != n) {
        if (fd >= 0)
            close(fd);
        return warden_err_set(err, WARDEN_EIO, "%s: %s", path, strerror(errno));
    }
    close(fd);
    return 0;
}

void demo_pg_conninfo(char *out, size_t cap, const demo_pg *p, const char *db)
{
    snprintf(out, cap, "host=127.0.0.1 port=%d user=warden dbname=%s connect_timeout=10", p->port,
             db);
}

int demo_pg_start(demo_pg *p, warden_err *err)
{
    char bin[PATH_MAX - 32], exe[PATH_MAX], data[PATH_MAX], log[PATH_MAX], port[16];
    int rc = find_bindir(bin, sizeof bin, err);
    if (rc == 0 && geteuid() == 0)
        rc = pg_user(p, err);
    if (rc != 0)
        return rc;
    sweep_stale();
    snprintf(p->dir, sizeof p->dir, "/tmp/warden-demo-pg.XXXXXX");
    if (mkdtemp(p->dir) == NULL) {
        p->dir[0] = '\0';
        return warden_err_set(err, WARDEN_EIO, "mkdtemp: %s", strerror(errno));
    }
    if ((rc = write_owner(p->dir, err)) != 0)
        return rc;
    if (p->as_other && chown(p->dir, p->uid, p->gid) != 0)
        return warden_err_set(err, WARDEN_EIO, "chown %s: %s", p->dir, strerror(errno));
    snprintf(data, sizeof data, "%s/data", p->dir);
    snprintf(log, sizeof log, "%s/server.log", p->dir);
    snprintf(exe, sizeof exe, "%s/initdb", bin);
    {
        char *argv[] = {exe,        "-D",           data,       "-U",     "warden",
                        "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", NULL};
        if ((rc = run_wait(p, argv, log, err)) != 0)
            return rc;
    }
    snprintf(exe, sizeof exe, "%s/postgres", bin);
    for (int attempt = 0; attempt < 5; attempt++) {
        if ((p->port = free_port()) < 0)
            return warden_err_set(err, WARDEN_EIO, "no free port for PostgreSQL");
        snprintf(port, sizeof port, "%d", p->port);
        /* a throwaway copy: durability is not what the demo is about, speed is */
        char *argv[] = {exe,  "-D", data, "-p", port, "-k", p->dir, "-c",
                        "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c",
                        "synchronous_commit=off", NULL};
        if ((p->pid = spawn(p, argv, log)) < 0)
            return warden_err_set(err, WARDEN_EIO, "fork: %s", strerror(errno));
        char ci[256];
        demo_pg_conninfo(ci, sizeof ci, p, "postgres");
        for (int i = 0; i < 600; i++) { /* 30 s */
            if (PQping(ci) == PQPING_OK)
                return 0;
            int st;
            if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
                p->pid = 0;
                break; /* port taken meanwhile, most likely: try another */
            }
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (p->pid > 0)
            break;
    }
    return warden_err_set(err, WARDEN_EIO, "the PostgreSQL server did not start (see %s)", log);
}

void demo_pg_stop(demo_pg *p)
{
    if (p->pid > 0) {
        int st;
        (void)kill(p->pid, SIGINT); /* fast shutdown */
        for (int i = 0; i < 200 && waitpid(p->pid, &st, WNOHANG) == 0; i++) {
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
            if (i == 199) {
                (void)kill(p->pid, SIGKILL);
                (void)waitpid(p->pid, &st, 0);
            }
        }
        p->pid = 0;
    }
    if (p->dir[0] == '/')
        (void)nftw(p->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    p->dir[0] = '\0';
}

int demo_pg_exec(const demo_pg *p, const char *db, const char *sql, warden_err *err)
{
    char ci[256];
    demo_pg_conninfo(ci, sizeof ci, p, db);
    PGconn *c = PQconnectdb(ci);
    int rc = 0;
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        rc = warden_err_set(err, WARDEN_EIO, "postgresql: %s", c ? PQerrorMessage(c) : "no memory");
    } else {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
            rc = warden_err_set(err, WARDEN_EIO, "postgresql: %s", PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}
