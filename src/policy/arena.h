/* A bump allocator for one policy set: many small allocations, one release.
 * Blocks are chained; nothing is freed individually. Invariant: every pointer
 * returned is 8-byte aligned and zeroed, and stays valid until policy_arena_fini. */
#ifndef WARDEN_POLICY_ARENA_H
#define WARDEN_POLICY_ARENA_H

#include <stddef.h>

typedef struct policy_arena_block policy_arena_block;

typedef struct policy_arena {
    policy_arena_block *head; /* current block; older ones follow ->next */
    size_t used;              /* bytes used in head */
    size_t total;             /* bytes obtained from malloc, for limits and stats */
} policy_arena;

/* Starts an empty arena (allocation is deferred). */
void policy_arena_init(policy_arena *a);
/* Releases every block. */
void policy_arena_fini(policy_arena *a);
/* Returns size zeroed, 8-byte aligned bytes, or NULL when memory is exhausted or size
 * overflows. */
void *policy_arena_alloc(policy_arena *a, size_t size);
/* Copies len bytes plus a NUL terminator into the arena; NULL when exhausted. */
char *policy_arena_strdup(policy_arena *a, const void *p, size_t len);

#endif
