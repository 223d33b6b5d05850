/* Fuzzes the decoders of the LMDB backend's stored bytes (src/store/codec.c): users and
 * records keys, user values and record values. Input: one selector byte, a key length
 * byte, the key, then the value. Values carry a check over key and value, which random
 * bytes almost never pass, so a second mode re-encodes the fuzzed body with a valid check
 * first: that drives the field checks behind it. A value that decodes must re-encode to the
 * same bytes; a key that parses must re-encode to itself; a refusal is always ECORRUPT. */
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

static void fuzz_keys(const uint8_t *p, size_t n)
{
    warden_err err;
    warden_buf again;
    char u[WARDEN_STORE_USER_MAX + 1], c[WARDEN_STORE_COLLECTION_MAX + 1],
        id[WARDEN_STORE_ID_MAX + 1];
    warden_buf_init(&again);
    if (store_key_record_parse(u, c, id, p, n, &err) == 0) {
        if (store_key_record(&again, u, c, id, &err) != 0 || again.len != n ||
            memcmp(again.p, p, n) != 0)
            abort();
    } else if (err.code != WARDEN_ECORRUPT) {
        abort();
    }
    again.len = 0;
    if (store_key_user_parse(u, p, n, &err) == 0) {
        if (store_key_user(&again, u, &err) != 0 || again.len != n || memcmp(again.p, p, n) != 0)
            abort();
    }
    warden_buf_fini(&again);
}

static void fuzz_user(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    warden_err err;
    store_user_val v;
    warden_buf again;
    warden_buf_init(&again);
    if (store_user_decode(&v, key, klen, val, vlen, &err) == 0) {
        if (store_user_encode(&again, key, klen, &v, &err) != 0 || again.len != vlen ||
            memcmp(again.p, val, vlen) != 0)
            abort();
    } else if (err.code != WARDEN_ECORRUPT) {
        abort();
    }
    warden_buf_fini(&again);
}

static void fuzz_rec(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    warden_err err;
    store_rec_val v;
    warden_buf again;
    warden_buf_init(&again);
    if (store_rec_decode(&v, key, klen, val, vlen, &err) == 0) {
        if (store_rec_encode(&again, key, klen, &v, &err) != 0 || again.len != vlen ||
            memcmp(again.p, val, vlen) != 0)
            abort();
    } else if (err.code != WARDEN_ECORRUPT) {
        abort();
    }
    warden_buf_fini(&again);
}

/* Builds a value struct from the fuzzed bytes — fields free to contradict each other (a
 * shredded user with a DEK, a KEK id without a version, control bytes in the jurisdiction)
 * — and encodes it with a valid check, so decoding must judge the fields themselves. */
static void with_check(int kind, const uint8_t *key, size_t klen, const uint8_t *body, size_t blen)
{
    warden_err err;
    warden_buf full;
    warden_buf_init(&full);
    if (kind == 0) {
        store_user_val v;
        memset(&v, 0, sizeof v);
        v.state = blen > 0 ? body[0] : 0;
        v.created = blen > 1 ? (int64_t)body[1] : 0;
        v.shredded = blen > 2 ? (int64_t)body[2] : 0;
        size_t jl = blen > 3 ? body[3] % (WARDEN_STORE_JURISDICTION_MAX + 2) : 0;
        for (size_t i = 0; i < jl; i++)
            v.jurisdiction[i] = (char)(blen > 4 + i && body[4 + i] != 0 ? body[4 + i] : 'U');
        v.jurisdiction[jl > WARDEN_STORE_JURISDICTION_MAX ? WARDEN_STORE_JURISDICTION_MAX : jl] =
            '\0';
        v.kek_version = blen > 21 ? body[21] : 0;
        if (blen > 22 && body[22] & 1)
            memcpy(v.kek_id, "kf-1", 5);
        v.blob = blen > 23 ? body + 23 : NULL;
        v.blob_len = blen > 23 ? blen - 23 : 0;
        if (store_user_encode(&full, key, klen, &v, &err) == 0)
            fuzz_user(key, klen, full.p, full.len);
    } else {
        store_rec_val v = {blen > 0 ? body[0] % 3 : 0, blen > 1 ? body[1] : 0,
                           blen > 2 ? body + 2 : NULL, blen > 2 ? blen - 2 : 0};
        if (store_rec_encode(&full, key, klen, &v, &err) == 0)
            fuzz_rec(key, klen, full.p, full.len);
    }
    warden_buf_fini(&full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t sel = data[0];
    size_t klen = data[1];
    if (klen > size - 2)
        klen = size - 2;
    const uint8_t *key = data + 2, *val = data + 2 + klen;
    size_t vlen = size - 2 - klen;
    switch (sel % 5) {
    case 0:
        fuzz_keys(data + 1, size - 1);
        break;
    case 1:
        fuzz_user(key, klen, val, vlen);
        break;
    case 2:
        fuzz_rec(key, klen, val, vlen);
        break;
    case 3:
        with_check(0, key, klen, val, vlen);
        break;
    default:
        with_check(1, key, klen, val, vlen);
        break;
    }
    return 0;
}
