/* Fuzzes the entry bundle parser: no crash, entries stay inside the input, and a parsed bundle
 * re-encodes to exactly the input bytes. */
#include "warden/tlog.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static warden_tlog_bundle b;
    warden_err e;
    if (warden_tlog_bundle_parse(&b, data, size, 0, &e) != 0)
        return 0;
    warden_buf out;
    warden_buf_init(&out);
    for (size_t i = 0; i < b.count; i++) {
        if (b.entry[i] < data || b.entry[i] + b.len[i] > data + size)
            abort();
        warden_tlog_hash h;
        warden_tlog_leaf_hash(&h, b.entry[i], b.len[i]);
        if (warden_tlog_bundle_add(&out, b.entry[i], b.len[i], &e) != 0)
            abort();
    }
    if (out.len != size || (size > 0 && memcmp(out.p, data, size) != 0))
        abort();
    /* Asking for the exact count succeeds; for one more fails. */
    if (b.count > 0 && warden_tlog_bundle_parse(&b, data, size, b.count, &e) != 0)
        abort();
    if (b.count < 256 && warden_tlog_bundle_parse(&b, data, size, b.count + 1, &e) == 0)
        abort();
    warden_buf_fini(&out);
    return 0;
}
