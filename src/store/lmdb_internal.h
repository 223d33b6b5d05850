/* Internals shared by the LMDB backend's two files: lmdb_env.c opens, closes and backs up
 * the environment; lmdb.c implements the store operations on it. */
#ifndef WARDEN_STORE_LMDB_INTERNAL_H
#define WARDEN_STORE_LMDB_INTERNAL_H

#include "store/store_internal.h"

#include <limits.h>
#include <lmdb.h>
#include <sys/types.h>

typedef struct lmdb_store {
    MDB_env *env;
    MDB_dbi meta, users, records;
    dev_t dev;
    ino_t ino;
    size_t map_size;
    char dir[PATH_MAX];
    struct lmdb_store *next; /* in the list of directories open in this process */
} lmdb_store;

/* The operations table (lmdb.c). */
extern const warden_store_ops store_lmdb_ops;

/* Maps an LMDB or errno code to a warden code with LMDB's message, naming what failed. */
int store_lmdb_fail(warden_err *err, const lmdb_store *ls, int rc, const char *what);
/* Begins a read-only or write transaction. Errors: as store_lmdb_fail. */
int store_lmdb_begin(MDB_txn **txn, lmdb_store *ls, bool write, const char *what, warden_err *err);
/* Commits (fdatasync); LMDB frees the transaction whether or not it succeeds. */
int store_lmdb_commit(MDB_txn *txn, lmdb_store *ls, const char *what, warden_err *err);
/* The ops table's close and backup. */
void store_lmdb_close(void *state);
int store_lmdb_backup(void *state, const char *path, warden_err *err);

#endif
