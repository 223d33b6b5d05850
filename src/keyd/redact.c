/* Redaction of a decrypted document per data class, after the decision is logged. The
 * collection's schema (warden_schema_split) says which fields are excepted; everything
 * else, unknown fields included, is protected. The answer carries the allowed fields and
 * lists the JSON Pointers of the withheld ones. */
#include "keyd/redact.h"

#include <string.h>

/* Appends one RFC 6901 token (escaping ~ and /) to ptr. */
static int ptr_push(warden_buf *ptr, const char *tok)
{
    if (warden_buf_puts(ptr, "/") != 0)
        return WARDEN_ENOMEM;
    for (const char *c = tok; *c != '\0'; c++) {
        const char *rep = *c == '~' ? "~0" : *c == '/' ? "~1" : NULL;
        int rc = rep != NULL ? warden_buf_puts(ptr, rep) : warden_buf_append(ptr, c, 1);
        if (rc != 0)
            return WARDEN_ENOMEM;
    }
    return 0;
}

/* Collects the pointers of the leaves of obj (non-objects and empty objects). */
static int leaves(json_t *out, const json_t *obj, warden_buf *ptr)
{
    const char *key;
    json_t *v;
    size_t mark = ptr->len;
    json_object_foreach((json_t *)obj, key, v)
    {
        ptr->len = mark;
        if (ptr_push(ptr, key) != 0)
            return WARDEN_ENOMEM;
        if (json_is_object(v) && json_object_size(v) > 0) {
            if (leaves(out, v, ptr) != 0)
                return WARDEN_ENOMEM;
        } else if (json_array_append_new(out, json_stringn((const char *)ptr->p, ptr->len)) != 0) {
            return WARDEN_ENOMEM;
        }
    }
    ptr->len = mark;
    return 0;
}

/* Removes from doc every leaf present in exc (same pointer), and then the objects emptied
 * by that, so that what remains is the protected part. */
static void subtract(json_t *doc, const json_t *exc)
{
    const char *key;
    json_t *ev;
    json_object_foreach((json_t *)exc, key, ev)
    {
        json_t *dv = json_object_get(doc, key);
        if (dv == NULL)
            continue;
        if (json_is_object(ev) && json_object_size(ev) > 0 && json_is_object(dv)) {
            subtract(dv, ev);
            if (json_object_size(dv) == 0)
                (void)json_object_del(doc, key);
        } else {
            (void)json_object_del(doc, key);
        }
    }
}

static const warden_schema *find_schema(warden_schema *const *schemas, size_t n,
                                        const char *collection)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(warden_schema_collection(schemas[i]), collection) == 0)
            return schemas[i];
    return NULL;
}

int keyd_redact(json_t **shown, json_t **withheld, warden_schema *const *schemas, size_t n,
                const char *collection, json_t *doc, bool protected_ok, bool excepted_ok,
                warden_err *err)
{
    json_t *exc = NULL, *wh = NULL;
    warden_buf ptr;
    warden_buf_init(&ptr);
    int rc = 0;
    *shown = NULL;
    *withheld = NULL;
    if (protected_ok && excepted_ok) {
        *shown = json_incref(doc);
        *withheld = json_array();
        goto out;
    }
    const warden_schema *s = find_schema(schemas, n, collection);
    if (s == NULL) { /* no schema: every field is protected */
        exc = json_object();
        wh = json_array();
        if (exc == NULL || wh == NULL || leaves(wh, doc, &ptr) != 0) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
        if (json_object_size(doc) == 0) {
            json_decref(wh);
            wh = json_array();
        }
    } else if ((rc = warden_schema_split(&exc, &wh, s, doc, err)) != 0) {
        goto out;
    }
    if (excepted_ok) {
        *shown = json_incref(exc);
        *withheld = json_incref(wh);
    } else if (protected_ok) {
        json_t *prot = json_deep_copy(doc);
        json_t *el = json_array();
        if (prot == NULL || el == NULL || leaves(el, exc, &ptr) != 0) {
            json_decref(prot);
            json_decref(el);
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
        subtract(prot, exc);
        *shown = prot;
        *withheld = el;
    } else {
        *shown = json_object();
        *withheld = json_array();
        if (*withheld == NULL || leaves(*withheld, doc, &ptr) != 0)
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
out:
    if (rc == 0 && (*shown == NULL || *withheld == NULL))
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    if (rc != 0) {
        json_decref(*shown);
        json_decref(*withheld);
        *shown = *withheld = NULL;
    }
    json_decref(exc);
    json_decref(wh);
    warden_buf_fini(&ptr);
    return rc;
}
