/* Network location: which country and site a source address belongs to, from the
 * networks table (CSV "cidr,country,site", IPv4 and IPv6, '#' comments, longest prefix
 * wins). The gateway derives a caller's location from the connection's address only;
 * X-Forwarded-For counts only when the peer itself is a trusted proxy. */
#ifndef WARDEN_NETLOC_H
#define WARDEN_NETLOC_H

#include "warden/common.h"

#include <stddef.h>
#include <sys/socket.h>

/* Location of an address that no row covers. */
#define WARDEN_NETLOC_UNKNOWN "unknown"
/* Bounds of the country and site columns (bytes). */
#define WARDEN_NETLOC_COUNTRY_MAX 16
#define WARDEN_NETLOC_SITE_MAX 64

typedef struct warden_netloc warden_netloc;

/* One lookup result; strings are borrowed from the table (or static "unknown"). */
typedef struct warden_netloc_match {
    const char *country;
    const char *site;
    unsigned prefix_len; /* of the matching row; 0 with "unknown" */
} warden_netloc_match;

/* Parses a networks table from text[0..len); name is used in error messages.
 * Errors: WARDEN_EPARSE ("name:line: ..." for a bad CIDR, host bits set, a missing
 * column, a country or site with characters outside [A-Za-z0-9_.-]), WARDEN_EEXIST
 * (the same CIDR twice), WARDEN_ELIMIT, WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_netloc_parse(warden_netloc **out, const char *text, size_t len,
                                        const char *name, warden_err *err);

/* Reads and parses the table at path. Errors: WARDEN_ENOTFOUND, WARDEN_EIO, and those of
 * warden_netloc_parse. */
WARDEN_MUST_USE int warden_netloc_load(warden_netloc **out, const char *path, warden_err *err);

/* Frees a table; NULL is accepted. */
void warden_netloc_free(warden_netloc *t);

/* The longest-prefix row covering sa (AF_INET or AF_INET6; an IPv4-mapped IPv6 address is
 * looked up as IPv4), or country = site = "unknown". Never fails. */
void warden_netloc_lookup(warden_netloc_match *m, const warden_netloc *t,
                          const struct sockaddr *sa);

/* As warden_netloc_lookup for a textual address ("10.0.0.7", "2001:db8::1").
 * Errors: WARDEN_EINVAL (not an IP address). */
WARDEN_MUST_USE int warden_netloc_lookup_text(warden_netloc_match *m, const warden_netloc *t,
                                              const char *addr, warden_err *err);

/* Writes the textual form of sa's address (no port; IPv4-mapped shown as IPv4) to out.
 * Errors: WARDEN_EINVAL (unsupported family). */
WARDEN_MUST_USE int warden_netloc_addr_text(char out[64], const struct sockaddr *sa,
                                            warden_err *err);

#endif
