/* Bearer tokens: JWT (RFC 7519) in compact JWS form signed with EdDSA over Ed25519
 * (RFC 8037, header {"alg":"EdDSA","typ":"JWT"}). The gateway verifies signature, expiry,
 * not-before, issuer and audience before it looks at anything else in a request.
 *
 * Claims warden uses: iss, aud (one string), sub, iat, exp, optional nbf, jti, and
 *   "kind": "user" | "employee"
 *   "jur":  the user's home jurisdiction (user tokens only, required there)
 * A user token's sub is the user id; an employee token's sub is the employee id, the
 * Cedar principal Employee::"<sub>". sub is [A-Za-z0-9_.@:+-]{1,128}, jur [A-Z0-9_-]{1,16},
 * iss and aud printable ASCII; unknown claims are ignored, unknown header fields refused. */
#ifndef WARDEN_TOKEN_H
#define WARDEN_TOKEN_H

#include "warden/common.h"
#include "warden/util.h"

#include <stdint.h>

/* Longest compact token the parser accepts (bytes); longer is WARDEN_ELIMIT. */
#define WARDEN_TOKEN_MAX 4096
/* Bounds of string claims (bytes, without NUL). */
#define WARDEN_TOKEN_SUB_MAX 128
#define WARDEN_TOKEN_ISS_MAX 256
#define WARDEN_TOKEN_AUD_MAX 256
#define WARDEN_TOKEN_JUR_MAX 16

typedef enum warden_token_kind {
    WARDEN_TOKEN_USER = 1,
    WARDEN_TOKEN_EMPLOYEE = 2,
} warden_token_kind;

/* The verified (or to-be-issued) claims; plain value type, no heap memory. */
typedef struct warden_token_claims {
    warden_token_kind kind;
    char sub[WARDEN_TOKEN_SUB_MAX + 1];
    char iss[WARDEN_TOKEN_ISS_MAX + 1];
    char aud[WARDEN_TOKEN_AUD_MAX + 1];
    char jur[WARDEN_TOKEN_JUR_MAX + 1]; /* "" for employee tokens */
    int64_t iat;
    int64_t exp;
    int64_t nbf; /* 0 when absent */
} warden_token_claims;

/* An Ed25519 key: private (can issue and verify) or public only (can verify). */
typedef struct warden_token_key warden_token_key;

/* Generates a new Ed25519 issuing key and writes it as PKCS#8 PEM to path, created 0600
 * and never overwritten. Errors: WARDEN_EEXIST, WARDEN_EIO, WARDEN_EINTERNAL. */
WARDEN_MUST_USE int warden_token_key_generate(const char *path, warden_err *err);

/* Loads a PEM Ed25519 key: a private key (PKCS#8) or a public key (SubjectPublicKeyInfo).
 * A private key file readable by group or others is refused (WARDEN_EDENIED).
 * Errors: WARDEN_ENOTFOUND, WARDEN_EDENIED, WARDEN_EPARSE (not an Ed25519 PEM key),
 * WARDEN_EIO, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_token_key_load(warden_token_key **out, const char *path,
                                          warden_err *err);

/* Writes the public half of k as PEM (SubjectPublicKeyInfo) to out.
 * Errors: WARDEN_ENOMEM, WARDEN_EINTERNAL. */
WARDEN_MUST_USE int warden_token_key_public_pem(warden_buf *out, const warden_token_key *k,
                                                warden_err *err);

/* Frees a key (OpenSSL wipes private key memory); NULL is accepted. */
void warden_token_key_free(warden_token_key *k);

/* Signs claims with the private key k and appends the compact token (no NUL) to out.
 * Errors: WARDEN_EINVAL (claims incomplete: empty sub/iss/aud, exp <= iat, a user token
 * without jur, or k is public only), WARDEN_ENOMEM, WARDEN_EINTERNAL. */
WARDEN_MUST_USE int warden_token_issue(warden_buf *out, const warden_token_claims *claims,
                                       const warden_token_key *k, warden_err *err);

/* Verifies token[0..len) with k (which threads may share) at time now (unix seconds, with leeway seconds of clock
 * skew) and requires iss == issuer and aud == audience; fills *claims. Errors (the message
 * says which check failed, never echoes the token): WARDEN_ELIMIT (too long), WARDEN_EPARSE
 * (not three base64url parts, bad JSON, duplicate or wrongly typed claims, alg not EdDSA),
 * WARDEN_EVERIFY (bad signature), WARDEN_EDENIED (expired, not yet valid, wrong issuer or
 * audience, unknown kind), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_token_verify(warden_token_claims *claims, const char *token,
                                        size_t len, const warden_token_key *k,
                                        const char *issuer, const char *audience, int64_t now,
                                        int64_t leeway, warden_err *err);

#endif
