/* Internals shared by the tlog files: strict base64, note-name rules, the key structs. */
#ifndef WARDEN_TLOG_INTERNAL_H
#define WARDEN_TLOG_INTERNAL_H

#include "warden/tlog.h"

#include <stdbool.h>

/* Standard base64 (RFC 4648 section 4) with padding. */
size_t tlog_b64_encoded_len(size_t n);
/* Writes the encoding of p[0..n) plus a NUL into out (room for tlog_b64_encoded_len(n)+1). */
void tlog_b64_encode(char *out, const uint8_t *p, size_t n);
/* Strict decoding: padding required, no whitespace, unused bits zero. Returns 0 and the decoded
 * length in *n, or -1 when s is not canonical base64 or the result exceeds cap. */
int tlog_b64_decode(uint8_t *out, size_t cap, size_t *n, const uint8_t *s, size_t len);

/* A note key name: non-empty UTF-8 with no Unicode space and no '+'. */
bool tlog_valid_key_name(const uint8_t *s, size_t len);
/* Decodes one UTF-8 sequence at p[0..len): returns its length (1..4) and sets *cp, or 0 when
 * it is not valid UTF-8 (overlong, surrogate, out of range, truncated). */
size_t tlog_utf8_decode(uint32_t *cp, const uint8_t *p, size_t len);

/* key hash = first 4 bytes (big-endian) of SHA-256(name || "\n" || 0x01 || pub). */
uint32_t tlog_key_hash(const char *name, size_t name_len, const uint8_t pub[32]);

struct warden_tlog_verifier {
    char *name;
    uint32_t hash;
    uint8_t pub[32];
};

/* Ed25519 signature of msg with s; key hash of s. 0 or -1 (OpenSSL failure). */
int tlog_signer_sign(uint8_t sig[64], const warden_tlog_signer *s, const uint8_t *msg,
                     size_t len);
uint32_t tlog_signer_hash(const warden_tlog_signer *s);

#endif
