/* Private state of a policy set, shared by the files of the parser (pset.c owns it,
 * parser.c commits parsed policies through it). Not for the evaluator. */
#ifndef WARDEN_POLICY_PSET_INTERNAL_H
#define WARDEN_POLICY_PSET_INTERNAL_H

#include "policy/arena.h"
#include "policy/parser.h"

typedef struct pset_slot {
    uint64_t hash;
    const cedar_str *s; /* NULL: empty */
} pset_slot;

struct cedar_pset_internal {
    policy_arena arena;
    /* interner: open addressing, capacity a power of two, load <= 1/2; the hash is
     * kept in the slot so that a probe does not touch the string on a mismatch */
    pset_slot *strs;
    size_t strs_cap, strs_n;
    /* id -> policy or template (one namespace, as in the reference): keys are
     * interned ids, so they compare by pointer */
    cedar_policy **ids;
    size_t ids_cap, ids_n;
    size_t pol_cap, tmpl_cap; /* capacities of set->policies / set->templates */
    size_t parsed;            /* policies + templates received through text, for ids */
};

/* Writes p[0..len) into buf (NUL-terminated) fit for an error message: control bytes,
 * quotes, backslashes and invalid UTF-8 escaped, long text cut with "...". Returns buf. */
const char *pset_quote(char *buf, size_t size, const void *p, size_t len);
/* Interns without an err sink; NULL when memory is exhausted. */
const cedar_str *pset_intern(cedar_pset *set, const void *p, size_t len);
/* Looks an interned-or-not id up without inserting it; NULL when absent. */
cedar_policy *pset_lookup(const cedar_pset *set, const void *id, size_t len);
/* Makes room for n more policies and m more templates and ids, so that a following
 * sequence of pset_add calls cannot fail. Returns 0 or WARDEN_ENOMEM. */
int pset_reserve(cedar_pset *set, size_t n, size_t m);
/* Adds p (its id must be new; room must be reserved) to the policies or templates. */
void pset_add(cedar_pset *set, cedar_policy *p);

#endif
