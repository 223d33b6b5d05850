/* The region store: users (home jurisdiction, wrapped DEK, state) and records
 * (user, collection, id) -> version + ciphertext, behind a backend interface that LMDB
 * implements now and a plain-SQL PostgreSQL backend can implement later.
 *
 * The store never sees a key or plaintext: wrapped DEKs and record ciphertexts are opaque
 * blobs made by include/warden/crypto.h. Every call is one atomic, durable operation: when
 * it returns 0 its effect survives a crash (LMDB commits with fsync). A store handle is
 * safe for concurrent use by several threads. Layout, formats and the shredding argument
 * are in docs/store.md.
 *
 * Collection schemas (which fields are protected, which excepted) are at the end. */
#ifndef WARDEN_STORE_H
#define WARDEN_STORE_H

#include "warden/common.h"
#include "warden/util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Name bounds, checked by every call before a backend sees the name. They keep an LMDB key
 * (2-byte length before each part) under LMDB's 511-byte key limit. Names are non-empty. */
#define WARDEN_STORE_USER_MAX 128
#define WARDEN_STORE_COLLECTION_MAX 64 /* [A-Za-z0-9_.-] */
#define WARDEN_STORE_ID_MAX 256
#define WARDEN_STORE_JURISDICTION_MAX 16  /* [A-Za-z0-9_-], e.g. "US" */
#define WARDEN_STORE_KEK_ID_MAX 64        /* printable ASCII, as in a wrapped DEK */
#define WARDEN_STORE_DEK_BLOB_MAX 4096    /* a wrapped DEK is ~130 bytes */
#define WARDEN_STORE_BLOB_MAX (64u << 20) /* one record ciphertext */
#define WARDEN_STORE_PAGE_MAX 1000        /* entries per list call */

/* ---- types ---- */

typedef struct warden_store warden_store;

enum { WARDEN_USER_ACTIVE = 1, WARDEN_USER_SHREDDED = 2 };

/* A wrapped DEK as the caller hands it in (borrowed for one call). */
typedef struct warden_store_dek {
    const uint8_t *blob; /* from warden_kek_wrap; 1..WARDEN_STORE_DEK_BLOB_MAX bytes */
    size_t len;
    const char *kek_id;   /* the KEK id inside the blob (warden_kek_id) */
    uint32_t kek_version; /* the KEK version inside the blob, >= 1 */
} warden_store_dek;

/* One user as read back. Caller memory: warden_store_user_init / _fini. */
typedef struct warden_store_user {
    char jurisdiction[WARDEN_STORE_JURISDICTION_MAX + 1];
    int state;                                /* WARDEN_USER_ACTIVE or WARDEN_USER_SHREDDED */
    int64_t created;                          /* Unix seconds, as given at registration */
    int64_t shredded;                         /* Unix seconds of the shred, 0 while active */
    bool has_dek;                             /* false before the first write and after shredding */
    char kek_id[WARDEN_STORE_KEK_ID_MAX + 1]; /* "" when !has_dek */
    uint32_t kek_version;                     /* 0 when !has_dek */
    warden_buf wrapped;                       /* the wrapped DEK blob; empty when !has_dek */
} warden_store_user;

/* One live record as read back. Caller memory: warden_store_record_init / _fini. */
typedef struct warden_store_record {
    uint64_t version; /* >= 1 */
    warden_buf blob;  /* the ciphertext, sealed for exactly this version */
} warden_store_record;

/* One page of a listing. Strings and blobs are owned by the page: warden_store_page_fini. */
typedef struct warden_store_entry {
    char *user;       /* users listing: the user id; records listing: NULL */
    char *collection; /* records listing only */
    char *id;         /* records listing only */
    uint64_t version; /* records listing only */
    warden_buf blob;  /* records listing only: the ciphertext */
} warden_store_entry;

typedef struct warden_store_page {
    warden_store_entry *v;
    size_t n;
    bool more; /* true if entries after the last one may exist: call again with it as after */
} warden_store_page;

/* One write of a batch (warden_store_record_put_batch); strings and blob are borrowed. */
typedef struct warden_store_put {
    const char *user;
    const char *collection;
    const char *id;
    uint64_t version;
    const uint8_t *blob;
    size_t len;
    int result; /* out: 0, or the code warden_store_record_put would have returned */
} warden_store_put;

/* One registration of a batch (warden_store_user_register_batch); strings and dek borrowed. */
typedef struct warden_store_reg {
    const char *user;
    const char *jurisdiction;
    const warden_store_dek *dek; /* the user's first wrapped DEK, or NULL */
    int result; /* out: 0, or the code warden_store_user_register would have returned */
} warden_store_reg;

/* The backend interface. Arguments arrive already validated (names within bounds, blobs
 * within size, out-structs empty); every function fills err on failure and returns the
 * codes its public wrapper below documents. state is the backend's, from its open call. */
typedef struct warden_store_ops {
    const char *name; /* "lmdb", "postgresql" */
    void (*close)(void *state);
    int (*user_register)(void *state, const char *user, const char *jurisdiction, int64_t created,
                         const warden_store_dek *dek, warden_err *err);
    int (*user_get)(void *state, warden_store_user *out, const char *user, warden_err *err);
    int (*user_set_dek)(void *state, const char *user, const uint8_t *old, size_t old_len,
                        const warden_store_dek *dek, warden_err *err);
    int (*user_shred)(void *state, const char *user, int64_t now, warden_err *err);
    int (*user_list)(void *state, warden_store_page *out, const char *after, size_t max,
                     warden_err *err);
    int (*record_put)(void *state, const char *user, const char *collection, const char *id,
                      uint64_t version, const uint8_t *blob, size_t len, warden_err *err);
    /* Items whose result is non-zero on entry failed the argument checks: skip them. */
    int (*record_put_batch)(void *state, warden_store_put *puts, size_t n, warden_err *err);
    int (*record_get)(void *state, warden_store_record *out, const char *user,
                      const char *collection, const char *id, warden_err *err);
    int (*record_head)(void *state, uint64_t *version, bool *live, const char *user,
                       const char *collection, const char *id, warden_err *err);
    int (*record_delete)(void *state, const char *user, const char *collection, const char *id,
                         uint64_t expected, warden_err *err);
    int (*record_list)(void *state, warden_store_page *out, const char *user,
                       const char *after_collection, const char *after_id, size_t max,
                       warden_err *err);
    int (*backup)(void *state, const char *path, warden_err *err); /* NULL if unsupported */
    /* Items whose result is non-zero on entry failed the argument checks: skip them. NULL:
     * the wrapper registers one by one. */
    int (*user_register_batch)(void *state, warden_store_reg *regs, size_t n, int64_t created,
                               warden_err *err);
} warden_store_ops;

/* ---- opening ---- */

typedef struct warden_store_lmdb_config {
    const char *dir;  /* data directory; created with mode 0700 if missing */
    size_t map_size;  /* bytes the store may grow to; 0 means 1 GiB. Fixed while open. */
    unsigned readers; /* concurrent readers (threads); 0 means 126 (LMDB's default) */
} warden_store_lmdb_config;

/* Opens (creating if needed) the LMDB store in cfg->dir: one environment per directory,
 * named databases "meta", "users" and "records", files created 0600. Refuses a directory
 * that is not ours or is accessible by group or others, and a directory already open in
 * this process (LMDB forbids it). A map_size below the existing data is raised to it.
 * Errors: WARDEN_EINVAL (bad config, or cfg->dir already open in this process),
 * WARDEN_EDENIED (directory owned by another user, with group/other permissions, or a
 * symbolic link), WARDEN_ECORRUPT (not a warden store, or an unknown store format),
 * WARDEN_EIO, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_store_lmdb_open(warden_store **out, const warden_store_lmdb_config *cfg,
                                           warden_err *err);

/* Wraps a backend's state in a store handle (used by backends' open calls). On failure
 * ops->close(state) has been called. Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_store_new(warden_store **out, const warden_store_ops *ops, void *state,
                                     warden_err *err);

/* Closes the store; every call must have returned. NULL is accepted. */
void warden_store_free(warden_store *store);

/* The backend's name ("lmdb"). */
const char *warden_store_backend(const warden_store *store);

/* Writes a consistent, compacted copy of the store to path (a new file, mode 0600): free
 * pages are left out, so bytes deleted before the call (e.g. a shredded DEK) are not in it.
 * Errors: WARDEN_EEXIST (path exists), WARDEN_EINVAL (the backend cannot), WARDEN_EIO. */
WARDEN_MUST_USE int warden_store_backup(warden_store *store, const char *path, warden_err *err);

/* ---- users ---- */

/* Group commit of registrations: n (1..WARDEN_STORE_PAGE_MAX) users, each checked and
 * registered like warden_store_user_register with its own regs[i].result (WARDEN_EEXIST
 * for one already registered), the successful ones in one atomic, durable commit. Returns
 * 0 when the commit happened. Errors: WARDEN_EINVAL (n out of range), WARDEN_ELIMIT,
 * WARDEN_EIO, WARDEN_ENOMEM (nothing was written). */
WARDEN_MUST_USE int warden_store_user_register_batch(warden_store *store, warden_store_reg *regs,
                                                     size_t n, int64_t created, warden_err *err);

/* Registers user with a home jurisdiction that can never change, created at Unix time
 * created, and optionally (dek != NULL) its first wrapped DEK. Errors: WARDEN_EEXIST (user
 * already registered — active or shredded, with the same or another jurisdiction: the
 * message says which), WARDEN_EINVAL (bad name, jurisdiction or DEK fields),
 * WARDEN_ELIMIT (store full), WARDEN_ECORRUPT, WARDEN_EIO, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_store_user_register(warden_store *store, const char *user,
                                               const char *jurisdiction, int64_t created,
                                               const warden_store_dek *dek, warden_err *err);

/* Reads user into out (initialized with warden_store_user_init; its buffer is reset).
 * A shredded user is returned with state WARDEN_USER_SHREDDED and no DEK.
 * Errors: WARDEN_ENOTFOUND (never registered), WARDEN_EINVAL (bad name), WARDEN_ECORRUPT
 * (the stored value is malformed), WARDEN_EIO, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_store_user_get(warden_store *store, warden_store_user *out,
                                          const char *user, warden_err *err);

/* Stores user's first wrapped DEK; of two racing first writers exactly one wins, the
 * other gets WARDEN_EEXIST and must re-read the user and use the winner's DEK.
 * Errors: WARDEN_EEXIST (the user has a DEK already), WARDEN_ENOTFOUND (no such user, or
 * shredded: the message says which), WARDEN_EINVAL, WARDEN_ELIMIT, WARDEN_ECORRUPT,
 * WARDEN_EIO, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_store_user_set_dek(warden_store *store, const char *user,
                                              const warden_store_dek *dek, warden_err *err);

/* Replaces user's wrapped DEK by dek (re-wrapped under a new KEK version) if the stored
 * blob still equals old[0..old_len); records are untouched. A user shredded meanwhile is
 * never given a DEK back. Errors: WARDEN_EEXIST (the stored blob is not old: someone else
 * re-wrapped it; re-read), WARDEN_ENOTFOUND (no such user, shredded, or no DEK yet),
 * WARDEN_EINVAL, WARDEN_ELIMIT, WARDEN_ECORRUPT, WARDEN_EIO, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_store_user_rewrap(warden_store *store, const char *user,
                                             const uint8_t *old, size_t old_len,
                                             const warden_store_dek *dek, warden_err *err);

/* Crypto-shreds user: the wrapped DEK is deleted from the live store and the user marked
 * shredded at Unix time now, durably, so no later call can return it; the id stays taken.
 * Records are kept (unreadable without the DEK). Copies of the blob outside the live data
 * (old backups, LMDB free pages) need a KEK rotation + retirement: see docs/store.md.
 * Errors: WARDEN_ENOTFOUND (no such user, or already shredded), WARDEN_EINVAL,
 * WARDEN_ELIMIT, WARDEN_ECORRUPT, WARDEN_EIO, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_store_user_shred(warden_store *store, const char *user, int64_t now,
                                            warden_err *err);

/* Lists up to max (1..WARDEN_STORE_PAGE_MAX) user ids that follow after (NULL: from the
 * start) in the backend's order, shredded users included, into out (.user set). Used to
 * re-wrap every DEK after a KEK rotation, page by page, without a long transaction.
 * out must be empty (warden_store_page_init). Errors: WARDEN_EINVAL, WARDEN_ECORRUPT,
 * WARDEN_EIO, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_store_user_list(warden_store *store, warden_store_page *out,
                                           const char *after, size_t max, warden_err *err);

/* ---- records ---- */

/* Writes a record as version, which must be the next one: the current version + 1, where a
 * record that never existed is at 0 and a deleted one keeps its last version (so versions
 * never repeat and an old ciphertext cannot come back as "new"). The ciphertext's
 * associated data binds the version, so the caller seals for version before calling; a
 * lost race is an error, not an overwrite (compare-and-set). The user must be registered
 * and not shredded. Errors: WARDEN_EEXIST (version conflict: the message has the current
 * version), WARDEN_ENOTFOUND (no such user, or shredded), WARDEN_EINVAL (bad name,
 * version 0, empty blob), WARDEN_ELIMIT (blob over WARDEN_STORE_BLOB_MAX, or store full),
 * WARDEN_ECORRUPT, WARDEN_EIO, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_store_record_put(warden_store *store, const char *user,
                                            const char *collection, const char *id,
                                            uint64_t version, const uint8_t *blob, size_t len,
                                            warden_err *err);

/* Group commit: applies n (1..WARDEN_STORE_PAGE_MAX) puts in one atomic, durable commit
 * (one fsync for all). Each put is checked like warden_store_record_put and gets its own
 * puts[i].result; those with result 0 are committed together, in order (a later put may
 * build on an earlier one of the same record), the others changed nothing. Returns 0 when
 * the commit happened — then look at each result. On a non-zero return nothing was
 * written and every result holds that code. Errors: WARDEN_EINVAL (n out of range),
 * WARDEN_ELIMIT (store full), WARDEN_EIO, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_store_record_put_batch(warden_store *store, warden_store_put *puts,
                                                  size_t n, warden_err *err);

/* Reads a live record into out (initialized with warden_store_record_init).
 * Errors: WARDEN_ENOTFOUND (never written, or deleted), WARDEN_EINVAL, WARDEN_ECORRUPT,
 * WARDEN_EIO, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_store_record_get(warden_store *store, warden_store_record *out,
                                            const char *user, const char *collection,
                                            const char *id, warden_err *err);

/* The record's current version (0 if it never existed; the last version if deleted, with
 * *live false): the next put uses *version + 1. Errors: WARDEN_EINVAL, WARDEN_ECORRUPT,
 * WARDEN_EIO. */
WARDEN_MUST_USE int warden_store_record_head(warden_store *store, uint64_t *version, bool *live,
                                             const char *user, const char *collection,
                                             const char *id, warden_err *err);

/* Deletes a live record (a small tombstone keeps its version). expected 0 deletes whatever
 * version is current; otherwise only that version. Errors: WARDEN_ENOTFOUND (no live
 * record), WARDEN_EEXIST (the current version is not expected), WARDEN_EINVAL,
 * WARDEN_ELIMIT, WARDEN_ECORRUPT, WARDEN_EIO, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_store_record_delete(warden_store *store, const char *user,
                                               const char *collection, const char *id,
                                               uint64_t expected, warden_err *err);

/* Lists up to max (1..WARDEN_STORE_PAGE_MAX) live records of user (for export), in the
 * backend's order, starting after (after_collection, after_id) — both NULL from the
 * start, both set to continue from the last entry of the previous page. out must be empty.
 * Errors: WARDEN_EINVAL, WARDEN_ECORRUPT, WARDEN_EIO, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_store_record_list(warden_store *store, warden_store_page *out,
                                             const char *user, const char *after_collection,
                                             const char *after_id, size_t max, warden_err *err);

/* ---- caller memory ---- */

/* Starts an empty user; never fails. */
void warden_store_user_init(warden_store_user *u);
/* Frees the user's blob. */
void warden_store_user_fini(warden_store_user *u);
/* Starts an empty record; never fails. */
void warden_store_record_init(warden_store_record *r);
/* Frees the record's blob. */
void warden_store_record_fini(warden_store_record *r);
/* Starts an empty page; never fails. */
void warden_store_page_init(warden_store_page *p);
/* Frees every entry of the page and leaves it empty. */
void warden_store_page_fini(warden_store_page *p);
/* Appends one entry (strings copied, blob copied; NULL strings stay NULL); for backends.
 * Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_store_page_add(warden_store_page *p, const char *user,
                                          const char *collection, const char *id, uint64_t version,
                                          const uint8_t *blob, size_t len, warden_err *err);

/* ---- collection schemas ---- */

/* A parsed collection schema: which document fields are protected and which excepted.
 * Immutable once loaded, so it may be shared by threads. */
typedef struct warden_schema warden_schema;

#define WARDEN_SCHEMA_MAX_SIZE (64 * 1024) /* bytes of schema JSON */
#define WARDEN_SCHEMA_MAX_DEPTH 8          /* nesting of "fields" objects */
#define WARDEN_SCHEMA_MAX_FIELDS 1024      /* classified names, all levels together */

/* Parses a schema such as
 *   {"collection": "messages",
 *    "fields": {"title": "excepted", "body": "protected",
 *               "author": {"name": "excepted", "phone": "protected"}}}
 * where a field maps to a class ("protected" or "excepted") or to an object classifying
 * its sub-fields. Fields not named are protected. name labels messages ("messages.json").
 * Errors: WARDEN_EPARSE (not JSON, or a duplicate key: "name:line:col: ..."),
 * WARDEN_EINVAL (wrong type, unknown key or class, bad collection or field name: the
 * message names the field as a JSON Pointer), WARDEN_ELIMIT (over the bounds above),
 * WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_schema_parse(warden_schema **out, const char *name, const uint8_t *json,
                                        size_t len, warden_err *err);

/* Frees a schema; NULL is accepted. */
void warden_schema_free(warden_schema *s);

/* The collection the schema is for (borrowed, valid until warden_schema_free). */
const char *warden_schema_collection(const warden_schema *s);

/* Splits doc (a JSON object) into *excepted, a new object holding only the excepted fields
 * (a sub-object is kept if it holds an excepted field or is empty), and *withheld, a sorted
 * array of the JSON Pointers (RFC 6901) of every protected field left out — an unknown
 * field, or a value whose shape the schema does not describe, is protected whole.
 * Caller json_decref()s both. Errors: WARDEN_EINVAL (doc is not an object), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_schema_split(json_t **excepted, json_t **withheld,
                                        const warden_schema *s, const json_t *doc, warden_err *err);

#endif
