/* keyd, the custodian: the only process that holds keys and plaintext. For every request
 * it decides with Cedar, appends one audit entry to the transparency log and waits until
 * it is durable, and only then unwraps the user's data key, decrypts, redacts and answers
 * (log-before-release). If the log cannot be written, every request is refused.
 *
 * The core (warden_keyd_open / _handle) is a library that needs no socket, so tests drive
 * it directly; warden_keyd_serve puts it behind a unix socket. The wire protocol is in
 * src/keyd/protocol.h and docs/keyd-protocol.md, the audit entry in docs/audit-entry.md,
 * the configuration file in docs/keyd-protocol.md ("Configuration"). */
#ifndef WARDEN_KEYD_H
#define WARDEN_KEYD_H

#include "warden/common.h"
#include "warden/tlog.h"

#include <jansson.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct warden_keyd warden_keyd;

/* Who sent a request: the socket peer's credentials (SO_PEERCRED), or the caller's own
 * for in-process use. */
typedef struct warden_keyd_peer {
    uid_t uid;
    pid_t pid;
} warden_keyd_peer;

/* Reads the JSON config at path (relative paths in it are relative to its directory),
 * opens the store, the KEK, the log signer and appender (creating an empty log when the
 * directory has none), loads policies, entities and schemas, and logs a "start" entry
 * naming the policy-set hash. Errors: WARDEN_ENOTFOUND, WARDEN_EPARSE and WARDEN_EINVAL
 * (config, policies, entities or schemas: the message names the file and position),
 * WARDEN_EDENIED (key file or store permissions, log locked by another keyd), and every
 * error of warden_store_lmdb_open, warden_kek_*_open, warden_tlog_appender_new. */
WARDEN_MUST_USE int warden_keyd_open(warden_keyd **out, const char *config_path, warden_err *err);

/* Stops the log appender (queued appends finish), closes everything and wipes key memory;
 * every warden_keyd_handle call must have returned. NULL is accepted. */
void warden_keyd_free(warden_keyd *k);

/* Handles one decoded request (type and body as from keyd_request_decode) for peer and sets
 * *answer to the ANSWER object (caller json_decref()s). Decisions, allowed or denied, are
 * answers that carry "decision" and "log_index". Errors (nothing released):
 * WARDEN_EIO (the log could not be written: fail closed), WARDEN_ENOTFOUND (unknown user),
 * WARDEN_EINVAL (bad principal or request), WARDEN_EEXIST (user already registered),
 * WARDEN_ECORRUPT, WARDEN_ENOMEM, WARDEN_EINTERNAL. An access or registration that fails
 * before its decision is logged as a "refusal" entry; then, with the error code, *answer is
 * {"decision":"refused","log_index":N} for the ERROR reply (caller json_decref()s it too);
 * otherwise *answer is NULL on error. */
WARDEN_MUST_USE int warden_keyd_handle(json_t **answer, warden_keyd *k, uint16_t type,
                                       const json_t *body, const warden_keyd_peer *peer,
                                       warden_err *err);

/* Re-reads the policies and entities named in the config, and if they load, swaps them in
 * atomically (requests in flight finish with the old set), archives the new set under its
 * hash and logs a "reload" entry; *index is that entry's position. On any error the old set
 * stays. Errors: those of loading (WARDEN_EPARSE, ...), WARDEN_EIO (log or archive). */
WARDEN_MUST_USE int warden_keyd_reload(uint64_t *index, warden_keyd *k, warden_err *err);

/* Waits until every decision logged so far is covered by a published, signed checkpoint
 * (appends are acknowledged once journaled; tiles follow within one integration).
 * Errors: WARDEN_EIO (the log failed closed). */
WARDEN_MUST_USE int warden_keyd_log_sync(warden_keyd *k, warden_err *err);

/* The current policy-set hash ("sha256:<64 hex>") copied into out. */
void warden_keyd_policy_hash(char out[72], warden_keyd *k);

/* The socket path from the config (borrowed). */
const char *warden_keyd_socket_path(const warden_keyd *k);

/* Serves the config's unix socket (mode 0660, peers checked against the config's uids
 * with SO_PEERCRED) with the config's number of event-loop worker threads, each deciding
 * the access requests of all its connections in groups that share one durable log append,
 * until *stop becomes non-zero; reloads when *reload becomes non-zero (then resets it).
 * Errors: WARDEN_EIO (cannot bind, no epoll), WARDEN_ENOMEM, WARDEN_EINTERNAL (no thread). */
WARDEN_MUST_USE int warden_keyd_serve(warden_keyd *k, volatile sig_atomic_t *stop,
                                      volatile sig_atomic_t *reload, warden_err *err);

/* Prepares what keyd needs from the config at config_path: the KEK (a new 0600 key file,
 * or version 1 on the PKCS#11 token) and the log's signing key (0600, never inside the log
 * directory), each only if missing. *created gets bit 1 for the KEK, bit 2 for the log key.
 * Errors: those of keyd's config loading, warden_kek_keyfile_create,
 * warden_kek_pkcs11_create and warden_tlog_key_generate (other than WARDEN_EEXIST). */
WARDEN_MUST_USE int warden_keyd_keys_init(int *created, const char *config_path, warden_err *err);

/* ---- the auditor's side: reading and re-running a verified log (audit_check.c) ---- */

/* Called for each entry of a verified log, in order, with its parsed JSON (borrowed for the
 * call). A non-zero return stops the walk and is returned. */
typedef int (*warden_keyd_entry_fn)(void *ctx, uint64_t index, const json_t *entry,
                                    warden_err *err);

/* Verifies the log at src (a directory or URL source) with the verifier key text vkey, then
 * calls fn for every entry up to the verified checkpoint; *size gets that size. Every entry
 * must be a version-1 audit entry object with a "type". Errors: those of warden_tlog_verify
 * and warden_tlog_source_entry; WARDEN_ECORRUPT (an entry is not a version-1 audit entry);
 * whatever fn returns. */
WARDEN_MUST_USE int warden_keyd_audit_each(uint64_t *size, warden_tlog_source *src,
                                           const char *vkey, warden_keyd_entry_fn fn, void *ctx,
                                           warden_err *err);

/* One class of one decision entry whose re-run differs from what was logged. Borrowed for
 * the callback's duration. */
typedef struct warden_keyd_replay_diff {
    uint64_t index;      /* the entry's position in the log */
    const json_t *entry; /* the whole entry */
    const char *klass;   /* "protected", "excepted", "record", "residency" */
    bool logged_allow, rerun_allow;
    const json_t *logged_policies; /* array of policy ids */
    json_t *rerun_policies;        /* array of policy ids */
} warden_keyd_replay_diff;

typedef int (*warden_keyd_diff_fn)(void *ctx, const warden_keyd_replay_diff *d, warden_err *err);

/* Counts of a replay. */
typedef struct warden_keyd_replay_stats {
    uint64_t entries;   /* verified log size */
    uint64_t decisions; /* decision entries re-run */
    uint64_t refusals;  /* refusal entries (nothing to re-run; shape checked) */
    uint64_t differ;    /* decision entries with at least one differing class */
} warden_keyd_replay_stats;

/* Verifies the log at src and re-runs every decision entry with the policy set it names,
 * fetched from archive as "<hex>.json" (a directory or URL source; its SHA-256 must match)
 * and the inputs the entry records, comparing each class's decision and determining
 * policies. With on_diff NULL the first difference is an error; otherwise on_diff is called
 * for each differing class and the replay goes on. Errors: those of warden_keyd_audit_each;
 * WARDEN_ENOTFOUND (an archived set is missing), WARDEN_EVERIFY (an archived set does not
 * match its hash, or with on_diff NULL a decision differs: the message names the entry),
 * WARDEN_ECORRUPT (an entry is malformed), WARDEN_EPARSE (an archived set does not load),
 * WARDEN_ENOMEM, and whatever on_diff returns. */
WARDEN_MUST_USE int warden_keyd_audit_replay(warden_keyd_replay_stats *st, warden_tlog_source *src,
                                             warden_tlog_source *archive, const char *vkey,
                                             warden_keyd_diff_fn on_diff, void *ctx,
                                             warden_err *err);

/* The auditor's check, offline and without keys: verifies the log in log_dir with the
 * verifier key text vkey, then re-runs every decision entry with the policy set it names
 * (archive_dir/<hex>.json, whose SHA-256 must match) and the inputs the entry records, and
 * compares each class's decision and determining policies. *checked counts the decision
 * entries re-run. Errors: those of warden_tlog_verify; WARDEN_ENOTFOUND (an archived set
 * is missing), WARDEN_EVERIFY (an archived set does not match its hash, or a decision
 * differs: the message names the entry), WARDEN_ECORRUPT (an entry is malformed),
 * WARDEN_EPARSE (an archived set does not load), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_keyd_audit_check(uint64_t *checked, const char *log_dir,
                                            const char *archive_dir, const char *vkey,
                                            warden_err *err);

/* Client side: connects to socket_path, sends one request (body NULL for RELOAD/STATUS)
 * and reads one reply. *is_error is set when keyd answered with an ERROR frame (then *reply
 * is that object). Errors: WARDEN_EIO (connect, read, write, or the peer closed),
 * WARDEN_EPARSE / WARDEN_ELIMIT (malformed reply), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_keyd_call(json_t **reply, int *is_error, const char *socket_path,
                                     uint16_t type, const json_t *body, warden_err *err);

/* Message types a client sends (the full table is src/keyd/protocol.h). */
enum {
    WARDEN_KEYD_MSG_ACCESS = 1,
    WARDEN_KEYD_MSG_REGISTER = 2,
    WARDEN_KEYD_MSG_SHRED = 3,
    WARDEN_KEYD_MSG_STATUS = 5,
    WARDEN_KEYD_MSG_INVENTORY = 10, /* what the region holds (residency report) */
};

/* A pipelining client of one keyd socket for long-lived callers (the gateway): a few
 * persistent connections, each carrying many requests at once (keyd answers them in order and
 * batches their log appends), and one I/O thread that reads the answers. */
typedef struct warden_keyd_client warden_keyd_client;

/* Creates a client of at most max_conns (1..1024) connections to socket_path, connected
 * lazily (keyd need not be up yet), and starts its I/O thread. A request keyd has not answered
 * within timeout_ms fails with WARDEN_EIO, and so does every other request on its connection
 * (the connection is closed: its stream position is unknown). Errors: WARDEN_EINVAL (path too
 * long, max_conns or timeout out of range), WARDEN_ENOMEM, WARDEN_EIO, WARDEN_EINTERNAL. */
WARDEN_MUST_USE int warden_keyd_client_new(warden_keyd_client **out, const char *socket_path,
                                           unsigned max_conns, unsigned timeout_ms,
                                           warden_err *err);

/* The outcome of one submitted request, called exactly once, on the client's I/O thread (it
 * may run before warden_keyd_client_submit has returned), so it should only hand the answer
 * over. rc 0: payload holds the answer frame's bytes (of type, ANSWER or ERROR; decode with
 * warden_keyd_reply_decode); the callee may take them by moving the struct out and
 * re-initialising *payload, else they are wiped after the call. rc < 0: payload is NULL and
 * err says why: WARDEN_EIO (keyd unreachable, closed the connection, did not answer in time,
 * or sent a malformed frame), WARDEN_ENOMEM. */
typedef void warden_keyd_done_fn(void *arg, int rc, uint16_t type, warden_buf *payload,
                                 const warden_err *err);

/* Decodes an answer frame's payload p[0..len) of type into *reply (caller json_decref()s);
 * *is_error is set for an ERROR frame. Errors: WARDEN_EPARSE (not JSON), WARDEN_EINVAL (not
 * an object, or an ERROR without its code and message). */
WARDEN_MUST_USE int warden_keyd_reply_decode(json_t **reply, int *is_error, uint16_t type,
                                             const uint8_t *p, size_t len, warden_err *err);

/* Sends one request (body NULL for STATUS/INVENTORY) on the least busy connection, dialling
 * it if needed, and returns without waiting; done(arg, ...) gets the answer. On error done is
 * never called. Errors: WARDEN_EIO (cannot connect, the connection just failed, or the client
 * is closing), WARDEN_ELIMIT (body too large for type), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_keyd_client_submit(warden_keyd_client *c, uint16_t type,
                                              const json_t *body, warden_keyd_done_fn *done,
                                              void *arg, warden_err *err);

/* As warden_keyd_call through the client: submits and waits for the answer. Errors: those of
 * warden_keyd_client_submit and of the callback's rc. */
WARDEN_MUST_USE int warden_keyd_client_call(json_t **reply, int *is_error, warden_keyd_client *c,
                                            uint16_t type, const json_t *body, warden_err *err);

/* Refuses new submits and waits until every request in flight has had its callback (each ends
 * by its deadline at the latest). Idempotent. */
void warden_keyd_client_close(warden_keyd_client *c);

/* Closes (as warden_keyd_client_close), stops the I/O thread and frees. NULL is accepted. */
void warden_keyd_client_free(warden_keyd_client *c);

/* Reads the keyd config at config_path and returns copies (caller free()s) of its socket
 * path and log directory, both absolute or relative as keyd resolves them. Errors: those of
 * reading the config (WARDEN_ENOTFOUND, WARDEN_EPARSE, WARDEN_EINVAL), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_keyd_config_paths(char **socket_path, char **log_dir,
                                             const char *config_path, warden_err *err);

#endif
