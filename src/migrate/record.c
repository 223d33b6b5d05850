/* One legacy record: the checks that keep keyd from ever seeing a frame it must treat as a
 * protocol violation, its canonical form (the bytes every root is computed over), and the
 * streaming RFC 6962 Merkle tree used for the source and destination roots. */
#include "keyd/keyd_internal.h" /* keyd's canonical JSON writer: the same bytes keyd hashes */
#include "migrate/migrate_internal.h"
#include "warden/store.h"

#include <openssl/sha.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mig_rec_fini(mig_rec *r)
{
    free(r->user);
    free(r->jur);
    free(r->coll);
    free(r->id);
    json_decref(r->doc);
    warden_buf_fini_wipe(&r->canon); /* user data */
    memset(r, 0, sizeof *r);
}

/* keyd's rules (src/keyd/protocol.c): printable ASCII without quote or backslash. */
static bool text_ok(const char *s, size_t max)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
            return false;
    return true;
}

static bool charset_ok(const char *s, size_t max, bool dot)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || (dot && c == '.')))
            return false;
    }
    return true;
}

/* The canonical record around an already canonical document text (keys in byte order:
 * collection, document, id, jurisdiction, user). */
static int record_text(warden_buf *out, const char *user, const char *jur, const char *coll,
                       const char *id, const uint8_t *doc, size_t doc_len)
{
    int rc = warden_buf_puts(out, "{\"collection\":");
    if (rc == 0)
        rc = keyd_json_canon_str(out, coll);
    if (rc == 0)
        rc = warden_buf_puts(out, ",\"document\":");
    if (rc == 0)
        rc = warden_buf_append(out, doc, doc_len);
    if (rc == 0)
        rc = warden_buf_puts(out, ",\"id\":");
    if (rc == 0)
        rc = keyd_json_canon_str(out, id);
    if (rc == 0)
        rc = warden_buf_puts(out, ",\"jurisdiction\":");
    if (rc == 0)
        rc = keyd_json_canon_str(out, jur);
    if (rc == 0)
        rc = warden_buf_puts(out, ",\"user\":");
    if (rc == 0)
        rc = keyd_json_canon_str(out, user);
    if (rc == 0)
        rc = warden_buf_puts(out, "}");
    return rc;
}

bool mig_rec_check(mig_rec *r)
{
    const char *bad = !text_ok(r->user, WARDEN_STORE_USER_MAX)                    ? "user"
                      : !charset_ok(r->jur, WARDEN_STORE_JURISDICTION_MAX, false) ? "jurisdiction"
                      : !charset_ok(r->coll, WARDEN_STORE_COLLECTION_MAX, true)   ? "collection"
                      : !text_ok(r->id, WARDEN_STORE_ID_MAX)                      ? "id"
                      : !json_is_object(r->doc)                                   ? "document"
                                                                                  : NULL;
    if (bad != NULL) {
        snprintf(r->why, sizeof r->why, "invalid %s%s", bad,
                 strcmp(bad, "document") == 0 ? " (not a JSON object)" : "");
        return false;
    }
    warden_wipe(r->canon.p, r->canon.len);
    r->canon.len = 0;
    warden_buf b;
    warden_buf_init(&b);
    int rc = keyd_json_canon(&r->canon, r->doc, NULL);
    if (rc == 0)
        rc = record_text(&b, r->user, r->jur, r->coll, r->id, r->canon.p, r->canon.len);
    if (rc == 0) {
        SHA256(r->canon.p, r->canon.len, r->docsum);
        warden_tlog_leaf_hash(&r->leaf, b.p, b.len);
    }
    warden_buf_fini_wipe(&b);
    if (rc != 0) {
        snprintf(r->why, sizeof r->why, "%s",
                 rc == WARDEN_ENOMEM ? "out of memory" : "invalid document (not UTF-8)");
        return false;
    }
    return true;
}

int mig_canonical(warden_buf *out, const char *user, const char *jur, const char *coll,
                  const char *id, const json_t *doc, warden_err *err)
{
    warden_buf d;
    warden_buf_init(&d);
    int rc = keyd_json_canon(&d, doc, err);
    if (rc == 0 && (rc = record_text(out, user, jur, coll, id, d.p, d.len)) != 0)
        rc = warden_err_set(err, rc, "%s", rc == WARDEN_ENOMEM ? "out of memory" : "not UTF-8");
    warden_buf_fini_wipe(&d); /* user data */
    return rc;
}

bool mig_leaf(warden_tlog_hash *out, const char *user, const char *jur, const char *coll,
              const char *id, const json_t *doc)
{
    warden_buf b;
    warden_buf_init(&b);
    bool ok = mig_canonical(&b, user, jur, coll, id, doc, NULL) == 0;
    if (ok)
        warden_tlog_leaf_hash(out, b.p, b.len);
    warden_buf_fini_wipe(&b);
    return ok;
}

int mig_key_cmp(const char *u1, const char *c1, const char *i1, const char *u2, const char *c2,
                const char *i2)
{
    int c = strcmp(u1, u2);
    if (c == 0)
        c = strcmp(c1, c2);
    if (c == 0)
        c = strcmp(i1, i2);
    return c;
}

void mig_merkle_init(mig_merkle *m)
{
    memset(m, 0, sizeof *m);
}

/* The stack holds the roots of the perfect subtrees of the leaves so far, largest first:
 * one per set bit of n. Adding a leaf merges equal-sized subtrees like a binary carry. */
void mig_merkle_add(mig_merkle *m, const warden_tlog_hash *leaf)
{
    warden_tlog_hash h = *leaf;
    for (uint64_t k = m->n; k & 1; k >>= 1)
        warden_tlog_node_hash(&h, &m->stack[--m->top], &h);
    m->stack[m->top++] = h;
    m->n++;
}

/* RFC 6962 splits at the largest power of two below n, so the root folds the perfect
 * subtrees from the right. */
void mig_merkle_root(warden_tlog_hash *out, const mig_merkle *m)
{
    if (m->n == 0) {
        warden_tlog_tree_hash(out, NULL, 0);
        return;
    }
    warden_tlog_hash h = m->stack[m->top - 1];
    for (unsigned i = m->top - 1; i-- > 0;)
        warden_tlog_node_hash(&h, &m->stack[i], &h);
    *out = h;
}

void mig_hex(char out[65], const warden_tlog_hash *h)
{
    warden_hex_encode(out, h->b, WARDEN_TLOG_HASH_SIZE);
}

static int nib(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool mig_unhex(warden_tlog_hash *h, const char *s)
{
    if (s == NULL || strlen(s) != 64)
        return false;
    for (size_t i = 0; i < WARDEN_TLOG_HASH_SIZE; i++) {
        int a = nib(s[2 * i]), b = nib(s[2 * i + 1]);
        if (a < 0 || b < 0)
            return false;
        h->b[i] = (uint8_t)(a << 4 | b);
    }
    return true;
}
