/* Domain-free helpers: a growable byte buffer, the bounds-checked cursor through
 * which every parser of our own binary formats reads untrusted bytes, locked
 * secret memory, and whole-file I/O with size limits and durable writes. */
#ifndef WARDEN_UTIL_H
#define WARDEN_UTIL_H

#include "warden/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- growable buffer (caller memory: _init/_fini) ---- */

typedef struct warden_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
} warden_buf;

/* Starts an empty buffer; never fails (allocation is deferred). */
void warden_buf_init(warden_buf *b);
/* Frees the buffer's memory without wiping it: only for non-secret data. */
void warden_buf_fini(warden_buf *b);
/* Wipes then frees: use for anything that held a key, token or plaintext. */
void warden_buf_fini_wipe(warden_buf *b);
/* Ensures room for extra more bytes. Errors: WARDEN_ENOMEM, WARDEN_ELIMIT (size overflow). */
WARDEN_MUST_USE int warden_buf_reserve(warden_buf *b, size_t extra);
/* As warden_buf_reserve, but when it must grow it copies into a new block and wipes the old
 * one instead of realloc (which may leave a copy behind): for buffers holding plaintext. */
WARDEN_MUST_USE int warden_buf_reserve_wipe(warden_buf *b, size_t extra);
/* Appends len bytes. Errors: as warden_buf_reserve. */
WARDEN_MUST_USE int warden_buf_append(warden_buf *b, const void *p, size_t len);
/* Appends a NUL-terminated string (without its NUL). Errors: as warden_buf_reserve. */
WARDEN_MUST_USE int warden_buf_puts(warden_buf *b, const char *s);
/* Appends formatted text (without NUL). Errors: WARDEN_ENOMEM, WARDEN_EINVAL (bad format). */
WARDEN_MUST_USE int warden_buf_printf(warden_buf *b, const char *fmt, ...) WARDEN_PRINTF(2, 3);
/* Appends a NUL terminator that is not counted in len, so p can be used as a C string. */
WARDEN_MUST_USE int warden_buf_cstr(warden_buf *b);

/* ---- cursor over untrusted bytes: never reads past len ---- */

typedef struct warden_cursor {
    const uint8_t *p;
    size_t len;
    size_t off;
} warden_cursor;

/* Borrows p[0..len) for reading; p must outlive the cursor. */
void warden_cursor_init(warden_cursor *c, const void *p, size_t len);
/* Bytes left to read. */
size_t warden_cursor_left(const warden_cursor *c);
/* Reads one byte. Errors: WARDEN_ETRUNC. */
WARDEN_MUST_USE int warden_cursor_u8(warden_cursor *c, uint8_t *out);
/* Reads a big-endian uint16. Errors: WARDEN_ETRUNC. */
WARDEN_MUST_USE int warden_cursor_be16(warden_cursor *c, uint16_t *out);
/* Reads a big-endian uint32. Errors: WARDEN_ETRUNC. */
WARDEN_MUST_USE int warden_cursor_be32(warden_cursor *c, uint32_t *out);
/* Reads a big-endian uint64. Errors: WARDEN_ETRUNC. */
WARDEN_MUST_USE int warden_cursor_be64(warden_cursor *c, uint64_t *out);
/* Borrows the next n bytes (*out points into the cursor's buffer). Errors: WARDEN_ETRUNC. */
WARDEN_MUST_USE int warden_cursor_bytes(warden_cursor *c, const uint8_t **out, size_t n);
/* Borrows bytes up to (not including) the next byte equal to delim and consumes the
 * delimiter. Errors: WARDEN_ETRUNC when delim does not occur. */
WARDEN_MUST_USE int warden_cursor_until(warden_cursor *c, uint8_t delim, const uint8_t **out,
                                        size_t *n);

/* Writes the 2n lowercase hex digits of p[0..n) and a NUL into out (2n + 1 bytes). */
void warden_hex_encode(char *out, const uint8_t *p, size_t n);

/* ---- secret memory: locked, excluded from core dumps, wiped on free ---- */

/* Allocates len zeroed bytes that are mlock'ed and marked MADV_DONTDUMP.
 * Returns NULL when memory is exhausted. */
void *warden_secret_alloc(size_t len);
/* Wipes and frees memory from warden_secret_alloc; NULL is accepted. */
void warden_secret_free(void *p, size_t len);
/* Reads the rest of fd, whose size is size, into new secret memory (*out, *cap bytes
 * allocated; free with warden_secret_free(*out, *cap)); errors if the file changed size. */
WARDEN_MUST_USE int warden_secret_read_fd(uint8_t **out, size_t *len, size_t *cap, int fd,
                                          size_t size, const char *path, warden_err *err);
/* Wipes len bytes so the compiler cannot elide it. */
void warden_wipe(void *p, size_t len);
/* Constant-time equality of two equal-length byte strings (MACs, tags, tokens). */
bool warden_ct_equal(const void *a, const void *b, size_t len);
/* Makes jansson wipe every block it frees (its objects, strings and internal buffers, which
 * hold decrypted documents in keyd and the gateway) by installing process-wide allocation
 * functions (json_set_alloc_funcs): malloc, and a free that wipes the block's whole usable
 * size first. Idempotent and thread-safe; call once at process start, before threads. Strings
 * that json_dumps returns are the caller's: wipe them before free() when they hold plaintext. */
void warden_json_wipe_on_free(void);
/* The free function warden_json_wipe_on_free installs: wipes then frees; NULL is accepted. */
void warden_json_wipe_free(void *p);
/* Disables core dumps for this process (keyd and anything holding keys). Errors: WARDEN_EIO. */
WARDEN_MUST_USE int warden_disable_core_dumps(warden_err *err);

/* ---- files ---- */

/* Writes all len bytes to fd, retrying short writes and EINTR. Returns 0, or -1 with errno
 * set by write(2); callers turn that into their own message. */
WARDEN_MUST_USE int warden_write_all(int fd, const void *p, size_t len);

/* Reads a whole file into b (appending) and fails if it is larger than max bytes.
 * Errors: WARDEN_ENOTFOUND, WARDEN_EIO, WARDEN_ELIMIT, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_file_read(warden_buf *b, const char *path, size_t max, warden_err *err);
/* Writes data to path atomically and durably: temp file in the same directory, fsync,
 * rename, fsync of the directory. mode is the new file's permission bits.
 * Errors: WARDEN_EIO. */
WARDEN_MUST_USE int warden_file_write_atomic(const char *path, const void *data, size_t len,
                                             unsigned mode, warden_err *err);
/* fsyncs the directory at path so that renames and creations in it are durable.
 * Errors: WARDEN_EIO. */
WARDEN_MUST_USE int warden_dir_sync(const char *path, warden_err *err);
/* Creates the directory path and its missing parents with mode 0755. Errors: WARDEN_EIO. */
WARDEN_MUST_USE int warden_mkdir_p(const char *path, warden_err *err);

/* ---- text ---- */

/* Parses a whole decimal string of digits as uint64 (no sign, no spaces, no leading '+').
 * Errors: WARDEN_EINVAL (not a number), WARDEN_ELIMIT (overflow). */
WARDEN_MUST_USE int warden_parse_u64(uint64_t *out, const char *s, size_t len);

#endif
