/* Answers Cedar extension constructor calls for the differential check against cedar-wasm
 * (tests/vectors/cedar_ext/diff.mjs): reads JSON Lines {"t":"ip|dec|dt|dur","s":"..."} on
 * stdin and prints one line each: "err <invalid|overflow>" or "ok <canonical> [...]"
 * ("ok <ip/prefix> <loopback 0|1> <multicast 0|1>", "ok <int64>" otherwise). */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "policy/ext.h"

static const char *kind(int rc)
{
    return rc == WARDEN_ELIMIT ? "overflow" : "invalid";
}

static int answer(const char *t, const char *s, size_t n)
{
    int64_t v = 0;
    int rc;
    if (strcmp(t, "ip") == 0) {
        cedar_ipaddr a;
        char text[CEDAR_IP_FORMAT_MAX];
        rc = cedar_ip_parse(&a, s, n);
        if (rc == 0)
            rc = cedar_ip_format(text, sizeof text, &a);
        if (rc == 0)
            printf("ok %s %d %d\n", text, cedar_ip_is_loopback(&a), cedar_ip_is_multicast(&a));
        else
            printf("err %s\n", kind(rc));
        return 0;
    }
    if (strcmp(t, "dec") == 0)
        rc = cedar_decimal_parse(&v, s, n);
    else if (strcmp(t, "dt") == 0)
        rc = cedar_datetime_parse(&v, s, n);
    else if (strcmp(t, "dur") == 0)
        rc = cedar_duration_parse(&v, s, n);
    else
        return -1;
    if (rc == 0)
        printf("ok %" PRId64 "\n", v);
    else
        printf("err %s\n", kind(rc));
    return 0;
}

int main(void)
{
    static char line[1 << 16];
    unsigned long lineno = 0;
    while (fgets(line, sizeof line, stdin) != NULL) {
        json_error_t jerr;
        lineno++;
        json_t *o = json_loads(line, JSON_ALLOW_NUL, &jerr);
        json_t *t = json_object_get(o, "t"), *s = json_object_get(o, "s");
        if (o == NULL || !json_is_string(t) || !json_is_string(s) ||
            answer(json_string_value(t), json_string_value(s), json_string_length(s)) != 0) {
            fprintf(stderr, "stdin:%lu: expected {\"t\":\"ip|dec|dt|dur\",\"s\":...}\n", lineno);
            json_decref(o);
            return 2;
        }
        json_decref(o);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
