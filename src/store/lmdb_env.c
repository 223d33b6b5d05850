/* The LMDB backend's environment: one per data directory (created 0700, refused if others
 * can enter it), named databases "meta", "users" and "records", the format marker, the list
 * of directories open in this process, error mapping, and compacted backups. The
 * environment never has MDB_NOSYNC, MDB_NOMETASYNC or MDB_MAPASYNC, so every commit is
 * durable when it returns; MDB_NOTLS ties reader slots to transactions, not threads.
 * Invariant: a directory is open at most once per process (LMDB forbids more). */
#include "store/lmdb_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT_KEY "format"
#define FORMAT_VALUE "warden-store 1"
#define DEFAULT_MAP_SIZE ((size_t)1 << 30)

/* LMDB forbids opening one environment twice in a process (closing one copy would drop
 * the other's file locks), so open directories are tracked by device and inode. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static lmdb_store *open_list;

/* Maps an LMDB or errno code to a warden code, with LMDB's own message. */
int store_lmdb_fail(warden_err *err, const lmdb_store *ls, int rc, const char *what)
{
    int code = WARDEN_EIO;
    if (rc == MDB_MAP_FULL)
        return warden_err_set(err, WARDEN_ELIMIT,
                              "store %s is full (map_size %zu bytes) while %s: raise map_size in "
                              "the configuration",
                              ls->dir, ls->map_size, what);
    if (rc == MDB_READERS_FULL)
        return warden_err_set(err, WARDEN_ELIMIT,
                              "store %s: all reader slots are in use while %s: raise readers",
                              ls->dir, what);
    if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID ||
        rc == MDB_VERSION_MISMATCH || rc == MDB_INCOMPATIBLE || rc == MDB_BAD_VALSIZE)
        code = WARDEN_ECORRUPT;
    else if (rc == ENOMEM)
        code = WARDEN_ENOMEM;
    return warden_err_set(err, code, "store %s: LMDB failed while %s: %s", ls->dir, what,
                          mdb_strerror(rc));
}

int store_lmdb_begin(MDB_txn **txn, lmdb_store *ls, bool write, const char *what, warden_err *err)
{
    int rc = mdb_txn_begin(ls->env, NULL, write ? 0 : MDB_RDONLY, txn);
    return rc != 0 ? store_lmdb_fail(err, ls, rc, what) : 0;
}

int store_lmdb_commit(MDB_txn *txn, lmdb_store *ls, const char *what, warden_err *err)
{
    int rc = mdb_txn_commit(txn);
    return rc != 0 ? store_lmdb_fail(err, ls, rc, what) : 0;
}

/* ---- opening ---- */

/* Creates dir with mode 0700 (and missing parents 0755), then checks that it is a
 * directory we own that nobody else can enter. */
static int prepare_dir(struct stat *st, const char *dir, warden_err *err)
{
    if (mkdir(dir, 0700) != 0 && errno == ENOENT) {
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", dir);
        char *slash = strrchr(parent, '/');
        if (slash != NULL && slash != parent) {
            *slash = '\0';
            int rc = warden_mkdir_p(parent, err);
            if (rc != 0)
                return rc;
        }
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return warden_err_set(err, WARDEN_EIO, "cannot create store directory %s: %s", dir,
                                  strerror(errno));
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return warden_err_set(err, errno == ENOTDIR || errno == ELOOP ? WARDEN_EDENIED : WARDEN_EIO,
                              "cannot open store directory %s: %s", dir, strerror(errno));
    int rc = fstat(fd, st);
    close(fd);
    if (rc != 0)
        return warden_err_set(err, WARDEN_EIO, "cannot stat store directory %s: %s", dir,
                              strerror(errno));
    if (st->st_uid != geteuid())
        return warden_err_set(err, WARDEN_EDENIED,
                              "store directory %s is owned by uid %u, not by us (uid %u)", dir,
                              (unsigned)st->st_uid, (unsigned)geteuid());
    if ((st->st_mode & 077) != 0)
        return warden_err_set(err, WARDEN_EDENIED,
                              "store directory %s has mode %03o: group and others must have no "
                              "access (chmod 700 %s)",
                              dir, (unsigned)(st->st_mode & 0777), dir);
    return 0;
}

/* Opens the named databases and checks (or, in a new store, writes) the format marker. */
static int open_dbs(lmdb_store *ls, warden_err *err)
{
    MDB_txn *txn = NULL;
    MDB_val k = {sizeof FORMAT_KEY - 1, FORMAT_KEY}, v;
    MDB_stat su, sr;
    int rc = store_lmdb_begin(&txn, ls, true, "opening its databases", err);
    if (rc != 0)
        return rc;
    if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &ls->meta)) != 0 ||
        (rc = mdb_dbi_open(txn, "users", MDB_CREATE, &ls->users)) != 0 ||
        (rc = mdb_dbi_open(txn, "records", MDB_CREATE, &ls->records)) != 0) {
        rc = rc == MDB_INCOMPATIBLE ? warden_err_set(err, WARDEN_ECORRUPT,
                                                     "%s holds an LMDB file that is not a "
                                                     "warden store",
                                                     ls->dir)
                                    : store_lmdb_fail(err, ls, rc, "opening its databases");
        goto out;
    }
    rc = mdb_get(txn, ls->meta, &k, &v);
    if (rc == 0) {
        if (v.mv_size != sizeof FORMAT_VALUE - 1 ||
            memcmp(v.mv_data, FORMAT_VALUE, v.mv_size) != 0) {
            rc = warden_err_set(err, WARDEN_ECORRUPT,
                                "store %s has an unknown format (expected \"%s\")", ls->dir,
                                FORMAT_VALUE);
            goto out;
        }
        /* Committed, not aborted: aborting would close the handles just opened. */
        rc = store_lmdb_commit(txn, ls, "opening its databases", err);
        txn = NULL;
        goto out;
    }
    if (rc != MDB_NOTFOUND) {
        rc = store_lmdb_fail(err, ls, rc, "reading its format");
        goto out;
    }
    if ((rc = mdb_stat(txn, ls->users, &su)) != 0 || (rc = mdb_stat(txn, ls->records, &sr)) != 0) {
        rc = store_lmdb_fail(err, ls, rc, "reading its size");
        goto out;
    }
    if (su.ms_entries != 0 || sr.ms_entries != 0) {
        rc = warden_err_set(err, WARDEN_ECORRUPT,
                            "store %s has data but no format marker: not a warden store", ls->dir);
        goto out;
    }
    v.mv_size = sizeof FORMAT_VALUE - 1;
    v.mv_data = (void *)FORMAT_VALUE;
    if ((rc = mdb_put(txn, ls->meta, &k, &v, 0)) != 0) {
        rc = store_lmdb_fail(err, ls, rc, "writing its format");
        goto out;
    }
    rc = store_lmdb_commit(txn, ls, "creating it", err);
    txn = NULL;
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    return rc;
}

void store_lmdb_close(void *state)
{
    lmdb_store *ls = state;
    if (ls == NULL)
        return;
    pthread_mutex_lock(&open_lock);
    for (lmdb_store **p = &open_list; *p != NULL; p = &(*p)->next)
        if (*p == ls) {
            *p = ls->next;
            break;
        }
    pthread_mutex_unlock(&open_lock);
    if (ls->env != NULL)
        mdb_env_close(ls->env);
    free(ls);
}

int warden_store_lmdb_open(warden_store **out, const warden_store_lmdb_config *cfg, warden_err *err)
{
    struct stat st;
    lmdb_store *ls = NULL;
    bool listed = false;
    int rc;
    if (cfg == NULL || cfg->dir == NULL || cfg->dir[0] == '\0')
        return warden_err_set(err, WARDEN_EINVAL, "the store needs a data directory");
    if (strlen(cfg->dir) >= PATH_MAX - 16)
        return warden_err_set(err, WARDEN_EINVAL, "store directory path is too long");
    if (cfg->readers > 100000)
        return warden_err_set(err, WARDEN_EINVAL, "%u readers is too many", cfg->readers);
    rc = prepare_dir(&st, cfg->dir, err);
    if (rc != 0)
        return rc;
    ls = calloc(1, sizeof *ls);
    if (ls == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory opening the store");
    snprintf(ls->dir, sizeof ls->dir, "%s", cfg->dir);
    ls->dev = st.st_dev;
    ls->ino = st.st_ino;
    ls->map_size = cfg->map_size != 0 ? cfg->map_size : DEFAULT_MAP_SIZE;

    pthread_mutex_lock(&open_lock);
    for (lmdb_store *p = open_list; p != NULL; p = p->next)
        if (p->dev == ls->dev && p->ino == ls->ino) {
            /* Formatted under the lock: p may be closed as soon as it is released. */
            rc = warden_err_set(err, WARDEN_EINVAL,
                                "store directory %s is already open in this process (as %s)",
                                cfg->dir, p->dir);
            pthread_mutex_unlock(&open_lock);
            goto out;
        }
    ls->next = open_list;
    open_list = ls;
    listed = true;
    pthread_mutex_unlock(&open_lock);

    if ((rc = mdb_env_create(&ls->env)) != 0) {
        ls->env = NULL;
        rc = store_lmdb_fail(err, ls, rc, "creating its environment");
        goto out;
    }
    if ((rc = mdb_env_set_maxdbs(ls->env, 3)) != 0 ||
        (rc = mdb_env_set_mapsize(ls->env, ls->map_size)) != 0 ||
        (cfg->readers != 0 && (rc = mdb_env_set_maxreaders(ls->env, cfg->readers)) != 0)) {
        rc = store_lmdb_fail(err, ls, rc, "configuring it");
        goto out;
    }
    /* No MDB_NOSYNC / MDB_NOMETASYNC / MDB_MAPASYNC: every commit is durable. */
    if ((rc = mdb_env_open(ls->env, cfg->dir, MDB_NOTLS, 0600)) != 0) {
        rc = store_lmdb_fail(err, ls, rc, "opening it");
        goto out;
    }
    MDB_envinfo info;
    if (mdb_env_info(ls->env, &info) == 0)
        ls->map_size = info.me_mapsize; /* LMDB raises it to the existing data's size */
    rc = open_dbs(ls, err);
    if (rc != 0)
        goto out;
    rc = warden_store_new(out, &store_lmdb_ops, ls, err);
    ls = NULL; /* warden_store_new closed it on failure */
out:
    if (ls != NULL) {
        if (!listed) {
            free(ls);
        } else {
            store_lmdb_close(ls);
        }
    }
    return rc;
}

/* ---- backup ---- */

int store_lmdb_backup(void *state, const char *path, warden_err *err)
{
    lmdb_store *ls = state;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return warden_err_set(err, errno == EEXIST ? WARDEN_EEXIST : WARDEN_EIO,
                              "cannot create backup %s: %s", path, strerror(errno));
    /* MDB_CP_COMPACT walks the live trees only: free pages (old values) are not copied. */
    int rc = mdb_env_copyfd2(ls->env, fd, MDB_CP_COMPACT);
    if (rc != 0) {
        rc = store_lmdb_fail(err, ls, rc, "writing a backup");
    } else if (fsync(fd) != 0) {
        rc = warden_err_set(err, WARDEN_EIO, "cannot sync backup %s: %s", path, strerror(errno));
    }
    if (close(fd) != 0 && rc == 0)
        rc = warden_err_set(err, WARDEN_EIO, "cannot close backup %s: %s", path, strerror(errno));
    if (rc != 0) {
        unlink(path);
        return rc;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        return warden_dir_sync(".", err);
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    return warden_dir_sync(dir, err);
}
