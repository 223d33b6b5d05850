/* Redaction of one decrypted document by data class (keyd only). */
#ifndef WARDEN_KEYD_REDACT_H
#define WARDEN_KEYD_REDACT_H

#include "warden/store.h"

#include <jansson.h>
#include <stdbool.h>

/* Sets *shown to the part of doc that the two decisions allow (the whole of it, the
 * excepted part per collection's schema among schemas[0..n), the protected rest, or {})
 * and *withheld to an array of the JSON Pointers left out. A collection without a schema
 * is all protected. Caller json_decref()s both. Errors: WARDEN_EINVAL (doc not an object),
 * WARDEN_ENOMEM. */
WARDEN_MUST_USE int keyd_redact(json_t **shown, json_t **withheld, warden_schema *const *schemas,
                                size_t n, const char *collection, json_t *doc, bool protected_ok,
                                bool excepted_ok, warden_err *err);

#endif
