/* Tests for src/gateway/cluster.c: a valid file (paths made absolute against the file's
 * directory, url and listen derivation, canonical proxy addresses, home-region choice) and
 * each invalid variant with the key it names. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "warden/cluster.h"

typedef struct fixture {
    char dir[64];
    char path[128];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/warden-cl-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/cluster.json", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

#define TOP                                                                                        \
    "\"issuer\":\"https://id.example\",\"audience\":\"warden\",\"token_key\":\"token.pub\","       \
    "\"networks\":\"/etc/warden/networks.csv\""
#define TEXAS                                                                                      \
    "{\"name\":\"texas\",\"operator\":\"Custodian Inc.\",\"country\":\"US\","                      \
    "\"role\":\"custodian\",\"jurisdictions\":[\"US\"],"                                           \
    "\"url\":\"http://127.0.0.1:8401/\",\"keyd\":\"texas/keyd.json\"}"
#define VIRGINIA                                                                                   \
    "{\"name\":\"virginia\",\"role\":\"legacy\",\"jurisdictions\":[\"US\",\"EU\"],"                \
    "\"url\":\"https://virginia.example\",\"keyd\":\"/srv/va/keyd.json\"}"
#define SINGAPORE                                                                                  \
    "{\"name\":\"singapore\",\"operator\":\"Legacy Cloud\",\"country\":\"SG\","                    \
    "\"role\":\"legacy\",\"jurisdictions\":[\"SG\"],"                                              \
    "\"url\":\"http://[::1]:8403\",\"listen\":\"0.0.0.0:9403\","                                   \
    "\"keyd\":\"sg/keyd.json\"}"

static void cluster_valid(void **state)
{
    fixture *f = *state;
    warden_cluster *c = NULL;
    warden_err e;
    char real[PATH_MAX], want[PATH_MAX + 64];
    write_text(f->path, "{" TOP ",\"trusted_proxies\":[\"127.0.0.2\",\"::ffff:10.0.0.1\","
                        "\"2001:DB8::1\"],\"regions\":[" TEXAS "," VIRGINIA "," SINGAPORE "]}");
    if (warden_cluster_load(&c, f->path, &e) != 0)
        fail_msg("%s", e.msg);
    assert_non_null(realpath(f->dir, real));
    snprintf(want, sizeof want, "%s/cluster.json", real);
    assert_string_equal(c->path, want);
    assert_string_equal(c->issuer, "https://id.example");
    assert_string_equal(c->audience, "warden");
    snprintf(want, sizeof want, "%s/token.pub", real);
    assert_string_equal(c->token_key, want);
    assert_string_equal(c->networks, "/etc/warden/networks.csv");
    assert_int_equal(c->n_trusted_proxies, 3);
    assert_string_equal(c->trusted_proxies[0], "127.0.0.2");
    assert_string_equal(c->trusted_proxies[1], "10.0.0.1");
    assert_string_equal(c->trusted_proxies[2], "2001:db8::1");
    assert_int_equal(c->n_regions, 3);

    const warden_cluster_region *tx = warden_cluster_region_find(c, "texas");
    assert_non_null(tx);
    assert_true(tx->custodian);
    assert_string_equal(tx->operator_name, "Custodian Inc.");
    assert_string_equal(tx->country, "US");
    assert_string_equal(tx->url, "http://127.0.0.1:8401");
    assert_string_equal(tx->listen, "127.0.0.1:8401");
    snprintf(want, sizeof want, "%s/texas/keyd.json", real);
    assert_string_equal(tx->keyd_config, want);

    const warden_cluster_region *va = warden_cluster_region_find(c, "virginia");
    assert_non_null(va);
    assert_false(va->custodian);
    assert_string_equal(va->operator_name, "");
    assert_string_equal(va->country, "");
    assert_string_equal(va->listen, "virginia.example:443");
    assert_string_equal(va->keyd_config, "/srv/va/keyd.json");

    const warden_cluster_region *sg = warden_cluster_region_find(c, "singapore");
    assert_non_null(sg);
    assert_string_equal(sg->listen, "0.0.0.0:9403");
    assert_string_equal(sg->url, "http://[::1]:8403");
    assert_null(warden_cluster_region_find(c, "mars"));

    /* Home: the custodian that holds it, even though virginia also does and comes later;
     * else the first region that holds it; else none. */
    assert_ptr_equal(warden_cluster_home(c, "US"), tx);
    assert_ptr_equal(warden_cluster_home(c, "EU"), va);
    assert_ptr_equal(warden_cluster_home(c, "SG"), sg);
    assert_null(warden_cluster_home(c, "BR"));
    assert_true(warden_cluster_region_holds(va, "US"));
    assert_false(warden_cluster_region_holds(sg, "US"));
    warden_cluster_free(c);
}

static void cluster_minimal(void **state)
{
    fixture *f = *state;
    warden_cluster *c = NULL;
    warden_err e;
    /* A region with no jurisdictions holds nothing; trusted_proxies is optional. */
    write_text(f->path, "{" TOP ",\"regions\":[{\"name\":\"r\",\"role\":\"legacy\","
                        "\"url\":\"http://localhost\",\"keyd\":\"k.json\"}]}");
    if (warden_cluster_load(&c, f->path, &e) != 0)
        fail_msg("%s", e.msg);
    assert_int_equal(c->n_trusted_proxies, 0);
    assert_int_equal(c->regions[0].n_jurisdictions, 0);
    assert_string_equal(c->regions[0].listen, "localhost:80");
    assert_false(warden_cluster_region_holds(&c->regions[0], "US"));
    assert_null(warden_cluster_home(c, "US"));
    warden_cluster_free(c);
}

static void cluster_invalid(void **state)
{
    fixture *f = *state;
    struct {
        const char *text;
        int code;
        const char *msg;
    } cases[] = {
        {"{" TOP ",\"regions\":[" TEXAS "]", WARDEN_EPARSE, "cluster.json:1:"},
        {"[]", WARDEN_EINVAL, "must be a JSON object"},
        {"{" TOP ",\"regions\":[" TEXAS "],\"region\":[]}", WARDEN_EINVAL,
         "unknown key \"region\""},
        {"{" TOP ",\"issuer\":\"x\",\"regions\":[" TEXAS "]}", WARDEN_EPARSE, "duplicate"},
        {"{\"audience\":\"a\",\"token_key\":\"t\",\"networks\":\"n\",\"regions\":[" TEXAS "]}",
         WARDEN_EINVAL, "missing \"issuer\""},
        {"{\"issuer\":\"i\",\"token_key\":\"t\",\"networks\":\"n\",\"regions\":[" TEXAS "]}",
         WARDEN_EINVAL, "missing \"audience\""},
        {"{\"issuer\":\"i\",\"audience\":\"a\",\"networks\":\"n\",\"regions\":[" TEXAS "]}",
         WARDEN_EINVAL, "missing \"token_key\""},
        {"{\"issuer\":\"i\",\"audience\":\"a\",\"token_key\":\"t\",\"regions\":[" TEXAS "]}",
         WARDEN_EINVAL, "missing \"networks\""},
        {"{\"issuer\":\"\",\"audience\":\"a\",\"token_key\":\"t\",\"networks\":\"n\","
         "\"regions\":[" TEXAS "]}",
         WARDEN_EINVAL, "\"issuer\" must be a non-empty string"},
        {"{\"issuer\":7,\"audience\":\"a\",\"token_key\":\"t\",\"networks\":\"n\","
         "\"regions\":[" TEXAS "]}",
         WARDEN_EINVAL, "\"issuer\" must be"},
        {"{" TOP "}", WARDEN_EINVAL, "\"regions\" must be an array of 1.."},
        {"{" TOP ",\"regions\":[]}", WARDEN_EINVAL, "\"regions\" must be an array"},
        {"{" TOP ",\"regions\":[7]}", WARDEN_EINVAL, "regions[0]: must be an object"},
        {"{" TOP ",\"regions\":[" TEXAS "," TEXAS "]}", WARDEN_EEXIST,
         "region \"texas\" is already defined"},
        {"{" TOP ",\"regions\":[" TEXAS ",{\"name\":\"b\",\"role\":\"legacy\","
         "\"url\":\"http://x\",\"listen\":\"127.0.0.1:8401\",\"keyd\":\"k\"}]}",
         WARDEN_EEXIST, "regions[1]: listen address 127.0.0.1:8401"},
        {"{" TOP ",\"regions\":[{\"name\":\"a\",\"role\":\"legacy\",\"url\":\"http://x\","
         "\"keyd\":\"k\",\"jurisdiction\":[\"US\"]}]}",
         WARDEN_EINVAL, "regions[0]: unknown key \"jurisdiction\""},
        {"{" TOP ",\"regions\":[{\"role\":\"legacy\",\"url\":\"http://x\",\"keyd\":\"k\"}]}",
         WARDEN_EINVAL, "regions[0]: missing \"name\""},
        {"{" TOP ",\"regions\":[{\"name\":\"a\",\"url\":\"http://x\",\"keyd\":\"k\"}]}",
         WARDEN_EINVAL, "regions[0]: missing \"role\""},
        {"{" TOP ",\"regions\":[{\"name\":\"a\",\"role\":\"legacy\",\"keyd\":\"k\"}]}",
         WARDEN_EINVAL, "regions[0]: missing \"url\""},
        {"{" TOP ",\"regions\":[{\"name\":\"a\",\"role\":\"legacy\",\"url\":\"http://x\"}]}",
         WARDEN_EINVAL, "regions[0]: missing \"keyd\""},
        {"{" TOP ",\"regions\":[{\"name\":\"a\",\"role\":\"primary\",\"url\":\"http://x\","
         "\"keyd\":\"k\"}]}",
         WARDEN_EINVAL, "\"role\" must be \"custodian\" or \"legacy\""},
        {"{" TOP ",\"regions\":[{\"name\":\"a b\",\"role\":\"legacy\",\"url\":\"http://x\","
         "\"keyd\":\"k\"}]}",
         WARDEN_EINVAL, "\"name\" must match"},
        {"{" TOP ",\"regions\":[{\"name\":\"a\",\"role\":\"legacy\",\"url\":\"ftp://x\","
         "\"keyd\":\"k\"}]}",
         WARDEN_EINVAL, "\"url\" must start with http"},
        {"{" TOP ",\"regions\":[{\"name\":\"a\",\"role\":\"legacy\",\"url\":\"http://x y\","
         "\"keyd\":\"k\"}]}",
         WARDEN_EINVAL, "\"url\" must be a base URL"},
        {"{" TOP ",\"regions\":[{\"name\":\"a\",\"role\":\"legacy\",\"url\":\"http://\","
         "\"keyd\":\"k\"}]}",
         WARDEN_EINVAL, "no valid host:port"},
        {"{" TOP ",\"regions\":[{\"name\":\"a\",\"role\":\"legacy\",\"url\":\"http://x:99999\","
         "\"keyd\":\"k\"}]}",
         WARDEN_EINVAL, "no valid host:port"},
        {"{" TOP ",\"regions\":[{\"name\":\"a\",\"role\":\"legacy\",\"url\":\"http://u@x\","
         "\"keyd\":\"k\"}]}",
         WARDEN_EINVAL, "user info"},
        {"{" TOP ",\"regions\":[{\"name\":\"a\",\"role\":\"legacy\",\"url\":\"http://x\","
         "\"listen\":\"8401\",\"keyd\":\"k\"}]}",
         WARDEN_EINVAL, "\"listen\" must be host:port"},
        {"{" TOP ",\"regions\":[{\"name\":\"a\",\"role\":\"legacy\",\"url\":\"http://x\","
         "\"listen\":\"[::1:80\",\"keyd\":\"k\"}]}",
         WARDEN_EINVAL, "\"listen\" must be host:port"},
        {"{" TOP ",\"regions\":[{\"name\":\"a\",\"role\":\"legacy\",\"url\":\"http://x\","
         "\"keyd\":\"k\",\"jurisdictions\":\"US\"}]}",
         WARDEN_EINVAL, "\"jurisdictions\" must be an array"},
        {"{" TOP ",\"regions\":[{\"name\":\"a\",\"role\":\"legacy\",\"url\":\"http://x\","
         "\"keyd\":\"k\",\"jurisdictions\":[\"us\"]}]}",
         WARDEN_EINVAL, "\"jurisdictions\"[0] must match [A-Z0-9_-]{1,16}"},
        {"{" TOP ",\"regions\":[{\"name\":\"a\",\"role\":\"legacy\",\"url\":\"http://x\","
         "\"keyd\":\"k\",\"jurisdictions\":[\"US\",\"ABCDEFGHIJKLMNOPQ\"]}]}",
         WARDEN_EINVAL, "\"jurisdictions\"[1]"},
        {"{" TOP ",\"regions\":[{\"name\":\"a\",\"role\":\"legacy\",\"url\":\"http://x\","
         "\"keyd\":\"k\",\"jurisdictions\":[\"US\",\"US\"]}]}",
         WARDEN_EINVAL, "lists \"US\" twice"},
        {"{" TOP ",\"regions\":[{\"name\":\"a\",\"role\":\"legacy\",\"url\":\"http://x\","
         "\"keyd\":\"k\",\"country\":\"U S\"}]}",
         WARDEN_EINVAL, "\"country\" must match"},
        {"{" TOP ",\"trusted_proxies\":[\"10.0.0.0/8\"],\"regions\":[" TEXAS "]}", WARDEN_EINVAL,
         "\"trusted_proxies\"[0] must be an IP address"},
        {"{" TOP ",\"trusted_proxies\":\"127.0.0.2\",\"regions\":[" TEXAS "]}", WARDEN_EINVAL,
         "\"trusted_proxies\" must be an array"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        warden_cluster *c = NULL;
        warden_err e;
        warden_err_clear(&e);
        write_text(f->path, cases[i].text);
        int rc = warden_cluster_load(&c, f->path, &e);
        if (rc != cases[i].code || strstr(e.msg, cases[i].msg) == NULL)
            fail_msg("case %zu: want %d \"%s\", got %d \"%s\"", i, cases[i].code, cases[i].msg, rc,
                     e.msg);
        assert_null(c);
    }
    warden_cluster *c = NULL;
    warden_err e;
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none.json", f->dir);
    assert_int_equal(warden_cluster_load(&c, missing, &e), WARDEN_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(cluster_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(cluster_minimal, setup, teardown),
        cmocka_unit_test_setup_teardown(cluster_invalid, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
