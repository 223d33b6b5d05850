/* Tests for src/gateway/location.c: the caller is the TCP peer unless the peer is a trusted
 * proxy; then the right-most X-Forwarded-For hop that is not a trusted proxy; garbage in that
 * position is an unknown caller at 0.0.0.0, never the proxy itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <string.h>

#include "gateway/gateway_internal.h"

static const char NETS[] = "127.0.1.0/24,CN,beijing\n"
                           "127.0.2.0/24,US,custodian-dc\n"
                           "10.0.0.0/8,US,proxy-net\n"
                           "2001:db8::/32,SG,sg-dc\n";

static void locate(gw_caller *out, const char *peer, const char *xff)
{
    warden_netloc *t = NULL;
    warden_err e;
    gw_cidr px[3];
    assert_int_equal(warden_netloc_parse(&t, NETS, sizeof NETS - 1, "nets", &e), 0);
    assert_int_equal(gw_cidr_parse(&px[0], "10.0.0.1", &e), 0);
    assert_int_equal(gw_cidr_parse(&px[1], "10.9.0.0/16", &e), 0);
    assert_int_equal(gw_cidr_parse(&px[2], "2001:db8::1", &e), 0);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(peer, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, peer, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, peer, &s4->sin_addr), 1);
    }
    gw_locate(out, t, px, 3, (struct sockaddr *)&ss, xff);
    warden_netloc_free(t);
}

static void gateway_location_peer(void **state)
{
    (void)state;
    gw_caller c;
    locate(&c, "127.0.1.5", NULL);
    assert_string_equal(c.source_ip, "127.0.1.5");
    assert_string_equal(c.country, "CN");
    assert_string_equal(c.site, "beijing");
    assert_false(c.via_proxy);
    /* an untrusted peer's X-Forwarded-For is ignored */
    locate(&c, "127.0.1.5", "127.0.2.9");
    assert_string_equal(c.source_ip, "127.0.1.5");
    assert_string_equal(c.country, "CN");
    locate(&c, "192.0.2.1", NULL);
    assert_string_equal(c.country, "unknown");
    assert_string_equal(c.site, "unknown");
    locate(&c, "::ffff:127.0.2.3", NULL); /* IPv4-mapped: looked up as IPv4 */
    assert_string_equal(c.source_ip, "127.0.2.3");
    assert_string_equal(c.site, "custodian-dc");
}

static void gateway_location_proxy(void **state)
{
    (void)state;
    gw_caller c;
    locate(&c, "10.0.0.1", "127.0.2.9");
    assert_true(c.via_proxy);
    assert_string_equal(c.source_ip, "127.0.2.9");
    assert_string_equal(c.country, "US");
    /* right-most untrusted hop wins; the caller's own left entries prove nothing */
    locate(&c, "10.0.0.1", "127.0.2.9, 127.0.1.1");
    assert_string_equal(c.source_ip, "127.0.1.1");
    /* trusted hops (address and CIDR) are skipped; ports and brackets stripped */
    locate(&c, "10.0.0.1", " 127.0.1.1:5000 ,10.9.3.4, 10.0.0.1");
    assert_string_equal(c.source_ip, "127.0.1.1");
    assert_string_equal(c.country, "CN");
    locate(&c, "2001:db8::1", "[2001:db8::7]:443");
    assert_string_equal(c.source_ip, "2001:db8::7");
    assert_string_equal(c.country, "SG");
    /* garbage where the proxy's hop should be: unknown, not the proxy's location */
    locate(&c, "10.0.0.1", "127.0.2.9, nonsense");
    assert_string_equal(c.source_ip, "0.0.0.0");
    assert_string_equal(c.country, "unknown");
    locate(&c, "10.0.0.1", "127.0.2.9,");
    assert_string_equal(c.source_ip, "0.0.0.0");
    /* every hop trusted: the left-most is the origin */
    locate(&c, "10.0.0.1", "10.0.0.1");
    assert_string_equal(c.source_ip, "10.0.0.1");
    assert_string_equal(c.site, "proxy-net");
    /* an empty header from a trusted peer: the peer itself */
    locate(&c, "10.0.0.1", "");
    assert_string_equal(c.source_ip, "10.0.0.1");
}

static void gateway_location_cidr(void **state)
{
    (void)state;
    gw_cidr c;
    warden_err e;
    assert_int_equal(gw_cidr_parse(&c, "10.0.0.0/33", &e), WARDEN_EINVAL);
    assert_int_equal(gw_cidr_parse(&c, "::/129", &e), WARDEN_EINVAL);
    assert_int_equal(gw_cidr_parse(&c, "proxy.example", &e), WARDEN_EINVAL);
    assert_int_equal(gw_cidr_parse(&c, "10.0.0.1/x", &e), WARDEN_EINVAL);
    assert_int_equal(gw_cidr_parse(&c, "", &e), WARDEN_EINVAL);
    assert_int_equal(gw_cidr_parse(&c, "::1", &e), 0);
    assert_int_equal(c.prefix, 128);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gateway_location_peer),
        cmocka_unit_test(gateway_location_proxy),
        cmocka_unit_test(gateway_location_cidr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
