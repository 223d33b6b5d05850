/* Fuzz target for warden_entities_parse_json (entities JSON, value escapes, transitive
 * closure). Stores that load are then used for a decision whose policies read attributes,
 * tags and the hierarchy of every entity, so fuzzed values reach the evaluator. */
#include "warden/policy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char POLICIES[] =
    "permit(principal in Group::\"g\", action, resource) when { principal.a == resource.a };\n"
    "forbid(principal, action, resource) when { principal has b && principal.b.contains(1) };\n"
    "permit(principal, action, resource) when { principal.hasTag(\"t\") && "
    "principal.getTag(\"t\") like \"*x*\" };\n"
    "permit(principal, action, resource) when { principal.ip.isInRange(ip(\"10.0.0.0/8\")) };\n"
    "permit(principal, action, resource) when { principal.n + 1 > resource.n * 2 };\n"
    "permit(principal, action, resource) when { principal.s in resource.s };\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    warden_entities *es = NULL;
    warden_policies *ps = NULL;
    warden_authz *z = NULL;
    warden_request *rq = NULL;
    warden_err err;
    if (warden_entities_parse_json(&es, "fuzz.json", (const char *)data, size, &err) != 0)
        return 0;
    if (warden_policies_new(&ps, &err) != 0 ||
        warden_policies_add_text(ps, "p", POLICIES, strlen(POLICIES), &err) != 0 ||
        warden_authz_new(&z, &err) != 0)
        abort(); /* fixed inputs must load */
    static const char *const who[] = {"User::\"a\"", "User::\"b\"", "Group::\"g\"", "A::\"\""};
    for (size_t i = 0; i < sizeof who / sizeof who[0]; i++) {
        warden_decision d;
        if (warden_request_new(&rq, who[i], "Action::\"r\"", who[(i + 1) % 4], NULL, &err) != 0)
            abort();
        if (warden_authorize(&d, z, ps, es, rq, &err) == 0 && d.allow && d.n_reasons == 0)
            abort(); /* an allow always names its permits */
        warden_request_free(rq);
        rq = NULL;
    }
    warden_authz_free(z);
    warden_policies_free(ps);
    warden_entities_free(es);
    return 0;
}
