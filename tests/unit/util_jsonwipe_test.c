/* Tests for src/util/jsonwipe.c: once installed, every block jansson frees is wiped.
 *
 * How it is observed soundly (no read of freed memory, so ASan has nothing to object to):
 * util_json_wipe_set_release swaps the final free() behind warden_json_wipe_free for a spy.
 * The spy runs after the wipe and before the block is released, while it is still
 * allocated: it records whether any byte of the block's usable size is non-zero and whether
 * the marker survives, then frees it. A control run without the wipe shows the spy sees the
 * marker, so the check cannot pass vacuously. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_internal.h"
#include "warden/util.h"

#define MARKER "PLAINTEXT-MARKER-7f3a"

static size_t g_blocks, g_nonzero, g_marked;
static const void *g_watch;
static int g_watch_seen;

static void spy(void *p)
{
    size_t n = malloc_usable_size(p);
    const unsigned char *b = p;
    size_t nz = 0;
    for (size_t i = 0; i < n; i++)
        nz |= b[i];
    g_blocks++;
    g_nonzero += nz != 0;
    g_marked += memmem(p, n, MARKER, sizeof MARKER - 1) != NULL;
    if (p == g_watch)
        g_watch_seen = 1;
    free(p);
}

/* A free that only watches, without the wipe: the control. */
static void spy_free_nowipe(void *p)
{
    if (p != NULL)
        spy(p);
}

static void reset(void)
{
    g_blocks = g_nonzero = g_marked = 0;
    g_watch = NULL;
    g_watch_seen = 0;
}

/* Parses a document holding the marker, adds to it, dumps it, and drops everything. */
static void exercise(void)
{
    const char *text =
        "{\"title\":\"t\",\"body\":\"" MARKER "\",\"n\":[1,2,{\"deep\":\"" MARKER "\"}]}";
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(doc);
    json_t *body = json_object_get(doc, "body");
    g_watch = json_string_value(body); /* jansson's own copy of the string */
    json_t *s = json_string(MARKER);
    assert_int_equal(json_object_set_new(doc, "extra", s), 0);
    char *d = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(d);
    assert_non_null(strstr(d, MARKER));
    json_decref(doc);
    /* json_dumps' result belongs to the caller: keyd wipes it before free */
    warden_wipe(d, strlen(d));
    free(d);
}

static void util_jsonwipe_control_sees_marker(void **state)
{
    (void)state;
    reset();
    json_set_alloc_funcs(malloc, spy_free_nowipe);
    exercise();
    json_set_alloc_funcs(malloc, free);
    assert_true(g_watch_seen);
    assert_true(g_marked > 0); /* without a wipe the spy does see plaintext */
}

static void util_jsonwipe_freed_blocks_are_wiped(void **state)
{
    (void)state;
    reset();
    util_json_wipe_set_release(spy);
    warden_json_wipe_on_free();
    json_malloc_t m = NULL;
    json_free_t f = NULL;
    json_get_alloc_funcs(&m, &f);
    assert_ptr_equal(f, warden_json_wipe_free);
    exercise();
    util_json_wipe_set_release(NULL);
    assert_true(g_watch_seen); /* the string's own block went through the wipe */
    assert_true(g_blocks > 5); /* objects, strings, lexer and dump buffers */
    assert_int_equal(g_marked, 0);
    assert_int_equal(g_nonzero, 0); /* every byte of every usable block, not only the marker */
    warden_json_wipe_free(NULL);    /* accepted */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(util_jsonwipe_control_sees_marker),
        cmocka_unit_test(util_jsonwipe_freed_blocks_are_wiped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
