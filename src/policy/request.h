/* A Cedar request (principal, action, resource, context), internal layout. */
#ifndef WARDEN_POLICY_REQUEST_H
#define WARDEN_POLICY_REQUEST_H

#include "policy/value.h"

struct warden_request {
    cedar_varena arena; /* owns every string and value below */
    cedar_uid principal, action, resource;
    cedar_value context; /* always a record */
};

#endif
