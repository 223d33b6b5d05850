/* Fuzzes the keyd protocol decoder (src/keyd/protocol.c) the way keyd reads a socket: a
 * stream of frames, each header checked against the table, each request payload decoded.
 * The first violation ends the stream, as it closes a connection. Checked: a decoded
 * request re-encodes into a frame whose header decodes to the same type, and a request
 * that decodes has every required field with the right type. */
#include "keyd/protocol.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_body(uint16_t type, const json_t *j)
{
    if (keyd_msg_lookup(type)->max == 0) { /* RELOAD, STATUS, ROTATE */
        if (j != NULL)
            abort();
        return;
    }
    if (!json_is_string(json_object_get(j, "request_id")))
        abort();
    if (type == KEYD_MSG_ACCESS) {
        const char *a = json_string_value(json_object_get(j, "action"));
        if (a == NULL || !json_is_object(json_object_get(j, "context")))
            abort();
        if ((strcmp(a, "write") == 0) != (json_object_get(j, "document") != NULL))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    warden_cursor c;
    warden_err err;
    warden_cursor_init(&c, data, size);
    while (warden_cursor_left(&c) > 0) {
        uint16_t type;
        uint32_t len;
        const uint8_t *payload;
        if (keyd_frame_header(&type, &len, &c, &err) != 0)
            return 0;
        if (warden_cursor_bytes(&c, &payload, len) != 0)
            return 0;
        json_t *body = NULL;
        int rc = type < KEYD_MSG_ANSWER ? keyd_request_decode(&body, type, payload, len, &err)
                                        : keyd_reply_decode(&body, type, payload, len, &err);
        if (rc != 0) {
            if (body != NULL || err.code != rc)
                abort();
            return 0;
        }
        if (type < KEYD_MSG_ANSWER) {
            check_body(type, body);
            warden_buf b;
            warden_buf_init(&b);
            warden_cursor rc2;
            uint16_t t2;
            uint32_t l2;
            int erc = body != NULL ? keyd_frame_encode_json(&b, type, body, &err)
                                   : keyd_frame_encode(&b, type, NULL, 0, &err);
            /* re-encoding may only grow past the max through escaping: then it is refused */
            if (erc == 0) {
                warden_cursor_init(&rc2, b.p, b.len);
                if (keyd_frame_header(&t2, &l2, &rc2, &err) != 0 || t2 != type ||
                    l2 != b.len - KEYD_FRAME_HEADER)
                    abort();
            } else if (erc != WARDEN_ELIMIT) {
                abort();
            }
            warden_buf_fini(&b);
        }
        json_decref(body);
    }
    return 0;
}
