/* Placeholder until the recursive-descent parser lands (next commits). */
#include "policy/pset_internal.h"

int warden_policy_set_parse(cedar_pset *set, const char *file, const uint8_t *text, size_t len,
                            warden_err *err)
{
    (void)set, (void)text, (void)len;
    return warden_err_set(err, WARDEN_EINTERNAL, "%s: the Cedar parser is not implemented yet",
                          file);
}

int warden_policy_set_parse_expr(cedar_expr **out, cedar_pset *set, const char *file,
                                 const uint8_t *text, size_t len, warden_err *err)
{
    *out = NULL;
    return warden_policy_set_parse(set, file, text, len, err);
}

int warden_policy_set_parse_euid(cedar_euid *out, cedar_pset *set, const char *file,
                                 const uint8_t *text, size_t len, warden_err *err)
{
    out->type = out->id = NULL;
    return warden_policy_set_parse(set, file, text, len, err);
}
