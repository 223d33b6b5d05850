/* Fuzzes the text parsers that read untrusted input in the log: signed notes (syntax, and
 * opening with a trusted key), checkpoint text, verifier keys and tile paths (the HTTP
 * server's URL grammar). Properties checked: no crash, and a parsed checkpoint formats back
 * to text that parses to the same value. */
#include "warden/tlog.h"

#include <stdlib.h>
#include <string.h>

static const char VKEY[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static warden_tlog_verifier *v;
    warden_err e;
    size_t tlen = 0;
    warden_tlog_checkpoint cp, back;
    if (v == NULL && warden_tlog_verifier_new(&v, VKEY, strlen(VKEY), &e) != 0)
        abort();
    const warden_tlog_verifier *known[1] = {v};

    if (warden_tlog_note_parse(&tlen, data, size, &e) == 0) {
        if (tlen > size || data[tlen - 1] != '\n')
            abort();
        if (warden_tlog_checkpoint_parse(&cp, data, tlen, &e) == 0) {
            warden_buf b;
            warden_buf_init(&b);
            if (warden_tlog_checkpoint_format(&b, &cp, &e) == 0) {
                if (warden_tlog_checkpoint_parse(&back, b.p, b.len, &e) != 0 ||
                    back.size != cp.size || memcmp(back.root.b, cp.root.b, 32) != 0 ||
                    strcmp(back.origin, cp.origin) != 0)
                    abort();
            }
            warden_buf_fini(&b);
        }
    }
    if (warden_tlog_note_open(&tlen, data, size, known, 1, &e) == 0 && tlen > size)
        abort();
    if (warden_tlog_checkpoint_parse(&cp, data, size, &e) == 0 && cp.origin[0] == '\0')
        abort(); /* the origin line is never empty */

    warden_tlog_verifier *w = NULL;
    if (warden_tlog_verifier_new(&w, (const char *)data, size, &e) == 0)
        warden_tlog_verifier_free(w);

    int level;
    uint64_t index;
    unsigned width;
    if (warden_tlog_tile_path_parse(&level, &index, &width, (const char *)data, size) == 0) {
        char path[WARDEN_TLOG_PATH_MAX];
        if (warden_tlog_tile_path(path, sizeof path, level, index, width) != 0 ||
            strlen(path) != size || memcmp(path, data, size) != 0)
            abort(); /* only canonical names parse */
    }
    return 0;
}
