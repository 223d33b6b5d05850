/* Fuzzes the networks-table parser and its lookups. The input is the table; addresses to
 * look up are taken from the input's first bytes. Properties: no crash; a match's prefix
 * length fits its family; a known match has non-empty names; address text round-trips. */
#include "warden/netloc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const warden_netloc_match *m, unsigned max)
{
    if (m->country == NULL || m->site == NULL || m->prefix_len > max || m->country[0] == '\0' ||
        m->site[0] == '\0')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    warden_netloc *t = NULL;
    warden_err e;
    warden_netloc_match m;
    if (warden_netloc_parse(&t, (const char *)data, size, "fuzz.csv", &e) != 0) {
        if (t != NULL || e.msg[0] == '\0')
            abort();
        /* Lookups against no table are "unknown". */
    }
    struct sockaddr_in s4;
    struct sockaddr_in6 s6;
    memset(&s4, 0, sizeof s4);
    memset(&s6, 0, sizeof s6);
    s4.sin_family = AF_INET;
    s6.sin6_family = AF_INET6;
    memcpy(&s4.sin_addr, data, size < 4 ? size : 4);
    memcpy(&s6.sin6_addr, data, size < 16 ? size : 16);
    warden_netloc_lookup(&m, t, (struct sockaddr *)&s4);
    check(&m, 32);
    warden_netloc_lookup(&m, t, (struct sockaddr *)&s6);
    check(&m, IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr) ? 32 : 128);

    char text[64], back[64];
    if (warden_netloc_addr_text(text, (struct sockaddr *)&s6, &e) != 0)
        abort();
    /* The text form looks up to the same row as the address itself. */
    warden_netloc_match m2;
    if (warden_netloc_lookup_text(&m2, t, text, &e) != 0 || m2.prefix_len != m.prefix_len ||
        strcmp(m2.site, m.site) != 0)
        abort();
    if (warden_netloc_addr_text(back, (struct sockaddr *)&s4, &e) != 0)
        abort();

    /* The input as an address string. */
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    if (warden_netloc_lookup_text(&m, t, s, &e) == 0)
        check(&m, 128);
    free(s);
    warden_netloc_free(t);
    return 0;
}
