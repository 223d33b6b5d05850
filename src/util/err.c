/* The error sink: fixed-size, formatted, truncated rather than overflowing. */
#include "warden/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int warden_err_set(warden_err *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

int warden_err_prefix(warden_err *err, const char *fmt, ...)
{
    if (err == NULL)
        return WARDEN_EINTERNAL;
    char prefix[WARDEN_ERR_MAX];
    char old[WARDEN_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    /* Truncation is acceptable: the message stays a valid, shorter sentence. */
    size_t pl = strnlen(prefix, sizeof err->msg - 3);
    memcpy(err->msg, prefix, pl);
    memcpy(err->msg + pl, ": ", 2);
    size_t room = sizeof err->msg - pl - 3;
    size_t ol = strnlen(old, room);
    memcpy(err->msg + pl + 2, old, ol);
    err->msg[pl + 2 + ol] = '\0';
    return err->code;
}

void warden_err_clear(warden_err *err)
{
    if (err == NULL)
        return;
    err->code = 0;
    err->msg[0] = '\0';
}

const char *warden_strerror(int code)
{
    switch (code) {
    case WARDEN_OK: return "ok";
    case WARDEN_EINVAL: return "invalid input";
    case WARDEN_EPARSE: return "parse error";
    case WARDEN_ETRUNC: return "truncated input";
    case WARDEN_ELIMIT: return "limit exceeded";
    case WARDEN_ENOTFOUND: return "not found";
    case WARDEN_EEXIST: return "already exists";
    case WARDEN_EDENIED: return "denied";
    case WARDEN_EVERIFY: return "verification failed";
    case WARDEN_EIO: return "I/O error";
    case WARDEN_ECORRUPT: return "corrupt data";
    case WARDEN_ENOMEM: return "out of memory";
    case WARDEN_EINTERNAL: return "internal error";
    default: return "unknown error";
    }
}
