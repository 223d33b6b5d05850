/* Bump allocation in chained blocks for policy-set ASTs (see arena.h). Large requests
 * get a block of their own so that a big string does not waste a standard block. */
#include "policy/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE (64u * 1024u)

struct policy_arena_block {
    policy_arena_block *next;
    size_t size; /* usable bytes in data */
    _Alignas(8) unsigned char data[];
};

void policy_arena_init(policy_arena *a)
{
    a->head = NULL;
    a->used = 0;
    a->total = 0;
}

void policy_arena_fini(policy_arena *a)
{
    policy_arena_block *b = a->head;
    while (b != NULL) {
        policy_arena_block *next = b->next;
        free(b);
        b = next;
    }
    policy_arena_init(a);
}

void *policy_arena_alloc(policy_arena *a, size_t size)
{
    if (size > SIZE_MAX / 2)
        return NULL;
    size = (size + 7u) & ~(size_t)7u;
    if (size == 0)
        size = 8;
    if (a->head != NULL && a->head->size - a->used >= size) {
        void *p = a->head->data + a->used;
        a->used += size;
        return p;
    }
    if (size > BLOCK_SIZE / 4) {
        /* A dedicated block, chained behind head so head keeps its free space. */
        policy_arena_block *b = calloc(1, sizeof *b + size);
        if (b == NULL)
            return NULL;
        b->size = size;
        a->total += size;
        if (a->head == NULL) {
            b->next = NULL;
            a->head = b;
            a->used = size;
        } else {
            b->next = a->head->next;
            a->head->next = b;
        }
        return b->data;
    }
    policy_arena_block *b = calloc(1, sizeof *b + BLOCK_SIZE);
    if (b == NULL)
        return NULL;
    b->size = BLOCK_SIZE;
    b->next = a->head;
    a->head = b;
    a->used = size;
    a->total += BLOCK_SIZE;
    return b->data;
}

char *policy_arena_strdup(policy_arena *a, const void *p, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *s = policy_arena_alloc(a, len + 1);
    if (s == NULL)
        return NULL;
    if (len > 0)
        memcpy(s, p, len);
    s[len] = '\0';
    return s;
}
