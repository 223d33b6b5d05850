/* JWT claims (RFC 7519) on top of the JWS layer: what warden issues and what it accepts.
 * Invariant: warden_token_verify fills *claims only after the signature, every type, the
 * time window, issuer, audience and kind have been checked; on error *claims is zeroed. */
#include "gateway/token_internal.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

static const char HEADER[] = "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}";
/* A jti is 16 random bytes in hex; we accept others' up to this length. */
#define JTI_MAX 128

/* sub: the user or employee id, used in Cedar entity ids and store keys; a conservative
 * alphabet keeps it printable and quoting-free everywhere it ends up. */
static bool valid_sub(const char *s, size_t n)
{
    if (n == 0 || n > WARDEN_TOKEN_SUB_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == '@' || c == ':' || c == '+'))
            return false;
    }
    return true;
}

/* jur: the same form as the cluster file's jurisdictions, [A-Z0-9_-]{1,16}. */
static bool valid_jur(const char *s, size_t n)
{
    if (n == 0 || n > WARDEN_TOKEN_JUR_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* iss and aud: any printable ASCII (URLs, names); they are only compared. */
static bool valid_text(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    }
    return true;
}

static const char *kind_name(warden_token_kind k)
{
    return k == WARDEN_TOKEN_USER ? "user" : k == WARDEN_TOKEN_EMPLOYEE ? "employee" : NULL;
}

int warden_token_issue(warden_buf *out, const warden_token_claims *claims,
                       const warden_token_key *k, warden_err *err)
{
    size_t sub_n = strnlen(claims->sub, sizeof claims->sub),
           iss_n = strnlen(claims->iss, sizeof claims->iss),
           aud_n = strnlen(claims->aud, sizeof claims->aud),
           jur_n = strnlen(claims->jur, sizeof claims->jur);
    const char *kind = kind_name(claims->kind);
    uint8_t rnd[16];
    char jti[33];
    json_t *j = NULL;
    char *payload = NULL;
    int rc = 0;
    if (kind == NULL)
        return warden_err_set(err, WARDEN_EINVAL, "token: kind must be user or employee");
    if (!valid_sub(claims->sub, sub_n))
        return warden_err_set(err, WARDEN_EINVAL,
                              "token: subject must be 1..%d of [A-Za-z0-9_.@:+-]",
                              WARDEN_TOKEN_SUB_MAX);
    if (!valid_text(claims->iss, iss_n, WARDEN_TOKEN_ISS_MAX) ||
        !valid_text(claims->aud, aud_n, WARDEN_TOKEN_AUD_MAX))
        return warden_err_set(err, WARDEN_EINVAL,
                              "token: issuer and audience must be non-empty printable ASCII");
    if (claims->kind == WARDEN_TOKEN_USER && !valid_jur(claims->jur, jur_n))
        return warden_err_set(err, WARDEN_EINVAL,
                              "token: a user token needs a jurisdiction of [A-Z0-9_-]{1,%d}",
                              WARDEN_TOKEN_JUR_MAX);
    if (claims->kind == WARDEN_TOKEN_EMPLOYEE && jur_n != 0)
        return warden_err_set(err, WARDEN_EINVAL, "token: only user tokens carry a jurisdiction");
    if (claims->iat < 0 || claims->exp <= claims->iat || claims->nbf < 0)
        return warden_err_set(err, WARDEN_EINVAL,
                              "token: expiry must be after the issue time (both >= 0)");
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return warden_err_set(err, WARDEN_EINTERNAL, "token: random generator failed");
    warden_hex_encode(jti, rnd, sizeof rnd);
    j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "iss", claims->iss, "aud", claims->aud,
                  "sub", claims->sub, "iat", (json_int_t)claims->iat, "exp",
                  (json_int_t)claims->exp, "jti", jti, "kind", kind);
    if (j == NULL ||
        (claims->nbf != 0 && json_object_set_new(j, "nbf", json_integer(claims->nbf)) != 0) ||
        (claims->kind == WARDEN_TOKEN_USER &&
         json_object_set_new(j, "jur", json_string(claims->jur)) != 0) ||
        (payload = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    rc = token_jws_sign(out, k, (const uint8_t *)HEADER, sizeof HEADER - 1,
                        (const uint8_t *)payload, strlen(payload), err);
out:
    free(payload);
    json_decref(j);
    return rc;
}

/* Copies the string claim name into dst[0..max]; EPARSE when absent (if required), not a
 * string, or outside its form. */
static int get_string(char *dst, size_t max, const json_t *o, const char *name, bool required,
                      bool (*valid)(const char *, size_t, size_t), warden_err *err)
{
    const json_t *v = json_object_get(o, name);
    if (v == NULL) {
        if (required)
            return warden_err_set(err, WARDEN_EPARSE, "token: claim \"%s\" is missing", name);
        dst[0] = '\0';
        return 0;
    }
    if (!json_is_string(v))
        return warden_err_set(err, WARDEN_EPARSE, "token: claim \"%s\" must be a string", name);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (!valid(s, n, max))
        return warden_err_set(err, WARDEN_EPARSE, "token: claim \"%s\" has an invalid value", name);
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static bool valid_sub3(const char *s, size_t n, size_t max)
{
    (void)max;
    return valid_sub(s, n);
}

static bool valid_jur3(const char *s, size_t n, size_t max)
{
    (void)max;
    return valid_jur(s, n);
}

static bool valid_jti3(const char *s, size_t n, size_t max)
{
    (void)max;
    return valid_text(s, n, JTI_MAX);
}

/* NumericDate claims: JSON integers >= 0 (a float or a string is a type error). */
static int get_time(int64_t *dst, const json_t *o, const char *name, bool required, warden_err *err)
{
    const json_t *v = json_object_get(o, name);
    *dst = 0;
    if (v == NULL) {
        if (required)
            return warden_err_set(err, WARDEN_EPARSE, "token: claim \"%s\" is missing", name);
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return warden_err_set(err, WARDEN_EPARSE,
                              "token: claim \"%s\" must be a non-negative integer", name);
    *dst = (int64_t)json_integer_value(v);
    return 0;
}

static int check_claims(warden_token_claims *c, const json_t *j, const char *issuer,
                        const char *audience, int64_t now, int64_t leeway, warden_err *err)
{
    char kind[65], jti[JTI_MAX + 1];
    int rc;
    if (!json_is_object(j))
        return warden_err_set(err, WARDEN_EPARSE, "token: payload is not a JSON object");
    if ((rc = get_string(c->iss, WARDEN_TOKEN_ISS_MAX, j, "iss", true, valid_text, err)) != 0 ||
        (rc = get_string(c->aud, WARDEN_TOKEN_AUD_MAX, j, "aud", true, valid_text, err)) != 0 ||
        (rc = get_string(c->sub, WARDEN_TOKEN_SUB_MAX, j, "sub", true, valid_sub3, err)) != 0 ||
        (rc = get_string(kind, sizeof kind - 1, j, "kind", true, valid_text, err)) != 0 ||
        (rc = get_string(c->jur, WARDEN_TOKEN_JUR_MAX, j, "jur", false, valid_jur3, err)) != 0 ||
        (rc = get_string(jti, JTI_MAX, j, "jti", false, valid_jti3, err)) != 0 ||
        (rc = get_time(&c->iat, j, "iat", true, err)) != 0 ||
        (rc = get_time(&c->exp, j, "exp", true, err)) != 0 ||
        (rc = get_time(&c->nbf, j, "nbf", false, err)) != 0)
        return rc;
    if (c->exp <= c->iat)
        return warden_err_set(err, WARDEN_EPARSE, "token: exp is not after iat");
    /* Times are at most a few billion; leeway is the caller's and bounded here so that no
     * sum below can overflow. */
    if (leeway < 0 || leeway > 86400)
        return warden_err_set(err, WARDEN_EINVAL, "token: leeway must be 0..86400 seconds");
    if (c->exp > INT64_MAX / 2 || c->iat > INT64_MAX / 2 || c->nbf > INT64_MAX / 2)
        return warden_err_set(err, WARDEN_EPARSE, "token: a time claim is out of range");
    if (now >= c->exp + leeway)
        return warden_err_set(err, WARDEN_EDENIED, "token: expired %lld seconds ago",
                              (long long)(now - c->exp));
    if (c->nbf != 0 && now + leeway < c->nbf)
        return warden_err_set(err, WARDEN_EDENIED, "token: not valid for another %lld seconds",
                              (long long)(c->nbf - now));
    if (now + leeway < c->iat)
        return warden_err_set(err, WARDEN_EDENIED, "token: issued in the future (iat)");
    if (strcmp(c->iss, issuer) != 0)
        return warden_err_set(err, WARDEN_EDENIED, "token: wrong issuer (want \"%.200s\")", issuer);
    if (strcmp(c->aud, audience) != 0)
        return warden_err_set(err, WARDEN_EDENIED, "token: wrong audience (want \"%.200s\")",
                              audience);
    if (strcmp(kind, "user") == 0) {
        c->kind = WARDEN_TOKEN_USER;
        if (c->jur[0] == '\0')
            return warden_err_set(err, WARDEN_EPARSE,
                                  "token: a user token must have a \"jur\" claim");
    } else if (strcmp(kind, "employee") == 0) {
        c->kind = WARDEN_TOKEN_EMPLOYEE;
        if (c->jur[0] != '\0')
            return warden_err_set(err, WARDEN_EPARSE,
                                  "token: an employee token must not have a \"jur\" claim");
    } else {
        return warden_err_set(err, WARDEN_EDENIED,
                              "token: unknown kind (want \"user\" or \"employee\")");
    }
    return 0;
}

int warden_token_verify(warden_token_claims *claims, const char *token, size_t len,
                        const warden_token_key *k, const char *issuer, const char *audience,
                        int64_t now, int64_t leeway, warden_err *err)
{
    warden_buf payload;
    json_t *j = NULL;
    json_error_t jerr;
    int rc;
    memset(claims, 0, sizeof *claims);
    warden_buf_init(&payload);
    if ((rc = token_jws_verify(&payload, token, len, k, err)) != 0)
        goto out;
    /* Duplicate claims are refused: two readers could otherwise disagree on "sub". */
    j = json_loadb((const char *)payload.p, payload.len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        /* jerr.text may quote payload bytes, so it is not passed on. */
        rc = warden_err_set(err, WARDEN_EPARSE,
                            json_error_code(&jerr) == json_error_duplicate_key
                                ? "token: payload has a duplicate claim"
                                : "token: payload is not JSON");
        goto out;
    }
    rc = check_claims(claims, j, issuer, audience, now, leeway, err);
out:
    if (rc != 0)
        memset(claims, 0, sizeof *claims);
    json_decref(j);
    warden_buf_fini_wipe(&payload);
    return rc;
}
