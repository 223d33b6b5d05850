/* Cedar's decimal extension: decimal() parsing and printing. A decimal is an int64 holding
 * value * 10^4, so comparisons (lessThan ...) are plain integer comparisons in the caller.
 * Rules and error order follow cedar-policy-core 4.x (pinned by
 * tests/vectors/cedar_ext/decimal.jsonl): the whole string must be -?[0-9]+\.[0-9]+, an
 * integer part too large is an overflow even when the fraction is also too long, then the
 * fraction may have at most 4 digits, then the total must fit in an int64. */
#include "policy/ext.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define DEC_SCALE 10000u
#define DEC_DIGITS 4

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int cedar_decimal_parse(int64_t *out, const char *s, size_t len)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && s[i] == '-') {
        neg = true;
        i++;
    }
    size_t int_start = i;
    while (i < len && is_digit(s[i]))
        i++;
    size_t int_end = i;
    if (int_end == int_start || i >= len || s[i] != '.')
        return WARDEN_EINVAL;
    i++;
    size_t frac_start = i;
    while (i < len && is_digit(s[i]))
        i++;
    size_t frac_len = i - frac_start;
    if (frac_len == 0 || i != len)
        return WARDEN_EINVAL;

    /* Magnitudes up to 2^63 are representable when negative (int64 minimum). */
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t mag = 0;
    for (size_t k = int_start; k < int_end; k++) {
        unsigned d = (unsigned)(s[k] - '0');
        if (mag > (limit - d) / 10)
            return WARDEN_ELIMIT;
        mag = mag * 10 + d;
    }
    if (mag > limit / DEC_SCALE)
        return WARDEN_ELIMIT;
    mag *= DEC_SCALE;
    if (frac_len > DEC_DIGITS)
        return WARDEN_EINVAL;
    uint64_t frac = 0;
    for (size_t k = 0; k < DEC_DIGITS; k++)
        frac = frac * 10 + (k < frac_len ? (unsigned)(s[frac_start + k] - '0') : 0);
    if (frac > limit - mag)
        return WARDEN_ELIMIT;
    mag += frac;
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return 0;
}

int cedar_decimal_format(char *out, size_t cap, int64_t d)
{
    char buf[CEDAR_DECIMAL_FORMAT_MAX];
    /* 0 - (uint64_t)d is the magnitude even for INT64_MIN, where -d would overflow. */
    uint64_t mag = d < 0 ? 0 - (uint64_t)d : (uint64_t)d;
    int n = snprintf(buf, sizeof buf, "%s%" PRIu64 ".%04u", d < 0 ? "-" : "", mag / DEC_SCALE,
                     (unsigned)(mag % DEC_SCALE));
    if (n < 0 || (size_t)n >= cap)
        return WARDEN_ELIMIT;
    memcpy(out, buf, (size_t)n + 1);
    return 0;
}
