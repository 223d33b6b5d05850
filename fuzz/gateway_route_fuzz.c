/* Fuzzes the gateway's router (src/gateway/router.c): the first code that reads a request's
 * path. Input: one byte choosing the method, then the raw request target. Checked: a route
 * to dispatch has a kind; its decoded names are NUL-terminated, non-empty, within bounds and
 * made only of the bytes the router promises (so keyd and Cedar text never see '"', '\\',
 * '/' or control bytes); a refusal is one of the 4xx the router documents. */
#include "gateway/gateway_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *s, size_t cap, int collection)
{
    size_t n = strnlen(s, cap);
    if (n == cap || n == 0)
        abort();
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int ok = collection ? ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                               (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.')
                            : (ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\\' && ch != '/');
        if (!ok)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const METHODS[] = {"GET", "HEAD", "PUT", "DELETE", "POST", "OPTIONS", ""};
    if (size == 0)
        return 0;
    const char *method = METHODS[data[0] % (sizeof METHODS / sizeof METHODS[0])];
    /* the target is not NUL-terminated: copy it exactly so ASan sees any overread */
    char *uri = malloc(size - 1 > 0 ? size - 1 : 1);
    if (uri == NULL)
        return 0;
    memcpy(uri, data + 1, size - 1);
    gw_route r;
    gw_route_parse(&r, method, uri, size - 1);
    free(uri);
    if (r.status != 0) {
        if (r.status != 400 && r.status != 404 && r.status != 405 && r.status != 414)
            abort();
        if (r.error == NULL || (r.status == 405 && (r.allow == NULL || r.allow[0] == '\0')))
            abort();
        return 0;
    }
    if (r.kind == GW_R_NONE || r.kind >= GW_R_COUNT || r.path_len > size - 1)
        abort();
    switch (r.kind) {
    case GW_R_USER_RECORD:
        check_name(r.user, sizeof r.user, 0);
        /* fall through */
    case GW_R_ME_RECORD:
        check_name(r.collection, sizeof r.collection, 1);
        check_name(r.id, sizeof r.id, 0);
        break;
    case GW_R_USER_EXPORT:
        check_name(r.user, sizeof r.user, 0);
        break;
    case GW_R_LOG:
        if (strnlen(r.log_path, sizeof r.log_path) == sizeof r.log_path)
            abort();
        break;
    default:
        break;
    }
    if (strcmp(gw_route_name(r.kind), "none") == 0)
        abort();
    return 0;
}
