/* Tests for src/policy/value.c and varena.c: equality across kinds, set deduplication and
 * set equality (small and hashed sets), record ordering and lookup, hash consistency with
 * equality, rendering for messages, and the scratch arena's cap and reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "policy/value.h"

static cedar_value lng(int64_t i)
{
    return (cedar_value){.kind = CEDAR_V_LONG, .u.i = i};
}

static cedar_value str(cedar_varena *a, const char *s)
{
    cedar_str *x = cedar_varena_alloc(a, sizeof *x);
    cedar_str_init(x, cedar_varena_strdup(a, s, strlen(s)), strlen(s));
    return (cedar_value){.kind = CEDAR_V_STRING, .u.s = x};
}

static cedar_value ent(cedar_varena *a, const char *t, const char *id)
{
    cedar_uid *u = cedar_varena_alloc(a, sizeof *u);
    cedar_uid_init(u, t, strlen(t), id, strlen(id));
    return (cedar_value){.kind = CEDAR_V_ENTITY, .u.uid = u};
}

static cedar_value set(cedar_varena *a, const cedar_value *v, size_t n)
{
    cedar_set *s = cedar_set_build(a, v, n);
    assert_non_null(s);
    return (cedar_value){.kind = CEDAR_V_SET, .u.set = s};
}

static void policy_value_equality_across_kinds(void **state)
{
    (void)state;
    cedar_varena a;
    cedar_varena_init(&a, 0);
    cedar_value one = lng(1), t = {.kind = CEDAR_V_BOOL, .u.b = true};
    cedar_value dec = {.kind = CEDAR_V_DECIMAL, .u.i = 10000};
    cedar_value dt = {.kind = CEDAR_V_DATETIME, .u.i = 0},
                du = {.kind = CEDAR_V_DURATION, .u.i = 0};
    cedar_value s1 = str(&a, "1"), s1b = str(&a, "1");
    assert_true(cedar_value_eq(&one, &one));
    assert_false(cedar_value_eq(&one, &t));   /* 1 != true */
    assert_false(cedar_value_eq(&one, &s1));  /* 1 != "1" */
    assert_false(cedar_value_eq(&one, &dec)); /* same bits, different kinds */
    assert_false(cedar_value_eq(&dt, &du));
    assert_true(cedar_value_eq(&s1, &s1b)); /* distinct storage, same bytes */
    cedar_value u1 = ent(&a, "User", "a"), u2 = ent(&a, "User", "a"), g = ent(&a, "Group", "a");
    assert_true(cedar_value_eq(&u1, &u2));
    assert_false(cedar_value_eq(&u1, &g));
    cedar_ipaddr ip1, ip2;
    assert_int_equal(cedar_ip_parse(&ip1, "10.0.0.1", 8), 0);
    assert_int_equal(cedar_ip_parse(&ip2, "10.0.0.1/32", 11), 0);
    cedar_value i1 = {.kind = CEDAR_V_IPADDR, .u.ip = &ip1},
                i2 = {.kind = CEDAR_V_IPADDR, .u.ip = &ip2};
    assert_true(cedar_value_eq(&i1, &i2));
    assert_int_equal(cedar_value_hash(&i1), cedar_value_hash(&i2));
    cedar_varena_fini(&a);
}

static void policy_value_sets(void **state)
{
    (void)state;
    cedar_varena a;
    cedar_varena_init(&a, 0);
    /* Small sets: duplicates dropped, order ignored, nested sets compared as sets. */
    cedar_value x[] = {lng(1), lng(2), lng(2), lng(1)}, y[] = {lng(2), lng(1)};
    cedar_value sx = set(&a, x, 4), sy = set(&a, y, 2);
    assert_int_equal(sx.u.set->n, 2);
    assert_true(cedar_value_eq(&sx, &sy));
    assert_int_equal(cedar_value_hash(&sx), cedar_value_hash(&sy));
    cedar_value nx[] = {sx, lng(3)}, ny[] = {lng(3), sy, sy};
    cedar_value snx = set(&a, nx, 2), sny = set(&a, ny, 3);
    assert_int_equal(sny.u.set->n, 2);
    assert_true(cedar_value_eq(&snx, &sny));
    /* Hashed sets (>= CEDAR_SET_TABLE_MIN): 100 values inserted twice, in two orders. */
    cedar_value big1[200], big2[100];
    for (int i = 0; i < 100; i++) {
        big1[i] = lng(i);
        big1[100 + i] = lng(99 - i);
        big2[i] = lng(99 - i);
    }
    cedar_value b1 = set(&a, big1, 200), b2 = set(&a, big2, 100);
    assert_non_null(b1.u.set->tab);
    assert_int_equal(b1.u.set->n, 100);
    assert_true(cedar_value_eq(&b1, &b2));
    cedar_value in = lng(42), out = lng(100), s42 = str(&a, "42");
    assert_true(cedar_set_contains(b1.u.set, &in));
    assert_false(cedar_set_contains(b1.u.set, &out));
    assert_false(cedar_set_contains(b1.u.set, &s42));
    big2[99] = lng(1000); /* same size, one element differs */
    cedar_value b3 = set(&a, big2, 100);
    assert_false(cedar_value_eq(&b1, &b3));
    cedar_value empty = set(&a, NULL, 0), empty2 = set(&a, NULL, 0);
    assert_true(cedar_value_eq(&empty, &empty2));
    assert_false(cedar_value_eq(&empty, &sx));
    cedar_varena_fini(&a);
}

static void policy_value_records(void **state)
{
    (void)state;
    cedar_varena a;
    cedar_varena_init(&a, 0);
    cedar_str k[40];
    char names[40][8];
    cedar_field f1[40], f2[40];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "k%d", i);
        cedar_str_init(&k[i], names[i], strlen(names[i]));
        f1[i] = (cedar_field){.key = &k[i], .v = lng(i)};
        f2[39 - i] = f1[i];
    }
    cedar_record *r1 = cedar_record_build(&a, f1, 40), *r2 = cedar_record_build(&a, f2, 40);
    cedar_value v1 = {.kind = CEDAR_V_RECORD, .u.rec = r1},
                v2 = {.kind = CEDAR_V_RECORD, .u.rec = r2};
    assert_true(cedar_value_eq(&v1, &v2));
    assert_int_equal(cedar_value_hash(&v1), cedar_value_hash(&v2));
    for (int i = 0; i < 40; i++) {
        cedar_str probe;
        cedar_str_init(&probe, names[i], strlen(names[i])); /* other storage, same bytes */
        const cedar_value *got = cedar_record_get(r1, &probe);
        assert_non_null(got);
        assert_int_equal(got->u.i, i);
    }
    cedar_str missing;
    cedar_str_init(&missing, "k40", 3);
    assert_null(cedar_record_get(r1, &missing));
    const cedar_str *dup;
    assert_false(cedar_record_has_dup(r1, &dup));
    f1[1].key = &k[0];
    cedar_record *rd = cedar_record_build(&a, f1, 2);
    assert_true(cedar_record_has_dup(rd, &dup));
    assert_string_equal(dup->p, "k0");
    /* Same keys, one value differs; and a subset of the keys. */
    f2[0].v = lng(-1);
    cedar_value v3 = {.kind = CEDAR_V_RECORD, .u.rec = cedar_record_build(&a, f2, 40)};
    cedar_value v4 = {.kind = CEDAR_V_RECORD, .u.rec = cedar_record_build(&a, f1 + 2, 38)};
    assert_false(cedar_value_eq(&v1, &v3));
    assert_false(cedar_value_eq(&v1, &v4));
    cedar_varena_fini(&a);
}

static void policy_value_show(void **state)
{
    (void)state;
    cedar_varena a;
    cedar_varena_init(&a, 0);
    char buf[128];
    cedar_value e = ent(&a, "Ns::User", "a\"b\n");
    assert_string_equal(cedar_value_show(buf, sizeof buf, &e), "Ns::User::\"a\\\"b\\u{a}\"");
    cedar_value xs[] = {lng(-5), str(&a, "x")};
    cedar_value s = set(&a, xs, 2);
    assert_string_equal(cedar_value_show(buf, sizeof buf, &s), "[-5, \"x\"]");
    cedar_value d = {.kind = CEDAR_V_DECIMAL, .u.i = 15000};
    assert_string_equal(cedar_value_show(buf, sizeof buf, &d), "decimal(\"1.5000\")");
    /* Truncation keeps the output NUL-terminated and marked. */
    char small[12];
    cedar_value_show(small, sizeof small, &e);
    assert_true(strlen(small) < sizeof small);
    assert_non_null(strstr(small, "..."));
    cedar_varena_fini(&a);
}

static void policy_varena_cap_and_reset(void **state)
{
    (void)state;
    cedar_varena a;
    cedar_varena_init(&a, 64 * 1024);
    size_t got = 0;
    while (cedar_varena_alloc(&a, 1000) != NULL)
        got += 1000;
    assert_true(got > 16 * 1024);
    assert_true(a.total <= 64 * 1024);
    cedar_varena_reset(&a);
    void *p = cedar_varena_alloc(&a, 100);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 8, 0);
    assert_null(cedar_varena_alloc(&a, SIZE_MAX - 4)); /* overflow is refused, not wrapped */
    cedar_varena_fini(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy_value_equality_across_kinds),
        cmocka_unit_test(policy_value_sets),
        cmocka_unit_test(policy_value_records),
        cmocka_unit_test(policy_value_show),
        cmocka_unit_test(policy_varena_cap_and_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
