/* Fuzz target for the evaluator and authorizer: the input is Cedar policy text, a line
 * "--", and a request JSON line; both are decided against a fixed entity store with a
 * hierarchy, tags and every value kind. Seeds are the reference vectors' expressions, so
 * mutations explore operators on real values rather than parse errors. */
#include "warden/policy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char ENTITIES[] =
    "[{\"uid\":{\"type\":\"User\",\"id\":\"alice\"},\"attrs\":{\"name\":\"alice\",\"age\":30,"
    "\"roles\":[\"dev\",\"ops\"],\"manager\":{\"__entity\":{\"type\":\"User\",\"id\":\"bob\"}},"
    "\"addr\":{\"city\":\"Austin\"},\"ip\":{\"__extn\":{\"fn\":\"ip\",\"arg\":\"10.1.2.3\"}},"
    "\"score\":{\"__extn\":{\"fn\":\"decimal\",\"arg\":\"1.5\"}},"
    "\"born\":{\"__extn\":{\"fn\":\"datetime\",\"arg\":\"1990-01-01\"}},"
    "\"ttl\":{\"__extn\":{\"fn\":\"duration\",\"arg\":\"1h30m\"}},"
    "\"big\":[1,2,3,4,5,6,7,8,9,10,11,12]},"
    "\"parents\":[{\"type\":\"Group\",\"id\":\"eng\"}],\"tags\":{\"team\":\"infra\",\"level\":3}},"
    "{\"uid\":{\"type\":\"User\",\"id\":\"bob\"},\"attrs\":{\"name\":\"bob\"},\"parents\":[]},"
    "{\"uid\":{\"type\":\"Group\",\"id\":\"eng\"},\"attrs\":{},\"parents\":[{\"type\":\"Group\","
    "\"id\":\"all\"}]},"
    "{\"uid\":{\"type\":\"Doc\",\"id\":\"d1\"},\"attrs\":{\"owner\":{\"__entity\":{\"type\":"
    "\"User\",\"id\":\"alice\"}}},\"parents\":[]},"
    "{\"uid\":{\"type\":\"Action\",\"id\":\"read\"},\"attrs\":{},\"parents\":[{\"type\":"
    "\"Action\",\"id\":\"all\"}]}]";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static warden_entities *es;
    static warden_authz *z;
    warden_err err;
    if (es == NULL) {
        if (warden_entities_parse_json(&es, "e", ENTITIES, strlen(ENTITIES), &err) != 0 ||
            warden_authz_new(&z, &err) != 0)
            abort(); /* fixed inputs must load */
    }
    /* Split at the first "\n--\n": policies before, the request after. */
    size_t cut = size;
    for (size_t i = 0; i + 4 <= size; i++) {
        if (memcmp(data + i, "\n--\n", 4) == 0) {
            cut = i;
            break;
        }
    }
    const char *req = cut < size ? (const char *)data + cut + 4 : "{}";
    size_t req_len = cut < size ? size - cut - 4 : 2;
    warden_policies *ps = NULL;
    warden_request *rq = NULL;
    if (warden_policies_new(&ps, &err) != 0)
        abort();
    if (warden_policies_add_text(ps, "fuzz", (const char *)data, cut, &err) == 0 &&
        warden_request_parse_json(&rq, req, req_len, &err) == 0) {
        warden_decision d;
        if (warden_authorize(&d, z, ps, es, rq, &err) == 0) {
            if (d.allow && d.n_reasons == 0)
                abort(); /* an allow always names its permits */
            for (size_t i = 0; i < d.n_errors; i++)
                if (d.errors[i].message[0] == '\0')
                    abort(); /* every error explains itself */
        }
    }
    warden_request_free(rq);
    warden_policies_free(ps);
    return 0;
}
