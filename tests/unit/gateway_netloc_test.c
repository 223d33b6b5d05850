/* Tests for src/gateway/netloc.c: longest prefix among overlapping IPv4 and IPv6 rows, /0
 * rows, IPv4-mapped addresses (in lookups and in the table), unknown addresses, sockaddr
 * lookups, address text, and each parse error with its file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "warden/netloc.h"

static const char TABLE[] = "# networks of the Project Texas demo\n"
                            "\n"
                            "10.0.0.0/8,US,corp\n"
                            "10.20.0.0/16, US , texas-dc   # the custodian's data centre\n"
                            "10.20.30.0/24,US,texas-soc\r\n"
                            "10.20.30.40/32,US,texas-jump\n"
                            "192.0.2.0/24,CN,beijing\n"
                            "0.0.0.0/0,ZZ,internet4\n"
                            "2001:db8::/32,SG,singapore\n"
                            "2001:db8:aa::/48,CN,shanghai\n"
                            "2001:db8:aa:1::/64,CN,shanghai-lab\n"
                            "::/0,ZZ,internet6\n"
                            "::ffff:198.51.100.0/120,US,mapped-row"; /* no final newline */

static warden_netloc *load(void)
{
    warden_netloc *t = NULL;
    warden_err e;
    if (warden_netloc_parse(&t, TABLE, strlen(TABLE), "nets.csv", &e) != 0)
        fail_msg("%s", e.msg);
    return t;
}

static void check(const warden_netloc *t, const char *addr, const char *country, const char *site,
                  unsigned len)
{
    warden_netloc_match m;
    warden_err e;
    if (warden_netloc_lookup_text(&m, t, addr, &e) != 0)
        fail_msg("%s: %s", addr, e.msg);
    if (strcmp(m.country, country) != 0 || strcmp(m.site, site) != 0 || m.prefix_len != len)
        fail_msg("%s: got %s/%s/%u, want %s/%s/%u", addr, m.country, m.site, m.prefix_len, country,
                 site, len);
}

static void netloc_longest_prefix(void **state)
{
    (void)state;
    warden_netloc *t = load();
    check(t, "10.1.2.3", "US", "corp", 8);
    check(t, "10.20.1.1", "US", "texas-dc", 16);
    check(t, "10.20.30.1", "US", "texas-soc", 24);
    check(t, "10.20.30.40", "US", "texas-jump", 32);
    check(t, "10.20.30.41", "US", "texas-soc", 24);
    check(t, "10.21.0.0", "US", "corp", 8);
    check(t, "192.0.2.255", "CN", "beijing", 24);
    check(t, "8.8.8.8", "ZZ", "internet4", 0);
    check(t, "2001:db8:1::1", "SG", "singapore", 32);
    check(t, "2001:db8:aa:2::1", "CN", "shanghai", 48);
    check(t, "2001:db8:aa:1:ffff::9", "CN", "shanghai-lab", 64);
    check(t, "2001:db9::1", "ZZ", "internet6", 0);
    /* IPv4-mapped: looked up as IPv4, never by the ::/0 row. */
    check(t, "::ffff:10.20.30.40", "US", "texas-jump", 32);
    check(t, "::ffff:8.8.8.8", "ZZ", "internet4", 0);
    /* A mapped row in the table is an IPv4 row. */
    check(t, "198.51.100.7", "US", "mapped-row", 24);
    check(t, "::ffff:198.51.100.7", "US", "mapped-row", 24);
    warden_netloc_free(t);
}

static void netloc_unknown(void **state)
{
    (void)state;
    warden_netloc *t = NULL;
    warden_err e;
    const char *v4only = "10.0.0.0/8,US,corp\n";
    assert_int_equal(warden_netloc_parse(&t, v4only, strlen(v4only), "v4.csv", &e), 0);
    check(t, "11.0.0.1", WARDEN_NETLOC_UNKNOWN, WARDEN_NETLOC_UNKNOWN, 0);
    check(t, "2001:db8::1", WARDEN_NETLOC_UNKNOWN, WARDEN_NETLOC_UNKNOWN, 0);
    check(t, "10.255.255.255", "US", "corp", 8);
    warden_netloc_match m;
    assert_int_equal(warden_netloc_lookup_text(&m, t, "10.0.0.256", &e), WARDEN_EINVAL);
    assert_string_equal(m.country, WARDEN_NETLOC_UNKNOWN);
    assert_int_equal(warden_netloc_lookup_text(&m, t, "", &e), WARDEN_EINVAL);
    assert_int_equal(warden_netloc_lookup_text(&m, t, "10.0.0.1/8", &e), WARDEN_EINVAL);
    warden_netloc_free(t);
    /* An empty table (comments only) knows nothing. */
    const char *empty = "# nothing\n\n   \n";
    assert_int_equal(warden_netloc_parse(&t, empty, strlen(empty), "e.csv", &e), 0);
    check(t, "10.0.0.1", WARDEN_NETLOC_UNKNOWN, WARDEN_NETLOC_UNKNOWN, 0);
    warden_netloc_free(t);
    /* A NULL table and an unsupported family are unknown too. */
    struct sockaddr sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_family = AF_UNIX;
    warden_netloc_lookup(&m, NULL, &sa);
    assert_string_equal(m.site, WARDEN_NETLOC_UNKNOWN);
}

static void netloc_sockaddr(void **state)
{
    (void)state;
    warden_netloc *t = load();
    warden_netloc_match m;
    warden_err e;
    char text[64];
    struct sockaddr_in s4;
    memset(&s4, 0, sizeof s4);
    s4.sin_family = AF_INET;
    s4.sin_port = htons(4242);
    assert_int_equal(inet_pton(AF_INET, "10.20.30.9", &s4.sin_addr), 1);
    warden_netloc_lookup(&m, t, (struct sockaddr *)&s4);
    assert_string_equal(m.site, "texas-soc");
    assert_int_equal(warden_netloc_addr_text(text, (struct sockaddr *)&s4, &e), 0);
    assert_string_equal(text, "10.20.30.9");

    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof s6);
    s6.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.1", &s6.sin6_addr), 1);
    warden_netloc_lookup(&m, t, (struct sockaddr *)&s6);
    assert_string_equal(m.site, "beijing");
    assert_int_equal(warden_netloc_addr_text(text, (struct sockaddr *)&s6, &e), 0);
    assert_string_equal(text, "192.0.2.1");
    assert_int_equal(inet_pton(AF_INET6, "2001:db8:aa:1::5", &s6.sin6_addr), 1);
    warden_netloc_lookup(&m, t, (struct sockaddr *)&s6);
    assert_string_equal(m.site, "shanghai-lab");
    assert_int_equal(warden_netloc_addr_text(text, (struct sockaddr *)&s6, &e), 0);
    assert_string_equal(text, "2001:db8:aa:1::5");

    struct sockaddr other;
    memset(&other, 0, sizeof other);
    other.sa_family = AF_UNIX;
    assert_int_equal(warden_netloc_addr_text(text, &other, &e), WARDEN_EINVAL);
    warden_netloc_free(t);
}

static void netloc_parse_errors(void **state)
{
    (void)state;
    struct {
        const char *text;
        int code;
        const char *msg;
    } cases[] = {
        {"10.0.0.0/8,US\n", WARDEN_EPARSE, "n.csv:1: missing column"},
        {"10.0.0.0/8\n", WARDEN_EPARSE, "n.csv:1: missing column"},
        {"10.0.0.0/8,US,a,b\n", WARDEN_EPARSE, "n.csv:1: too many columns"},
        {"# c\n10.0.0.1/8,US,a\n", WARDEN_EPARSE, "n.csv:2: host bits set"},
        {"2001:db8::1/32,SG,a\n", WARDEN_EPARSE, "n.csv:1: host bits set"},
        {"10.0.0.0,US,a\n", WARDEN_EPARSE, "n.csv:1: CIDR needs a /prefix"},
        {"10.0.0.0/33,US,a\n", WARDEN_EPARSE, "n.csv:1: prefix length must be 0..32"},
        {"::/129,US,a\n", WARDEN_EPARSE, "n.csv:1: prefix length must be 0..128"},
        {"10.0.0.0/08,US,a\n", WARDEN_EPARSE, "prefix length"},
        {"10.0.0.0/,US,a\n", WARDEN_EPARSE, "prefix length"},
        {"10.0.0.0/-8,US,a\n", WARDEN_EPARSE, "prefix length"},
        {"10.0.0/8,US,a\n", WARDEN_EPARSE, "n.csv:1: \"10.0.0\" is not an IP address"},
        {"/8,US,a\n", WARDEN_EPARSE, "bad address"},
        {"example.com/8,US,a\n", WARDEN_EPARSE, "bad character in the address"},
        {"1.2.3.4.5/8,US,a\n", WARDEN_EPARSE, "not an IP address"},
        {"10.0.0.0/8,,a\n", WARDEN_EPARSE, "n.csv:1: empty country"},
        {"10.0.0.0/8,US,\n", WARDEN_EPARSE, "n.csv:1: empty site"},
        {"10.0.0.0/8,U S,a\n", WARDEN_EPARSE, "country may only contain"},
        {"10.0.0.0/8,US,\"a\"\n", WARDEN_EPARSE, "site may only contain"},
        {"10.0.0.0/8,ABCDEFGHIJKLMNOPQ,a\n", WARDEN_EPARSE, "country longer than 16"},
        {"10.0.0.0/8,US,a\n\n10.0.0.0/8,SG,b\n", WARDEN_EEXIST,
         "n.csv:3: the same network as line 1"},
        {"::ffff:10.0.0.0/104,US,a\n10.0.0.0/8,US,b\n", WARDEN_EEXIST, "n.csv:2:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        warden_netloc *t = NULL;
        warden_err e;
        warden_err_clear(&e);
        int rc = warden_netloc_parse(&t, cases[i].text, strlen(cases[i].text), "n.csv", &e);
        if (rc != cases[i].code || strstr(e.msg, cases[i].msg) == NULL)
            fail_msg("case %zu: want %d \"%s\", got %d \"%s\"", i, cases[i].code, cases[i].msg, rc,
                     e.msg);
        assert_null(t);
    }
    /* A line longer than the limit, and a NUL byte (not a valid character anywhere). */
    char big[700];
    memset(big, 'a', sizeof big);
    warden_netloc *t = NULL;
    warden_err e;
    assert_int_equal(warden_netloc_parse(&t, big, sizeof big, "n.csv", &e), WARDEN_ELIMIT);
    static const char nul[] = "10.0.0.0/8,US,a\0b\n";
    assert_int_equal(warden_netloc_parse(&t, nul, sizeof nul - 1, "n.csv", &e), WARDEN_EPARSE);
    assert_non_null(strstr(e.msg, "n.csv:1:"));
    static const char nul2[] = "10.0.0.0\0x/8,US,a\n";
    assert_int_equal(warden_netloc_parse(&t, nul2, sizeof nul2 - 1, "n.csv", &e), WARDEN_EPARSE);
    assert_non_null(strstr(e.msg, "n.csv:1: bad character"));
}

static void netloc_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/warden-netloc-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, TABLE, strlen(TABLE)), (ssize_t)strlen(TABLE));
    close(fd);
    warden_netloc *t = NULL;
    warden_err e;
    assert_int_equal(warden_netloc_load(&t, path, &e), 0);
    check(t, "10.20.30.40", "US", "texas-jump", 32);
    warden_netloc_free(t);
    unlink(path);
    t = NULL;
    assert_int_equal(warden_netloc_load(&t, path, &e), WARDEN_ENOTFOUND);
    assert_null(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(netloc_longest_prefix), cmocka_unit_test(netloc_unknown),
        cmocka_unit_test(netloc_sockaddr),       cmocka_unit_test(netloc_parse_errors),
        cmocka_unit_test(netloc_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
