/* Cedar's datetime extension: datetime() and duration() parsing, offset, durationSince,
 * toDate, toTime and the duration conversions. A datetime is int64 milliseconds since the
 * Unix epoch (UTC, no leap seconds), a duration int64 milliseconds; every result that does
 * not fit is WARDEN_ELIMIT, as Cedar raises an overflow error. Rules follow
 * cedar-policy-core 4.x and are pinned by tests/vectors/cedar_ext/{datetime,duration,
 * datetime_ops}.jsonl from cedar-wasm. */
#include "policy/ext.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MS_PER_SECOND INT64_C(1000)
#define MS_PER_MINUTE INT64_C(60000)
#define MS_PER_HOUR INT64_C(3600000)
#define MS_PER_DAY INT64_C(86400000)

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads n ASCII digits at s[off..]; false if any is not a digit. */
static bool digits(unsigned *out, const char *s, size_t off, size_t n)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[off + i]))
            return false;
        v = v * 10 + (unsigned)(s[off + i] - '0');
    }
    *out = v;
    return true;
}

static bool is_leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil); exact for every year Cedar accepts (0000..9999) and beyond. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil. */
static void civil_from_days(int64_t *y, unsigned *m, unsigned *d, int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* The syntax is checked in full before any field is range-checked, as Cedar does; both
 * failures are WARDEN_EINVAL. Accepted: YYYY-MM-DD, then optionally Thh:mm:ss, optional
 * .SSS (exactly 3 digits), and Z or (+|-)hhmm; nothing else, no spaces. */
int cedar_datetime_parse(int64_t *ms_since_epoch, const char *s, size_t len)
{
    unsigned y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, off_h = 0, off_m = 0;
    int off_sign = 0;
    if (len < 10 || !digits(&y, s, 0, 4) || s[4] != '-' || !digits(&mo, s, 5, 2) || s[7] != '-' ||
        !digits(&d, s, 8, 2))
        return WARDEN_EINVAL;
    if (len > 10) {
        if (len < 19 || s[10] != 'T' || !digits(&h, s, 11, 2) || s[13] != ':' ||
            !digits(&mi, s, 14, 2) || s[16] != ':' || !digits(&sec, s, 17, 2))
            return WARDEN_EINVAL;
        size_t pos = 19;
        if (pos < len && s[pos] == '.') {
            if (len - pos < 4 || !digits(&ms, s, pos + 1, 3))
                return WARDEN_EINVAL;
            pos += 4;
        }
        if (len - pos == 1 && s[pos] == 'Z') {
            off_sign = 0;
        } else if (len - pos == 5 && (s[pos] == '+' || s[pos] == '-') &&
                   digits(&off_h, s, pos + 1, 2) && digits(&off_m, s, pos + 3, 2)) {
            off_sign = s[pos] == '+' ? 1 : -1;
        } else {
            return WARDEN_EINVAL;
        }
    }
    /* Second 60 is refused: Cedar cannot tell a real leap second from a typo. */
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h >= 24 || mi >= 60 ||
        sec >= 60 || off_h >= 24 || off_m >= 60)
        return WARDEN_EINVAL;
    /* Years 0000..9999 with a < 24h offset stay far inside int64 milliseconds. */
    int64_t t = days_from_civil(y, mo, d) * MS_PER_DAY + h * MS_PER_HOUR + mi * MS_PER_MINUTE +
                sec * MS_PER_SECOND + ms;
    /* "+hhmm" means local time is ahead of UTC, so UTC is earlier. */
    t -= off_sign * (int64_t)(off_h * MS_PER_HOUR + off_m * MS_PER_MINUTE);
    *ms_since_epoch = t;
    return 0;
}

/* Duration syntax: -?(N d)?(N h)?(N m)?(N s)?(N ms)? with at least one unit. The whole
 * string is checked before any number is converted, so "99999999999999999999d1x" is
 * WARDEN_EINVAL (bad pattern), not an overflow. */
enum { U_D, U_H, U_M, U_S, U_MS, U_COUNT };

int cedar_duration_parse(int64_t *out, const char *s, size_t len)
{
    static const int64_t mul[U_COUNT] = {MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, MS_PER_SECOND, 1};
    size_t start[U_COUNT] = {0}, end[U_COUNT] = {0};
    bool present[U_COUNT] = {false};
    size_t i = 0;
    bool neg = len > 0 && s[0] == '-';
    int last = -1;
    i = neg ? 1 : 0;
    if (i == len)
        return WARDEN_EINVAL;
    while (i < len) {
        size_t b = i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == b || i == len)
            return WARDEN_EINVAL;
        int u;
        size_t e = i;
        switch (s[i]) {
        case 'd':
            u = U_D;
            break;
        case 'h':
            u = U_H;
            break;
        case 's':
            u = U_S;
            break;
        case 'm':
            /* "ms" is the only reading of "m" followed by "s": a unit needs digits first. */
            if (i + 1 < len && s[i + 1] == 's') {
                u = U_MS;
                i++;
            } else {
                u = U_M;
            }
            break;
        default:
            return WARDEN_EINVAL;
        }
        i++;
        if (u <= last)
            return WARDEN_EINVAL;
        last = u;
        present[u] = true;
        start[u] = b;
        end[u] = e;
    }

    /* Sum magnitudes: each term must fit in int64 on its own (the milliseconds term may be
     * 2^63 when negative, as Cedar negates it in 128 bits), and so must the total. */
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t total = 0;
    for (int u = U_COUNT - 1; u >= 0; u--) {
        if (!present[u])
            continue;
        uint64_t v = 0;
        for (size_t k = start[u]; k < end[u]; k++) {
            unsigned dg = (unsigned)(s[k] - '0');
            if (v > (UINT64_MAX - dg) / 10)
                return WARDEN_ELIMIT;
            v = v * 10 + dg;
        }
        uint64_t term_max = (u == U_MS) ? limit : (uint64_t)INT64_MAX;
        if (v > term_max / (uint64_t)mul[u])
            return WARDEN_ELIMIT;
        v *= (uint64_t)mul[u];
        if (v > limit - total)
            return WARDEN_ELIMIT;
        total += v;
    }
    *out = neg ? (int64_t)(0 - total) : (int64_t)total;
    return 0;
}

int cedar_datetime_offset(int64_t *out, int64_t dt, int64_t dur)
{
    int64_t r;
    if (__builtin_add_overflow(dt, dur, &r))
        return WARDEN_ELIMIT;
    *out = r;
    return 0;
}

int cedar_datetime_duration_since(int64_t *out, int64_t dt, int64_t other)
{
    int64_t r;
    if (__builtin_sub_overflow(dt, other, &r))
        return WARDEN_ELIMIT;
    *out = r;
    return 0;
}

/* Milliseconds since midnight, always in [0, MS_PER_DAY) (Euclidean remainder). */
static int64_t time_of_day(int64_t dt)
{
    int64_t r = dt % MS_PER_DAY;
    return r < 0 ? r + MS_PER_DAY : r;
}

int cedar_datetime_to_date(int64_t *out, int64_t dt)
{
    int64_t r;
    /* Rounds down, so a datetime in the partial day at INT64_MIN has no midnight in range. */
    if (__builtin_sub_overflow(dt, time_of_day(dt), &r))
        return WARDEN_ELIMIT;
    *out = r;
    return 0;
}

int cedar_datetime_to_time(int64_t *out, int64_t dt)
{
    *out = time_of_day(dt);
    return 0;
}

/* C's '/' truncates toward zero like Rust's, and each unit divides the previous one. */
int64_t cedar_duration_to_milliseconds(int64_t d)
{
    return d;
}

int64_t cedar_duration_to_seconds(int64_t d)
{
    return cedar_duration_to_milliseconds(d) / 1000;
}

int64_t cedar_duration_to_minutes(int64_t d)
{
    return cedar_duration_to_seconds(d) / 60;
}

int64_t cedar_duration_to_hours(int64_t d)
{
    return cedar_duration_to_minutes(d) / 60;
}

int64_t cedar_duration_to_days(int64_t d)
{
    return cedar_duration_to_hours(d) / 24;
}

int cedar_datetime_format(char *out, size_t cap, int64_t dt)
{
    char buf[CEDAR_DATETIME_FORMAT_MAX];
    int64_t tod = time_of_day(dt);
    /* Floor division without overflow: dt - tod is a multiple of a day >= INT64_MIN only
     * when it fits, so divide first and adjust. */
    int64_t days = dt / MS_PER_DAY - (dt % MS_PER_DAY < 0);
    int64_t y;
    unsigned m, d;
    civil_from_days(&y, &m, &d, days);
    unsigned hh = (unsigned)(tod / MS_PER_HOUR), mi = (unsigned)(tod / MS_PER_MINUTE % 60),
             ss = (unsigned)(tod / MS_PER_SECOND % 60), ms = (unsigned)(tod % 1000);
    int n;
    if (y >= 0 && y <= 9999)
        n = snprintf(buf, sizeof buf, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02u.%03uZ", y, m, d, hh,
                     mi, ss, ms);
    else /* ISO 8601 expanded year; datetime() cannot read it back, offset() reaches it. */
        n = snprintf(buf, sizeof buf, "%+05" PRId64 "-%02u-%02uT%02u:%02u:%02u.%03uZ", y, m, d, hh,
                     mi, ss, ms);
    if (n < 0 || (size_t)n >= cap)
        return WARDEN_ELIMIT;
    memcpy(out, buf, (size_t)n + 1);
    return 0;
}

int cedar_duration_format(char *out, size_t cap, int64_t d)
{
    char buf[CEDAR_DURATION_FORMAT_MAX];
    int n = snprintf(buf, sizeof buf, "%" PRId64 "ms", d);
    if (n < 0 || (size_t)n >= cap)
        return WARDEN_ELIMIT;
    memcpy(out, buf, (size_t)n + 1);
    return 0;
}
