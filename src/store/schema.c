/* Collection schemas: which fields of a record's JSON document are protected and which are
 * excepted, and the split of a document into what may be released and what is withheld.
 * A schema is {"collection": NAME, "fields": FIELDS} where FIELDS maps each field name to
 * "protected", "excepted" or a nested FIELDS object for a sub-object. Nesting is written as
 * nested objects, not dotted paths, so a field name may contain any character (a dot too)
 * and no name is ambiguous. Invariant: whatever the schema does not describe — an unknown
 * field, or a value whose shape differs from the schema's (an array or number where the
 * schema expects an object) — is withheld whole: the default is protected. */
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

struct warden_schema {
    char collection[WARDEN_STORE_COLLECTION_MAX + 1];
    json_t *fields; /* validated: every value is "protected", "excepted" or such an object */
};

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* Appends "/" and key escaped as RFC 6901 asks ("~" -> "~0", "/" -> "~1"). */
static int ptr_push(warden_buf *path, const char *key)
{
    int rc = warden_buf_append(path, "/", 1);
    for (size_t i = 0; rc == 0 && key[i] != '\0'; i++) {
        if (key[i] == '~')
            rc = warden_buf_append(path, "~0", 2);
        else if (key[i] == '/')
            rc = warden_buf_append(path, "~1", 2);
        else
            rc = warden_buf_append(path, &key[i], 1);
    }
    if (rc == 0)
        rc = warden_buf_cstr(path);
    return rc;
}

static int check_fields(const char *name, const json_t *fields, warden_buf *path, int depth,
                        size_t *count, warden_err *err)
{
    const char *key;
    const json_t *v;
    if (depth > WARDEN_SCHEMA_MAX_DEPTH)
        return warden_err_set(err, WARDEN_ELIMIT, "%s: field %s: nested deeper than %d levels",
                              name, (const char *)path->p, WARDEN_SCHEMA_MAX_DEPTH);
    json_object_foreach((json_t *)fields, key, v)
    {
        size_t mark = path->len;
        if (++*count > WARDEN_SCHEMA_MAX_FIELDS)
            return warden_err_set(err, WARDEN_ELIMIT, "%s: more than %d fields", name,
                                  WARDEN_SCHEMA_MAX_FIELDS);
        if (ptr_push(path, key) != 0)
            return warden_err_set(err, WARDEN_ENOMEM, "out of memory checking a schema");
        const char *at = (const char *)path->p;
        if (key[0] == '\0')
            return warden_err_set(err, WARDEN_EINVAL, "%s: field %s: empty field name", name, at);
        if (json_is_object(v)) {
            if (json_object_size(v) == 0)
                return warden_err_set(err, WARDEN_EINVAL,
                                      "%s: field %s: an empty object classifies nothing (write "
                                      "\"protected\" or name its fields)",
                                      name, at);
            int rc = check_fields(name, v, path, depth + 1, count, err);
            if (rc != 0)
                return rc;
        } else if (json_is_string(v)) {
            const char *c = json_string_value(v);
            size_t n = json_string_length(v);
            if (!(n == 9 && memcmp(c, "protected", 9) == 0) &&
                !(n == 8 && memcmp(c, "excepted", 8) == 0))
                return warden_err_set(err, WARDEN_EINVAL,
                                      "%s: field %s: unknown class \"%.40s\" (expected "
                                      "\"protected\" or \"excepted\")",
                                      name, at, strlen(c) == n ? c : "(holds NUL)");
        } else {
            return warden_err_set(err, WARDEN_EINVAL,
                                  "%s: field %s: expected \"protected\", \"excepted\" or an "
                                  "object of sub-fields, got %s",
                                  name, at, type_name(v));
        }
        path->len = mark;
        if (warden_buf_cstr(path) != 0)
            return warden_err_set(err, WARDEN_ENOMEM, "out of memory checking a schema");
    }
    return 0;
}

int warden_schema_parse(warden_schema **out, const char *name, const uint8_t *json, size_t len,
                        warden_err *err)
{
    json_error_t jerr;
    json_t *root = NULL;
    warden_schema *s = NULL;
    warden_buf path;
    size_t count = 0;
    int rc;
    const char *key;
    json_t *v;
    warden_buf_init(&path);
    if (name == NULL)
        name = "schema";
    if (len > WARDEN_SCHEMA_MAX_SIZE) {
        rc = warden_err_set(err, WARDEN_ELIMIT, "%s: %zu bytes, over the %d-byte limit", name, len,
                            WARDEN_SCHEMA_MAX_SIZE);
        goto out;
    }
    root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        rc = warden_err_set(err, WARDEN_EPARSE, "%s:%d:%d: %s", name, jerr.line, jerr.column,
                            jerr.text);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: expected an object, got %s", name,
                            type_name(root));
        goto out;
    }
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "collection") != 0 && strcmp(key, "fields") != 0) {
            rc = warden_err_set(err, WARDEN_EINVAL,
                                "%s: unknown key \"%.40s\" (a schema has \"collection\" and "
                                "\"fields\")",
                                name, key);
            goto out;
        }
    }
    json_t *coll = json_object_get(root, "collection");
    json_t *fields = json_object_get(root, "fields");
    if (!json_is_string(coll)) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: \"collection\" must be a string, got %s", name,
                            coll == NULL ? "nothing" : type_name(coll));
        goto out;
    }
    if (strlen(json_string_value(coll)) != json_string_length(coll)) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: \"collection\" holds a NUL byte", name);
        goto out;
    }
    if ((rc = store_check_collection(json_string_value(coll), err)) != 0) {
        warden_err_prefix(err, "%s: bad \"collection\"", name);
        goto out;
    }
    if (!json_is_object(fields)) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: \"fields\" must be an object, got %s", name,
                            fields == NULL ? "nothing" : type_name(fields));
        goto out;
    }
    if (warden_buf_cstr(&path) != 0) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory checking a schema");
        goto out;
    }
    if ((rc = check_fields(name, fields, &path, 1, &count, err)) != 0)
        goto out;
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory loading a schema");
        goto out;
    }
    snprintf(s->collection, sizeof s->collection, "%s", json_string_value(coll));
    s->fields = json_incref(fields);
    *out = s;
    rc = 0;
out:
    json_decref(root);
    warden_buf_fini(&path);
    return rc;
}

void warden_schema_free(warden_schema *s)
{
    if (s == NULL)
        return;
    json_decref(s->fields);
    free(s);
}

const char *warden_schema_collection(const warden_schema *s)
{
    return s->collection;
}

typedef struct member {
    const char *key;
    json_t *val;
} member;

static int cmp_member(const void *a, const void *b)
{
    return strcmp(((const member *)a)->key, ((const member *)b)->key);
}

static int withhold(json_t *withheld, const warden_buf *path)
{
    return json_array_append_new(withheld, json_string((const char *)path->p)) == 0 ? 0
                                                                                    : WARDEN_ENOMEM;
}

/* Copies the excepted members of doc into out and appends the pointers of the others to
 * withheld. fields is the schema level for doc; recursion is bounded by the schema's depth
 * because it only descends where the schema has a nested object. */
static int split_obj(json_t *out, json_t *withheld, const json_t *fields, const json_t *doc,
                     warden_buf *path)
{
    size_t n = json_object_size(doc), i = 0;
    const char *key;
    json_t *val;
    int rc = 0;
    if (n == 0)
        return 0;
    member *m = malloc(n * sizeof *m);
    if (m == NULL)
        return WARDEN_ENOMEM;
    json_object_foreach((json_t *)doc, key, val)
    {
        m[i].key = key;
        m[i].val = val;
        i++;
    }
    qsort(m, n, sizeof *m, cmp_member); /* document order does not leak into the output */
    for (i = 0; i < n && rc == 0; i++) {
        size_t mark = path->len;
        const char *k = m[i].key;
        val = m[i].val;
        json_t *cls = json_object_get(fields, k);
        if ((rc = ptr_push(path, k)) != 0)
            break;
        if (json_is_string(cls) && strcmp(json_string_value(cls), "excepted") == 0) {
            json_t *copy = json_deep_copy(val);
            rc = copy != NULL && json_object_set_new(out, k, copy) == 0 ? 0 : WARDEN_ENOMEM;
        } else if (json_is_object(cls) && json_is_object(val)) {
            json_t *sub = json_object();
            rc = sub != NULL ? split_obj(sub, withheld, cls, val, path) : WARDEN_ENOMEM;
            /* Keep the sub-object unless everything in it was withheld. */
            if (rc == 0 && (json_object_size(sub) > 0 || json_object_size(val) == 0))
                rc = json_object_set(out, k, sub) == 0 ? 0 : WARDEN_ENOMEM;
            json_decref(sub);
        } else {
            rc = withhold(withheld, path);
        }
        path->len = mark;
        if (rc == 0)
            rc = warden_buf_cstr(path);
    }
    free(m);
    return rc;
}

static int cmp_json_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

int warden_schema_split(json_t **excepted, json_t **withheld, const warden_schema *s,
                        const json_t *doc, warden_err *err)
{
    json_t *out = NULL, *wh = NULL, *sorted = NULL, **items = NULL;
    warden_buf path;
    int rc;
    warden_buf_init(&path);
    if (!json_is_object(doc))
        return warden_err_set(err, WARDEN_EINVAL,
                              "a %s record must be a JSON object to be split, got %s",
                              s->collection, type_name(doc));
    out = json_object();
    wh = json_array();
    rc = out != NULL && wh != NULL ? warden_buf_cstr(&path) : WARDEN_ENOMEM;
    if (rc == 0)
        rc = split_obj(out, wh, s->fields, doc, &path);
    /* Bytewise order of the pointers, so that audit entries are canonical. */
    size_t n = rc == 0 ? json_array_size(wh) : 0;
    if (rc == 0 && n > 0) {
        items = malloc(n * sizeof *items);
        sorted = json_array();
        if (items == NULL || sorted == NULL)
            rc = WARDEN_ENOMEM;
        for (size_t i = 0; rc == 0 && i < n; i++)
            items[i] = json_array_get(wh, i);
        if (rc == 0)
            qsort(items, n, sizeof *items, cmp_json_str);
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = json_array_append(sorted, items[i]) == 0 ? 0 : WARDEN_ENOMEM;
        if (rc == 0) {
            json_decref(wh);
            wh = sorted;
            sorted = NULL;
        }
    }
    if (rc != 0) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory splitting a %s record",
                            s->collection);
        json_decref(out);
        json_decref(wh);
    } else {
        *excepted = out;
        *withheld = wh;
    }
    free(items);
    json_decref(sorted);
    warden_buf_fini(&path);
    return rc;
}
