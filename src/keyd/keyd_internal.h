/* keyd's internals, shared by its files: the parsed configuration, the swappable policy
 * set, and the audit-entry writer. Not part of the public API (include/warden/keyd.h). */
#ifndef WARDEN_KEYD_INTERNAL_H
#define WARDEN_KEYD_INTERNAL_H

#include "warden/crypto.h"
#include "warden/keyd.h"
#include "warden/policy.h"
#include "warden/store.h"
#include "warden/tlog.h"

#include <pthread.h>
#include <stdbool.h>

#define KEYD_MAX_JURISDICTIONS 32
#define KEYD_MAX_UIDS 32
#define KEYD_MAX_POLICY_FILES 32
#define KEYD_MAX_SCHEMAS 64
#define KEYD_FILE_MAX (16u << 20)

typedef struct keyd_config {
    char *region;
    char *jurisdictions[KEYD_MAX_JURISDICTIONS];
    size_t n_jurisdictions;
    char *data_dir;
    char *key_provider; /* "keyfile" or "pkcs11" */
    char *key_path;     /* keyfile */
    char *p11_module, *p11_token, *p11_pin_env;
    char *policy_files[KEYD_MAX_POLICY_FILES];
    size_t n_policy_files;
    char *entities_file; /* NULL: no entities */
    char *schema_files[KEYD_MAX_SCHEMAS];
    size_t n_schema_files;
    char *log_dir, *log_key, *log_origin;
    char *archive_dir; /* content-addressed policy sets */
    char *socket_path;
    uid_t uids[KEYD_MAX_UIDS];
    size_t n_uids;
    size_t store_map_size; /* bytes; 0: the store's default */
    size_t workers;        /* event-loop threads; 0: one per online CPU (server.c) */
} keyd_config;

/* Reads and checks the config file; relative paths become relative to its directory.
 * Errors: WARDEN_ENOTFOUND, WARDEN_EPARSE, WARDEN_EINVAL (names the field), WARDEN_ENOMEM. */
WARDEN_MUST_USE int keyd_config_load(keyd_config *cfg, const char *path, warden_err *err);
/* Frees every string of cfg. */
void keyd_config_fini(keyd_config *cfg);

/* One installed policy set + directory. Immutable; shared by reference count so a reload
 * never frees a set that a request is still deciding with. */
typedef struct keyd_pset {
    int refs;
    warden_policies *policies;
    warden_entities *entities;
    char hash[72]; /* "sha256:<hex>" of the archived bundle */
    char *bundle;  /* canonical JSON: {"entities":..,"policies":[{"file","text"}]} */
    size_t bundle_len;
} keyd_pset;

/* Loads the config's policy files and entities into a new set with refs 1.
 * Errors: WARDEN_EPARSE, WARDEN_EINVAL, WARDEN_ENOTFOUND, WARDEN_EIO, WARDEN_ENOMEM. */
WARDEN_MUST_USE int keyd_pset_load(keyd_pset **out, const keyd_config *cfg, warden_err *err);
/* Drops one reference; frees at zero. NULL is accepted. */
void keyd_pset_release(keyd_pset *p);
/* Writes the bundle to <archive_dir>/<hex>.json (if absent), durably. Errors: WARDEN_EIO. */
WARDEN_MUST_USE int keyd_pset_archive(const keyd_pset *p, const char *archive_dir, warden_err *err);

/* ---- the cache of unwrapped DEKs (dekcache.c) ---- */
typedef struct keyd_dekcache keyd_dekcache;
#define KEYD_DEKCACHE_CAPACITY 256 /* users whose DEK stays unwrapped in locked memory */

/* A cache for capacity DEKs (0: no caching, only reuse of locked DEK objects).
 * Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int keyd_dekcache_new(keyd_dekcache **out, size_t capacity, warden_err *err);
/* Wipes and frees every cached key; NULL is accepted. */
void keyd_dekcache_free(keyd_dekcache *c);
/* The invalidation epoch: read it before the store lookup whose blob is passed to get. */
uint64_t keyd_dekcache_epoch(keyd_dekcache *c);
/* Sets *dek to user's DEK: the cached one if (user, blob) is cached, else blob unwrapped
 * with kek (and cached unless keyd_dekcache_forget ran since epoch). blob must be what the
 * store holds for user now. Give *dek back with keyd_dekcache_put. Errors: those of
 * warden_kek_unwrap, WARDEN_ENOMEM. */
WARDEN_MUST_USE int keyd_dekcache_get(warden_dek **dek, keyd_dekcache *c, uint64_t epoch,
                                      warden_kek *kek, const char *user, const uint8_t *blob,
                                      size_t len, warden_err *err);
/* Wipes a DEK got from keyd_dekcache_get (or warden_dek_new) and keeps or frees it. NULL ok. */
void keyd_dekcache_put(keyd_dekcache *c, warden_dek *dek);
/* Wipes user's cached DEKs (NULL: all users) and refuses inserts of unwraps begun before. */
void keyd_dekcache_forget(keyd_dekcache *c, const char *user);
/* Lookups answered from the cache and those that unwrapped. */
void keyd_dekcache_stats(keyd_dekcache *c, uint64_t *hits, uint64_t *misses);

struct warden_keyd {
    keyd_config cfg;
    warden_store *store;
    warden_kek *kek;
    warden_tlog_signer *signer;
    warden_tlog_appender *log;
    warden_schema *schemas[KEYD_MAX_SCHEMAS];
    size_t n_schemas;
    pthread_mutex_t mu; /* guards pset pointer and refs */
    keyd_pset *pset;
    pthread_mutex_t reload_mu; /* one reload at a time */
    pthread_key_t authz_key;   /* each thread's warden_authz */
    keyd_dekcache *deks;       /* unwrapped DEKs; forget on shred, rotate, retire */
};

/* Takes a reference on the current policy set (release with keyd_pset_release). */
keyd_pset *keyd_pset_acquire(warden_keyd *k);

/* Drops a reference taken with keyd_pset_acquire. */
void keyd_pset_put(keyd_pset *p, warden_keyd *k);
/* This thread's Cedar scratch space, created on first use and freed at thread exit (or by
 * warden_keyd_free for the thread that calls it). NULL on failure (err filled). */
warden_authz *keyd_thread_authz(warden_keyd *k, warden_err *err);

/* Handlers of access.c, called by warden_keyd_handle. */
WARDEN_MUST_USE int keyd_do_access(json_t **answer, warden_keyd *k, const json_t *body,
                                   warden_err *err);
WARDEN_MUST_USE int keyd_do_register(json_t **answer, warden_keyd *k, const json_t *body,
                                     warden_err *err);
WARDEN_MUST_USE int keyd_do_shred(json_t **answer, warden_keyd *k, const json_t *body,
                                  const warden_keyd_peer *peer, warden_err *err);
WARDEN_MUST_USE int keyd_do_rotate(json_t **answer, warden_keyd *k, const warden_keyd_peer *peer,
                                   warden_err *err);
WARDEN_MUST_USE int keyd_do_retire(json_t **answer, warden_keyd *k, const json_t *body,
                                   const warden_keyd_peer *peer, warden_err *err);
/* attest.c: appends a caller's statement (a migration's signed note) to the log if Cedar
 * allows principal Action::"attest" on Region::"<region>"; waits for a checkpoint. */
WARDEN_MUST_USE int keyd_do_attest(json_t **answer, warden_keyd *k, const json_t *body,
                                   warden_err *err);

/* inventory.c: the region's users (jurisdiction, state) and live records counted per
 * collection, plus its configured jurisdictions; no keys or contents. Not logged. */
WARDEN_MUST_USE int keyd_do_inventory(json_t **answer, warden_keyd *k, warden_err *err);

/* access.c's Cedar decision, for requests decided outside it (attest.c): principal, action,
 * resource rtype::rid, ctx (borrowed; data_class, when not NULL, is set for the decision and
 * removed again). *policies and *errors get new arrays (caller json_decref()s) of the
 * determining policy ids and [{"policy","message"}]. Errors: those of the request and the
 * authorizer, WARDEN_ENOMEM. */
WARDEN_MUST_USE int keyd_decide(bool *allow, json_t **policies, json_t **errors, warden_keyd *k,
                                const keyd_pset *p, const char *principal, const char *action,
                                const char *rtype, const char *rid, json_t *ctx,
                                const char *data_class, warden_err *err);
/* access.c's steps for batched paths (import.c), so that a batch decides and logs exactly
 * like single requests. The fields of one ACCESS write (all borrowed; context is the
 * request's validated context object). */
typedef struct keyd_access_fields {
    const char *request_id, *principal, *user, *collection, *id;
    const json_t *context;
} keyd_access_fields;
/* Decides the ACCESS write f (data class "record") for an owner of the given jurisdiction
 * and appends its audit entry's canonical text to entry (the same bytes a single ACCESS
 * write logs) without logging it. Errors: those of the decision, WARDEN_ELIMIT,
 * WARDEN_ENOMEM. */
WARDEN_MUST_USE int keyd_access_prepare_write(warden_buf *entry, const char **decision,
                                              bool *allow, warden_keyd *k, const keyd_pset *p,
                                              const keyd_access_fields *f,
                                              const char *jurisdiction, warden_err *err);
/* The residency decision of registering f->user (f->collection and f->id unused) with home
 * jurisdiction, exactly as REGISTER decides it, with its audit entry's text appended to
 * entry (not logged). Errors: those of the decision, WARDEN_ENOMEM. */
WARDEN_MUST_USE int keyd_register_prepare(warden_buf *entry, const char **decision, bool *allow,
                                          warden_keyd *k, const keyd_pset *p,
                                          const keyd_access_fields *f, const char *jurisdiction,
                                          warden_err *err);
/* The user's DEK (created on a first write when create), or *outcome "key_destroyed" /
 * "not_found". Only after the decision is durable; give it back with keyd_dekcache_put. */
WARDEN_MUST_USE int keyd_access_dek(warden_dek **dek, const char **outcome, warden_keyd *k,
                                    const char *user, bool create, warden_err *err);
/* import.c: IMPORT, the migrator's batched write + read-back (docs/keyd-protocol.md). */
WARDEN_MUST_USE int keyd_do_import(json_t **answer, warden_keyd *k, const json_t *body,
                                   warden_err *err);
/* import.c: REGISTER_MANY, the migrator's batched registration (docs/keyd-protocol.md). */
WARDEN_MUST_USE int keyd_do_register_many(json_t **answer, warden_keyd *k, const json_t *body,
                                          warden_err *err);

/* An access request split around its log append, so that a connection's pipelined requests
 * share one durable append (server.c): begin reads and decides (nothing secret, nothing
 * released) and builds the audit entry; the caller makes that entry durable; only then end
 * unwraps, decrypts or writes and builds the answer. keyd_do_access is begin + append + end. */
typedef struct keyd_access keyd_access;
/* Steps 1-2 for the access request body (borrowed until keyd_access_free). Errors: those of
 * the store lookup and the decision; nothing was logged, so the caller logs a refusal
 * (keyd_refusal_log) before it answers. */
WARDEN_MUST_USE int keyd_access_begin(keyd_access **out, warden_keyd *k, const json_t *body,
                                      warden_err *err);
/* The audit entry's text (owned by a) that must be durable before keyd_access_end. */
void keyd_access_entry(const uint8_t **text, size_t *len, const keyd_access *a);
/* Step 4, only once the entry is durable at index: performs an allowed request and sets
 * *answer. Errors: those of the store and crypto calls (the entry stays logged). */
WARDEN_MUST_USE int keyd_access_end(json_t **answer, keyd_access *a, uint64_t index,
                                    warden_err *err);
/* Frees a; NULL is accepted. */
void keyd_access_free(keyd_access *a);

/* Serialises entry canonically (compact, sorted keys, ASCII), appends it to the log and
 * waits until it is durable. Errors: WARDEN_EIO (fail closed), WARDEN_ELIMIT (over 64 KiB),
 * WARDEN_ENOMEM. */
WARDEN_MUST_USE int keyd_audit_append(uint64_t *index, warden_keyd *k, const json_t *entry,
                                      warden_err *err);
/* refusal.c. Logs a "refusal" entry for a request (ACCESS or REGISTER, body already
 * validated) that failed with code before any decision was made; err holds why. On success
 * returns code again with err unchanged and sets *answer to {"decision":"refused",
 * "log_index"} for the ERROR reply (caller json_decref()s). If the entry cannot be logged,
 * returns WARDEN_EIO (fail closed) and *answer is NULL. */
WARDEN_MUST_USE int keyd_refusal_log(json_t **answer, warden_keyd *k, uint16_t type,
                                     const json_t *body, int code, warden_err *err);
/* refusal.c. Logs a protocol violation from peer: the frame header's raw type and length,
 * the decoder's code and a fixed category (never payload bytes), rate limited across all
 * connections (suppressed ones are counted in the next entry). The connection closes
 * regardless, so a failure is only reported on stderr. */
void keyd_violation_log(warden_keyd *k, const warden_keyd_peer *peer, const uint8_t header[8],
                        int code, const char *category);
/* canon.c. Appends j's canonical text to out: byte for byte json_dumps(j, JSON_COMPACT |
 * JSON_SORT_KEYS | JSON_ENSURE_ASCII), without its copies; grows out wiping the old block.
 * On error out is as before. Errors: WARDEN_EINVAL (invalid UTF-8), WARDEN_ENOMEM. */
WARDEN_MUST_USE int keyd_json_canon(warden_buf *out, const json_t *j, warden_err *err);
/* Appends the JSON string s as keyd_json_canon would. Returns 0, WARDEN_EINVAL (s NULL or
 * not UTF-8) or WARDEN_ENOMEM; on error out is as before. */
WARDEN_MUST_USE int keyd_json_canon_str(warden_buf *out, const char *s);
/* The canonical text of entry in *text (free() it). Errors: WARDEN_ELIMIT, WARDEN_ENOMEM. */
WARDEN_MUST_USE int keyd_audit_text(char **text, size_t *len, const json_t *entry,
                                    warden_err *err);
/* Appends n entry texts as one group and waits once until all are durable; they get the
 * indexes *first.. *first+n-1. Errors: WARDEN_EIO (fail closed: none may be released). */
WARDEN_MUST_USE int keyd_audit_append_texts(uint64_t *first, warden_keyd *k,
                                            const uint8_t *const *texts, const size_t *lens,
                                            size_t n, warden_err *err);
/* The current UTC time as RFC 3339 with milliseconds ("2026-11-25T13:30:00.123Z"). */
void keyd_audit_time(char out[32]);

#endif
