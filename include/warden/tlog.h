/* The transparency log: an RFC 6962 / RFC 9162 Merkle tree whose state is published as
 * C2SP tlog-checkpoint notes signed with C2SP signed-note Ed25519 keys, and stored on disk
 * in the C2SP tlog-tiles layout (servable as-is by any static web server).
 *
 * Main invariant: a checkpoint is published (renamed into place) only after every tile and
 * entry bundle it needs is durable under its final name, and no file ever appears under a
 * final name half-written. An append returns only after its entry is durable in the
 * appender's write-ahead journal; a signed checkpoint covering it follows within one
 * integration (warden_tlog_appender_sync waits for it).
 *
 * Entries are opaque byte strings of 0..65535 bytes. The specs allow the empty entry (RFC
 * 6962 hashes it as SHA-256(0x00); an entry bundle encodes it as a zero length), so warden
 * accepts and verifies it like any other. */
#ifndef WARDEN_TLOG_H
#define WARDEN_TLOG_H

#include "warden/common.h"
#include "warden/util.h"

#include <stddef.h>
#include <stdint.h>

/* ---- constants ---- */

#define WARDEN_TLOG_HASH_SIZE 32
#define WARDEN_TLOG_TILE_HEIGHT 8
#define WARDEN_TLOG_TILE_WIDTH 256        /* hashes in a full tile */
#define WARDEN_TLOG_ENTRY_MAX 65535       /* bytes in one entry (uint16 prefix) */
#define WARDEN_TLOG_ENTRIES_LEVEL (-1)    /* "level" of entry bundles in path calls */
#define WARDEN_TLOG_ORIGIN_MAX 1024       /* bytes in a checkpoint origin line */
#define WARDEN_TLOG_NOTE_MAX (256 * 1024) /* bytes in a signed note we accept */
#define WARDEN_TLOG_NOTE_SIGS_MAX 100     /* signature lines in a note we accept */
#define WARDEN_TLOG_PROOF_MAX 128         /* hashes in any proof for a 64-bit tree */
#define WARDEN_TLOG_PATH_MAX 96           /* bytes of a tile path incl. NUL */
#define WARDEN_TLOG_BATCH_MAX 65536       /* entries one appender batch may hold */

/* One SHA-256 Merkle tree hash. */
typedef struct warden_tlog_hash {
    uint8_t b[WARDEN_TLOG_HASH_SIZE];
} warden_tlog_hash;

/* ---- hashing (RFC 6962 section 2.1) ---- */

/* out = SHA-256(0x00 || entry). Aborts only if OpenSSL cannot run SHA-256 at all. */
void warden_tlog_leaf_hash(warden_tlog_hash *out, const void *entry, size_t len);
/* out = SHA-256(0x01 || left || right). out may alias left or right. */
void warden_tlog_node_hash(warden_tlog_hash *out, const warden_tlog_hash *left,
                           const warden_tlog_hash *right);
/* out = MTH of the n leaf hashes (RFC 6962 split at the largest power of two below n);
 * for n == 0, SHA-256 of the empty string. Uses O(log n) stack, no allocation. */
void warden_tlog_tree_hash(warden_tlog_hash *out, const warden_tlog_hash *leaves, uint64_t n);

/* Writes the standard base64 of h (44 characters) and a NUL into out. */
void warden_tlog_hash_b64(char out[48], const warden_tlog_hash *h);
/* Decodes a standard base64 hash of exactly 32 bytes. Errors: WARDEN_EPARSE. */
WARDEN_MUST_USE int warden_tlog_hash_from_b64(warden_tlog_hash *h, const char *s, size_t len);

/* ---- tile maths and paths (C2SP tlog-tiles, height 8) ---- */

/* Number of hashes in the rightmost (partial) tile at level for a tree of tree_size entries:
 * floor(tree_size / 256^level) mod 256; 0 means there is no partial tile at that level.
 * Use level 0 for entry bundles too. */
unsigned warden_tlog_partial_width(int level, uint64_t tree_size);
/* Writes "tile/<L>/<N>[.p/<W>]" (or "tile/entries/<N>[.p/<W>]" for level
 * WARDEN_TLOG_ENTRIES_LEVEL) into out, e.g. index 1234067 -> "x001/x234/067". width is 1..255
 * for a partial tile and 0 or 256 for a full one. Errors: WARDEN_EINVAL (level outside
 * -1..63, width > 256, cap too small). */
WARDEN_MUST_USE int warden_tlog_tile_path(char *out, size_t cap, int level, uint64_t index,
                                          unsigned width);
/* Parses a path (without leading '/') of exactly the grammar above: no leading zeroes in L or
 * W, 3-digit groups with 'x' on all but the last, nothing else. *width is 256 for full tiles.
 * Errors: WARDEN_EINVAL (anything else, including "checkpoint"). */
WARDEN_MUST_USE int warden_tlog_tile_path_parse(int *level, uint64_t *index, unsigned *width,
                                                const char *path, size_t len);

/* ---- signed notes and keys (C2SP signed-note, Go golang.org/x/mod/sumdb/note) ---- */

typedef struct warden_tlog_signer warden_tlog_signer;     /* Ed25519 private key + name */
typedef struct warden_tlog_verifier warden_tlog_verifier; /* Ed25519 public key + name */

/* Parses a signer key "PRIVATE+KEY+<name>+<hash8>+<base64(0x01||seed)>" and checks its key
 * hash. Errors: WARDEN_EPARSE (malformed, bad name, wrong algorithm or hash), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_tlog_signer_new(warden_tlog_signer **out, const char *skey, size_t len,
                                           warden_err *err);
/* Reads and parses a signer key file (one line, trailing newline allowed); the file's bytes
 * are wiped after parsing. Errors: WARDEN_ENOTFOUND, WARDEN_EIO, WARDEN_ELIMIT, WARDEN_EPARSE,
 * WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_tlog_signer_load(warden_tlog_signer **out, const char *path,
                                            warden_err *err);
/* Wipes and frees a signer; NULL is accepted. */
void warden_tlog_signer_free(warden_tlog_signer *s);
/* The key name (valid while s lives). */
const char *warden_tlog_signer_name(const warden_tlog_signer *s);
/* Appends the verifier key text "<name>+<hash8>+<base64(0x01||pub)>" (no newline) to out.
 * Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_tlog_signer_vkey(warden_buf *out, const warden_tlog_signer *s,
                                            warden_err *err);
/* Generates a new Ed25519 key named name and writes its signer key text plus a newline to
 * path with mode 0600 (atomic, durable). Refuses to overwrite path or to write it inside
 * log_dir (NULL: no such check), so that serving the log can never publish the key.
 * Errors: WARDEN_EEXIST, WARDEN_EINVAL (invalid name, path inside log_dir), WARDEN_EIO,
 * WARDEN_ENOMEM, WARDEN_EINTERNAL (OpenSSL failure). */
WARDEN_MUST_USE int warden_tlog_key_generate(const char *path, const char *name,
                                             const char *log_dir, warden_err *err);

/* Parses a verifier key "<name>+<hash8>+<base64(0x01||pub32)>" (surrounding whitespace and a
 * trailing newline are ignored) and checks its key hash. Errors: WARDEN_EPARSE, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_tlog_verifier_new(warden_tlog_verifier **out, const char *vkey,
                                             size_t len, warden_err *err);
/* Frees a verifier; NULL is accepted. */
void warden_tlog_verifier_free(warden_tlog_verifier *v);
/* The key name (valid while v lives). */
const char *warden_tlog_verifier_name(const warden_tlog_verifier *v);

/* Appends the signed note text || "\n" || "— <name> <base64(keyhash||sig)>\n" to out. text
 * must be a valid note text (UTF-8, no control characters but '\n', ends in '\n').
 * Errors: WARDEN_EINVAL (bad text), WARDEN_ENOMEM, WARDEN_EINTERNAL (OpenSSL failure). */
WARDEN_MUST_USE int warden_tlog_note_sign(warden_buf *out, const uint8_t *text, size_t len,
                                          const warden_tlog_signer *s, warden_err *err);
/* Checks the syntax of a signed note (size, UTF-8, control characters, the blank line, every
 * signature line) without checking any signature; *text_len is the length of its text
 * (msg[0..*text_len), ending in '\n'). Errors: WARDEN_EPARSE, WARDEN_ELIMIT (over
 * WARDEN_TLOG_NOTE_MAX bytes or WARDEN_TLOG_NOTE_SIGS_MAX signatures). */
WARDEN_MUST_USE int warden_tlog_note_parse(size_t *text_len, const uint8_t *msg, size_t len,
                                           warden_err *err);
/* As warden_tlog_note_parse, then verifies signatures: lines whose (name, key hash) matches
 * none of the known keys are ignored, as the spec requires; a matching line must verify;
 * at least one must. Errors: as warden_tlog_note_parse, plus WARDEN_EVERIFY (a known key's
 * signature is invalid, or no known key signed). */
WARDEN_MUST_USE int warden_tlog_note_open(size_t *text_len, const uint8_t *msg, size_t len,
                                          const warden_tlog_verifier *const *known, size_t nknown,
                                          warden_err *err);

/* ---- checkpoints (C2SP tlog-checkpoint) ---- */

typedef struct warden_tlog_checkpoint {
    char origin[WARDEN_TLOG_ORIGIN_MAX + 1]; /* NUL-terminated, non-empty */
    uint64_t size;
    warden_tlog_hash root;
} warden_tlog_checkpoint;

/* Parses checkpoint note text (origin, decimal size without leading zeroes, base64 root,
 * optional non-empty extension lines, which are accepted and ignored). Errors: WARDEN_EPARSE
 * (message gives the line), WARDEN_ELIMIT (origin too long). */
WARDEN_MUST_USE int warden_tlog_checkpoint_parse(warden_tlog_checkpoint *cp, const uint8_t *text,
                                                 size_t len, warden_err *err);
/* Appends the checkpoint's note text (three lines, no extensions) to out.
 * Errors: WARDEN_EINVAL (empty or invalid origin), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_tlog_checkpoint_format(warden_buf *out, const warden_tlog_checkpoint *cp,
                                                  warden_err *err);
/* Appends the signed checkpoint note to out. Errors: as format and warden_tlog_note_sign. */
WARDEN_MUST_USE int warden_tlog_checkpoint_sign(warden_buf *out, const warden_tlog_checkpoint *cp,
                                                const warden_tlog_signer *s, warden_err *err);
/* Opens a signed checkpoint note with one trusted verifier, then parses its text.
 * Errors: as warden_tlog_note_open and warden_tlog_checkpoint_parse. */
WARDEN_MUST_USE int warden_tlog_checkpoint_open(warden_tlog_checkpoint *cp, const uint8_t *msg,
                                                size_t len, const warden_tlog_verifier *v,
                                                warden_err *err);

/* ---- entry bundles ---- */

/* A parsed bundle; entry pointers borrow the parsed buffer. */
typedef struct warden_tlog_bundle {
    size_t count;
    const uint8_t *entry[WARDEN_TLOG_TILE_WIDTH];
    uint16_t len[WARDEN_TLOG_TILE_WIDTH];
} warden_tlog_bundle;

/* Parses a bundle of exactly want entries (1..256; 0 = any count up to 256) of big-endian
 * uint16 length-prefixed entries with no trailing bytes. Errors: WARDEN_ETRUNC (ends inside an
 * entry or before want entries), WARDEN_ELIMIT (more than want / 256 entries). */
WARDEN_MUST_USE int warden_tlog_bundle_parse(warden_tlog_bundle *b, const uint8_t *p, size_t len,
                                             size_t want, warden_err *err);
/* Appends one length-prefixed entry to a bundle being built.
 * Errors: WARDEN_EINVAL (len > 65535), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_tlog_bundle_add(warden_buf *b, const uint8_t *entry, size_t len,
                                           warden_err *err);

/* ---- proofs (RFC 9162 section 2.1.3 / 2.1.4) ---- */

/* Where a proof generator gets hashes: the hash of the complete subtree of 2^height leaves
 * starting at leaf index << height. */
typedef struct warden_tlog_hash_reader {
    int (*subtree)(void *ctx, warden_tlog_hash *out, unsigned height, uint64_t index,
                   warden_err *err);
    void *ctx;
} warden_tlog_hash_reader;

/* Computes the root of a tree of size entries from complete subtrees. Errors: those of the
 * reader. */
WARDEN_MUST_USE int warden_tlog_reader_root(warden_tlog_hash *root,
                                            const warden_tlog_hash_reader *r, uint64_t size,
                                            warden_err *err);
/* Fills proof[0..*n) (room for WARDEN_TLOG_PROOF_MAX) with the inclusion proof of leaf index
 * in the tree of size entries. Errors: WARDEN_EINVAL (index >= size), those of the reader. */
WARDEN_MUST_USE int warden_tlog_prove_inclusion(warden_tlog_hash *proof, size_t *n, uint64_t index,
                                                uint64_t size, const warden_tlog_hash_reader *r,
                                                warden_err *err);
/* Fills proof[0..*n) with the consistency proof from old_size to new_size (empty when they are
 * equal or old_size is 0). Errors: WARDEN_EINVAL (old_size > new_size), the reader's. */
WARDEN_MUST_USE int warden_tlog_prove_consistency(warden_tlog_hash *proof, size_t *n,
                                                  uint64_t old_size, uint64_t new_size,
                                                  const warden_tlog_hash_reader *r,
                                                  warden_err *err);
/* Verifies an inclusion proof (RFC 9162 2.1.3.2). Errors: WARDEN_EINVAL (index >= size),
 * WARDEN_EVERIFY (proof has the wrong length or does not lead to root). */
WARDEN_MUST_USE int warden_tlog_verify_inclusion(const warden_tlog_hash *leaf, uint64_t index,
                                                 uint64_t size, const warden_tlog_hash *root,
                                                 const warden_tlog_hash *proof, size_t n,
                                                 warden_err *err);
/* Verifies a consistency proof (RFC 9162 2.1.4.2). Errors: WARDEN_EINVAL (old > new),
 * WARDEN_EVERIFY (wrong length, or either root does not match). */
WARDEN_MUST_USE int warden_tlog_verify_consistency(uint64_t old_size, uint64_t new_size,
                                                   const warden_tlog_hash *old_root,
                                                   const warden_tlog_hash *new_root,
                                                   const warden_tlog_hash *proof, size_t n,
                                                   warden_err *err);

/* ---- reading a log: a directory or an HTTP(S) prefix ---- */

typedef struct warden_tlog_source warden_tlog_source;

/* A source reading files under a log directory. Errors: WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_tlog_source_dir_new(warden_tlog_source **out, const char *dir,
                                               warden_err *err);
/* A source fetching <url>/<path> with libcurl (http or https; redirects not followed).
 * Errors: WARDEN_EINVAL (not an http(s) URL), WARDEN_ENOMEM, WARDEN_EINTERNAL. */
WARDEN_MUST_USE int warden_tlog_source_url_new(warden_tlog_source **out, const char *url,
                                               warden_err *err);
/* Frees a source; NULL is accepted. */
void warden_tlog_source_free(warden_tlog_source *s);
/* Appends the bytes of a layout path ("checkpoint", "tile/0/000", ...) to out, failing if
 * larger than max. Errors: WARDEN_ENOTFOUND (missing / HTTP 404), WARDEN_EIO (read error, other
 * HTTP status, network), WARDEN_ELIMIT, WARDEN_EINVAL (path or URL too long), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_tlog_source_get(warden_buf *out, warden_tlog_source *s, const char *path,
                                           size_t max, warden_err *err);
/* Fetches and opens the source's checkpoint with verifier v; with v NULL only checks the note
 * syntax (for a log's own tools: never trust such a checkpoint). Errors: those of
 * warden_tlog_source_get and warden_tlog_checkpoint_open. */
WARDEN_MUST_USE int warden_tlog_source_checkpoint(warden_tlog_checkpoint *cp, warden_tlog_source *s,
                                                  const warden_tlog_verifier *v, warden_err *err);
/* Sets *r to read subtree hashes from the source's tiles for a tree of size entries (r borrows
 * s). Every tile read is checked for its exact length. */
void warden_tlog_source_reader(warden_tlog_hash_reader *r, warden_tlog_source *s, uint64_t size);
/* Appends entry index of a tree of size entries to out. Errors: WARDEN_EINVAL (index >= size),
 * WARDEN_ECORRUPT (bundle malformed), those of warden_tlog_source_get. */
WARDEN_MUST_USE int warden_tlog_source_entry(warden_buf *out, warden_tlog_source *s, uint64_t size,
                                             uint64_t index, warden_err *err);
/* The full check an auditor runs: opens the checkpoint with v, recomputes every leaf hash from
 * every bundle, compares every full and needed partial hash tile, and the root. Memory stays
 * O(tile height x levels). On success *cp is the verified checkpoint. Errors: those of
 * warden_tlog_source_checkpoint; WARDEN_ENOTFOUND (a needed file is missing: message names
 * it), WARDEN_ECORRUPT (a file has the wrong length or a bundle is malformed: path and index),
 * WARDEN_EVERIFY (a hash differs: path and index, or the root), WARDEN_ENOMEM. A partial tile
 * that was deleted because its full tile exists is read from the full tile. */
WARDEN_MUST_USE int warden_tlog_verify(warden_tlog_checkpoint *cp, warden_tlog_source *s,
                                       const warden_tlog_verifier *v, warden_err *err);

/* ---- writing a log ---- */

/* Creates an empty log in dir (created if missing): the tile/ directory and a checkpoint of
 * size 0 signed by s; removes a journal (dir/.journal) left by an earlier log there. Errors: WARDEN_EEXIST (dir already has a checkpoint), WARDEN_EINVAL
 * (bad origin), WARDEN_EIO, WARDEN_ENOMEM, WARDEN_EINTERNAL. */
WARDEN_MUST_USE int warden_tlog_create(const char *dir, const char *origin,
                                       const warden_tlog_signer *s, warden_err *err);

typedef struct warden_tlog_appender warden_tlog_appender;

typedef struct warden_tlog_appender_opts {
    size_t max_batch;     /* most entries per batch; 0 = 4096; capped at WARDEN_TLOG_BATCH_MAX */
    unsigned max_wait_us; /* longest wait for a batch to have as many callers as the
                             previous one (callers of a batch come back together); 0 = 1000.
                             A lone caller never waits. Entries arriving during a write join
                             the next batch. */
    unsigned publish_wait_us; /* longest time journaled (acknowledged, durable) entries wait
                                 to be published in a checkpoint, so that one publication
                                 covers many batches; 0 = 20000, at most 1 s. Sooner when
                                 a quarter of the journal is waiting or a thread waits in
                                 warden_tlog_appender_sync. */
} warden_tlog_appender_opts;

/* Opens the log in dir for appending (one appender per directory: the directory is locked),
 * verifies its checkpoint with the signer's own public key, loads the right edge of the tree
 * (never more), removes what an interrupted batch left beyond the checkpoint, integrates and
 * publishes the entries that the write-ahead journal dir/.journal (created if missing; never
 * served) holds beyond the checkpoint, and starts the sequencer and integrator threads. s is
 * borrowed and must outlive the appender; opts may be NULL.
 * Errors: WARDEN_ENOTFOUND (no checkpoint: run warden_tlog_create), WARDEN_EDENIED (another
 * appender holds the lock), WARDEN_EVERIFY (checkpoint not signed by s),
 * WARDEN_ECORRUPT (tiles inconsistent with the checkpoint, or a journal damaged in a way no
 * crash causes: the message names the file), WARDEN_EIO, WARDEN_ENOMEM, WARDEN_EINTERNAL. */
WARDEN_MUST_USE int warden_tlog_appender_new(warden_tlog_appender **out, const char *dir,
                                             const warden_tlog_signer *s,
                                             const warden_tlog_appender_opts *opts,
                                             warden_err *err);
/* Appends one entry and waits until it is durable (in the journal: one write + fdatasync per
 * batch); then *index is its position, and a checkpoint covering it is published within one
 * integration (warden_tlog_appender_sync waits for that). Safe to call from many threads at
 * once. Errors: WARDEN_EINVAL (len > 65535), WARDEN_EIO (the log could not be written: the
 * appender has failed closed and every pending and later append returns WARDEN_EIO; also after
 * warden_tlog_appender_free began), WARDEN_EINTERNAL (no semaphore could be created). If the
 * process dies before this returns, or it returns WARDEN_EIO, the entry may or may not be in
 * the log after a reopen; once it has returned 0, the entry is (reopening integrates it). */
WARDEN_MUST_USE int warden_tlog_append(uint64_t *index, warden_tlog_appender *a,
                                       const uint8_t *entry, size_t len, warden_err *err);
/* As warden_tlog_append for n entries (1..WARDEN_TLOG_BATCH_MAX) that get the consecutive
 * indexes *first.. *first+n-1. Errors: as warden_tlog_append, WARDEN_EINVAL also for bad n. */
WARDEN_MUST_USE int warden_tlog_append_many(uint64_t *first, warden_tlog_appender *a,
                                            const uint8_t *const *entries, const size_t *lens,
                                            size_t n, warden_err *err);
/* Size of the tree in the last published checkpoint (may lag the acknowledged appends by one
 * integration; call warden_tlog_appender_sync first for a size covering them). */
uint64_t warden_tlog_appender_size(warden_tlog_appender *a);
/* Waits until every append acknowledged before this call is covered by a published, durable
 * checkpoint. Errors: WARDEN_EIO (integration failed: the appender has failed closed; the
 * acknowledged entries stay in the journal and the next warden_tlog_appender_new publishes
 * them). */
WARDEN_MUST_USE int warden_tlog_appender_sync(warden_tlog_appender *a, warden_err *err);
/* Lets queued appends finish, publishes a checkpoint covering every journaled entry (unless
 * integration failed), stops the threads, unlocks and frees; NULL is accepted. */
void warden_tlog_appender_free(warden_tlog_appender *a);

/* ---- serving a log over HTTP (libmicrohttpd) ---- */

typedef struct warden_tlog_server warden_tlog_server;

/* Starts a read-only HTTP server for the log layout in dir on listen ("127.0.0.1:PORT" or
 * "[::1]:PORT"): GET/HEAD only, strict path grammar, 404 for anything else, caching headers per
 * tlog-tiles. Errors: WARDEN_EINVAL (bad listen address), WARDEN_EIO (cannot bind). */
WARDEN_MUST_USE int warden_tlog_server_new(warden_tlog_server **out, const char *dir,
                                           const char *listen, warden_err *err);
/* Stops and frees; NULL is accepted. */
void warden_tlog_server_free(warden_tlog_server *s);

/* The serving rule, for servers that embed the log (the gateway): opens path (relative, NUL-
 * terminated, no leading '/') in the log directory dirfd if it is "checkpoint" or a canonical
 * tile/bundle path the current checkpoint covers; *fd is then a regular file of *size bytes
 * (caller closes) with its Content-Type and Cache-Control (static strings). Errors:
 * WARDEN_ENOTFOUND (anything else: not in the grammar, not yet published, missing). */
WARDEN_MUST_USE int warden_tlog_serve_open(int *fd, uint64_t *size, const char **content_type,
                                           const char **cache_control, int dirfd,
                                           const char *path);

#endif
