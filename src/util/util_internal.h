/* util's internals for its own tests. Not part of the public API (include/warden/util.h). */
#ifndef WARDEN_UTIL_INTERNAL_H
#define WARDEN_UTIL_INTERNAL_H

/* Replaces the final free() behind warden_json_wipe_free (NULL restores free) so a test can
 * inspect a block after the wipe and before it is released, without reading freed memory.
 * Not thread-safe: tests only. */
void util_json_wipe_set_release(void (*release)(void *));

#endif
