/* Lowercase hex, the one spelling warden writes digests, ids and hashes in. */
#include "warden/util.h"

void warden_hex_encode(char *out, const uint8_t *p, size_t n)
{
    static const char X[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = X[p[i] >> 4];
        out[2 * i + 1] = X[p[i] & 15];
    }
    out[2 * n] = '\0';
}
