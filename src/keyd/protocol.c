/* The keyd frame codec and request validator. Every byte from a socket passes through
 * keyd_frame_header (via warden_cursor) and keyd_request_decode before keyd acts on it;
 * anything these refuse closes the connection. Field rules live in one table per type. */
#include "keyd/protocol.h"
#include "keyd/keyd_internal.h"

#include "warden/store.h"

#include <arpa/inet.h>
#include <string.h>

static const keyd_msg_spec TABLE[] = KEYD_MSG_TABLE;

const keyd_msg_spec *keyd_msg_lookup(uint16_t type)
{
    for (size_t i = 0; i < sizeof TABLE / sizeof TABLE[0]; i++)
        if (TABLE[i].type == type)
            return &TABLE[i];
    return NULL;
}

int keyd_frame_header(uint16_t *type, uint32_t *len, warden_cursor *c, warden_err *err)
{
    uint32_t n;
    uint16_t t, reserved;
    if (warden_cursor_be32(c, &n) != 0 || warden_cursor_be16(c, &t) != 0 ||
        warden_cursor_be16(c, &reserved) != 0)
        return warden_err_set(err, WARDEN_ETRUNC, "frame header: fewer than 8 bytes");
    const keyd_msg_spec *s = keyd_msg_lookup(t);
    if (s == NULL)
        return warden_err_set(err, WARDEN_EPARSE, "frame header: unknown message type %u",
                              (unsigned)t);
    if (reserved != 0)
        return warden_err_set(err, WARDEN_EPARSE, "frame header: reserved field is %u, not 0",
                              (unsigned)reserved);
    if (n < s->min || n > s->max)
        return warden_err_set(err, WARDEN_ELIMIT,
                              "frame header: %s payload of %lu bytes (allowed %lu..%lu)", s->name,
                              (unsigned long)n, (unsigned long)s->min, (unsigned long)s->max);
    *type = t;
    *len = n;
    return 0;
}

/* Checks len against type's limits and fills the frame header h. */
static int frame_header(uint8_t h[KEYD_FRAME_HEADER], uint16_t type, size_t len, warden_err *err)
{
    const keyd_msg_spec *s = keyd_msg_lookup(type);
    if (s == NULL)
        return warden_err_set(err, WARDEN_EINVAL, "unknown message type %u", (unsigned)type);
    if (len < s->min || len > s->max)
        return warden_err_set(err, WARDEN_ELIMIT, "%s payload of %zu bytes (allowed %lu..%lu)",
                              s->name, len, (unsigned long)s->min, (unsigned long)s->max);
    const uint8_t v[KEYD_FRAME_HEADER] = {(uint8_t)(len >> 24),
                                          (uint8_t)(len >> 16),
                                          (uint8_t)(len >> 8),
                                          (uint8_t)len,
                                          (uint8_t)(type >> 8),
                                          (uint8_t)type,
                                          0,
                                          0};
    memcpy(h, v, sizeof v);
    return 0;
}

int keyd_frame_encode(warden_buf *out, uint16_t type, const uint8_t *payload, size_t len,
                      warden_err *err)
{
    uint8_t h[KEYD_FRAME_HEADER];
    int rc = frame_header(h, type, len, err);
    if (rc != 0)
        return rc;
    if (warden_buf_append(out, h, sizeof h) != 0 ||
        (len > 0 && warden_buf_append(out, payload, len) != 0))
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory encoding a frame");
    return 0;
}

int keyd_frame_encode_json(warden_buf *out, uint16_t type, const json_t *j, warden_err *err)
{
    /* The text goes straight into out after a header filled in afterwards: no intermediate
     * copy of the plaintext an answer carries (keyd_json_canon grows out wiping the old
     * block, as the answer's bytes must not be left behind). */
    size_t start = out->len;
    static const uint8_t ZERO[KEYD_FRAME_HEADER];
    int rc = warden_buf_reserve_wipe(out, sizeof ZERO) != 0
                 ? warden_err_set(err, WARDEN_ENOMEM, "out of memory encoding a frame")
                 : 0;
    if (rc == 0) {
        memcpy(out->p + out->len, ZERO, sizeof ZERO);
        out->len += sizeof ZERO;
        rc = keyd_json_canon(out, j, err);
    }
    if (rc == 0)
        rc = frame_header(out->p + start, type, out->len - start - KEYD_FRAME_HEADER, err);
    if (rc != 0) {
        warden_wipe(out->p + start, out->len - start);
        out->len = start;
    }
    return rc;
}

/* ---- field rules ---- */

enum {
    F_NAME,
    F_TEXT,
    F_PRINCIPAL,
    F_ACTION,
    F_COLLECTION,
    F_JURIS,
    F_OBJECT,
    F_CONTEXT,
    F_IP,
    F_VERSION,
    F_STATEMENT,
    F_RECORDS,
    F_USERS
};

typedef struct field_rule {
    const char *name;
    int kind;
    size_t max; /* strings: bytes */
    int required;
} field_rule;

static const field_rule ACCESS_FIELDS[] = {
    {"request_id", F_TEXT, KEYD_REQUEST_ID_MAX, 1},
    {"principal", F_PRINCIPAL, KEYD_PRINCIPAL_MAX, 1},
    {"action", F_ACTION, 16, 1},
    {"user", F_NAME, WARDEN_STORE_USER_MAX, 1},
    {"collection", F_COLLECTION, WARDEN_STORE_COLLECTION_MAX, 0},
    {"id", F_NAME, WARDEN_STORE_ID_MAX, 0},
    {"document", F_OBJECT, 0, 0},
    {"version", F_VERSION, 0, 0},
    {"context", F_CONTEXT, 0, 1},
    {NULL, 0, 0, 0},
};
static const field_rule REGISTER_FIELDS[] = {
    {"request_id", F_TEXT, KEYD_REQUEST_ID_MAX, 1},
    {"principal", F_PRINCIPAL, KEYD_PRINCIPAL_MAX, 1},
    {"user", F_NAME, WARDEN_STORE_USER_MAX, 1},
    {"jurisdiction", F_JURIS, WARDEN_STORE_JURISDICTION_MAX, 1},
    {"context", F_CONTEXT, 0, 1},
    {NULL, 0, 0, 0},
};
static const field_rule SHRED_FIELDS[] = {
    {"request_id", F_TEXT, KEYD_REQUEST_ID_MAX, 1},
    {"user", F_NAME, WARDEN_STORE_USER_MAX, 1},
    {NULL, 0, 0, 0},
};
static const field_rule RETIRE_FIELDS[] = {
    {"request_id", F_TEXT, KEYD_REQUEST_ID_MAX, 1},
    {"version", F_VERSION, 0, 1},
    {NULL, 0, 0, 0},
};
static const field_rule ATTEST_FIELDS[] = {
    {"request_id", F_TEXT, KEYD_REQUEST_ID_MAX, 1},
    {"principal", F_PRINCIPAL, KEYD_PRINCIPAL_MAX, 1},
    {"statement", F_STATEMENT, KEYD_STATEMENT_MAX, 1},
    {"context", F_CONTEXT, 0, 1},
    {NULL, 0, 0, 0},
};
static const field_rule IMPORT_FIELDS[] = {
    {"request_id", F_TEXT, KEYD_REQUEST_ID_MAX, 1},
    {"principal", F_PRINCIPAL, KEYD_PRINCIPAL_MAX, 1},
    {"records", F_RECORDS, KEYD_IMPORT_MAX, 1},
    {"context", F_CONTEXT, 0, 1},
    {NULL, 0, 0, 0},
};
static const field_rule IMPORT_RECORD_FIELDS[] = {
    {"user", F_NAME, WARDEN_STORE_USER_MAX, 1},
    {"collection", F_COLLECTION, WARDEN_STORE_COLLECTION_MAX, 1},
    {"id", F_NAME, WARDEN_STORE_ID_MAX, 1},
    {"version", F_VERSION, 0, 1},
    {"document", F_OBJECT, 0, 1},
    {NULL, 0, 0, 0},
};
static const field_rule REGISTER_MANY_FIELDS[] = {
    {"request_id", F_TEXT, KEYD_REQUEST_ID_MAX, 1},
    {"principal", F_PRINCIPAL, KEYD_PRINCIPAL_MAX, 1},
    {"users", F_USERS, KEYD_REGISTER_MANY_MAX, 1},
    {"context", F_CONTEXT, 0, 1},
    {NULL, 0, 0, 0},
};
static const field_rule REGISTER_MANY_USER_FIELDS[] = {
    {"user", F_NAME, WARDEN_STORE_USER_MAX, 1},
    {"jurisdiction", F_JURIS, WARDEN_STORE_JURISDICTION_MAX, 1},
    {NULL, 0, 0, 0},
};
static const field_rule CONTEXT_FIELDS[] = {
    {"source_ip", F_IP, KEYD_SOURCE_IP_MAX, 1},
    {"location", F_TEXT, KEYD_LOCATION_MAX, 1},
    {"site", F_TEXT, KEYD_LOCATION_MAX, 0},
    {"purpose", F_TEXT, KEYD_PURPOSE_MAX, 1},
    {NULL, 0, 0, 0},
};

/* Printable ASCII without quotes and backslashes: such text is safe in logs and in Cedar
 * uid text without escaping. */
static int text_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
            return 0;
    return 1;
}

static int ip_ok(const char *s, size_t n)
{
    char tmp[KEYD_SOURCE_IP_MAX + 1];
    unsigned char addr[16];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return inet_pton(AF_INET, tmp, addr) == 1 || inet_pton(AF_INET6, tmp, addr) == 1;
}

static int check_object(const json_t *obj, const field_rule *rules, const char *where,
                        warden_err *err);

static int check_field(const json_t *v, const field_rule *r, const char *where, warden_err *err)
{
    if (r->kind == F_OBJECT) {
        if (!json_is_object(v))
            return warden_err_set(err, WARDEN_EINVAL, "%s%s: must be an object", where, r->name);
        return 0;
    }
    if (r->kind == F_VERSION) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > 0xffffffffLL)
            return warden_err_set(err, WARDEN_EINVAL, "%s%s: must be an integer 1..2^32-1", where,
                                  r->name);
        return 0;
    }
    if (r->kind == F_RECORDS || r->kind == F_USERS) {
        size_t i;
        const json_t *e;
        bool recs = r->kind == F_RECORDS;
        if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > r->max)
            return warden_err_set(err, WARDEN_EINVAL, "%s%s: must be an array of 1..%zu", where,
                                  r->name, r->max);
        json_array_foreach(v, i, e)
        {
            int rc = !json_is_object(e)
                         ? warden_err_set(err, WARDEN_EINVAL, "%s%s[%zu]: must be an object",
                                          where, r->name, i)
                     : recs ? check_object(e, IMPORT_RECORD_FIELDS, "records[].", err)
                            : check_object(e, REGISTER_MANY_USER_FIELDS, "users[].", err);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    if (r->kind == F_CONTEXT) {
        if (!json_is_object(v))
            return warden_err_set(err, WARDEN_EINVAL, "%s%s: must be an object", where, r->name);
        return check_object(v, CONTEXT_FIELDS, "context.", err);
    }
    if (!json_is_string(v))
        return warden_err_set(err, WARDEN_EINVAL, "%s%s: must be a string", where, r->name);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n > r->max)
        return warden_err_set(err, WARDEN_EINVAL, "%s%s: length %zu outside 1..%zu", where, r->name,
                              n, r->max);
    if (memchr(s, '\0', n) != NULL)
        return warden_err_set(err, WARDEN_EINVAL, "%s%s: contains a NUL byte", where, r->name);
    int ok = 1;
    switch (r->kind) {
    case F_NAME:
    case F_TEXT:
        ok = text_ok(s, n);
        break;
    case F_PRINCIPAL: /* Type::"id": quotes allowed, control bytes not; Cedar parses it */
        for (size_t i = 0; i < n; i++)
            if (s[i] < 0x20 || s[i] > 0x7e)
                ok = 0;
        break;
    case F_ACTION:
        ok = strcmp(s, "read") == 0 || strcmp(s, "write") == 0 || strcmp(s, "delete") == 0 ||
             strcmp(s, "export") == 0;
        break;
    case F_COLLECTION:
    case F_JURIS:
        for (size_t i = 0; i < n; i++) {
            char ch = s[i];
            int alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                        (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
            if (!alnum && !(r->kind == F_COLLECTION && ch == '.'))
                ok = 0;
        }
        break;
    case F_IP:
        ok = ip_ok(s, n);
        break;
    case F_STATEMENT: /* a signed note or JSON: UTF-8 (jansson checked it), no controls but \n */
        for (size_t i = 0; i < n; i++)
            if (((unsigned char)s[i] < 0x20 && s[i] != '\n') || s[i] == 0x7f)
                ok = 0;
        break;
    default:
        ok = 0;
    }
    if (!ok)
        return warden_err_set(err, WARDEN_EINVAL, "%s%s: invalid value", where, r->name);
    return 0;
}

static int check_object(const json_t *obj, const field_rule *rules, const char *where,
                        warden_err *err)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        const field_rule *r = rules;
        while (r->name != NULL && strcmp(r->name, key) != 0)
            r++;
        if (r->name == NULL)
            return warden_err_set(err, WARDEN_EINVAL, "%sunknown field \"%.64s\"", where, key);
        int rc = check_field(v, r, where, err);
        if (rc != 0)
            return rc;
    }
    for (const field_rule *r = rules; r->name != NULL; r++)
        if (r->required && json_object_get(obj, r->name) == NULL)
            return warden_err_set(err, WARDEN_EINVAL, "%smissing field \"%s\"", where, r->name);
    return 0;
}

/* Cross-field rules of ACCESS: what each action needs and forbids. */
static int check_access(const json_t *body, warden_err *err)
{
    const char *action = json_string_value(json_object_get(body, "action"));
    int has_coll = json_object_get(body, "collection") != NULL;
    int has_id = json_object_get(body, "id") != NULL;
    int has_doc = json_object_get(body, "document") != NULL;
    int is_export = strcmp(action, "export") == 0;
    int is_write = strcmp(action, "write") == 0;
    if (!is_write && json_object_get(body, "version") != NULL)
        return warden_err_set(err, WARDEN_EINVAL, "\"version\" is not allowed for %s", action);
    if (!is_export && (!has_coll || !has_id))
        return warden_err_set(err, WARDEN_EINVAL, "%s needs \"collection\" and \"id\"", action);
    if (is_export && (has_coll || has_id))
        return warden_err_set(err, WARDEN_EINVAL, "export takes no \"collection\" or \"id\"");
    if (is_write != has_doc)
        return warden_err_set(err, WARDEN_EINVAL, "\"document\" is %s for %s",
                              is_write ? "required" : "not allowed", action);
    return 0;
}

static json_t *load_object(const uint8_t *payload, size_t len, warden_err *err, int *rc)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        *rc = warden_err_set(err, WARDEN_EPARSE, "payload:%d:%d: %s", jerr.line, jerr.column,
                             jerr.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        *rc = warden_err_set(err, WARDEN_EINVAL, "payload: must be a JSON object");
        return NULL;
    }
    return j;
}

int keyd_request_decode(json_t **body, uint16_t type, const uint8_t *payload, size_t len,
                        warden_err *err)
{
    int rc = 0;
    json_t *j = NULL;
    *body = NULL;
    const keyd_msg_spec *s = keyd_msg_lookup(type);
    if (s == NULL || type >= KEYD_MSG_ANSWER)
        return warden_err_set(err, WARDEN_EINVAL, "not a request type: %u", (unsigned)type);
    if (len < s->min || len > s->max)
        return warden_err_set(err, WARDEN_ELIMIT, "%s payload of %zu bytes", s->name, len);
    if (s->max == 0)
        return 0;
    j = load_object(payload, len, err, &rc);
    if (j == NULL)
        goto out;
    const field_rule *rules = type == KEYD_MSG_ACCESS     ? ACCESS_FIELDS
                              : type == KEYD_MSG_REGISTER ? REGISTER_FIELDS
                              : type == KEYD_MSG_RETIRE   ? RETIRE_FIELDS
                              : type == KEYD_MSG_ATTEST   ? ATTEST_FIELDS
                              : type == KEYD_MSG_IMPORT   ? IMPORT_FIELDS
                              : type == KEYD_MSG_REGISTER_MANY ? REGISTER_MANY_FIELDS
                                                          : SHRED_FIELDS;
    rc = check_object(j, rules, "", err);
    if (rc == 0 && type == KEYD_MSG_ACCESS)
        rc = check_access(j, err);
out:
    if (rc != 0)
        json_decref(j);
    else
        *body = j;
    return rc;
}

int keyd_reply_decode(json_t **body, uint16_t type, const uint8_t *payload, size_t len,
                      warden_err *err)
{
    int rc = 0;
    *body = NULL;
    if (type != KEYD_MSG_ANSWER && type != KEYD_MSG_ERROR)
        return warden_err_set(err, WARDEN_EINVAL, "not a reply type: %u", (unsigned)type);
    json_t *j = load_object(payload, len, err, &rc);
    if (j == NULL)
        return rc;
    if (type == KEYD_MSG_ERROR && (!json_is_integer(json_object_get(j, "code")) ||
                                   !json_is_string(json_object_get(j, "error")))) {
        json_decref(j);
        return warden_err_set(err, WARDEN_EINVAL, "error reply without code and error");
    }
    *body = j;
    return 0;
}
