/* Test tool: issues bearer tokens with any claims the gateway tests need, including the
 * invalid ones `warden token issue` rightly refuses to make (expired, not yet valid).
 *   gateway_token keygen KEY PUB
 *   gateway_token issue KEY KIND SUB JUR ISS AUD IAT_OFFSET TTL   (JUR "-" for none) */
#include "warden/token.h"
#include "warden/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    warden_err err;
    if (argc == 4 && strcmp(argv[1], "keygen") == 0) {
        warden_token_key *k = NULL;
        warden_buf pem;
        warden_buf_init(&pem);
        if (warden_token_key_generate(argv[2], &err) != 0 ||
            warden_token_key_load(&k, argv[2], &err) != 0 ||
            warden_token_key_public_pem(&pem, k, &err) != 0 ||
            warden_file_write_atomic(argv[3], pem.p, pem.len, 0644, &err) != 0) {
            fprintf(stderr, "gateway_token: %s\n", err.msg);
            return 1;
        }
        warden_token_key_free(k);
        warden_buf_fini(&pem);
        return 0;
    }
    if (argc != 10 || strcmp(argv[1], "issue") != 0) {
        fprintf(stderr, "usage: gateway_token keygen KEY PUB\n"
                        "       gateway_token issue KEY KIND SUB JUR ISS AUD IAT_OFFSET TTL\n");
        return 2;
    }
    warden_token_claims c;
    memset(&c, 0, sizeof c);
    c.kind = strcmp(argv[3], "user") == 0 ? WARDEN_TOKEN_USER : WARDEN_TOKEN_EMPLOYEE;
    snprintf(c.sub, sizeof c.sub, "%s", argv[4]);
    if (strcmp(argv[5], "-") != 0)
        snprintf(c.jur, sizeof c.jur, "%s", argv[5]);
    snprintf(c.iss, sizeof c.iss, "%s", argv[6]);
    snprintf(c.aud, sizeof c.aud, "%s", argv[7]);
    c.iat = (int64_t)time(NULL) + strtoll(argv[8], NULL, 10);
    c.exp = c.iat + strtoll(argv[9], NULL, 10);
    warden_token_key *k = NULL;
    warden_buf out;
    warden_buf_init(&out);
    if (warden_token_key_load(&k, argv[2], &err) != 0 ||
        warden_token_issue(&out, &c, k, &err) != 0) {
        fprintf(stderr, "gateway_token: %s\n", err.msg);
        return 1;
    }
    fwrite(out.p, 1, out.len, stdout);
    putchar('\n');
    warden_token_key_free(k);
    warden_buf_fini_wipe(&out);
    return 0;
}
