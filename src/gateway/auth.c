/* Authentication: "Authorization: Bearer <JWT>" verified with the cluster's token key,
 * issuer and audience before anything else in a request is looked at. Messages name the
 * failed check and never echo the token.
 *
 * Verified tokens are remembered by their SHA-256 (a direct-mapped cache), so a client on
 * keep-alive does not pay an Ed25519 verification per request. Only a token that passed the
 * full check is cached, the whole token's hash must match (constant-time compare), and a
 * cached token is used only while now is inside [nbf, exp) without leeway — near either edge
 * the full check (with its leeway and its precise message) runs again. */
#include "gateway/gateway_internal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Clock skew tolerated between the issuer and this gateway, seconds. */
#define GW_TOKEN_LEEWAY 60
#define GW_TOKEN_CACHE 1024 /* entries, a power of two */

typedef struct cache_entry {
    bool used;
    uint8_t hash[32];
    warden_token_claims claims;
} cache_entry;

struct gw_token_cache {
    EVP_MD *sha256; /* fetched once: an implicit fetch per request costs a lock and lookups */
    pthread_mutex_t mu;
    cache_entry e[GW_TOKEN_CACHE];
};

int gw_token_cache_new(gw_token_cache **out)
{
    gw_token_cache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return WARDEN_ENOMEM;
    if ((c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
        free(c);
        return WARDEN_ENOMEM;
    }
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return 0;
}

void gw_token_cache_free(gw_token_cache *c)
{
    if (c == NULL)
        return;
    pthread_mutex_destroy(&c->mu);
    EVP_MD_free(c->sha256);
    free(c);
}

static bool cache_get(warden_token_claims *claims, gw_token_cache *c, const uint8_t h[32],
                      int64_t now)
{
    cache_entry *e = &c->e[(h[0] | (unsigned)h[1] << 8) & (GW_TOKEN_CACHE - 1)];
    bool hit = false;
    pthread_mutex_lock(&c->mu);
    if (e->used && CRYPTO_memcmp(e->hash, h, 32) == 0) {
        if (now < e->claims.exp && now >= e->claims.nbf && now >= e->claims.iat) {
            *claims = e->claims;
            hit = true;
        } else {
            e->used = false;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

static void cache_put(gw_token_cache *c, const uint8_t h[32], const warden_token_claims *claims)
{
    cache_entry *e = &c->e[(h[0] | (unsigned)h[1] << 8) & (GW_TOKEN_CACHE - 1)];
    pthread_mutex_lock(&c->mu);
    e->used = true;
    memcpy(e->hash, h, 32);
    e->claims = *claims;
    pthread_mutex_unlock(&c->mu);
}

/* The subject becomes Cedar uid text and a store key: same rules as a path segment. */
static int subject_ok(const warden_token_claims *claims, warden_err *err)
{
    size_t sl = strlen(claims->sub);
    for (size_t i = 0; i < sl; i++)
        if (claims->sub[i] <= 0x20 || claims->sub[i] >= 0x7f || claims->sub[i] == '"' ||
            claims->sub[i] == '\\' || claims->sub[i] == '/')
            return warden_err_set(err, WARDEN_EDENIED, "token subject has unusable characters");
    if (sl == 0 || sl > WARDEN_STORE_USER_MAX)
        return warden_err_set(err, WARDEN_EDENIED, "token subject is empty or too long");
    return 0;
}

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
    int64_t now = (int64_t)time(NULL);
    uint8_t hash[32];
    unsigned hl = 0;
    const EVP_MD *md = g->token_cache != NULL ? g->token_cache->sha256 : EVP_sha256();
    bool hashed = n <= WARDEN_TOKEN_MAX && EVP_Digest(t, n, hash, &hl, md, NULL) == 1;
    if (hashed && g->token_cache != NULL && cache_get(claims, g->token_cache, hash, now))
        return 0;
    int rc = warden_token_verify(claims, t, n, g->token_key, g->cluster->issuer,
                                 g->cluster->audience, now, GW_TOKEN_LEEWAY, err);
    if (rc == 0)
        rc = subject_ok(claims, err);
    if (rc == 0 && hashed && g->token_cache != NULL)
        cache_put(g->token_cache, hash, claims);
    return rc;
}
