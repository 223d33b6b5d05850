/* Tests for src/keyd/dekcache.c: the cache answers only for the exact (user, wrapped blob)
 * it unwrapped, forgets on request, and never caches an unwrap that raced with a forget.
 * Keys are compared by sealing under one and opening under the other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keyd/keyd_internal.h"

typedef struct env {
    char dir[64];
    warden_kek *kek;
    keyd_dekcache *c;
} env;

static int setup(void **state)
{
    env *x = calloc(1, sizeof *x);
    warden_err e;
    char p[128];
    snprintf(x->dir, sizeof x->dir, "/tmp/keyd_dekcache_XXXXXX");
    if (mkdtemp(x->dir) == NULL)
        return -1;
    snprintf(p, sizeof p, "%s/kek.key", x->dir);
    if (warden_kek_keyfile_create(p, "texas", &e) != 0 ||
        warden_kek_keyfile_open(&x->kek, p, "texas", &e) != 0 ||
        keyd_dekcache_new(&x->c, 8, &e) != 0)
        fail_msg("setup: %s", e.msg);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    env *x = *state;
    char p[128];
    keyd_dekcache_free(x->c);
    warden_kek_free(x->kek);
    snprintf(p, sizeof p, "%s/kek.key", x->dir);
    unlink(p);
    rmdir(x->dir);
    free(x);
    return 0;
}

/* A fresh DEK for user and its wrapped blob. */
static warden_dek *wrapped(warden_buf *blob, env *x, const char *user)
{
    warden_dek *d = NULL;
    warden_err e;
    warden_buf_init(blob);
    if (warden_dek_new(&d, &e) != 0 || warden_kek_wrap(blob, x->kek, d, user, &e) != 0)
        fail_msg("wrap: %s", e.msg);
    return d;
}

/* True when b opens what a sealed. */
static bool same_key(const warden_dek *a, const warden_dek *b)
{
    warden_buf ct, pt;
    warden_err e;
    warden_buf_init(&ct);
    warden_buf_init(&pt);
    warden_record_ref ref = {"texas", "u", "c", "i", 1};
    if (warden_envelope_encrypt(&ct, a, &ref, (const uint8_t *)"x", 1, &e) != 0)
        fail_msg("seal: %s", e.msg);
    bool ok = warden_envelope_decrypt(&pt, b, &ref, ct.p, ct.len, &e) == 0;
    warden_buf_fini(&ct);
    warden_buf_fini_wipe(&pt);
    return ok;
}

static warden_dek *get(env *x, const char *user, const warden_buf *blob, uint64_t epoch)
{
    warden_dek *d = NULL;
    warden_err e;
    if (keyd_dekcache_get(&d, x->c, epoch, x->kek, user, blob->p, blob->len, &e) != 0)
        fail_msg("get %s: %s", user, e.msg);
    return d;
}

static void assert_stats(env *x, uint64_t hits, uint64_t misses)
{
    uint64_t h, m;
    keyd_dekcache_stats(x->c, &h, &m);
    assert_int_equal(h, hits);
    assert_int_equal(m, misses);
}

static void keyd_dekcache_hit_after_miss(void **state)
{
    env *x = *state;
    warden_buf blob;
    warden_dek *orig = wrapped(&blob, x, "u1");
    for (int i = 0; i < 3; i++) {
        warden_dek *d = get(x, "u1", &blob, keyd_dekcache_epoch(x->c));
        assert_true(same_key(orig, d));
        keyd_dekcache_put(x->c, d);
    }
    assert_stats(x, 2, 1);
    warden_dek_free(orig);
    warden_buf_fini(&blob);
}

/* A new blob for the same user (a replaced or re-wrapped DEK) is never answered from the
 * entry of the old one. */
static void keyd_dekcache_new_blob_misses(void **state)
{
    env *x = *state;
    warden_buf b1, b2;
    warden_dek *k1 = wrapped(&b1, x, "u1"), *k2 = wrapped(&b2, x, "u1");
    keyd_dekcache_put(x->c, get(x, "u1", &b1, keyd_dekcache_epoch(x->c)));
    warden_dek *d = get(x, "u1", &b2, keyd_dekcache_epoch(x->c));
    assert_true(same_key(k2, d));
    assert_false(same_key(k1, d));
    keyd_dekcache_put(x->c, d);
    assert_stats(x, 0, 2);
    warden_dek_free(k1);
    warden_dek_free(k2);
    warden_buf_fini(&b1);
    warden_buf_fini(&b2);
}

/* Another user's cached blob is unwrapped (and refused) for this user, not served. */
static void keyd_dekcache_other_user_refused(void **state)
{
    env *x = *state;
    warden_buf blob;
    warden_dek *k = wrapped(&blob, x, "u1"), *d = NULL;
    warden_err e;
    keyd_dekcache_put(x->c, get(x, "u1", &blob, keyd_dekcache_epoch(x->c)));
    assert_int_equal(keyd_dekcache_get(&d, x->c, keyd_dekcache_epoch(x->c), x->kek, "u2", blob.p,
                                       blob.len, &e),
                     WARDEN_EVERIFY);
    assert_null(d);
    warden_dek_free(k);
    warden_buf_fini(&blob);
}

/* forget drops the user's entry (the next get unwraps), and an unwrap that began before a
 * forget is not cached afterwards. */
static void keyd_dekcache_forget_user(void **state)
{
    env *x = *state;
    warden_buf b1, b2;
    warden_dek *k1 = wrapped(&b1, x, "u1"), *k2 = wrapped(&b2, x, "u2");
    keyd_dekcache_put(x->c, get(x, "u1", &b1, keyd_dekcache_epoch(x->c)));
    keyd_dekcache_put(x->c, get(x, "u2", &b2, keyd_dekcache_epoch(x->c)));
    keyd_dekcache_forget(x->c, "u1");
    keyd_dekcache_put(x->c, get(x, "u2", &b2, keyd_dekcache_epoch(x->c))); /* still cached */
    assert_stats(x, 1, 2);
    uint64_t stale = keyd_dekcache_epoch(x->c);
    keyd_dekcache_forget(x->c, "u1"); /* a shred lands between the lookup and the unwrap */
    keyd_dekcache_put(x->c, get(x, "u1", &b1, stale));
    keyd_dekcache_put(x->c, get(x, "u1", &b1, keyd_dekcache_epoch(x->c)));
    assert_stats(x, 1, 4); /* both unwrapped: the stale one was not inserted */
    keyd_dekcache_forget(x->c, NULL);
    keyd_dekcache_put(x->c, get(x, "u2", &b2, keyd_dekcache_epoch(x->c)));
    assert_stats(x, 1, 5);
    warden_dek_free(k1);
    warden_dek_free(k2);
    warden_buf_fini(&b1);
    warden_buf_fini(&b2);
}

/* More users than slots: every answer is still the right key. */
static void keyd_dekcache_eviction(void **state)
{
    env *x = *state;
    enum { N = 40 };
    warden_buf blob[N];
    warden_dek *k[N];
    char user[N][8];
    for (int i = 0; i < N; i++) {
        snprintf(user[i], sizeof user[i], "u%d", i);
        k[i] = wrapped(&blob[i], x, user[i]);
    }
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < N; i++) {
            warden_dek *d = get(x, user[i], &blob[i], keyd_dekcache_epoch(x->c));
            assert_true(same_key(k[i], d));
            keyd_dekcache_put(x->c, d);
        }
    for (int i = 0; i < N; i++) {
        warden_dek_free(k[i]);
        warden_buf_fini(&blob[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(keyd_dekcache_hit_after_miss, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_dekcache_new_blob_misses, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_dekcache_other_user_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_dekcache_forget_user, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_dekcache_eviction, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
