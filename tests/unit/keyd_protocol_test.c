/* Tests for src/keyd/protocol.c: frame headers against the fixed table, and the strict
 * request decoder (every field typed and bounded, unknown fields refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "keyd/protocol.h"

static int header(uint16_t *type, uint32_t *len, const uint8_t *p, size_t n)
{
    warden_cursor c;
    warden_err e;
    warden_cursor_init(&c, p, n);
    return keyd_frame_header(type, len, &c, &e);
}

static void keyd_protocol_frame_roundtrip(void **state)
{
    (void)state;
    warden_buf b;
    warden_err e;
    warden_buf_init(&b);
    const char *body = "{\"request_id\":\"a\",\"user\":\"u\"}";
    assert_int_equal(keyd_frame_encode(&b, KEYD_MSG_SHRED, (const uint8_t *)body, strlen(body), &e),
                     0);
    assert_int_equal(b.len, KEYD_FRAME_HEADER + strlen(body));
    uint16_t t;
    uint32_t n;
    assert_int_equal(header(&t, &n, b.p, b.len), 0);
    assert_int_equal(t, KEYD_MSG_SHRED);
    assert_int_equal(n, strlen(body));
    /* empty-payload types */
    b.len = 0;
    assert_int_equal(keyd_frame_encode(&b, KEYD_MSG_STATUS, NULL, 0, &e), 0);
    assert_int_equal(header(&t, &n, b.p, b.len), 0);
    assert_int_equal(t, KEYD_MSG_STATUS);
    assert_int_equal(n, 0);
    /* encoding refuses what decoding would */
    assert_int_equal(keyd_frame_encode(&b, KEYD_MSG_STATUS, (const uint8_t *)"{}", 2, &e),
                     WARDEN_ELIMIT);
    assert_int_equal(keyd_frame_encode(&b, 99, NULL, 0, &e), WARDEN_EINVAL);
    warden_buf_fini(&b);
}

static void keyd_protocol_header_violations(void **state)
{
    (void)state;
    uint16_t t;
    uint32_t n;
    const uint8_t shorter[7] = {0};
    assert_int_equal(header(&t, &n, shorter, sizeof shorter), WARDEN_ETRUNC);
    const uint8_t unknown[8] = {0, 0, 0, 2, 0, 0x40, 0, 0};
    assert_int_equal(header(&t, &n, unknown, 8), WARDEN_EPARSE);
    const uint8_t reserved[8] = {0, 0, 0, 2, 0, KEYD_MSG_SHRED, 0, 1};
    assert_int_equal(header(&t, &n, reserved, 8), WARDEN_EPARSE);
    const uint8_t status_body[8] = {0, 0, 0, 1, 0, KEYD_MSG_STATUS, 0, 0};
    assert_int_equal(header(&t, &n, status_body, 8), WARDEN_ELIMIT);
    /* INVENTORY is a known type with an empty payload, like STATUS */
    const uint8_t inventory[8] = {0, 0, 0, 0, 0, KEYD_MSG_INVENTORY, 0, 0};
    assert_int_equal(header(&t, &n, inventory, 8), 0);
    assert_int_equal(t, KEYD_MSG_INVENTORY);
    const uint8_t inventory_body[8] = {0, 0, 0, 2, 0, KEYD_MSG_INVENTORY, 0, 0};
    assert_int_equal(header(&t, &n, inventory_body, 8), WARDEN_ELIMIT);
    const uint8_t huge[8] = {0xff, 0xff, 0xff, 0xff, 0, KEYD_MSG_ACCESS, 0, 0};
    assert_int_equal(header(&t, &n, huge, 8), WARDEN_ELIMIT);
    const uint8_t shred_big[8] = {0, 0, 4, 1, 0, KEYD_MSG_SHRED, 0, 0}; /* 1025 > 1024 */
    assert_int_equal(header(&t, &n, shred_big, 8), WARDEN_ELIMIT);
    const uint8_t shred_max[8] = {0, 0, 4, 0, 0, KEYD_MSG_SHRED, 0, 0};
    assert_int_equal(header(&t, &n, shred_max, 8), 0);
}

static int decode(uint16_t type, const char *json)
{
    json_t *j = NULL;
    warden_err e;
    int rc = keyd_request_decode(&j, type, (const uint8_t *)json, strlen(json), &e);
    assert_true((rc == 0) == (j != NULL));
    if (rc != 0)
        assert_true(strlen(e.msg) > 0);
    json_decref(j);
    return rc;
}

#define C "\"context\":{\"source_ip\":\"192.0.2.1\",\"location\":\"US\",\"purpose\":\"p\"}"
#define P "\"request_id\":\"r\",\"principal\":\"Employee::\\\"a\\\"\""

static void keyd_protocol_requests(void **state)
{
    (void)state;
    assert_int_equal(decode(KEYD_MSG_ACCESS, "{" P ",\"action\":\"read\",\"user\":\"u\","
                                             "\"collection\":\"c\",\"id\":\"i\"," C "}"),
                     0);
    assert_int_equal(decode(KEYD_MSG_ACCESS,
                            "{" P ",\"action\":\"write\",\"user\":\"u\","
                            "\"collection\":\"c\",\"id\":\"i\",\"document\":{}," C "}"),
                     0);
    assert_int_equal(decode(KEYD_MSG_ACCESS, "{" P ",\"action\":\"export\",\"user\":\"u\"," C "}"),
                     0);
    /* write without a document, read with one, export with an id */
    assert_int_equal(decode(KEYD_MSG_ACCESS, "{" P ",\"action\":\"write\",\"user\":\"u\","
                                             "\"collection\":\"c\",\"id\":\"i\"," C "}"),
                     WARDEN_EINVAL);
    assert_int_equal(decode(KEYD_MSG_ACCESS,
                            "{" P ",\"action\":\"read\",\"user\":\"u\","
                            "\"collection\":\"c\",\"id\":\"i\",\"document\":{}," C "}"),
                     WARDEN_EINVAL);
    assert_int_equal(decode(KEYD_MSG_ACCESS, "{" P ",\"action\":\"export\",\"user\":\"u\","
                                             "\"id\":\"i\"," C "}"),
                     WARDEN_EINVAL);
    /* unknown action, unknown field, duplicate key, wrong type, bad ip, bad collection */
    assert_int_equal(decode(KEYD_MSG_ACCESS, "{" P ",\"action\":\"sell\",\"user\":\"u\"," C "}"),
                     WARDEN_EINVAL);
    assert_int_equal(decode(KEYD_MSG_ACCESS, "{" P ",\"action\":\"export\",\"user\":\"u\","
                                             "\"admin\":true," C "}"),
                     WARDEN_EINVAL);
    assert_int_equal(decode(KEYD_MSG_ACCESS, "{" P ",\"action\":\"export\",\"user\":\"u\","
                                             "\"user\":\"v\"," C "}"),
                     WARDEN_EPARSE);
    assert_int_equal(decode(KEYD_MSG_ACCESS, "{" P ",\"action\":\"export\",\"user\":7," C "}"),
                     WARDEN_EINVAL);
    assert_int_equal(decode(KEYD_MSG_ACCESS,
                            "{" P ",\"action\":\"export\",\"user\":\"u\",\"context\":{"
                            "\"source_ip\":\"999.1.1.1\",\"location\":\"US\",\"purpose\":\"p\"}}"),
                     WARDEN_EINVAL);
    assert_int_equal(decode(KEYD_MSG_ACCESS, "{" P ",\"action\":\"read\",\"user\":\"u\","
                                             "\"collection\":\"a/b\",\"id\":\"i\"," C "}"),
                     WARDEN_EINVAL);
    /* missing context field, a NUL inside a string, control bytes, not an object */
    assert_int_equal(decode(KEYD_MSG_ACCESS,
                            "{" P ",\"action\":\"export\",\"user\":\"u\",\"context\":{"
                            "\"source_ip\":\"::1\",\"location\":\"US\"}}"),
                     WARDEN_EINVAL);
    /* jansson refuses \u0000 outright (no JSON_ALLOW_NUL), before our field checks */
    assert_int_equal(decode(KEYD_MSG_SHRED, "{\"request_id\":\"r\",\"user\":\"a\\u0000b\"}"),
                     WARDEN_EPARSE);
    assert_int_equal(decode(KEYD_MSG_SHRED, "{\"request_id\":\"r\",\"user\":\"a\\nb\"}"),
                     WARDEN_EINVAL);
    assert_int_equal(decode(KEYD_MSG_SHRED, "[1]"), WARDEN_EINVAL);
    assert_int_equal(decode(KEYD_MSG_SHRED, "{\"request_id\":\"r\",\"user\":\"u\"} x"),
                     WARDEN_EPARSE);
    assert_int_equal(
        decode(KEYD_MSG_REGISTER, "{" P ",\"user\":\"u\",\"jurisdiction\":\"US\"," C "}"), 0);
    assert_int_equal(
        decode(KEYD_MSG_REGISTER, "{" P ",\"user\":\"u\",\"jurisdiction\":\"U S\"," C "}"),
        WARDEN_EINVAL);
    assert_int_equal(decode(KEYD_MSG_RETIRE, "{\"request_id\":\"r\",\"version\":1}"), 0);
    assert_int_equal(decode(KEYD_MSG_RETIRE, "{\"request_id\":\"r\",\"version\":0}"),
                     WARDEN_EINVAL);
    assert_int_equal(decode(KEYD_MSG_RETIRE, "{\"request_id\":\"r\",\"version\":\"1\"}"),
                     WARDEN_EINVAL);
    assert_int_equal(decode(KEYD_MSG_RETIRE, "{\"request_id\":\"r\",\"version\":4294967296}"),
                     WARDEN_EINVAL);
    /* REGISTER_MANY: 1..1000 users, each exactly {user, jurisdiction} */
    assert_int_equal(decode(KEYD_MSG_REGISTER_MANY,
                            "{" P ",\"users\":[{\"user\":\"u\",\"jurisdiction\":\"US\"},"
                            "{\"user\":\"v\",\"jurisdiction\":\"SG\"}]," C "}"),
                     0);
    assert_int_equal(decode(KEYD_MSG_REGISTER_MANY, "{" P ",\"users\":[]," C "}"), WARDEN_EINVAL);
    assert_int_equal(decode(KEYD_MSG_REGISTER_MANY, "{" P ",\"users\":[\"u\"]," C "}"),
                     WARDEN_EINVAL);
    assert_int_equal(decode(KEYD_MSG_REGISTER_MANY,
                            "{" P ",\"users\":[{\"user\":\"u\",\"jurisdiction\":\"U S\"}]," C "}"),
                     WARDEN_EINVAL);
    assert_int_equal(decode(KEYD_MSG_REGISTER_MANY,
                            "{" P ",\"users\":[{\"user\":\"u\",\"jurisdiction\":\"US\","
                            "\"dek\":\"x\"}]," C "}"),
                     WARDEN_EINVAL);
    assert_int_equal(decode(KEYD_MSG_REGISTER_MANY,
                            "{" P ",\"users\":[{\"user\":\"u\"}]," C "}"),
                     WARDEN_EINVAL);
    assert_int_equal(decode(KEYD_MSG_REGISTER_MANY,
                            "{" P ",\"users\":[{\"user\":\"u\",\"jurisdiction\":\"US\"}]}"),
                     WARDEN_EINVAL);
    /* a reply type is not a request */
    assert_int_equal(decode(KEYD_MSG_ANSWER, "{}"), WARDEN_EINVAL);
}

static void keyd_protocol_replies(void **state)
{
    (void)state;
    json_t *j = NULL;
    warden_err e;
    const char *good = "{\"code\":-20,\"kind\":\"denied\",\"error\":\"no\"}";
    assert_int_equal(keyd_reply_decode(&j, KEYD_MSG_ERROR, (const uint8_t *)good, strlen(good), &e),
                     0);
    json_decref(j);
    assert_int_equal(keyd_reply_decode(&j, KEYD_MSG_ERROR, (const uint8_t *)"{}", 2, &e),
                     WARDEN_EINVAL);
    assert_null(j);
    assert_int_equal(keyd_reply_decode(&j, KEYD_MSG_ANSWER, (const uint8_t *)"{", 1, &e),
                     WARDEN_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keyd_protocol_frame_roundtrip),
        cmocka_unit_test(keyd_protocol_header_violations),
        cmocka_unit_test(keyd_protocol_requests),
        cmocka_unit_test(keyd_protocol_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
