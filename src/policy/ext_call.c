/* Binds Cedar's extension functions and methods (names, arity, argument types) to the
 * pure functions of ext.h, for the evaluator and for `__extn` escapes in JSON. */
#include "policy/eval.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    cedar_ext fn;
    uint32_t arity;
} EXTS[] = {
    {"ip", CEDAR_EXT_IP, 1},
    {"decimal", CEDAR_EXT_DECIMAL, 1},
    {"datetime", CEDAR_EXT_DATETIME, 1},
    {"duration", CEDAR_EXT_DURATION, 1},
    {"isIpv4", CEDAR_EXT_IS_IPV4, 1},
    {"isIpv6", CEDAR_EXT_IS_IPV6, 1},
    {"isLoopback", CEDAR_EXT_IS_LOOPBACK, 1},
    {"isMulticast", CEDAR_EXT_IS_MULTICAST, 1},
    {"isInRange", CEDAR_EXT_IS_IN_RANGE, 2},
    {"lessThan", CEDAR_EXT_LESS_THAN, 2},
    {"lessThanOrEqual", CEDAR_EXT_LESS_THAN_OR_EQUAL, 2},
    {"greaterThan", CEDAR_EXT_GREATER_THAN, 2},
    {"greaterThanOrEqual", CEDAR_EXT_GREATER_THAN_OR_EQUAL, 2},
    {"offset", CEDAR_EXT_OFFSET, 2},
    {"durationSince", CEDAR_EXT_DURATION_SINCE, 2},
    {"toDate", CEDAR_EXT_TO_DATE, 1},
    {"toTime", CEDAR_EXT_TO_TIME, 1},
    {"toDays", CEDAR_EXT_TO_DAYS, 1},
    {"toHours", CEDAR_EXT_TO_HOURS, 1},
    {"toMinutes", CEDAR_EXT_TO_MINUTES, 1},
    {"toSeconds", CEDAR_EXT_TO_SECONDS, 1},
    {"toMilliseconds", CEDAR_EXT_TO_MILLISECONDS, 1},
};

#define N_EXTS (sizeof EXTS / sizeof EXTS[0])

bool cedar_ext_lookup(cedar_ext *out, const char *name, size_t len)
{
    for (size_t i = 0; i < N_EXTS; i++) {
        if (strlen(EXTS[i].name) == len && memcmp(EXTS[i].name, name, len) == 0) {
            *out = EXTS[i].fn;
            return true;
        }
    }
    return false;
}

static const char *ext_name(cedar_ext fn)
{
    for (size_t i = 0; i < N_EXTS; i++)
        if (EXTS[i].fn == fn)
            return EXTS[i].name;
    return "?";
}

static int type_err(char *msg, size_t cap, cedar_ext fn, const char *want, const cedar_value *got)
{
    snprintf(msg, cap, "type error: `%s` expected %s, got %s", ext_name(fn), want,
             cedar_kind_name(got->kind));
    return -1;
}

/* The string argument of a constructor, shown (truncated) in messages. */
static int bad_literal(char *msg, size_t cap, const char *what, const cedar_str *s)
{
    snprintf(msg, cap, "invalid %s: \"%.*s\"", what, (int)(s->len > 80 ? 80 : s->len), s->p);
    return -1;
}

static int overflow(char *msg, size_t cap, cedar_ext fn)
{
    snprintf(msg, cap, "overflow while evaluating `%s`", ext_name(fn));
    return -1;
}

int cedar_ext_apply(cedar_value *out, cedar_ext fn, const cedar_value *args, uint32_t n,
                    cedar_varena *a, char *msg, size_t cap)
{
    uint32_t arity = 0;
    for (size_t i = 0; i < N_EXTS; i++)
        if (EXTS[i].fn == fn)
            arity = EXTS[i].arity;
    if (n != arity) {
        snprintf(msg, cap,
                 "wrong number of arguments provided to extension function `%s`: expected %u, "
                 "got %u",
                 ext_name(fn), arity, n);
        return -1;
    }
    const cedar_value *x = &args[0], *y = n > 1 ? &args[1] : NULL;
    switch (fn) {
    case CEDAR_EXT_IP: {
        if (x->kind != CEDAR_V_STRING)
            return type_err(msg, cap, fn, "string", x);
        cedar_ipaddr *ip = cedar_varena_alloc(a, sizeof *ip);
        if (ip == NULL) {
            snprintf(msg, cap, "out of memory");
            return -1;
        }
        if (cedar_ip_parse(ip, x->u.s->p, x->u.s->len) != 0)
            return bad_literal(msg, cap, "IP address", x->u.s);
        out->kind = CEDAR_V_IPADDR;
        out->u.ip = ip;
        return 0;
    }
    case CEDAR_EXT_DECIMAL:
    case CEDAR_EXT_DATETIME:
    case CEDAR_EXT_DURATION: {
        if (x->kind != CEDAR_V_STRING)
            return type_err(msg, cap, fn, "string", x);
        int64_t v;
        int rc;
        if (fn == CEDAR_EXT_DECIMAL) {
            rc = cedar_decimal_parse(&v, x->u.s->p, x->u.s->len);
            out->kind = CEDAR_V_DECIMAL;
        } else if (fn == CEDAR_EXT_DATETIME) {
            rc = cedar_datetime_parse(&v, x->u.s->p, x->u.s->len);
            out->kind = CEDAR_V_DATETIME;
        } else {
            rc = cedar_duration_parse(&v, x->u.s->p, x->u.s->len);
            out->kind = CEDAR_V_DURATION;
        }
        if (rc != 0)
            return bad_literal(msg, cap, ext_name(fn), x->u.s);
        out->u.i = v;
        return 0;
    }
    case CEDAR_EXT_IS_IPV4:
    case CEDAR_EXT_IS_IPV6:
    case CEDAR_EXT_IS_LOOPBACK:
    case CEDAR_EXT_IS_MULTICAST:
        if (x->kind != CEDAR_V_IPADDR)
            return type_err(msg, cap, fn, "ipaddr", x);
        out->kind = CEDAR_V_BOOL;
        out->u.b = fn == CEDAR_EXT_IS_IPV4       ? cedar_ip_is_ipv4(x->u.ip)
                   : fn == CEDAR_EXT_IS_IPV6     ? cedar_ip_is_ipv6(x->u.ip)
                   : fn == CEDAR_EXT_IS_LOOPBACK ? cedar_ip_is_loopback(x->u.ip)
                                                 : cedar_ip_is_multicast(x->u.ip);
        return 0;
    case CEDAR_EXT_IS_IN_RANGE:
        if (x->kind != CEDAR_V_IPADDR)
            return type_err(msg, cap, fn, "ipaddr", x);
        if (y->kind != CEDAR_V_IPADDR)
            return type_err(msg, cap, fn, "ipaddr", y);
        out->kind = CEDAR_V_BOOL;
        out->u.b = cedar_ip_in_range(x->u.ip, y->u.ip);
        return 0;
    case CEDAR_EXT_LESS_THAN:
    case CEDAR_EXT_LESS_THAN_OR_EQUAL:
    case CEDAR_EXT_GREATER_THAN:
    case CEDAR_EXT_GREATER_THAN_OR_EQUAL:
        if (x->kind != CEDAR_V_DECIMAL)
            return type_err(msg, cap, fn, "decimal", x);
        if (y->kind != CEDAR_V_DECIMAL)
            return type_err(msg, cap, fn, "decimal", y);
        out->kind = CEDAR_V_BOOL;
        out->u.b = fn == CEDAR_EXT_LESS_THAN            ? x->u.i < y->u.i
                   : fn == CEDAR_EXT_LESS_THAN_OR_EQUAL ? x->u.i <= y->u.i
                   : fn == CEDAR_EXT_GREATER_THAN       ? x->u.i > y->u.i
                                                        : x->u.i >= y->u.i;
        return 0;
    case CEDAR_EXT_OFFSET:
        if (x->kind != CEDAR_V_DATETIME)
            return type_err(msg, cap, fn, "datetime", x);
        if (y->kind != CEDAR_V_DURATION)
            return type_err(msg, cap, fn, "duration", y);
        out->kind = CEDAR_V_DATETIME;
        if (cedar_datetime_offset(&out->u.i, x->u.i, y->u.i) != 0)
            return overflow(msg, cap, fn);
        return 0;
    case CEDAR_EXT_DURATION_SINCE:
        if (x->kind != CEDAR_V_DATETIME)
            return type_err(msg, cap, fn, "datetime", x);
        if (y->kind != CEDAR_V_DATETIME)
            return type_err(msg, cap, fn, "datetime", y);
        out->kind = CEDAR_V_DURATION;
        if (cedar_datetime_duration_since(&out->u.i, x->u.i, y->u.i) != 0)
            return overflow(msg, cap, fn);
        return 0;
    case CEDAR_EXT_TO_DATE:
    case CEDAR_EXT_TO_TIME:
        if (x->kind != CEDAR_V_DATETIME)
            return type_err(msg, cap, fn, "datetime", x);
        if (fn == CEDAR_EXT_TO_DATE) {
            out->kind = CEDAR_V_DATETIME;
            if (cedar_datetime_to_date(&out->u.i, x->u.i) != 0)
                return overflow(msg, cap, fn);
        } else {
            out->kind = CEDAR_V_DURATION;
            if (cedar_datetime_to_time(&out->u.i, x->u.i) != 0)
                return overflow(msg, cap, fn);
        }
        return 0;
    case CEDAR_EXT_TO_DAYS:
    case CEDAR_EXT_TO_HOURS:
    case CEDAR_EXT_TO_MINUTES:
    case CEDAR_EXT_TO_SECONDS:
    case CEDAR_EXT_TO_MILLISECONDS:
        if (x->kind != CEDAR_V_DURATION)
            return type_err(msg, cap, fn, "duration", x);
        out->kind = CEDAR_V_LONG;
        out->u.i = fn == CEDAR_EXT_TO_DAYS      ? cedar_duration_to_days(x->u.i)
                   : fn == CEDAR_EXT_TO_HOURS   ? cedar_duration_to_hours(x->u.i)
                   : fn == CEDAR_EXT_TO_MINUTES ? cedar_duration_to_minutes(x->u.i)
                   : fn == CEDAR_EXT_TO_SECONDS ? cedar_duration_to_seconds(x->u.i)
                                                : cedar_duration_to_milliseconds(x->u.i);
        return 0;
    case CEDAR_EXT_COUNT:
        break;
    }
    snprintf(msg, cap, "unknown extension function");
    return -1;
}
