/* Bump allocator for evaluation scratch and loaded values (see varena.h). Blocks grow
 * geometrically so that a store of many entities needs few mallocs, and reset keeps the
 * newest (largest) block so that steady-state decisions allocate nothing. */
#include "policy/varena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct cedar_vblock {
    cedar_vblock *next;
    size_t cap;
    /* data follows, 16-byte aligned by the header size */
    uint64_t pad;
};

#define VBLOCK_MIN ((size_t)16 * 1024)
#define VBLOCK_MAX ((size_t)8 * 1024 * 1024)

static uint8_t *block_data(cedar_vblock *b)
{
    return (uint8_t *)(b + 1);
}

void cedar_varena_init(cedar_varena *a, size_t limit)
{
    a->head = NULL;
    a->used = 0;
    a->total = 0;
    a->limit = limit ? limit : CEDAR_VARENA_DEFAULT_LIMIT;
}

void cedar_varena_fini(cedar_varena *a)
{
    cedar_vblock *b = a->head;
    while (b != NULL) {
        cedar_vblock *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->used = 0;
    a->total = 0;
}

void cedar_varena_reset(cedar_varena *a)
{
    if (a->head == NULL)
        return;
    cedar_vblock *keep = a->head, *b = keep->next;
    while (b != NULL) {
        cedar_vblock *next = b->next;
        free(b);
        b = next;
    }
    keep->next = NULL;
    a->used = 0;
    a->total = keep->cap;
}

void *cedar_varena_alloc(cedar_varena *a, size_t size)
{
    if (size > a->limit)
        return NULL; /* also keeps the rounding below from wrapping */
    size = (size + 7) & ~(size_t)7;
    if (size == 0)
        size = 8;
    if (a->head != NULL && a->head->cap - a->used >= size) {
        void *p = block_data(a->head) + a->used;
        a->used += size;
        return p;
    }
    size_t cap = a->head ? a->head->cap * 2 : VBLOCK_MIN;
    if (cap > VBLOCK_MAX)
        cap = VBLOCK_MAX;
    if (cap < size)
        cap = size;
    if (cap > a->limit || a->total > a->limit - cap)
        return NULL;
    cedar_vblock *b = malloc(sizeof(*b) + cap);
    if (b == NULL)
        return NULL;
    b->cap = cap;
    a->total += cap;
    /* A big one-off allocation must not strand the rest of the current block. */
    if (a->head != NULL && size > VBLOCK_MIN && a->head->cap - a->used > VBLOCK_MIN) {
        b->next = a->head->next;
        a->head->next = b;
        return block_data(b);
    }
    b->next = a->head;
    a->head = b;
    a->used = size;
    return block_data(b);
}

char *cedar_varena_strdup(cedar_varena *a, const void *p, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *s = cedar_varena_alloc(a, len + 1);
    if (s == NULL)
        return NULL;
    if (len)
        memcpy(s, p, len);
    s[len] = '\0';
    return s;
}
