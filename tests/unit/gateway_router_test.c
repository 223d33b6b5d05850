/* Tests for src/gateway/router.c: each route and its methods, percent-decoding into bounded
 * names, and the 4xx for everything that is not the canonical spelling of a route. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "gateway/gateway_internal.h"

static gw_route route(const char *method, const char *uri)
{
    gw_route r;
    gw_route_parse(&r, method, uri, strlen(uri));
    return r;
}

static void gateway_router_routes(void **state)
{
    (void)state;
    gw_route r = route("GET", "/v1/me/messages/m1?pretty=1");
    assert_int_equal(r.status, 0);
    assert_int_equal(r.kind, GW_R_ME_RECORD);
    assert_string_equal(r.collection, "messages");
    assert_string_equal(r.id, "m1");
    assert_int_equal(r.path_len, strlen("/v1/me/messages/m1"));
    r = route("PUT", "/v1/me/profile.v2/x-1");
    assert_int_equal(r.status, 0);
    assert_int_equal(r.method, GW_M_PUT);
    r = route("DELETE", "/v1/me/a/b");
    assert_int_equal(r.status, 0);
    assert_int_equal(route("GET", "/v1/me/export").kind, GW_R_ME_EXPORT);
    r = route("GET", "/v1/users/u%2D42/export");
    assert_int_equal(r.kind, GW_R_USER_EXPORT);
    assert_string_equal(r.user, "u-42");
    r = route("DELETE", "/v1/users/u1/messages/m%3A1");
    assert_int_equal(r.status, 0);
    assert_int_equal(r.kind, GW_R_USER_RECORD);
    assert_string_equal(r.user, "u1");
    assert_string_equal(r.id, "m:1");
    r = route("HEAD", "/log/tile/0/000");
    assert_int_equal(r.kind, GW_R_LOG);
    assert_string_equal(r.log_path, "tile/0/000");
    assert_int_equal(route("GET", "/metrics").kind, GW_R_METRICS);
    assert_int_equal(route("HEAD", "/healthz").kind, GW_R_HEALTHZ);
    assert_int_equal(route("GET", "/readyz").kind, GW_R_READYZ);
}

static void gateway_router_methods(void **state)
{
    (void)state;
    gw_route r = route("POST", "/v1/me/messages/m1");
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET, PUT, DELETE");
    r = route("PUT", "/v1/users/u1/messages/m1");
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET, DELETE");
    assert_int_equal(route("DELETE", "/v1/me/export").status, 405);
    assert_int_equal(route("PUT", "/metrics").status, 405);
    assert_int_equal(route("HEAD", "/v1/me/a/b").status, 405);
    assert_int_equal(route("BREW", "/healthz").status, 405);
}

static void gateway_router_refusals(void **state)
{
    (void)state;
    const char *not_found[] = {"",
                               "v1/me/a/b",
                               "/",
                               "/v1",
                               "/v1/me",
                               "/v1/me/a",
                               "/v1/me/a/b/",
                               "//v1/me/a/b",
                               "/v1/me/a//b",
                               "/v1/users/u",
                               "/v1/users/u/a/b/c",
                               "/metrics/",
                               "/log",
                               "/nope",
                               "/v2/me/a/b",
                               "/v1/me/a/b/c/d/e/f"};
    for (size_t i = 0; i < sizeof not_found / sizeof not_found[0]; i++)
        assert_int_equal(route("GET", not_found[i]).status, 404);
    const char *bad[] = {"/v1/me/a/%2F",
                         "/v1/me/a/%22",
                         "/v1/me/a/%5C",
                         "/v1/me/a/%00",
                         "/v1/me/a/%zz",
                         "/v1/me/a/%4",
                         "/v1/me/a/..",
                         "/v1/me/a/.",
                         "/v1/me/a%20b/c",
                         "/v1/me/a/%7F",
                         "/v1/users/%2E%2E/export",
                         "/v1/me/a/b%ff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(route("GET", bad[i]).status, 400);
    /* names are bounded: 64-byte collections, 256-byte ids */
    char coll[66], uri[600];
    memset(coll, 'c', 65);
    coll[65] = '\0';
    snprintf(uri, sizeof uri, "/v1/me/%s/id", coll);
    assert_int_equal(route("GET", uri).status, 400);
    coll[64] = '\0';
    snprintf(uri, sizeof uri, "/v1/me/%s/id", coll);
    assert_int_equal(route("GET", uri).status, 0);
    char big[GW_URI_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[0] = '/';
    big[sizeof big - 1] = '\0';
    assert_int_equal(route("GET", big).status, 414);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gateway_router_routes),
        cmocka_unit_test(gateway_router_methods),
        cmocka_unit_test(gateway_router_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
