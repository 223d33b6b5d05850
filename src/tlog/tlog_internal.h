/* Internals shared by the tlog files: strict base64, note-name rules, the key structs. */
#ifndef WARDEN_TLOG_INTERNAL_H
#define WARDEN_TLOG_INTERNAL_H

#include "warden/tlog.h"

#include <stdbool.h>

/* Standard base64 (RFC 4648 section 4) with padding. */
size_t tlog_b64_encoded_len(size_t n);
/* Writes the encoding of p[0..n) plus a NUL into out (room for tlog_b64_encoded_len(n)+1). */
void tlog_b64_encode(char *out, const uint8_t *p, size_t n);
/* Strict decoding: padding required, no whitespace, unused bits zero. Returns 0 and the decoded
 * length in *n, or -1 when s is not canonical base64 or the result exceeds cap. */
int tlog_b64_decode(uint8_t *out, size_t cap, size_t *n, const uint8_t *s, size_t len);

/* A note key name: non-empty UTF-8 with no Unicode space and no '+'. */
bool tlog_valid_key_name(const uint8_t *s, size_t len);
/* Decodes one UTF-8 sequence at p[0..len): returns its length (1..4) and sets *cp, or 0 when
 * it is not valid UTF-8 (overlong, surrogate, out of range, truncated). */
size_t tlog_utf8_decode(uint32_t *cp, const uint8_t *p, size_t len);

/* key hash = first 4 bytes (big-endian) of SHA-256(name || "\n" || 0x01 || pub). */
uint32_t tlog_key_hash(const char *name, size_t name_len, const uint8_t pub[32]);

struct warden_tlog_verifier {
    char *name;
    uint32_t hash;
    uint8_t pub[32];
};

/* Root of a tree given its right edge: counts[L] hashes edge[L][0..counts[L]) at each tile
 * level L (each the root of a complete subtree of 256^L leaves), levels 0..nlevels-1. */
void tlog_edge_root(warden_tlog_hash *out, warden_tlog_hash *const *edge, const unsigned *counts,
                    unsigned nlevels);
#define TLOG_LEVELS 8

/* Shifts that saturate instead of being undefined at 64 (tile level 7 spans 2^64 leaves). */
static inline uint64_t tlog_shr(uint64_t x, unsigned s)
{
    return s >= 64 ? 0 : x >> s;
}
static inline uint64_t tlog_shl(uint64_t x, unsigned s)
{
    return s >= 64 ? 0 : x << s;
} /* tile levels a 64-bit tree size can need */

/* ---- durable writes into a log directory (store.c) ----
 * A write set collects the files of one batch. Each file is written to "<path>.tmp" at add
 * time; sync makes every temp durable; publish renames them to their final names and fsyncs
 * each directory that changed. Temp names are outside the tlog-tiles grammar, so a reader
 * never sees them as layout files. */
typedef struct tlog_wfile {
    char path[WARDEN_TLOG_PATH_MAX];
    int fd;
} tlog_wfile;

/* ---- parallel fsync (syncpool.c) ---- */
typedef struct tlog_syncpool tlog_syncpool;
/* Starts the helper threads; NULL when out of memory (callers then sync one by one). */
tlog_syncpool *tlog_syncpool_new(void);
void tlog_syncpool_free(tlog_syncpool *p);
/* fsyncs (data_only: fdatasyncs) fds[0..n) in parallel; p may be NULL. Returns the index of
 * the first fd that failed (errno set), or -1 when all succeeded. */
long tlog_sync_fds(tlog_syncpool *p, const int *fds, size_t n, int data_only);

typedef struct tlog_writeset {
    int dirfd;           /* the log directory; borrowed */
    tlog_syncpool *pool; /* borrowed; may be NULL */
    tlog_wfile *f;
    size_t n, cap;
    char (*dirs)[WARDEN_TLOG_PATH_MAX]; /* directories whose entries changed */
    size_t ndirs, dcap;
} tlog_writeset;

void tlog_ws_init(tlog_writeset *ws, int dirfd, tlog_syncpool *pool);
/* Closes any open temp files (unlinking them) and frees; the set can be reused after init. */
void tlog_ws_fini(tlog_writeset *ws);
/* Writes data to path.tmp (creating parent directories) and starts its writeback. */
int tlog_ws_add(tlog_writeset *ws, const char *path, const void *data, size_t len, warden_err *err);
/* fdatasyncs and closes every temp file of ws and of also (may be NULL), all at once. */
int tlog_ws_sync(tlog_writeset *ws, tlog_writeset *also, warden_err *err);
/* Renames every temp file over its final name, then fsyncs every changed directory. */
int tlog_ws_publish(tlog_writeset *ws, warden_err *err);
/* Removes path if it exists (no error when missing). */
int tlog_remove(int dirfd, const char *path, warden_err *err);
/* Removes every file in directory path whose name is a width > keep_below_or_equal
 * (keep 0: all widths), plus temp files, and the directory itself if it becomes empty. */
int tlog_prune_partials(int dirfd, const char *dirpath, unsigned keep, warden_err *err);

/* Appends tile (level, index) of width w (level WARDEN_TLOG_ENTRIES_LEVEL: the bundle) to
 * out, with path set to the file read. A partial tile that is gone because its full tile
 * exists (tlog-tiles allows deleting it) is read as the full tile's first w hashes/entries.
 * Errors: those of warden_tlog_source_get; WARDEN_ECORRUPT (full tile too short). */
int tlog_source_get_tile(warden_buf *out, warden_tlog_source *s, int level, uint64_t index,
                         unsigned w, char path[WARDEN_TLOG_PATH_MAX], warden_err *err);

/* Ed25519 signature of msg with s; key hash of s. 0 or -1 (OpenSSL failure). */
int tlog_signer_sign(uint8_t sig[64], const warden_tlog_signer *s, const uint8_t *msg, size_t len);
uint32_t tlog_signer_hash(const warden_tlog_signer *s);

/* ---- the appender's write-ahead journal (journal.c) ---- */
#define TLOG_JOURNAL_NAME ".journal" /* a dotfile: never part of the served layout */
#define TLOG_JOURNAL_SIZE (4u << 20) /* pre-allocated bytes; writes restart at 0 after */
#define TLOG_JHDR 72                 /* bytes of a batch header */
#define TLOG_JNONCE 16               /* bytes of the epoch nonce */

/* One journal batch: entries first..first+count-1, encoded as written (header || body). */
typedef struct tlog_jbatch {
    struct tlog_jbatch *next;
    uint64_t first;
    uint32_t count;
    warden_buf b;
} tlog_jbatch;

typedef struct tlog_journal {
    int fd;
    uint64_t off; /* where the next batch goes */
    uint64_t cap; /* pre-allocated size */
    uint8_t nonce[TLOG_JNONCE];
} tlog_journal;

/* Starts encoding a batch whose first entry gets index first (jb is caller memory). */
int tlog_jbatch_begin(tlog_jbatch *jb, uint64_t first, warden_err *err);
/* Copies one entry into the batch. Errors: WARDEN_EINVAL, WARDEN_ENOMEM. */
int tlog_jbatch_add(tlog_jbatch *jb, const uint8_t *entry, size_t len, warden_err *err);
/* Fills in the header and its digest (tlog_journal_write does this). */
int tlog_jbatch_seal(tlog_jbatch *jb, const uint8_t nonce[TLOG_JNONCE], warden_err *err);
/* A cursor over the batch's entries (u16 length || bytes, count times). */
void tlog_jbatch_body(warden_cursor *c, const tlog_jbatch *jb);
/* Frees a heap-allocated list of batches (and each one's buffer); NULL is accepted. */
void tlog_jbatch_free(tlog_jbatch *jb);
/* Opens (creating and pre-allocating) the journal in dirfd and sets *replay to copies of the
 * batches of its current epoch that hold entries at or past size, in order; a torn last batch
 * is ignored. Writing must wait for tlog_journal_rewind. Errors: WARDEN_ECORRUPT (damage that
 * a crash cannot cause, or entries between size and the journal's first are missing),
 * WARDEN_EIO, WARDEN_ENOMEM. */
int tlog_journal_open(tlog_journal *j, tlog_jbatch **replay, int dirfd, uint64_t size,
                      warden_err *err);
/* Starts a new epoch at offset 0: only once every batch in the journal is covered by a durable
 * checkpoint. Errors: WARDEN_EINTERNAL (no randomness). */
int tlog_journal_rewind(tlog_journal *j, warden_err *err);
/* True when jb fits before the end of the pre-allocated journal (or the journal is rewound). */
int tlog_journal_fits(const tlog_journal *j, const tlog_jbatch *jb);
/* Seals jb and writes it at the journal's offset with one pwrite + one fdatasync: when this
 * returns 0 the batch is durable. Errors: WARDEN_EIO, WARDEN_EINTERNAL. */
int tlog_journal_write(tlog_journal *j, tlog_jbatch *jb, warden_err *err);
void tlog_journal_close(tlog_journal *j);

#endif
