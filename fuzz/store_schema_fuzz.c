/* Fuzzes the collection schema parser and the document splitter (src/store/schema.c).
 * Input: schema JSON, a NUL byte, then a document JSON. When the schema does not parse, a
 * fixed nested schema splits the document, so the splitter always runs. Checked on every
 * success: the withheld pointers are strictly sorted, none of them exists in the excepted
 * part, and putting the withheld values back into the excepted part gives the document
 * again (nothing lost, nothing invented). */
#include "warden/store.h"

#include <stdlib.h>
#include <string.h>

static const char FALLBACK[] = "{\"collection\":\"fz\",\"fields\":{\"a\":\"excepted\","
                               "\"b\":{\"c\":\"excepted\",\"d\":\"protected\",\"e\":{\"f\":"
                               "\"excepted\"}},\"g\":\"protected\"}}";

/* Splits the next RFC 6901 token off *p into tok (unescaped); false at the end. */
static bool next_token(char *tok, size_t cap, const char **p)
{
    size_t n = 0;
    if (**p != '/')
        return false;
    (*p)++;
    while (**p != '\0' && **p != '/') {
        char ch = **p;
        if (ch == '~') {
            (*p)++;
            if (**p == '0')
                ch = '~';
            else if (**p == '1')
                ch = '/';
            else
                abort(); /* our pointers only ever escape ~ and / */
        }
        if (n + 1 >= cap)
            abort();
        tok[n++] = ch;
        (*p)++;
    }
    tok[n] = '\0';
    return true;
}

static json_t *resolve(json_t *root, const char *ptr)
{
    static char tok[1 << 16];
    json_t *v = root;
    while (v != NULL && next_token(tok, sizeof tok, &ptr))
        v = json_is_object(v) ? json_object_get(v, tok) : NULL;
    return v;
}

/* Sets the value at ptr in root, creating objects on the way. */
static void place(json_t *root, const char *ptr, json_t *value)
{
    static char tok[1 << 16];
    json_t *v = root;
    while (next_token(tok, sizeof tok, &ptr)) {
        if (*ptr == '\0') {
            if (json_object_set(v, tok, value) != 0)
                abort();
            return;
        }
        json_t *next = json_object_get(v, tok);
        if (next == NULL) {
            next = json_object();
            if (json_object_set_new(v, tok, next) != 0)
                abort();
        }
        if (!json_is_object(next))
            abort(); /* a withheld field under an excepted non-object */
        v = next;
    }
    abort(); /* an empty pointer: the whole document withheld */
}

static void check_split(const warden_schema *s, json_t *doc)
{
    warden_err err;
    json_t *exc = NULL, *wh = NULL;
    int rc = warden_schema_split(&exc, &wh, s, doc, &err);
    if (!json_is_object(doc)) {
        if (rc != WARDEN_EINVAL || exc != NULL || wh != NULL)
            abort();
        return;
    }
    if (rc != 0)
        abort(); /* only ENOMEM, which the fuzzer does not inject */
    json_t *recon = json_deep_copy(exc);
    size_t i;
    json_t *p;
    const char *prev = NULL;
    json_array_foreach(wh, i, p)
    {
        const char *ptr = json_string_value(p);
        if (prev != NULL && strcmp(prev, ptr) >= 0)
            abort();
        prev = ptr;
        if (resolve(exc, ptr) != NULL)
            abort();
        json_t *orig = resolve(doc, ptr);
        if (orig == NULL)
            abort();
        place(recon, ptr, orig);
    }
    if (!json_equal(recon, doc))
        abort();
    json_decref(recon);
    json_decref(exc);
    json_decref(wh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    warden_err err;
    warden_schema *s = NULL;
    const uint8_t *nul = memchr(data, 0, size);
    size_t slen = nul != NULL ? (size_t)(nul - data) : size;
    int rc = warden_schema_parse(&s, "fuzz.json", data, slen, &err);
    if ((rc == 0) != (s != NULL) || (rc != 0 && err.code != rc))
        abort();
    if (rc == 0 && strlen(warden_schema_collection(s)) == 0)
        abort();
    if (nul == NULL) {
        warden_schema_free(s);
        return 0;
    }
    if (s == NULL && warden_schema_parse(&s, "fallback", (const uint8_t *)FALLBACK,
                                         sizeof FALLBACK - 1, &err) != 0)
        abort();
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)nul + 1, size - slen - 1, 0, &jerr);
    if (doc != NULL)
        check_split(s, doc);
    json_decref(doc);
    warden_schema_free(s);
    return 0;
}
