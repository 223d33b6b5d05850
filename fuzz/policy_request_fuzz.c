/* Fuzz target for warden_request_parse_json (request lines: entity references in all
 * three forms, Type::"id" text with escapes, context values). Requests that load are
 * decided against fixed policies that read the context deeply. */
#include "warden/policy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char POLICIES[] =
    "permit(principal in Group::\"g\", action == Action::\"r\", resource);\n"
    "forbid(principal, action, resource) when { context.a.b.c == principal };\n"
    "permit(principal, action, resource) when { context has x && context.x like \"a*b\" };\n"
    "permit(principal, action, resource) when { context.ip.isInRange(ip(\"10.0.0.0/8\")) };\n"
    "permit(principal, action, resource) when { context.t.offset(duration(\"1h\")) > "
    "datetime(\"2024-01-01\") };\n"
    "permit(principal, action, resource) when { context.s.containsAny([1, \"a\", resource]) };\n"
    "permit(principal, action, resource) when { context.d.lessThan(decimal(\"1.5\")) };\n";

static const char ENTITIES[] =
    "[{\"uid\":{\"type\":\"User\",\"id\":\"a\"},\"attrs\":{},\"parents\":[{\"type\":\"Group\","
    "\"id\":\"g\"}]}]";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static warden_policies *ps;
    static warden_entities *es;
    static warden_authz *z;
    warden_err err;
    if (ps == NULL) {
        if (warden_policies_new(&ps, &err) != 0 ||
            warden_policies_add_text(ps, "p", POLICIES, strlen(POLICIES), &err) != 0 ||
            warden_entities_parse_json(&es, "e", ENTITIES, strlen(ENTITIES), &err) != 0 ||
            warden_authz_new(&z, &err) != 0)
            abort(); /* fixed inputs must load */
    }
    warden_request *rq = NULL;
    if (warden_request_parse_json(&rq, (const char *)data, size, &err) != 0)
        return 0;
    warden_decision d;
    if (warden_authorize(&d, z, ps, es, rq, &err) == 0 && d.allow && d.n_reasons == 0)
        abort();
    char buf[64];
    warden_request_show(rq, 0, buf, sizeof buf);
    warden_request_free(rq);
    return 0;
}
