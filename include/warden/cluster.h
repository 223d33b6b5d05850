/* The cluster file: every region of a deployment, who operates it, which jurisdictions'
 * data it may hold, where it is reached, and the settings its gateway needs. One JSON
 * object; unknown keys are errors; relative paths are relative to the file's directory.
 *
 * {
 *   "issuer": "https://id.example",          token issuer every gateway requires
 *   "audience": "warden",                    token audience every gateway requires
 *   "token_key": "token.pub",                Ed25519 public key (PEM) that verifies tokens
 *   "networks": "networks.csv",              the networks table (warden/netloc.h)
 *   "trusted_proxies": ["127.0.0.2"],        optional: peers whose X-Forwarded-For is honoured
 *   "regions": [
 *     {"name": "texas", "operator": "Custodian Inc.", "country": "US",
 *      "role": "custodian" | "legacy", "jurisdictions": ["US"],
 *      "url": "http://127.0.0.1:8401",       public base URL (redirect target)
 *      "listen": "127.0.0.1:8401",           optional, default: host:port of url
 *      "keyd": "texas/keyd.json"}            that region's keyd config
 *   ]
 * } */
#ifndef WARDEN_CLUSTER_H
#define WARDEN_CLUSTER_H

#include "warden/common.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct warden_cluster_region {
    char *name;
    char *operator_name;
    char *country;
    bool custodian;        /* role "custodian"; false for "legacy" */
    char **jurisdictions;  /* n_jurisdictions strings */
    size_t n_jurisdictions;
    char *url;             /* no trailing slash */
    char *listen;          /* "host:port" */
    char *keyd_config;     /* absolute path */
} warden_cluster_region;

typedef struct warden_cluster {
    char *path;            /* the file it was read from, absolute */
    char *issuer;
    char *audience;
    char *token_key;       /* absolute path */
    char *networks;        /* absolute path */
    char **trusted_proxies; /* canonical text, as warden_netloc_addr_text writes it */
    size_t n_trusted_proxies;
    warden_cluster_region *regions;
    size_t n_regions;
} warden_cluster;

/* Reads and validates the cluster file at path: issuer, audience, token_key, networks and
 * regions required; names unique, listen addresses unique,
 * every region with at least a name, role, url and keyd (operator and country default to
 * "", no jurisdictions means it holds no one's data), jurisdictions of the form
 * [A-Z0-9_-]{1,16}. Errors: WARDEN_ENOTFOUND, WARDEN_EIO, WARDEN_EPARSE (not JSON: file,
 * line, column), WARDEN_EINVAL (a key missing, unknown or invalid: the message names it),
 * WARDEN_EEXIST (duplicate region name or listen address), WARDEN_ENOMEM. */
WARDEN_MUST_USE int warden_cluster_load(warden_cluster **out, const char *path, warden_err *err);

/* Frees a cluster; NULL is accepted. */
void warden_cluster_free(warden_cluster *c);

/* The region named name, or NULL. */
const warden_cluster_region *warden_cluster_region_find(const warden_cluster *c,
                                                         const char *name);

/* True when region r may hold data of home jurisdiction jur. */
bool warden_cluster_region_holds(const warden_cluster_region *r, const char *jur);

/* The home region for jurisdiction jur: the first custodian region that holds it, else the
 * first region that does; NULL when none does. */
const warden_cluster_region *warden_cluster_home(const warden_cluster *c, const char *jur);

#endif
