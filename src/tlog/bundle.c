/* Entry bundles: big-endian uint16 length-prefixed entries, at most 256 per bundle. */
#include "warden/tlog.h"

int warden_tlog_bundle_parse(warden_tlog_bundle *b, const uint8_t *p, size_t len, size_t want,
                             warden_err *err)
{
    warden_cursor c;
    size_t max = want == 0 ? WARDEN_TLOG_TILE_WIDTH : want;
    if (max > WARDEN_TLOG_TILE_WIDTH)
        return warden_err_set(err, WARDEN_EINVAL, "bundle: cannot hold %zu entries", want);
    warden_cursor_init(&c, p, len);
    b->count = 0;
    while (warden_cursor_left(&c) > 0) {
        uint16_t n;
        const uint8_t *e;
        if (b->count == max)
            return warden_err_set(err, WARDEN_ELIMIT, "bundle: more than %zu entries", max);
        if (warden_cursor_be16(&c, &n) != 0 || warden_cursor_bytes(&c, &e, n) != 0)
            return warden_err_set(err, WARDEN_ETRUNC, "bundle: entry %zu is truncated", b->count);
        b->entry[b->count] = e;
        b->len[b->count] = n;
        b->count++;
    }
    if (want != 0 && b->count != want)
        return warden_err_set(err, WARDEN_ETRUNC, "bundle: %zu entries, expected %zu", b->count,
                              want);
    return 0;
}

int warden_tlog_bundle_add(warden_buf *b, const uint8_t *entry, size_t len, warden_err *err)
{
    uint8_t pre[2];
    if (len > WARDEN_TLOG_ENTRY_MAX)
        return warden_err_set(err, WARDEN_EINVAL, "entry of %zu bytes exceeds %d", len,
                              WARDEN_TLOG_ENTRY_MAX);
    pre[0] = (uint8_t)(len >> 8);
    pre[1] = (uint8_t)len;
    if (warden_buf_append(b, pre, 2) != 0 || warden_buf_append(b, entry, len) != 0)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    return 0;
}
