/* Fuzz target for the Cedar extension parsers (src/policy/ext_*.c): the same bytes go to
 * ip(), decimal(), datetime() and duration(); whatever parses must format to text that
 * parses back to an equal value, and the arithmetic on it must not trip the sanitizers.
 * Input "A|B" (bytes around the first '|') additionally exercises isInRange on two ips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/ext.h"

static void check_ip(const char *s, size_t len)
{
    cedar_ipaddr a, back;
    char text[CEDAR_IP_FORMAT_MAX];
    if (cedar_ip_parse(&a, s, len) != 0)
        return;
    if (a.prefix > (a.v6 ? 128 : 32) || cedar_ip_is_ipv4(&a) == cedar_ip_is_ipv6(&a))
        abort();
    if (cedar_ip_format(text, sizeof text, &a) != 0 ||
        cedar_ip_parse(&back, text, strlen(text)) != 0 || !cedar_ip_equal(&a, &back) ||
        !cedar_ip_in_range(&a, &a))
        abort();
    (void)cedar_ip_is_loopback(&a);
    (void)cedar_ip_is_multicast(&a);
}

static void check_decimal(const char *s, size_t len)
{
    int64_t d, back;
    char text[CEDAR_DECIMAL_FORMAT_MAX];
    if (cedar_decimal_parse(&d, s, len) != 0)
        return;
    if (cedar_decimal_format(text, sizeof text, d) != 0 ||
        cedar_decimal_parse(&back, text, strlen(text)) != 0 || back != d)
        abort();
}

static void check_datetime(const char *s, size_t len)
{
    int64_t dt, back, date, time, x;
    char text[CEDAR_DATETIME_FORMAT_MAX];
    if (cedar_datetime_parse(&dt, s, len) != 0)
        return;
    /* An offset of up to a day can leave years 0000-9999 ("-0001-12-31T..."): only the
     * plain four-digit form must read back. */
    if (cedar_datetime_format(text, sizeof text, dt) != 0)
        abort();
    if (text[0] != '+' && text[0] != '-' &&
        (cedar_datetime_parse(&back, text, strlen(text)) != 0 || back != dt))
        abort();
    /* toDate + toTime reassemble the datetime. */
    if (cedar_datetime_to_date(&date, dt) != 0 || cedar_datetime_to_time(&time, dt) != 0 ||
        date + time != dt || time < 0 || time >= 86400000)
        abort();
    /* Overflow is reported exactly when the true result leaves int64. */
    if (cedar_datetime_offset(&x, dt, INT64_MAX) != (dt > 0 ? WARDEN_ELIMIT : 0) ||
        cedar_datetime_duration_since(&x, dt, INT64_MIN) != (dt >= 0 ? WARDEN_ELIMIT : 0))
        abort();
}

static void check_duration(const char *s, size_t len)
{
    int64_t d, back, x;
    char text[CEDAR_DURATION_FORMAT_MAX];
    if (cedar_duration_parse(&d, s, len) != 0)
        return;
    if (cedar_duration_format(text, sizeof text, d) != 0 ||
        cedar_duration_parse(&back, text, strlen(text)) != 0 || back != d)
        abort();
    if (cedar_duration_to_days(d) != d / 86400000)
        abort();
    /* Any int64 is a datetime that offset() can reach: toDate may overflow only at the
     * bottom of the range, and every datetime has a printable form. */
    int64_t time;
    if (cedar_datetime_to_time(&time, d) != 0 || time < 0 || time >= 86400000)
        abort();
    int rc = cedar_datetime_to_date(&x, d);
    if (rc == 0 ? x + time != d : d >= INT64_MIN + 86400000)
        abort();
    if (cedar_datetime_format(text, sizeof text, d) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Copy into an exact-size heap block so ASan catches any read past len. */
    char *s = malloc(size ? size : 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    check_ip(s, size);
    check_decimal(s, size);
    check_datetime(s, size);
    check_duration(s, size);
    const char *bar = memchr(s, '|', size);
    if (bar != NULL) {
        size_t alen = (size_t)(bar - s);
        cedar_ipaddr a, b;
        if (cedar_ip_parse(&a, s, alen) == 0 && cedar_ip_parse(&b, bar + 1, size - alen - 1) == 0) {
            bool in = cedar_ip_in_range(&a, &b), back = cedar_ip_in_range(&b, &a);
            /* Mutual containment means the same range, hence the same family and prefix. */
            if (in && back && (a.v6 != b.v6 || a.prefix != b.prefix))
                abort();
            if (cedar_ip_equal(&a, &b) && !in)
                abort();
        }
    }
    free(s);
    return 0;
}
