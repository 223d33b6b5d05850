/* Fuzzes the bearer-token verifier, the first thing the gateway runs on request bytes.
 * Mode 0 verifies the input as a token against a fixed public key (structure, base64url,
 * header, signature). Mode 1 signs "header\npayload" from the input with the matching
 * private key first, so that the header and claim checks behind the signature are reached
 * too. Properties: no crash; an accepted token has a known kind, a sub, and exp > now;
 * canonical base64url decodes and re-encodes to the same text. */
#include "gateway/token_internal.h"

#include <stdlib.h>
#include <string.h>

/* RFC 8037 A.1's published test key: fine for a fuzzer, never for anything else. */
static const uint8_t D[32] = {0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a,
                              0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32,
                              0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};
#define NOW 1700000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(const warden_token_claims *c)
{
    if ((c->kind != WARDEN_TOKEN_USER && c->kind != WARDEN_TOKEN_EMPLOYEE) || c->sub[0] == '\0' ||
        c->exp <= NOW || (c->kind == WARDEN_TOKEN_USER) != (c->jur[0] != '\0'))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static warden_token_key *k;
    warden_err e;
    warden_token_claims c;
    if (k == NULL) {
        EVP_PKEY *p = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, D, sizeof D);
        if (p == NULL || token_key_wrap(&k, p, true, &e) != 0)
            abort();
    }
    if (size == 0)
        return 0;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    if ((data[0] & 1) == 0) {
        if (warden_token_verify(&c, (const char *)in, n, k, "https://id.example", "warden", NOW, 30,
                                &e) == 0)
            check_accepted(&c);
        /* Canonical base64url: whatever decodes re-encodes to the same characters. */
        uint8_t *out = malloc(n + 1);
        size_t m = 0;
        if (out == NULL)
            abort();
        if (token_b64url_decode(out, n, &m, in, n) == 0) {
            warden_buf b;
            warden_buf_init(&b);
            if (token_b64url_encode(&b, out, m) != 0 || b.len != n ||
                (n > 0 && memcmp(b.p, in, n) != 0))
                abort();
            warden_buf_fini(&b);
        }
        free(out);
        return 0;
    }
    size_t h = 0;
    while (h < n && in[h] != '\n')
        h++;
    const uint8_t *payload = h < n ? in + h + 1 : in + n;
    size_t plen = h < n ? n - h - 1 : 0;
    warden_buf tok;
    warden_buf_init(&tok);
    if (token_jws_sign(&tok, k, in, h, payload, plen, &e) != 0)
        abort(); /* signing any bytes must work */
    if (warden_token_verify(&c, (const char *)tok.p, tok.len, k, "https://id.example", "warden",
                            NOW, 30, &e) == 0)
        check_accepted(&c);
    warden_buf_fini(&tok);
    return 0;
}
