/* Tests for src/policy/authorizer.c: decision semantics (permit/forbid, errors skipped,
 * determining policies), template links, and the scope index: a random policy set decided
 * through the index must agree with the same constraints written as conditions (which the
 * index cannot use), request by request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warden/policy.h"
#include "warden/util.h"

static const char *ENTITIES =
    "[{\"uid\":{\"type\":\"User\",\"id\":\"alice\"},\"attrs\":{\"level\":3},"
    "\"parents\":[{\"type\":\"Group\",\"id\":\"eng\"}]},"
    "{\"uid\":{\"type\":\"User\",\"id\":\"bob\"},\"attrs\":{\"level\":1},\"parents\":[]},"
    "{\"uid\":{\"type\":\"Group\",\"id\":\"eng\"},\"attrs\":{},\"parents\":[{\"type\":\"Group\","
    "\"id\":\"all\"}]},"
    "{\"uid\":{\"type\":\"Doc\",\"id\":\"d\"},\"attrs\":{\"secret\":true},\"parents\":[{\"type\":"
    "\"Folder\",\"id\":\"f\"}]},"
    "{\"uid\":{\"type\":\"Action\",\"id\":\"read\"},\"attrs\":{},\"parents\":[{\"type\":\"Action\","
    "\"id\":\"any\"}]}]";

typedef struct world {
    warden_entities *es;
    warden_authz *z;
} world;

static int setup(void **state)
{
    world *w = calloc(1, sizeof *w);
    warden_err err;
    assert_int_equal(warden_entities_parse_json(&w->es, "e.json", ENTITIES, strlen(ENTITIES), &err),
                     0);
    assert_int_equal(warden_authz_new(&w->z, &err), 0);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    world *w = *state;
    warden_authz_free(w->z);
    warden_entities_free(w->es);
    free(w);
    return 0;
}

/* Decides one request and renders "allow|deny reasons... ! errors..." for comparison. */
static void decide(char *out, size_t cap, world *w, const char *policies, const char *links,
                   const char *p, const char *a, const char *r, const char *ctx)
{
    warden_policies *ps;
    warden_request *rq;
    warden_decision d;
    warden_err err;
    assert_int_equal(warden_policies_new(&ps, &err), 0);
    if (warden_policies_add_text(ps, "p.cedar", policies, strlen(policies), &err) != 0)
        fail_msg("policies: %s", err.msg);
    if (links != NULL && warden_policies_link_json(ps, "l.json", links, strlen(links), &err) != 0)
        fail_msg("links: %s", err.msg);
    if (warden_request_new(&rq, p, a, r, ctx, &err) != 0)
        fail_msg("request: %s", err.msg);
    assert_int_equal(warden_authorize(&d, w->z, ps, w->es, rq, &err), 0);
    size_t k = (size_t)snprintf(out, cap, "%s", d.allow ? "allow" : "deny");
    for (size_t i = 0; i < d.n_reasons; i++)
        k += (size_t)snprintf(out + k, cap - k, " %s", d.reasons[i]);
    if (d.n_errors)
        k += (size_t)snprintf(out + k, cap - k, " !");
    for (size_t i = 0; i < d.n_errors; i++)
        k += (size_t)snprintf(out + k, cap - k, " %s", d.errors[i].policy);
    warden_request_free(rq);
    warden_policies_free(ps);
}

#define ALICE "User::\"alice\""
#define BOB "User::\"bob\""
#define READ "Action::\"read\""
#define WRITE "Action::\"write\""
#define DOC "Doc::\"d\""

static void policy_authorizer_semantics(void **state)
{
    world *w = *state;
    char got[512];
    decide(got, sizeof got, w, "", NULL, ALICE, READ, DOC, NULL);
    assert_string_equal(got, "deny");
    decide(got, sizeof got, w, "permit(principal, action, resource);", NULL, ALICE, READ, DOC,
           NULL);
    assert_string_equal(got, "allow policy0");
    /* A satisfied forbid wins; the reasons are then the forbids only. */
    decide(got, sizeof got, w,
           "permit(principal, action, resource);\n"
           "forbid(principal in Group::\"all\", action, resource);\n"
           "permit(principal == User::\"alice\", action, resource);\n"
           "forbid(principal, action, resource) when { resource.secret };",
           NULL, ALICE, READ, DOC, NULL);
    assert_string_equal(got, "deny policy1 policy3");
    decide(got, sizeof got, w,
           "forbid(principal in Group::\"all\", action, resource);\n"
           "permit(principal, action, resource);",
           NULL, BOB, READ, DOC, NULL);
    assert_string_equal(got, "allow policy1");
    /* An erroring forbid is skipped (it does not deny) and reported. */
    decide(got, sizeof got, w,
           "permit(principal, action, resource);\n"
           "forbid(principal, action, resource) when { principal.nope };",
           NULL, ALICE, READ, DOC, NULL);
    assert_string_equal(got, "allow policy0 ! policy1");
    /* An erroring permit does not allow. */
    decide(got, sizeof got, w, "permit(principal, action, resource) when { 1 + true == 2 };", NULL,
           ALICE, READ, DOC, NULL);
    assert_string_equal(got, "deny ! policy0");
    /* when/unless in order, all must hold; the first false one stops evaluation. */
    decide(
        got, sizeof got, w,
        "permit(principal, action, resource) when { principal.level > 2 } unless { context.x };\n"
        "permit(principal, action, resource) unless { true } when { principal.nope };",
        NULL, ALICE, READ, DOC, "{\"x\": false}");
    assert_string_equal(got, "allow policy0");
    /* Reasons and errors come out sorted by id (byte order). */
    char many[4096];
    size_t used = 0;
    for (int i = 0; i < 12; i++)
        used += (size_t)snprintf(many + used, sizeof many - used, "%s",
                                 i % 3 == 2 ? "permit(principal, action, resource) when { "
                                              "principal.nope };\n"
                                            : "permit(principal, action, resource);\n");
    decide(got, sizeof got, w, many, NULL, ALICE, READ, DOC, NULL);
    assert_string_equal(got,
                        "allow policy0 policy1 policy10 policy3 policy4 policy6 policy7 policy9 "
                        "! policy11 policy2 policy5 policy8");
    /* Scopes: action hierarchy, `in` lists, `is`, entities absent from the store. */
    decide(
        got, sizeof got, w,
        "permit(principal, action in Action::\"any\", resource);\n"
        "permit(principal, action in [Action::\"x\", Action::\"read\"], resource);\n"
        "permit(principal, action in [], resource);\n"
        "permit(principal is User in Group::\"all\", action, resource is Doc in Folder::\"f\");\n"
        "permit(principal is Group, action, resource);\n"
        "permit(principal, action == Action::\"any\", resource);",
        NULL, ALICE, READ, DOC, NULL);
    assert_string_equal(got, "allow policy0 policy1 policy3");
    decide(got, sizeof got, w, "permit(principal in User::\"ghost\", action, resource);", NULL,
           "User::\"ghost\"", READ, DOC, NULL);
    assert_string_equal(got, "allow policy0");
    decide(got, sizeof got, w, "permit(principal in Group::\"all\", action, resource);", NULL,
           "User::\"ghost\"", READ, DOC, NULL);
    assert_string_equal(got, "deny");
}

static void policy_authorizer_links(void **state)
{
    world *w = *state;
    char got[512];
    const char *pol = "permit(principal == ?principal, action, resource in ?resource);\n"
                      "forbid(principal in ?principal, action == Action::\"write\", resource);\n"
                      "permit(principal, action, resource) when { false };";
    const char *links =
        "[{\"templateId\":\"policy0\",\"newId\":\"mine\",\"values\":{\"?principal\":"
        "{\"type\":\"User\",\"id\":\"alice\"},\"?resource\":{\"type\":\"Folder\",\"id\":\"f\"}}},"
        "{\"templateId\":\"policy1\",\"newId\":\"nowrite\",\"values\":{\"?principal\":"
        "{\"__entity\":{\"type\":\"Group\",\"id\":\"eng\"}}}}]";
    decide(got, sizeof got, w, pol, links, ALICE, READ, DOC, NULL);
    assert_string_equal(got, "allow mine");
    decide(got, sizeof got, w, pol, links, ALICE, WRITE, DOC, NULL);
    assert_string_equal(got, "deny nowrite");
    decide(got, sizeof got, w, pol, links, BOB, READ, DOC, NULL);
    assert_string_equal(got, "deny");
    decide(got, sizeof got, w, pol, NULL, ALICE, READ, DOC, NULL); /* templates alone: inert */
    assert_string_equal(got, "deny");

    static const struct {
        const char *links, *substr;
    } bad[] = {
        {"{}", "array"},
        {"[1]", "templateId"},
        {"[{\"templateId\":\"nope\",\"newId\":\"x\",\"values\":{}}]", "link #0"},
        {"[{\"templateId\":\"policy0\",\"newId\":\"x\",\"values\":{\"?principal\":"
         "{\"type\":\"User\",\"id\":\"a\"}}}]",
         "link #0"},
        {"[{\"templateId\":\"policy0\",\"newId\":\"x\",\"values\":{\"?principal\":"
         "{\"type\":\"User\",\"id\":\"a\"},\"?resource\":{\"type\":\"D\",\"id\":\"d\"},\"?other\":"
         "1}}]",
         "unknown slot"},
        {"[{\"templateId\":\"policy1\",\"newId\":\"policy2\",\"values\":{\"?principal\":"
         "\"G::\\\"g\\\"\"}}]",
         "link #0"},
        {"[{\"templateId\":\"policy1\",\"newId\":\"y\",\"values\":{\"?principal\":\"bad\"}}]",
         "link #0"},
        /* cedar-wasm's format exactly: no Type::"id" text, no unknown fields, values required */
        {"[{\"templateId\":\"policy1\",\"newId\":\"y\",\"values\":{\"?principal\":"
         "\"Group::\\\"g\\\"\"}}]",
         "entity reference"},
        {"[{\"templateId\":\"policy1\",\"newId\":\"y\",\"values\":{\"?principal\":"
         "{\"type\":\"G\",\"id\":\"g\"}},\"extra\":1}]",
         "unknown field \"extra\""},
        {"[{\"templateId\":\"policy1\",\"newId\":\"y\"}]", "\"values\" must be an object"},
        {"[", "l.json:1:"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        warden_policies *ps;
        warden_err err;
        assert_int_equal(warden_policies_new(&ps, &err), 0);
        assert_int_equal(warden_policies_add_text(ps, "p.cedar", pol, strlen(pol), &err), 0);
        int rc = warden_policies_link_json(ps, "l.json", bad[i].links, strlen(bad[i].links), &err);
        assert_true(rc < 0);
        if (strstr(err.msg, bad[i].substr) == NULL)
            fail_msg("%s: message \"%s\" lacks \"%s\"", bad[i].links, err.msg, bad[i].substr);
        warden_policies_free(ps);
    }
}

/* ---- index equivalence ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* One scope constraint on var, both as scope text and as an equivalent condition. */
static void scope(char *sc, char *cond, size_t cap, const char *var, const char *type, int n_ids,
                  bool action)
{
    int k = (int)rnd(action ? 4 : 5);
    int id = (int)rnd((uint32_t)n_ids), id2 = (int)rnd((uint32_t)n_ids);
    switch (k) {
    case 0:
        snprintf(sc, cap, "%s", var);
        snprintf(cond, cap, "true");
        break;
    case 1:
        snprintf(sc, cap, "%s == %s::\"%d\"", var, type, id);
        snprintf(cond, cap, "%s == %s::\"%d\"", var, type, id);
        break;
    case 2:
        snprintf(sc, cap, "%s in %s::\"%d\"", var, type, id);
        snprintf(cond, cap, "%s in %s::\"%d\"", var, type, id);
        break;
    case 3:
        if (action) {
            snprintf(sc, cap, "%s in [%s::\"%d\", %s::\"%d\"]", var, type, id, type, id2);
            snprintf(cond, cap, "%s in [%s::\"%d\", %s::\"%d\"]", var, type, id, type, id2);
        } else {
            snprintf(sc, cap, "%s is %s in %s::\"%d\"", var, type, type, id);
            snprintf(cond, cap, "%s is %s in %s::\"%d\"", var, type, type, id);
        }
        break;
    default:
        snprintf(sc, cap, "%s is %s", var, rnd(2) ? type : "Other");
        snprintf(cond, cap, "%s is %s", var, sc + strlen(var) + 4);
        break;
    }
}

static void policy_authorizer_index_matches_conditions(void **state)
{
    (void)state;
    enum { N_IDS = 40, N_POL = 400, N_REQ = 400 };
    /* A hierarchy of depth 3 per type: id i has parent (i / 3) + 1 when i >= 4. */
    warden_buf ej, scoped, plain;
    warden_buf_init(&ej);
    warden_buf_init(&scoped);
    warden_buf_init(&plain);
    static const char *const types[3] = {"P", "Action", "R"};
    assert_int_equal(warden_buf_puts(&ej, "["), 0);
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < N_IDS; i++) {
            assert_int_equal(warden_buf_printf(&ej,
                                               "%s{\"uid\":{\"type\":\"%s\",\"id\":\"%d\"},"
                                               "\"attrs\":{},\"parents\":[",
                                               (t || i) ? "," : "", types[t], i),
                             0);
            if (i >= 4)
                assert_int_equal(
                    warden_buf_printf(&ej, "{\"type\":\"%s\",\"id\":\"%d\"}%s", types[t], i / 3 + 1,
                                      i % 5 == 0 ? ",{\"type\":\"P\",\"id\":\"2\"}" : ""),
                    0);
            assert_int_equal(warden_buf_puts(&ej, "]}"), 0);
        }
    assert_int_equal(warden_buf_puts(&ej, "]"), 0);
    for (int i = 0; i < N_POL; i++) {
        char ps[128], pc[128], as[128], ac[128], rs[128], rc[128];
        scope(ps, pc, sizeof ps, "principal", "P", N_IDS, false);
        scope(as, ac, sizeof as, "action", "Action", N_IDS, true);
        scope(rs, rc, sizeof rs, "resource", "R", N_IDS, false);
        const char *eff = rnd(4) == 0 ? "forbid" : "permit";
        const char *extra = rnd(10) == 0 ? " when { context.bad + 1 > 0 }" : "";
        assert_int_equal(warden_buf_printf(&scoped, "%s(%s, %s, %s)%s;\n", eff, ps, as, rs, extra),
                         0);
        assert_int_equal(warden_buf_printf(
                             &plain, "%s(principal, action, resource) when { %s && %s && %s }%s;\n",
                             eff, pc, ac, rc, extra),
                         0);
    }
    warden_entities *es;
    warden_policies *a, *b;
    warden_authz *z1, *z2;
    warden_err err;
    assert_int_equal(warden_entities_parse_json(&es, "e.json", (char *)ej.p, ej.len, &err), 0);
    assert_int_equal(warden_policies_new(&a, &err), 0);
    assert_int_equal(warden_policies_new(&b, &err), 0);
    if (warden_policies_add_text(a, "scoped", (char *)scoped.p, scoped.len, &err) != 0)
        fail_msg("%s", err.msg);
    if (warden_policies_add_text(b, "plain", (char *)plain.p, plain.len, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(warden_authz_new(&z1, &err), 0);
    assert_int_equal(warden_authz_new(&z2, &err), 0);
    int allows = 0, errors = 0;
    for (int i = 0; i < N_REQ; i++) {
        char p[32], act[32], r[32];
        /* ids up to N_IDS + 5 include entities absent from the store */
        snprintf(p, sizeof p, "P::\"%u\"", rnd(N_IDS + 5));
        snprintf(act, sizeof act, "Action::\"%u\"", rnd(N_IDS + 5));
        snprintf(r, sizeof r, "%s::\"%u\"", rnd(8) ? "R" : "Other", rnd(N_IDS + 5));
        warden_request *rq;
        assert_int_equal(warden_request_new(&rq, p, act, r, "{\"bad\": \"x\"}", &err), 0);
        warden_decision d1, d2;
        assert_int_equal(warden_authorize(&d1, z1, a, es, rq, &err), 0);
        assert_int_equal(warden_authorize(&d2, z2, b, es, rq, &err), 0);
        assert_int_equal(d1.allow, d2.allow);
        assert_int_equal(d1.n_reasons, d2.n_reasons);
        for (size_t k = 0; k < d1.n_reasons; k++)
            assert_string_equal(d1.reasons[k], d2.reasons[k]);
        assert_int_equal(d1.n_errors, d2.n_errors);
        for (size_t k = 0; k < d1.n_errors; k++)
            assert_string_equal(d1.errors[k].policy, d2.errors[k].policy);
        allows += d1.allow;
        errors += d1.n_errors > 0;
        warden_request_free(rq);
    }
    /* The random mix must exercise both outcomes and errors, or the test proves little. */
    assert_true(allows > 20 && allows < N_REQ - 20);
    assert_true(errors > 20);
    warden_authz_free(z1);
    warden_authz_free(z2);
    warden_policies_free(a);
    warden_policies_free(b);
    warden_entities_free(es);
    warden_buf_fini(&ej);
    warden_buf_fini(&scoped);
    warden_buf_fini(&plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(policy_authorizer_semantics, setup, teardown),
        cmocka_unit_test_setup_teardown(policy_authorizer_links, setup, teardown),
        cmocka_unit_test(policy_authorizer_index_matches_conditions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
