/* C2SP signed notes: syntax checks, signing, and opening with a set of trusted keys.
 * Follows golang.org/x/mod/sumdb/note Open: unknown keys are ignored, a known key's bad
 * signature rejects the note, and at least one known key must have signed. */
#include "tlog/tlog_internal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t EM_DASH_SP[4] = {0xe2, 0x80, 0x94, ' '};

/* UTF-8, and no control character but '\n'. Returns the offset of the first bad byte or len. */
static size_t check_chars(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t n = tlog_utf8_decode(&c, p + i, len - i);
        if (n == 0 || (c < 0x20 && c != '\n'))
            return i;
        i += n;
    }
    return len;
}

int warden_tlog_note_sign(warden_buf *out, const uint8_t *text, size_t len,
                          const warden_tlog_signer *s, warden_err *err)
{
    uint8_t raw[68];
    char b64[96];
    uint32_t h = tlog_signer_hash(s);
    if (len == 0 || text[len - 1] != '\n' || check_chars(text, len) != len ||
        len > WARDEN_TLOG_NOTE_MAX)
        return warden_err_set(err, WARDEN_EINVAL,
                              "note text must be UTF-8 without control characters and end in "
                              "a newline");
    raw[0] = (uint8_t)(h >> 24), raw[1] = (uint8_t)(h >> 16);
    raw[2] = (uint8_t)(h >> 8), raw[3] = (uint8_t)h;
    if (tlog_signer_sign(raw + 4, s, text, len) != 0)
        return warden_err_set(err, WARDEN_EINTERNAL, "OpenSSL Ed25519 signing failed");
    tlog_b64_encode(b64, raw, sizeof raw);
    if (warden_buf_append(out, text, len) != 0 || warden_buf_puts(out, "\n") != 0 ||
        warden_buf_append(out, EM_DASH_SP, sizeof EM_DASH_SP) != 0 ||
        warden_buf_puts(out, warden_tlog_signer_name(s)) != 0 ||
        warden_buf_printf(out, " %s\n", b64) != 0)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    return 0;
}

/* One parsed signature line. */
typedef struct sig_line {
    const uint8_t *name;
    size_t name_len;
    uint32_t hash;
    const uint8_t *sig; /* into the decode buffer */
    size_t sig_len;
} sig_line;

/* Walks the note; with known != NULL also verifies. One function so that parse-only and
 * open accept exactly the same syntax. */
static int note_walk(size_t *text_len, const uint8_t *msg, size_t len,
                     const warden_tlog_verifier *const *known, size_t nknown, warden_err *err)
{
    int rc = 0;
    uint8_t *dec = NULL;
    size_t verified = 0;
    if (len > WARDEN_TLOG_NOTE_MAX)
        return warden_err_set(err, WARDEN_ELIMIT, "note: larger than %d bytes",
                              WARDEN_TLOG_NOTE_MAX);
    size_t bad = check_chars(msg, len);
    if (bad != len)
        return warden_err_set(err, WARDEN_EPARSE,
                              "note: byte %zu: invalid UTF-8 or a control character", bad + 1);
    /* The text ends at the last blank line: find the last "\n\n". */
    size_t split = len;
    for (size_t i = len; i >= 2; i--) {
        if (msg[i - 1] == '\n' && msg[i - 2] == '\n') {
            split = i - 2;
            break;
        }
    }
    if (split == len)
        return warden_err_set(err, WARDEN_EPARSE, "note: no blank line before the signatures");
    size_t tlen = split + 1;
    const uint8_t *sigs = msg + split + 2;
    size_t slen = len - split - 2;
    if (slen == 0 || sigs[slen - 1] != '\n')
        return warden_err_set(err, WARDEN_EPARSE,
                              "note: signature block is empty or lacks a final newline");
    if ((dec = malloc(slen)) == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    size_t nsig = 0;
    /* Verified (name, hash) pairs: a repeated line from a known key counts once (as Go). */
    const warden_tlog_verifier *seen[WARDEN_TLOG_NOTE_SIGS_MAX];
    size_t nseen = 0;
    warden_cursor c;
    warden_cursor_init(&c, sigs, slen);
    while (warden_cursor_left(&c) > 0) {
        const uint8_t *line;
        size_t ll;
        size_t lineno = nsig + 1;
        if (warden_cursor_until(&c, '\n', &line, &ll) != 0) {
            rc = warden_err_set(err, WARDEN_EPARSE, "note: signature %zu: no newline", lineno);
            goto out;
        }
        if (++nsig > WARDEN_TLOG_NOTE_SIGS_MAX) {
            rc = warden_err_set(err, WARDEN_ELIMIT, "note: more than %d signatures",
                                WARDEN_TLOG_NOTE_SIGS_MAX);
            goto out;
        }
        if (ll < 4 || memcmp(line, EM_DASH_SP, 4) != 0) {
            rc = warden_err_set(err, WARDEN_EPARSE,
                                "note: signature %zu: does not start with an em dash and space",
                                lineno);
            goto out;
        }
        line += 4, ll -= 4;
        size_t sp = 0;
        while (sp < ll && line[sp] != ' ')
            sp++;
        sig_line s = {.name = line, .name_len = sp};
        size_t b64len = sp < ll ? ll - sp - 1 : 0;
        if (!tlog_valid_key_name(line, sp) || b64len == 0 ||
            tlog_b64_decode(dec, slen, &s.sig_len, line + sp + 1, b64len) != 0 || s.sig_len < 5) {
            rc = warden_err_set(err, WARDEN_EPARSE,
                                "note: signature %zu: bad key name or base64 signature", lineno);
            goto out;
        }
        s.hash = (uint32_t)dec[0] << 24 | (uint32_t)dec[1] << 16 | (uint32_t)dec[2] << 8 | dec[3];
        s.sig = dec + 4;
        s.sig_len -= 4;
        const warden_tlog_verifier *v = NULL;
        for (size_t k = 0; k < nknown && known != NULL; k++) {
            if (known[k]->hash == s.hash && strlen(known[k]->name) == s.name_len &&
                memcmp(known[k]->name, s.name, s.name_len) == 0) {
                v = known[k];
                break;
            }
        }
        if (v == NULL)
            continue; /* unknown key: ignored, as the spec requires */
        int dup = 0;
        for (size_t k = 0; k < nseen; k++)
            dup |= seen[k] == v;
        if (dup)
            continue;
        seen[nseen++] = v;
        EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, v->pub, 32);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int ok = pk != NULL && ctx != NULL && s.sig_len == 64 &&
                 EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
                 EVP_DigestVerify(ctx, s.sig, 64, msg, tlen) == 1;
        EVP_MD_CTX_free(ctx);
        EVP_PKEY_free(pk);
        if (!ok) {
            rc = warden_err_set(err, WARDEN_EVERIFY,
                                "note: signature %zu by %s+%08x does not verify", lineno, v->name,
                                v->hash);
            goto out;
        }
        verified++;
    }
    if (known != NULL && verified == 0) {
        rc = warden_err_set(err, WARDEN_EVERIFY, "note: no signature by a trusted key");
        goto out;
    }
    *text_len = tlen;
out:
    free(dec);
    return rc;
}

int warden_tlog_note_parse(size_t *text_len, const uint8_t *msg, size_t len, warden_err *err)
{
    return note_walk(text_len, msg, len, NULL, 0, err);
}

int warden_tlog_note_open(size_t *text_len, const uint8_t *msg, size_t len,
                          const warden_tlog_verifier *const *known, size_t nknown, warden_err *err)
{
    static const warden_tlog_verifier *const none[1] = {NULL};
    return note_walk(text_len, msg, len, known != NULL ? known : none, known ? nknown : 0, err);
}
