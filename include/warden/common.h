/* Error codes, the error sink and attributes shared by every warden component.
 * Every fallible function returns 0 or a negative WARDEN_E* code and fills a
 * caller-owned warden_err with a sentence a user can act on. */
#ifndef WARDEN_COMMON_H
#define WARDEN_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define WARDEN_VERSION "0.1.0"

#if defined(__GNUC__) || defined(__clang__)
#define WARDEN_MUST_USE __attribute__((warn_unused_result))
#define WARDEN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define WARDEN_MUST_USE
#define WARDEN_PRINTF(a, b)
#endif

/* Codes are grouped by kind so that callers (the gateway) map kind -> status in one table. */
enum {
    WARDEN_OK = 0,
    WARDEN_EINVAL = -1,    /* usage: bad argument or malformed input */
    WARDEN_EPARSE = -2,    /* usage: input does not parse (message has file:line:col) */
    WARDEN_ETRUNC = -3,    /* usage: input ends early */
    WARDEN_ELIMIT = -4,    /* usage: input exceeds a size or depth bound */
    WARDEN_ENOTFOUND = -10, /* not found */
    WARDEN_EEXIST = -11,   /* already exists */
    WARDEN_EDENIED = -20,  /* denied by policy or permission */
    WARDEN_EVERIFY = -21,  /* a signature, hash or proof does not verify */
    WARDEN_EIO = -30,      /* I/O failed: callers that log must fail closed */
    WARDEN_ECORRUPT = -31, /* stored data is inconsistent */
    WARDEN_ENOMEM = -40,   /* allocation failed */
    WARDEN_EINTERNAL = -41 /* broken internal invariant or library failure */
};

#define WARDEN_ERR_MAX 512

/* Caller-owned error sink: fixed size, never allocates, never holds secrets. */
typedef struct warden_err {
    int code;
    char msg[WARDEN_ERR_MAX];
} warden_err;

/* Fills err (if not NULL) with code and a formatted message; returns code. */
int warden_err_set(warden_err *err, int code, const char *fmt, ...) WARDEN_PRINTF(3, 4);

/* Prepends "prefix: " to the message already in err; returns err->code. */
int warden_err_prefix(warden_err *err, const char *fmt, ...) WARDEN_PRINTF(2, 3);

/* Clears err to code 0 and an empty message. */
void warden_err_clear(warden_err *err);

/* A short, static name for a code ("invalid input", "I/O error", ...). */
const char *warden_strerror(int code);

#endif
