/* C2SP tlog-checkpoint note text: origin, size, root, optional extension lines. */
#include "tlog/tlog_internal.h"

#include <string.h>

int warden_tlog_checkpoint_parse(warden_tlog_checkpoint *cp, const uint8_t *text, size_t len,
                                 warden_err *err)
{
    warden_cursor c;
    const uint8_t *line[3];
    size_t ll[3];
    size_t rlen = 0;
    warden_cursor_init(&c, text, len);
    for (int i = 0; i < 3; i++) {
        if (warden_cursor_until(&c, '\n', &line[i], &ll[i]) != 0 || ll[i] == 0)
            return warden_err_set(err, WARDEN_EPARSE, "checkpoint: line %d: missing or empty",
                                  i + 1);
    }
    if (ll[0] > WARDEN_TLOG_ORIGIN_MAX)
        return warden_err_set(err, WARDEN_ELIMIT, "checkpoint: line 1: origin longer than %d",
                              WARDEN_TLOG_ORIGIN_MAX);
    if (memchr(line[0], '\0', ll[0]) != NULL)
        return warden_err_set(err, WARDEN_EPARSE, "checkpoint: line 1: NUL in origin");
    if ((ll[1] > 1 && line[1][0] == '0') ||
        warden_parse_u64(&cp->size, (const char *)line[1], ll[1]) != 0)
        return warden_err_set(err, WARDEN_EPARSE,
                              "checkpoint: line 2: tree size is not a decimal without leading "
                              "zeroes");
    if (tlog_b64_decode(cp->root.b, sizeof cp->root.b, &rlen, line[2], ll[2]) != 0 ||
        rlen != WARDEN_TLOG_HASH_SIZE)
        return warden_err_set(err, WARDEN_EPARSE,
                              "checkpoint: line 3: root is not a base64 32-byte hash");
    for (int n = 4; warden_cursor_left(&c) > 0; n++) {
        const uint8_t *ext;
        size_t el;
        if (warden_cursor_until(&c, '\n', &ext, &el) != 0 || el == 0)
            return warden_err_set(err, WARDEN_EPARSE,
                                  "checkpoint: line %d: extension line empty or unterminated", n);
    }
    memcpy(cp->origin, line[0], ll[0]);
    cp->origin[ll[0]] = '\0';
    return 0;
}

int warden_tlog_checkpoint_format(warden_buf *out, const warden_tlog_checkpoint *cp,
                                  warden_err *err)
{
    char b64[48];
    size_t olen = strnlen(cp->origin, sizeof cp->origin);
    if (olen == 0 || olen > WARDEN_TLOG_ORIGIN_MAX || memchr(cp->origin, '\n', olen) != NULL)
        return warden_err_set(err, WARDEN_EINVAL, "checkpoint origin is empty or invalid");
    tlog_b64_encode(b64, cp->root.b, sizeof cp->root.b);
    if (warden_buf_printf(out, "%s\n%llu\n%s\n", cp->origin, (unsigned long long)cp->size, b64))
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    return 0;
}

int warden_tlog_checkpoint_sign(warden_buf *out, const warden_tlog_checkpoint *cp,
                                const warden_tlog_signer *s, warden_err *err)
{
    warden_buf text;
    warden_buf_init(&text);
    int rc = warden_tlog_checkpoint_format(&text, cp, err);
    if (rc == 0)
        rc = warden_tlog_note_sign(out, text.p, text.len, s, err);
    warden_buf_fini(&text);
    return rc;
}

int warden_tlog_checkpoint_open(warden_tlog_checkpoint *cp, const uint8_t *msg, size_t len,
                                const warden_tlog_verifier *v, warden_err *err)
{
    size_t tlen = 0;
    const warden_tlog_verifier *known[1] = {v};
    int rc = warden_tlog_note_open(&tlen, msg, len, known, 1, err);
    if (rc == 0)
        rc = warden_tlog_checkpoint_parse(cp, msg, tlen, err);
    return rc;
}
