/* The keyd wire protocol: every message type, its payload and its size bounds, in one
 * table (relayd/imsg style). docs/keyd-protocol.md is the prose version of this file.
 *
 * A frame is an 8-byte header followed by the payload:
 *     u32 BE  payload length
 *     u16 BE  message type (KEYD_MSG_*)
 *     u16 BE  reserved, must be 0
 * Payloads are one compact JSON object (UTF-8, no trailing bytes) except where the table
 * says the payload is empty. A frame with an unknown type, a non-zero reserved field, a
 * length outside the type's [min, max], or a payload that does not decode to exactly the
 * fields listed below is a protocol violation: keyd logs it and closes the connection,
 * it never tries to resynchronise.
 *
 * Requests (client -> keyd), payload fields (all strings unless noted; "?" = optional):
 *   ACCESS    request_id, principal (Cedar uid text, e.g. Employee::"alice"),
 *             action ("read"|"write"|"delete"|"export"), user, collection?, id?,
 *             document? (object, write only), context {source_ip, location, site?, purpose}
 *   REGISTER  request_id, principal, user, jurisdiction, context {source_ip, location, site?,
 *             purpose}; site has location's charset and bounds
 *   SHRED     request_id, user
 *   RELOAD    (empty)
 *   STATUS    (empty)
 *   ROTATE    (empty): new KEK version, every DEK re-wrapped online
 *   RETIRE    request_id, version (integer): destroy an old KEK version no DEK uses
 *   ATTEST    request_id, principal, statement (text: printable UTF-8 and newlines,
 *             1..KEYD_STATEMENT_MAX bytes), context {source_ip, location, purpose}: append
 *             the statement to the log if Cedar allows Action::"attest" (src/keyd/attest.c)
 *   IMPORT    request_id, principal, context {...}, records: 1..KEYD_IMPORT_MAX objects
 *             {user, collection, id, version (integer), document (object)}: per record a
 *             write (compare-and-set on version), decided and logged like an ACCESS write,
 *             in one log batch and one store commit, then read back by keyd: the answer
 *             carries the SHA-256 of each stored plaintext, never the plaintext
 *             (src/keyd/import.c)
 *   REGISTER_MANY request_id, principal, context {...}, users: 1..KEYD_REGISTER_MANY_MAX
 *             objects {user, jurisdiction}: per user the REGISTER decision and entry, in one
 *             log batch; the allowed new users (each with a fresh wrapped DEK) in one store
 *             commit (src/keyd/import.c)
 *   INVENTORY (empty): users with jurisdiction, state and live records per collection, and
 *             the configured jurisdictions; no keys or contents (src/keyd/inventory.c)
 * ACCESS write may carry version? (integer): compare-and-set, written only as that version.
 * Replies (keyd -> client), exactly one per request, in order:
 *   ANSWER    a JSON object, described per request in docs/keyd-protocol.md
 *   ERROR     {"code": <negative WARDEN_E*>, "kind": "...", "error": "..."}
 */
#ifndef WARDEN_KEYD_PROTOCOL_H
#define WARDEN_KEYD_PROTOCOL_H

#include "warden/common.h"
#include "warden/util.h"

#include <jansson.h>
#include <stdint.h>

#define KEYD_FRAME_HEADER 8

enum keyd_msg_type {
    KEYD_MSG_ACCESS = 1,
    KEYD_MSG_REGISTER = 2,
    KEYD_MSG_SHRED = 3,
    KEYD_MSG_RELOAD = 4,
    KEYD_MSG_STATUS = 5,
    KEYD_MSG_ROTATE = 6,
    KEYD_MSG_RETIRE = 7,
    KEYD_MSG_ATTEST = 8,
    KEYD_MSG_IMPORT = 9,
    KEYD_MSG_INVENTORY = 10,
    KEYD_MSG_REGISTER_MANY = 11,
    KEYD_MSG_ANSWER = 0x81,
    KEYD_MSG_ERROR = 0x82,
};

/* Bounds of the string fields of requests (bytes, all non-empty). */
#define KEYD_REQUEST_ID_MAX 128
#define KEYD_PRINCIPAL_MAX 512
#define KEYD_LOCATION_MAX 64
#define KEYD_PURPOSE_MAX 256
#define KEYD_SOURCE_IP_MAX 64
#define KEYD_IMPORT_MAX 1000 /* records in one IMPORT (one store commit) */
#define KEYD_REGISTER_MANY_MAX 1000 /* users in one REGISTER_MANY (one store commit) */
#define KEYD_STATEMENT_MAX 49152 /* leaves room for the entry around it (64 KiB) */

/* One row of the message table. */
typedef struct keyd_msg_spec {
    uint16_t type;
    const char *name;
    uint32_t min; /* payload bytes */
    uint32_t max;
} keyd_msg_spec;

/* The fixed table; the payload maxima are part of the protocol. */
#define KEYD_MSG_TABLE                                                                             \
    {                                                                                              \
        {KEYD_MSG_ACCESS, "access", 2, 1u << 20}, {KEYD_MSG_REGISTER, "register", 2, 4096},        \
            {KEYD_MSG_SHRED, "shred", 2, 1024}, {KEYD_MSG_RELOAD, "reload", 0, 0},                 \
            {KEYD_MSG_STATUS, "status", 0, 0}, {KEYD_MSG_ROTATE, "rotate", 0, 0},                  \
            {KEYD_MSG_RETIRE, "retire", 2, 256}, {KEYD_MSG_ANSWER, "answer", 2, 64u << 20},        \
            {KEYD_MSG_ERROR, "error", 2, 4096}, {KEYD_MSG_ATTEST, "attest", 2, 1u << 18},          \
            {KEYD_MSG_IMPORT, "import", 2, 32u << 20},                                             \
            {KEYD_MSG_INVENTORY, "inventory", 0, 0},                                               \
            {KEYD_MSG_REGISTER_MANY, "register_many", 2, 1u << 20},                                \
    }

/* The table row for type, or NULL when the type is unknown. */
const keyd_msg_spec *keyd_msg_lookup(uint16_t type);

/* Reads a frame header from c and checks it against the table.
 * Errors: WARDEN_ETRUNC (fewer than 8 bytes), WARDEN_EPARSE (unknown type or reserved
 * field not 0), WARDEN_ELIMIT (length outside the type's bounds). */
WARDEN_MUST_USE int keyd_frame_header(uint16_t *type, uint32_t *len, warden_cursor *c,
                                      warden_err *err);

/* Appends a frame (header + payload) to out. Errors: WARDEN_ELIMIT (payload too large for
 * type), WARDEN_EINVAL (unknown type), WARDEN_ENOMEM. */
WARDEN_MUST_USE int keyd_frame_encode(warden_buf *out, uint16_t type, const uint8_t *payload,
                                      size_t len, warden_err *err);

/* Decodes and validates the payload of a request of type (ACCESS..STATUS) into *body
 * (NULL for empty payloads; caller json_decref()s): one JSON object, no duplicate keys,
 * exactly the fields the table above lists, with their types and bounds. Errors:
 * WARDEN_EPARSE (not JSON: message has the column), WARDEN_EINVAL (a field is missing,
 * unknown, of the wrong type or out of bounds: the message names it), WARDEN_ELIMIT. */
WARDEN_MUST_USE int keyd_request_decode(json_t **body, uint16_t type, const uint8_t *payload,
                                        size_t len, warden_err *err);

/* Decodes an ANSWER or ERROR payload (a JSON object) into *body. Errors: WARDEN_EPARSE,
 * WARDEN_EINVAL (not an object, or an ERROR without an integer code and string error). */
WARDEN_MUST_USE int keyd_reply_decode(json_t **body, uint16_t type, const uint8_t *payload,
                                      size_t len, warden_err *err);

/* Serialises j compactly (sorted keys) into a frame of type appended to out.
 * Errors: as keyd_frame_encode. */
WARDEN_MUST_USE int keyd_frame_encode_json(warden_buf *out, uint16_t type, const json_t *j,
                                           warden_err *err);

#endif
