/* Requests from JSON lines or Type::"id" texts (see include/warden/policy.h). Each
 * request owns a small arena so that freeing it is a single release. */
#include "policy/request.h"

#include "policy/entities.h"
#include "warden/policy.h"

#include <stdlib.h>
#include <string.h>

static int request_alloc(struct warden_request **out, warden_err *err)
{
    struct warden_request *rq = calloc(1, sizeof *rq);
    if (rq == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    cedar_varena_init(&rq->arena, 4 * CEDAR_MAX_REQUEST_BYTES);
    rq->context.kind = CEDAR_V_RECORD;
    rq->context.u.rec = &cedar_empty_record;
    *out = rq;
    return 0;
}

static int set_context(struct warden_request *rq, const json_t *ctx, warden_err *err)
{
    if (ctx == NULL)
        return 0;
    if (!json_is_object(ctx))
        return warden_err_set(err, WARDEN_EINVAL, "context must be a JSON object");
    int rc = cedar_json_to_value(&rq->context, ctx, &rq->arena, "context", err);
    if (rc != 0)
        return rc;
    if (rq->context.kind != CEDAR_V_RECORD)
        return warden_err_set(err, WARDEN_EINVAL, "context must be a record, not an escape");
    return 0;
}

int warden_request_parse_json(warden_request **out, const char *json, size_t len, warden_err *err)
{
    *out = NULL;
    if (len > CEDAR_MAX_REQUEST_BYTES)
        return warden_err_set(err, WARDEN_ELIMIT, "request larger than %zu bytes",
                              CEDAR_MAX_REQUEST_BYTES);
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (root == NULL)
        return warden_err_set(err, WARDEN_EPARSE, "%d:%d: %s", je.line, je.column, je.text);
    int rc = warden_request_from_json(out, root, err);
    json_decref(root);
    return rc;
}

int warden_request_from_json(warden_request **out, const json_t *root, warden_err *err)
{
    *out = NULL;
    struct warden_request *rq = NULL;
    int rc;
    if ((rc = request_alloc(&rq, err)) != 0)
        goto out;
    if (!json_is_object(root)) {
        rc = warden_err_set(err, WARDEN_EINVAL, "a request must be a JSON object");
        goto out;
    }
    static const char *const names[3] = {"principal", "action", "resource"};
    cedar_uid *uids[3] = {&rq->principal, &rq->action, &rq->resource};
    for (int i = 0; i < 3; i++) {
        const json_t *j = json_object_get(root, names[i]);
        if (j == NULL) {
            rc = warden_err_set(err, WARDEN_EINVAL, "missing \"%s\"", names[i]);
            goto out;
        }
        if ((rc = cedar_json_to_uid(uids[i], j, &rq->arena, true, names[i], err)) != 0)
            goto out;
    }
    if ((rc = set_context(rq, json_object_get(root, "context"), err)) != 0)
        goto out;
    *out = rq;
    rq = NULL;
out:
    warden_request_free(rq);
    return rc;
}

int warden_request_new(warden_request **out, const char *principal, const char *action,
                       const char *resource, const char *context_json, warden_err *err)
{
    *out = NULL;
    struct warden_request *rq = NULL;
    json_t *ctx = NULL;
    int rc;
    if ((rc = request_alloc(&rq, err)) != 0)
        goto out;
    static const char *const names[3] = {"principal", "action", "resource"};
    const char *texts[3] = {principal, action, resource};
    cedar_uid *uids[3] = {&rq->principal, &rq->action, &rq->resource};
    for (int i = 0; i < 3; i++) {
        if (texts[i] == NULL) {
            rc = warden_err_set(err, WARDEN_EINVAL, "missing %s", names[i]);
            goto out;
        }
        rc = cedar_parse_uid_text(uids[i], texts[i], strlen(texts[i]), &rq->arena, err);
        if (rc != 0) {
            warden_err_prefix(err, "%s", names[i]);
            goto out;
        }
    }
    if (context_json != NULL) {
        size_t len = strlen(context_json);
        json_error_t je;
        if (len > CEDAR_MAX_REQUEST_BYTES) {
            rc = warden_err_set(err, WARDEN_ELIMIT, "context larger than %zu bytes",
                                CEDAR_MAX_REQUEST_BYTES);
            goto out;
        }
        ctx = json_loadb(context_json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
        if (ctx == NULL) {
            rc = warden_err_set(err, WARDEN_EPARSE, "context:%d:%d: %s", je.line, je.column,
                                je.text);
            goto out;
        }
        if ((rc = set_context(rq, ctx, err)) != 0)
            goto out;
    }
    *out = rq;
    rq = NULL;
out:
    json_decref(ctx);
    warden_request_free(rq);
    return rc;
}

void warden_request_free(warden_request *rq)
{
    if (rq == NULL)
        return;
    cedar_varena_fini(&rq->arena);
    free(rq);
}

char *warden_request_show(const warden_request *rq, int which, char *out, size_t cap)
{
    const cedar_uid *u = which == 0 ? &rq->principal : which == 1 ? &rq->action : &rq->resource;
    return cedar_uid_show(out, cap, u);
}
