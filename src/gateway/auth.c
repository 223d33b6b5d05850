/* Authentication: "Authorization: Bearer <JWT>" verified with the cluster's token key,
 * issuer and audience before anything else in a request is looked at. Messages name the
 * failed check and never echo the token. */
#include "gateway/gateway_internal.h"

#include <string.h>
#include <strings.h>
#include <time.h>

/* Clock skew tolerated between the issuer and this gateway, seconds. */
#define GW_TOKEN_LEEWAY 60

int gw_authenticate(warden_token_claims *claims, const warden_gateway *g, struct MHD_Connection *c,
                    warden_err *err)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h == NULL)
        return warden_err_set(err, WARDEN_EVERIFY, "missing Authorization: Bearer token");
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return warden_err_set(err, WARDEN_EVERIFY, "Authorization is not a Bearer token");
    const char *t = h + 7;
    while (*t == ' ')
        t++;
    size_t n = strlen(t);
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    if (n == 0)
        return warden_err_set(err, WARDEN_EVERIFY, "empty Bearer token");
    int rc = warden_token_verify(claims, t, n, g->token_key, g->cluster->issuer,
                                 g->cluster->audience, (int64_t)time(NULL), GW_TOKEN_LEEWAY, err);
    if (rc != 0)
        return rc;
    /* The subject becomes Cedar uid text and a store key: same rules as a path segment. */
    size_t sl = strlen(claims->sub);
    for (size_t i = 0; i < sl; i++)
        if (claims->sub[i] <= 0x20 || claims->sub[i] >= 0x7f || claims->sub[i] == '"' ||
            claims->sub[i] == '\\' || claims->sub[i] == '/')
            return warden_err_set(err, WARDEN_EDENIED, "token subject has unusable characters");
    if (sl == 0 || sl > WARDEN_STORE_USER_MAX)
        return warden_err_set(err, WARDEN_EDENIED, "token subject is empty or too long");
    return 0;
}
