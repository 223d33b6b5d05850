/* The compact JWS layer (RFC 7515) with one algorithm, EdDSA over Ed25519 (RFC 8037).
 * Invariant: verify accepts only a header that names EdDSA and nothing we do not
 * understand, and checks the signature before any payload byte is interpreted. */
#include "gateway/token_internal.h"

#include <jansson.h>
#include <openssl/err.h>
#include <string.h>

#define SIG_LEN 64
/* A header is {"alg":"EdDSA","typ":"JWT"} in some spelling: far below this. */
#define HEADER_MAX 256

int token_jws_sign(warden_buf *out, const warden_token_key *k, const uint8_t *header, size_t hlen,
                   const uint8_t *payload, size_t plen, warden_err *err)
{
    uint8_t sig[SIG_LEN];
    size_t siglen = sizeof sig;
    size_t start = out->len;
    EVP_MD_CTX *ctx = NULL;
    int rc = 0;
    if (!k->has_private)
        return warden_err_set(err, WARDEN_EINVAL,
                              "token: the key is public only; issuing "
                              "needs the private key");
    if (token_b64url_encode(out, header, hlen) != 0 || warden_buf_puts(out, ".") != 0 ||
        token_b64url_encode(out, payload, plen) != 0) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    /* Ed25519 is one-shot (no digest); the signing input is the ASCII of the two parts. */
    if ((ctx = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) != 1 ||
        EVP_DigestSign(ctx, sig, &siglen, out->p + start, out->len - start) != 1 ||
        siglen != SIG_LEN) {
        ERR_clear_error();
        rc = warden_err_set(err, WARDEN_EINTERNAL, "token: Ed25519 signing failed");
        goto out;
    }
    if (warden_buf_puts(out, ".") != 0 || token_b64url_encode(out, sig, siglen) != 0) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
out:
    if (rc != 0)
        out->len = start;
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* The header must be exactly alg=EdDSA and optionally typ=JWT: "none", HMAC algorithms
 * (key confusion), "crit" extensions and key references like "jku"/"kid"/"jwk" are all
 * refused, so nothing in the token can choose how it is verified. */
static int check_header(const uint8_t *h, size_t hlen, warden_err *err)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)h, hlen, JSON_REJECT_DUPLICATES, &jerr);
    int rc = 0;
    if (j == NULL || !json_is_object(j)) {
        rc = warden_err_set(err, WARDEN_EPARSE,
                            j == NULL && json_error_code(&jerr) == json_error_duplicate_key
                                ? "token: header has a duplicate parameter"
                                : "token: header is not a JSON object");
        goto out;
    }
    const char *key;
    json_t *v;
    bool have_alg = false;
    json_object_foreach(j, key, v)
    {
        if (strcmp(key, "alg") == 0) {
            if (!json_is_string(v) || strcmp(json_string_value(v), "EdDSA") != 0 ||
                json_string_length(v) != 5) {
                rc = warden_err_set(err, WARDEN_EPARSE,
                                    "token: header alg must be \"EdDSA\" (none, HMAC and other "
                                    "algorithms are refused)");
                goto out;
            }
            have_alg = true;
        } else if (strcmp(key, "typ") == 0) {
            if (!json_is_string(v) || strcmp(json_string_value(v), "JWT") != 0 ||
                json_string_length(v) != 3) {
                rc = warden_err_set(err, WARDEN_EPARSE, "token: header typ must be \"JWT\"");
                goto out;
            }
        } else if (strcmp(key, "crit") == 0) {
            rc = warden_err_set(err, WARDEN_EPARSE,
                                "token: header has \"crit\" extensions, none are supported");
            goto out;
        } else {
            rc = warden_err_set(err, WARDEN_EPARSE,
                                "token: header has a parameter other than alg and typ");
            goto out;
        }
    }
    if (!have_alg)
        rc = warden_err_set(err, WARDEN_EPARSE, "token: header has no alg");
out:
    json_decref(j);
    return rc;
}

int token_jws_verify(warden_buf *payload, const char *token, size_t len, const warden_token_key *k,
                     warden_err *err)
{
    const uint8_t *parts[3];
    size_t plens[3];
    uint8_t header[HEADER_MAX], sig[SIG_LEN];
    size_t hlen = 0, slen = 0, n = 0;
    warden_cursor c;
    EVP_MD_CTX *ctx = NULL;
    int rc = 0;
    if (len > WARDEN_TOKEN_MAX)
        return warden_err_set(err, WARDEN_ELIMIT, "token: longer than %d bytes", WARDEN_TOKEN_MAX);
    warden_cursor_init(&c, token, len);
    for (int i = 0; i < 2; i++) {
        if (warden_cursor_until(&c, '.', &parts[i], &plens[i]) != 0)
            return warden_err_set(err, WARDEN_EPARSE,
                                  "token: not a compact JWS (want three parts separated by "
                                  "'.')");
    }
    plens[2] = warden_cursor_left(&c);
    if (warden_cursor_bytes(&c, &parts[2], plens[2]) != 0)
        return warden_err_set(err, WARDEN_EINTERNAL, "token: cursor out of step");
    for (size_t i = 0; i < plens[2]; i++) {
        if (parts[2][i] == '.')
            return warden_err_set(err, WARDEN_EPARSE,
                                  "token: not a compact JWS (more than three parts)");
    }
    if (plens[0] == 0 || plens[1] == 0)
        return warden_err_set(err, WARDEN_EPARSE, "token: empty header or payload");
    if (token_b64url_decode(header, sizeof header, &hlen, parts[0], plens[0]) != 0)
        return warden_err_set(err, WARDEN_EPARSE,
                              "token: header is not canonical unpadded base64url");
    /* The header first: "alg":"none" with an empty signature should say so. */
    if ((rc = check_header(header, hlen, err)) != 0)
        return rc;
    if (token_b64url_decode(sig, sizeof sig, &slen, parts[2], plens[2]) != 0 || slen != SIG_LEN)
        return warden_err_set(err, WARDEN_EPARSE,
                              "token: signature is not 64 bytes of unpadded base64url");
    size_t signed_len = plens[0] + 1 + plens[1];
    if ((ctx = EVP_MD_CTX_new()) == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) != 1) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "token: Ed25519 verify setup failed");
        goto out;
    }
    if (EVP_DigestVerify(ctx, sig, SIG_LEN, (const uint8_t *)token, signed_len) != 1) {
        rc = warden_err_set(err, WARDEN_EVERIFY, "token: signature does not verify");
        goto out;
    }
    size_t start = payload->len;
    if (warden_buf_reserve(payload, plens[1]) != 0) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if (token_b64url_decode(payload->p + start, plens[1], &n, parts[1], plens[1]) != 0) {
        rc = warden_err_set(err, WARDEN_EPARSE,
                            "token: payload is not canonical unpadded base64url");
        goto out;
    }
    payload->len = start + n;
out:
    ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    return rc;
}
