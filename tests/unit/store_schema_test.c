/* Tests for src/store/schema.c: the split vectors in tests/vectors/store/schema_split.json
 * (a schema, a document, the expected excepted part and withheld pointers; and schemas that
 * must be refused with a given code and message), plus the size and field-count bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warden/store.h"

static json_t *load_vectors(void)
{
    const char *src = getenv("WARDEN_SOURCE_DIR");
    char path[1024];
    json_error_t jerr;
    snprintf(path, sizeof path, "%s/tests/vectors/store/schema_split.json",
             src != NULL ? src : ".");
    json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL)
        fail_msg("%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    return v;
}

static int code_of(const char *name)
{
    static const struct {
        const char *name;
        int code;
    } codes[] = {
        {"OK", 0}, {"EPARSE", WARDEN_EPARSE}, {"EINVAL", WARDEN_EINVAL}, {"ELIMIT", WARDEN_ELIMIT}};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(codes[i].name, name) == 0)
            return codes[i].code;
    fail_msg("unknown code %s in the vectors", name);
    return 1;
}

static warden_schema *parse_obj(const json_t *schema)
{
    warden_err err;
    warden_schema *s = NULL;
    char *text = json_dumps(schema, JSON_COMPACT);
    assert_non_null(text);
    if (warden_schema_parse(&s, "vector", (const uint8_t *)text, strlen(text), &err) != 0)
        fail_msg("%s", err.msg);
    free(text);
    return s;
}

static void store_schema_split_vectors(void **state)
{
    (void)state;
    json_t *vec = load_vectors();
    json_t *cases = json_object_get(vec, "split"), *c;
    size_t i;
    assert_true(json_array_size(cases) >= 10);
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        warden_err err;
        json_t *exc = NULL, *wh = NULL;
        json_t *doc = json_object_get(c, "doc");
        json_t *before = json_deep_copy(doc);
        warden_schema *s = parse_obj(json_object_get(c, "schema"));
        assert_string_equal(warden_schema_collection(s), "messages");
        if (warden_schema_split(&exc, &wh, s, doc, &err) != 0)
            fail_msg("%s: %s", name, err.msg);
        if (!json_equal(exc, json_object_get(c, "excepted")) ||
            !json_equal(wh, json_object_get(c, "withheld"))) {
            char *a = json_dumps(exc, JSON_SORT_KEYS), *b = json_dumps(wh, 0);
            fail_msg("%s: got excepted %s withheld %s", name, a, b);
        }
        assert_true(json_equal(doc, before)); /* the input is not modified */
        /* The excepted part is a copy: changing it leaves the document alone. */
        json_object_set_new(exc, "injected", json_true());
        assert_null(json_object_get(doc, "injected"));
        json_decref(before);
        json_decref(exc);
        json_decref(wh);
        warden_schema_free(s);
    }
    json_decref(vec);
}

static void store_schema_error_vectors(void **state)
{
    (void)state;
    json_t *vec = load_vectors();
    json_t *cases = json_object_get(vec, "errors"), *c;
    size_t i;
    assert_true(json_array_size(cases) >= 10);
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        json_t *text = json_object_get(c, "schema_text");
        int want = code_of(json_string_value(json_object_get(c, "code")));
        const char *msg = json_string_value(json_object_get(c, "message"));
        warden_err err;
        warden_schema *s = NULL;
        warden_err_clear(&err);
        int rc = warden_schema_parse(&s, "schema.json", (const uint8_t *)json_string_value(text),
                                     json_string_length(text), &err);
        if (rc != want || strstr(err.msg, msg) == NULL)
            fail_msg("%s: got %d \"%s\", want %d with \"%s\"", name, rc, err.msg, want, msg);
        assert_true(rc == 0 ? s != NULL : s == NULL);
        warden_schema_free(s);
    }
    json_decref(vec);
}

static void store_schema_bounds(void **state)
{
    (void)state;
    warden_err err;
    warden_schema *s = NULL;
    warden_buf b;
    warden_buf_init(&b);
    /* Over 1024 fields. */
    assert_int_equal(warden_buf_puts(&b, "{\"collection\":\"m\",\"fields\":{"), 0);
    for (int i = 0; i <= WARDEN_SCHEMA_MAX_FIELDS; i++)
        assert_int_equal(warden_buf_printf(&b, "%s\"f%d\":\"excepted\"", i ? "," : "", i), 0);
    assert_int_equal(warden_buf_puts(&b, "}}"), 0);
    assert_int_equal(warden_schema_parse(&s, "big.json", b.p, b.len, &err), WARDEN_ELIMIT);
    assert_non_null(strstr(err.msg, "more than 1024 fields"));
    /* Over the byte limit, even if it would parse. */
    b.len = 0;
    assert_int_equal(warden_buf_puts(&b, "{\"collection\":\"m\",\"fields\":{}}"), 0);
    while (b.len <= WARDEN_SCHEMA_MAX_SIZE)
        assert_int_equal(warden_buf_puts(&b, "          "), 0);
    assert_int_equal(warden_schema_parse(&s, "huge.json", b.p, b.len, &err), WARDEN_ELIMIT);
    assert_null(s);
    /* Not NUL-terminated input is fine: only len bytes are read. */
    const char *ok = "{\"collection\":\"m\",\"fields\":{}}garbage";
    assert_int_equal(warden_schema_parse(&s, "ok.json", (const uint8_t *)ok, 30, &err), 0);
    /* Splitting a non-object. */
    json_t *arr = json_array(), *exc = NULL, *wh = NULL;
    assert_int_equal(warden_schema_split(&exc, &wh, s, arr, &err), WARDEN_EINVAL);
    assert_null(exc);
    assert_null(wh);
    json_decref(arr);
    warden_schema_free(s);
    warden_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_schema_split_vectors),
        cmocka_unit_test(store_schema_error_vectors),
        cmocka_unit_test(store_schema_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
