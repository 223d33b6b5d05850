/* jansson allocation functions that wipe on free. jansson keeps parsed documents, string
 * values and its internal lexer/dump buffers in memory it allocates itself, and frees them
 * with no wipe; in keyd (and the gateway) those hold decrypted plaintext. The only hook
 * jansson offers is process-wide (json_set_alloc_funcs), so this file owns it. The free
 * function wipes the whole usable size of the block (malloc_usable_size), which covers
 * what jansson wrote whatever size it asked for. */
#define _GNU_SOURCE
#include "util/util_internal.h"
#include "warden/util.h"

#include <jansson.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>

static void (*g_release)(void *) = free;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

void warden_json_wipe_free(void *p)
{
    if (p == NULL)
        return;
    OPENSSL_cleanse(p, malloc_usable_size(p));
    g_release(p);
}

static void install(void)
{
    /* malloc is unchanged, so blocks allocated before this call are freed correctly too. */
    json_set_alloc_funcs(malloc, warden_json_wipe_free);
}

void warden_json_wipe_on_free(void)
{
    (void)pthread_once(&g_once, install);
}

void util_json_wipe_set_release(void (*release)(void *))
{
    g_release = release != NULL ? release : free;
}
