/* The one table from error kinds to HTTP statuses. Library codes (WARDEN_E*) and keyd's
 * ERROR kinds both land here, so a reviewer sees in one place what each failure becomes. */
#include "gateway/gateway_internal.h"

#include <string.h>

static const struct {
    int code;
    const char *keyd_kind; /* keyd's ERROR "kind" for the same failure, or NULL */
    gw_status st;
} TABLE[] = {
    {WARDEN_EINVAL, "invalid", {400, "invalid"}},
    {WARDEN_EPARSE, NULL, {400, "invalid"}},
    {WARDEN_ETRUNC, NULL, {400, "invalid"}},
    {WARDEN_ELIMIT, NULL, {413, "too_large"}},
    {WARDEN_ENOTFOUND, "not_found", {404, "not_found"}},
    {WARDEN_EEXIST, "exists", {409, "exists"}},
    {WARDEN_EDENIED, "denied", {403, "denied"}},
    {WARDEN_EVERIFY, NULL, {401, "unauthenticated"}},
    {WARDEN_EIO, "unavailable", {503, "unavailable"}},
    {WARDEN_ECORRUPT, NULL, {500, "internal"}},
    {WARDEN_ENOMEM, NULL, {503, "unavailable"}},
    {WARDEN_EINTERNAL, "internal", {500, "internal"}},
};

gw_status gw_status_for_code(int code)
{
    for (size_t i = 0; i < sizeof TABLE / sizeof TABLE[0]; i++)
        if (TABLE[i].code == code)
            return TABLE[i].st;
    return (gw_status){500, "internal"};
}

gw_status gw_status_for_keyd_kind(const char *kind)
{
    for (size_t i = 0; kind != NULL && i < sizeof TABLE / sizeof TABLE[0]; i++)
        if (TABLE[i].keyd_kind != NULL && strcmp(TABLE[i].keyd_kind, kind) == 0)
            return TABLE[i].st;
    return (gw_status){500, "internal"};
}
