/* Cedar extension types (ipaddr, decimal, datetime/duration) as small pure functions with
 * the exact semantics of the reference implementation (Cedar 4.x, cedar-policy-core
 * src/extensions/{ipaddr,decimal,datetime}.rs). Internal to src/policy/: the evaluator maps
 * the Cedar calls (ip(), decimal(), datetime(), duration(), isInRange, offset, ...) onto these.
 * Every string is pointer + length, never NUL-terminated, and may hold any byte. Functions
 * return 0 or a negative code: WARDEN_EINVAL (malformed input), WARDEN_ELIMIT (overflow or
 * output buffer too small). On error no output is written. The _format functions print a
 * canonical form the matching constructor parses back to an equal value (Cedar itself
 * prints a constructed value with its original argument string). */
#ifndef WARDEN_POLICY_EXT_H
#define WARDEN_POLICY_EXT_H

#include "warden/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- ipaddr ---- */

/* An IPv4 or IPv6 address or CIDR range. v4 lives in addr[0..3] (addr[4..15] zero);
 * prefix is 32 (v4) or 128 (v6) when the string had no "/n". The address bits are kept as
 * written (not masked), as Cedar does. */
typedef struct cedar_ipaddr {
    uint8_t v6;
    uint8_t prefix;
    uint8_t addr[16];
} cedar_ipaddr;

/* Parses the argument of Cedar's ip(): dotted quad without leading zeros, IPv6 hex forms
 * with at most one "::", either with "/n" (digits only, no leading zero, n <= 32 / 128).
 * Refused like Cedar: mixed v4-in-v6 notation, zone ids, brackets, spaces, > 43 bytes.
 * Errors: WARDEN_EINVAL (anything ip() rejects). */
WARDEN_MUST_USE int cedar_ip_parse(cedar_ipaddr *out, const char *s, size_t len);
/* Cedar == on ipaddr values: same family, same address bits and same prefix length. */
bool cedar_ip_equal(const cedar_ipaddr *a, const cedar_ipaddr *b);
/* isIpv4(): true for IPv4 addresses and ranges. */
bool cedar_ip_is_ipv4(const cedar_ipaddr *a);
/* isIpv6(): true for IPv6 addresses and ranges. */
bool cedar_ip_is_ipv6(const cedar_ipaddr *a);
/* isLoopback(): v4 address in 127.0.0.0/8 with prefix >= 8, or v6 ::1 with prefix 128
 * (so "127.0.0.1/7" and "::1/127" are not loopback). */
bool cedar_ip_is_loopback(const cedar_ipaddr *a);
/* isMulticast(): v4 address in 224.0.0.0/4 with prefix >= 4, or v6 in ff00::/8 with
 * prefix >= 8. */
bool cedar_ip_is_multicast(const cedar_ipaddr *a);
/* isInRange(range): a's range (host bits masked for the test only) lies inside range's;
 * always false across families (no v4-mapped aliasing). */
bool cedar_ip_in_range(const cedar_ipaddr *a, const cedar_ipaddr *range);
/* Writes "addr/prefix" NUL-terminated ("10.0.0.1/32", RFC 5952 "::1/128"), which ip()
 * parses back to an equal value. Errors: WARDEN_ELIMIT (cap too small;
 * CEDAR_IP_FORMAT_MAX always suffices). */
WARDEN_MUST_USE int cedar_ip_format(char *out, size_t cap, const cedar_ipaddr *a);
#define CEDAR_IP_FORMAT_MAX 48

/* ---- decimal: a fixed-point number stored as value * 10^4 in an int64 ----
 * ==, lessThan, lessThanOrEqual, greaterThan, greaterThanOrEqual are the int64 comparisons
 * (decimal("1.0") == decimal("1.00")). */

/* Parses the argument of decimal(): optional '-', ASCII digits, '.', 1 to 4 digits, so
 * the range is -922337203685477.5808 .. 922337203685477.5807. Errors: WARDEN_EINVAL
 * (malformed, or more than 4 fraction digits), WARDEN_ELIMIT (out of range; checked on
 * the integer part before the fraction length, as Cedar does). */
WARDEN_MUST_USE int cedar_decimal_parse(int64_t *out, const char *s, size_t len);
/* Writes d with exactly 4 fraction digits ("1.2300", "-0.0500"), NUL terminated, a form
 * decimal() parses back to d. Errors: WARDEN_ELIMIT (cap too small;
 * CEDAR_DECIMAL_FORMAT_MAX suffices). */
WARDEN_MUST_USE int cedar_decimal_format(char *out, size_t cap, int64_t d);
#define CEDAR_DECIMAL_FORMAT_MAX 32

/* ---- datetime (ms since the Unix epoch, UTC) and duration (ms) ----
 * ==, <, <=, >, >= on two datetimes or two durations are the int64 comparisons. */

/* Parses the argument of datetime(): "YYYY-MM-DD", "YYYY-MM-DDThh:mm:ssZ",
 * "YYYY-MM-DDThh:mm:ss.SSSZ", and both with "+hhmm"/"-hhmm" instead of "Z" (hh < 24,
 * mm < 60). Years 0000-9999, real calendar dates, second 60 refused.
 * Errors: WARDEN_EINVAL (malformed or invalid date/time). */
WARDEN_MUST_USE int cedar_datetime_parse(int64_t *ms_since_epoch, const char *s, size_t len);
/* Parses the argument of duration(): optional '-', then units in order d, h, m, s, ms, each
 * at most once, at least one ("1d2h3m4s5ms", "-0ms"). Errors: WARDEN_EINVAL (pattern),
 * WARDEN_ELIMIT (a unit or the total outside int64 ms; "-9223372036854775808ms" fits). */
WARDEN_MUST_USE int cedar_duration_parse(int64_t *ms, const char *s, size_t len);
/* datetime.offset(duration): dt + dur. Errors: WARDEN_ELIMIT (overflow). */
WARDEN_MUST_USE int cedar_datetime_offset(int64_t *out, int64_t dt, int64_t dur);
/* datetime.durationSince(other): dt - other. Errors: WARDEN_ELIMIT (overflow). */
WARDEN_MUST_USE int cedar_datetime_duration_since(int64_t *out, int64_t dt, int64_t other);
/* datetime.toDate(): midnight (UTC) of dt's day, rounding towards negative infinity for
 * datetimes before the epoch. Errors: WARDEN_ELIMIT (overflow). */
WARDEN_MUST_USE int cedar_datetime_to_date(int64_t *out, int64_t dt);
/* datetime.toTime(): the duration since midnight (UTC) of dt's day, in [0, 86400000),
 * also for datetimes before the epoch. Never fails (int for symmetry with toDate). */
WARDEN_MUST_USE int cedar_datetime_to_time(int64_t *out, int64_t dt);
/* duration.toDays(): whole days, truncated toward zero (Rust's '/'), so -36h is -1. */
int64_t cedar_duration_to_days(int64_t d);
/* duration.toHours(): whole hours, truncated toward zero. */
int64_t cedar_duration_to_hours(int64_t d);
/* duration.toMinutes(): whole minutes, truncated toward zero. */
int64_t cedar_duration_to_minutes(int64_t d);
/* duration.toSeconds(): whole seconds, truncated toward zero. */
int64_t cedar_duration_to_seconds(int64_t d);
/* duration.toMilliseconds(): d itself. */
int64_t cedar_duration_to_milliseconds(int64_t d);
/* Writes dt as "YYYY-MM-DDThh:mm:ss.SSSZ" (UTC), which datetime() parses back; years
 * outside 0000-9999 (reachable with offset) as ISO expanded "+292278994-08-17T...Z".
 * Errors: WARDEN_ELIMIT (cap too small; CEDAR_DATETIME_FORMAT_MAX suffices). */
WARDEN_MUST_USE int cedar_datetime_format(char *out, size_t cap, int64_t dt);
#define CEDAR_DATETIME_FORMAT_MAX 40
/* Writes d as Cedar prints durations, "<ms>ms" ("-90000ms"), which duration() parses back.
 * Errors: WARDEN_ELIMIT (cap too small; CEDAR_DURATION_FORMAT_MAX suffices). */
WARDEN_MUST_USE int cedar_duration_format(char *out, size_t cap, int64_t d);
#define CEDAR_DURATION_FORMAT_MAX 48

#endif
