/* Scratch memory for values: a bump allocator that is reset between decisions, so an
 * evaluation never calls malloc once its first blocks exist. Invariant: every pointer
 * returned is 8-byte aligned and stays valid until the next reset or fini; total bytes
 * are capped so a hostile policy or request cannot exhaust memory. */
#ifndef WARDEN_POLICY_VARENA_H
#define WARDEN_POLICY_VARENA_H

#include <stddef.h>

typedef struct cedar_vblock cedar_vblock;

typedef struct cedar_varena {
    cedar_vblock *head; /* block being filled; older ones follow ->next */
    size_t used;        /* bytes used in head */
    size_t total;       /* bytes obtained from malloc */
    size_t limit;       /* cap on total (0: CEDAR_VARENA_DEFAULT_LIMIT) */
} cedar_varena;

#define CEDAR_VARENA_DEFAULT_LIMIT ((size_t)256 * 1024 * 1024)

/* Starts an empty arena with the given cap on total bytes (0: the default). */
void cedar_varena_init(cedar_varena *a, size_t limit);
/* Releases every block. */
void cedar_varena_fini(cedar_varena *a);
/* Forgets every allocation but keeps the largest block for reuse. */
void cedar_varena_reset(cedar_varena *a);
/* Returns size bytes (not zeroed, 8-byte aligned), or NULL when the cap is reached or
 * memory is exhausted. */
void *cedar_varena_alloc(cedar_varena *a, size_t size);
/* Copies len bytes plus a NUL into the arena; NULL as cedar_varena_alloc. */
char *cedar_varena_strdup(cedar_varena *a, const void *p, size_t len);

#endif
