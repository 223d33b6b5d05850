/* Internals of the token files: strict base64url, the compact JWS layer (RFC 7515) that
 * signs and checks bytes, and the key struct. token.c adds the JWT claim rules on top. */
#ifndef WARDEN_GATEWAY_TOKEN_INTERNAL_H
#define WARDEN_GATEWAY_TOKEN_INTERNAL_H

#include "warden/token.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct warden_token_key {
    EVP_PKEY *pkey; /* Ed25519; OpenSSL clears private key memory when it frees it */
    bool has_private;
};

/* Length of the unpadded base64url encoding of n bytes. */
size_t token_b64url_encoded_len(size_t n);
/* Appends the unpadded base64url encoding of p[0..n) to out. Errors: WARDEN_ENOMEM. */
int token_b64url_encode(warden_buf *out, const uint8_t *p, size_t n);
/* Decodes s[0..len) as canonical unpadded base64url (RFC 7515 section 2: no '=', no
 * whitespace, zero trailing bits) into out[0..cap); *n gets the decoded length.
 * Returns 0, or -1 when s is not canonical or does not fit. */
int token_b64url_decode(uint8_t *out, size_t cap, size_t *n, const uint8_t *s, size_t len);

/* Wraps an Ed25519 EVP_PKEY (taking ownership) in a new key. Errors: WARDEN_EPARSE (not
 * Ed25519), WARDEN_ENOMEM. */
int token_key_wrap(warden_token_key **out, EVP_PKEY *pkey, bool has_private, warden_err *err);

/* Appends the compact JWS base64url(header).base64url(payload).base64url(sig) to out,
 * signing with the private key k. Errors: WARDEN_EINVAL (public key only),
 * WARDEN_ENOMEM, WARDEN_EINTERNAL. */
int token_jws_sign(warden_buf *out, const warden_token_key *k, const uint8_t *header, size_t hlen,
                   const uint8_t *payload, size_t plen, warden_err *err);

/* Checks a compact JWS: at most WARDEN_TOKEN_MAX bytes, three canonical base64url parts,
 * a protected header that is exactly {"alg":"EdDSA"} plus an optional "typ":"JWT", and an
 * Ed25519 signature by k over the first two parts. On success the decoded payload is
 * appended to payload. Errors: WARDEN_ELIMIT, WARDEN_EPARSE, WARDEN_EVERIFY, WARDEN_ENOMEM. */
int token_jws_verify(warden_buf *payload, const char *token, size_t len, const warden_token_key *k,
                     warden_err *err);

#endif
