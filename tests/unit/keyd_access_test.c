/* Tests for src/keyd/access.c and keyd.c: the core access path, without sockets, on a real
 * LMDB store, key file and transparency log in a temporary directory. Each answer's log
 * index is checked against the entry actually in the log, and the log is verified. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <openssl/sha.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyd/keyd_internal.h"
#include "keyd/protocol.h"
#include "warden/crypto.h"
#include "warden/store.h"
#include "warden/keyd.h"
#include "warden/tlog.h"

typedef struct env {
    char dir[256];
    char cfg[300];
    warden_keyd *k;
} env;

static void copy_file(const char *from, const char *to)
{
    warden_buf b;
    warden_err e;
    warden_buf_init(&b);
    if (warden_file_read(&b, from, 1 << 20, &e) != 0)
        fail_msg("read %s: %s", from, e.msg);
    if (warden_file_write_atomic(to, b.p, b.len, 0600, &e) != 0)
        fail_msg("write %s: %s", to, e.msg);
    warden_buf_fini(&b);
}

static void path(char *out, size_t cap, const env *x, const char *name)
{
    snprintf(out, cap, "%s/%s", x->dir, name);
}

static int setup(void **state)
{
    env *x = calloc(1, sizeof *x);
    warden_err e;
    char p[512], v[512];
    const char *src = getenv("WARDEN_SOURCE_DIR");
    snprintf(x->dir, sizeof x->dir, "/tmp/keyd_access_XXXXXX");
    if (src == NULL || mkdtemp(x->dir) == NULL)
        return -1;
    const char *files[] = {"policies.cedar", "entities.json", "messages.schema.json"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(v, sizeof v, "%s/tests/vectors/keyd/%s", src, files[i]);
        path(p, sizeof p, x, files[i]);
        copy_file(v, p);
    }
    path(p, sizeof p, x, "kek.key");
    if (warden_kek_keyfile_create(p, "texas", &e) != 0)
        fail_msg("kek: %s", e.msg);
    path(p, sizeof p, x, "log.key");
    if (warden_tlog_key_generate(p, "warden-test", NULL, &e) != 0)
        fail_msg("log key: %s", e.msg);
    const char *cfg = "{\"region\":\"texas\",\"jurisdictions\":[\"US\"],\"data_dir\":\"data\","
                      "\"keys\":{\"provider\":\"keyfile\",\"path\":\"kek.key\"},"
                      "\"policies\":\"policies.cedar\",\"entities\":\"entities.json\","
                      "\"schemas\":[\"messages.schema.json\"],"
                      "\"log\":{\"dir\":\"log\",\"key\":\"log.key\",\"origin\":\"test/texas\"},"
                      "\"socket\":\"keyd.sock\",\"peer_uids\":[0]}";
    path(x->cfg, sizeof x->cfg, x, "keyd.json");
    if (warden_file_write_atomic(x->cfg, cfg, strlen(cfg), 0600, &e) != 0)
        return -1;
    if (warden_keyd_open(&x->k, x->cfg, &e) != 0)
        fail_msg("open: %s", e.msg);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    env *x = *state;
    char cmd[400];
    warden_keyd_free(x->k);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", x->dir);
    if (system(cmd) != 0)
        return -1;
    free(x);
    return 0;
}

static const warden_keyd_peer PEER = {0, 1};

/* Sends one request (JSON text) through the real decoder and the core. */
static int call(json_t **ans, env *x, uint16_t type, const char *json, warden_err *e)
{
    json_t *body = NULL;
    int rc = keyd_request_decode(&body, type, (const uint8_t *)json, json ? strlen(json) : 0, e);
    if (rc != 0)
        fail_msg("decode %s: %s", json ? json : "(empty)", e->msg);
    rc = warden_keyd_handle(ans, x->k, type, body, &PEER, e);
    json_decref(body);
    return rc;
}

static json_t *ok(env *x, uint16_t type, const char *json)
{
    warden_err e;
    json_t *a = NULL;
    if (call(&a, x, type, json, &e) != 0)
        fail_msg("%s: %s", json ? json : "(empty)", e.msg);
    return a;
}

#define CTX(loc, purpose)                                                                          \
    "\"context\":{\"source_ip\":\"10.1.2.3\",\"location\":\"" loc "\",\"purpose\":\"" purpose "\"" \
    "}"

static json_t *log_entry(env *x, uint64_t index)
{
    warden_err e;
    warden_tlog_source *s = NULL;
    warden_tlog_checkpoint cp;
    warden_buf b;
    warden_buf_init(&b);
    char p[512];
    path(p, sizeof p, x, "log");
    /* An acknowledged entry is durable in the journal; wait until a checkpoint covers it. */
    if (warden_keyd_log_sync(x->k, &e) != 0)
        fail_msg("log sync: %s", e.msg);
    assert_int_equal(warden_tlog_source_dir_new(&s, p, &e), 0);
    assert_int_equal(warden_tlog_source_checkpoint(&cp, s, NULL, &e), 0);
    if (warden_tlog_source_entry(&b, s, cp.size, index, &e) != 0)
        fail_msg("entry %llu: %s", (unsigned long long)index, e.msg);
    json_t *j = json_loadb((const char *)b.p, b.len, 0, NULL);
    assert_non_null(j);
    /* keyd writes entries as canonical JSON by hand: they must re-canonicalise to themselves */
    char *canon = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    assert_non_null(canon);
    if (strlen(canon) != b.len || memcmp(canon, b.p, b.len) != 0)
        fail_msg("entry %llu not canonical: %.*s", (unsigned long long)index, (int)b.len,
                 (const char *)b.p);
    free(canon);
    warden_buf_fini(&b);
    warden_tlog_source_free(s);
    return j;
}

static void register_us(env *x)
{
    json_t *a =
        ok(x, KEYD_MSG_REGISTER,
           "{\"request_id\":\"r0\",\"principal\":\"Employee::\\\"alice\\\"\",\"user\":\"u1\","
           "\"jurisdiction\":\"US\"," CTX("US", "signup") "}");
    assert_string_equal(json_string_value(json_object_get(a, "decision")), "allow");
    json_decref(a);
}

#define DOC "{\"title\":\"hi\",\"body\":\"secret\",\"author\":{\"name\":\"U\",\"phone\":\"555\"}}"

static void write_doc(env *x)
{
    json_t *a = ok(x, KEYD_MSG_ACCESS,
                   "{\"request_id\":\"w1\",\"principal\":\"Employee::\\\"alice\\\"\","
                   "\"action\":\"write\",\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m1\","
                   "\"document\":" DOC "," CTX("US", "support") "}");
    assert_string_equal(json_string_value(json_object_get(a, "decision")), "allow");
    assert_int_equal(json_integer_value(json_object_get(a, "version")), 1);
    json_decref(a);
}

static void keyd_access_residency(void **state)
{
    env *x = *state;
    warden_err e;
    register_us(x);
    /* SG is neither in the region's list nor allowed by the store policy: refused, logged */
    json_t *a =
        ok(x, KEYD_MSG_REGISTER,
           "{\"request_id\":\"r1\",\"principal\":\"Employee::\\\"alice\\\"\",\"user\":\"u2\","
           "\"jurisdiction\":\"SG\"," CTX("US", "signup") "}");
    assert_string_equal(json_string_value(json_object_get(a, "decision")), "deny");
    json_t *en = log_entry(x, (uint64_t)json_integer_value(json_object_get(a, "log_index")));
    assert_string_equal(json_string_value(json_object_get(en, "request_id")), "r1");
    assert_string_equal(json_string_value(json_object_get(en, "decision")), "deny");
    assert_string_equal(json_string_value(json_object_get(en, "action")), "store");
    json_decref(en);
    json_decref(a);
    /* u2 was not created */
    assert_int_equal(call(&a, x, KEYD_MSG_ACCESS,
                          "{\"request_id\":\"x\",\"principal\":\"Employee::\\\"alice\\\"\","
                          "\"action\":\"read\",\"user\":\"u2\",\"collection\":\"messages\","
                          "\"id\":\"m1\"," CTX("US", "support") "}",
                          &e),
                     WARDEN_ENOTFOUND);
    json_decref(a); /* the refusal's log index */
}

/* Requests that never reach a decision are logged as refusals: an unknown user (as when the
 * legacy singapore region is asked for a US user it does not hold), a principal that is not
 * Cedar text, a registration with such a principal. The ERROR keeps its code and carries
 * the entry's index; the entry has the reason and no decision classes. */
static void keyd_access_refusals(void **state)
{
    env *x = *state;
    warden_err e;
    json_t *a = NULL;
    static const struct {
        uint16_t type;
        const char *json;
        int code;
        const char *action, *principal;
    } cases[] = {
        {KEYD_MSG_ACCESS,
         "{\"request_id\":\"f1\",\"principal\":\"Employee::\\\"bob\\\"\",\"action\":\"read\","
         "\"user\":\"us-user-9\",\"collection\":\"messages\",\"id\":\"m1\"," CTX("SG",
                                                                                 "support") "}",
         WARDEN_ENOTFOUND, "read", "Employee::\"bob\""},
        {KEYD_MSG_ACCESS,
         "{\"request_id\":\"f2\",\"principal\":\"Employee::alice\",\"action\":\"read\","
         "\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m1\"," CTX("US", "support") "}",
         0, "read", "Employee::alice"},
        {KEYD_MSG_REGISTER,
         "{\"request_id\":\"f3\",\"principal\":\"Employee::(\",\"user\":\"u7\","
         "\"jurisdiction\":\"US\"," CTX("US", "signup") "}",
         0, "store", "Employee::("},
    };
    register_us(x);
    write_doc(x);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = call(&a, x, cases[i].type, cases[i].json, &e);
        if (cases[i].code != 0)
            assert_int_equal(rc, cases[i].code);
        else
            assert_true(rc == WARDEN_EINVAL || rc == WARDEN_EPARSE);
        assert_non_null(a);
        assert_string_equal(json_string_value(json_object_get(a, "decision")), "refused");
        json_t *en = log_entry(x, (uint64_t)json_integer_value(json_object_get(a, "log_index")));
        assert_string_equal(json_string_value(json_object_get(en, "type")), "refusal");
        assert_string_equal(json_string_value(json_object_get(en, "decision")), "refused");
        assert_string_equal(json_string_value(json_object_get(en, "action")), cases[i].action);
        assert_string_equal(json_string_value(json_object_get(en, "principal")),
                            cases[i].principal);
        assert_int_equal(json_integer_value(json_object_get(en, "code")), rc);
        assert_string_equal(json_string_value(json_object_get(en, "reason")), e.msg);
        assert_null(json_object_get(en, "classes"));
        assert_null(json_object_get(en, "document"));
        json_decref(en);
        json_decref(a);
        a = NULL;
    }
}

/* keyd installs jansson allocation functions that wipe freed blocks (util/jsonwipe.c). */
static void keyd_access_json_wipe_installed(void **state)
{
    (void)state;
    json_malloc_t m = NULL;
    json_free_t f = NULL;
    json_get_alloc_funcs(&m, &f);
    assert_ptr_equal(f, warden_json_wipe_free);
}

static void keyd_access_read_per_class(void **state)
{
    env *x = *state;
    register_us(x);
    write_doc(x);
    /* alice: everything */
    json_t *a =
        ok(x, KEYD_MSG_ACCESS,
           "{\"request_id\":\"q1\",\"principal\":\"Employee::\\\"alice\\\"\","
           "\"action\":\"read\",\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m1\"," CTX(
               "US", "support") "}");
    assert_string_equal(json_string_value(json_object_get(a, "decision")), "allow");
    json_t *want = json_loads(DOC, 0, NULL);
    assert_true(json_equal(json_object_get(a, "document"), want));
    assert_int_equal(json_array_size(json_object_get(a, "withheld")), 0);
    json_decref(a);
    /* bob from SG: excepted only, the answer lists what was withheld */
    a = ok(x, KEYD_MSG_ACCESS,
           "{\"request_id\":\"q2\",\"principal\":\"Employee::\\\"bob\\\"\","
           "\"action\":\"read\",\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m1\"," CTX(
               "SG", "moderation") "}");
    assert_string_equal(json_string_value(json_object_get(a, "decision")), "partial");
    json_t *exc = json_loads("{\"title\":\"hi\",\"author\":{\"name\":\"U\"}}", 0, NULL);
    json_t *wh = json_loads("[\"/author/phone\",\"/body\"]", 0, NULL);
    assert_true(json_equal(json_object_get(a, "document"), exc));
    assert_true(json_equal(json_object_get(a, "withheld"), wh));
    json_t *en = log_entry(x, (uint64_t)json_integer_value(json_object_get(a, "log_index")));
    assert_string_equal(json_string_value(json_object_get(en, "decision")), "partial");
    assert_string_equal(json_string_value(json_object_get(en, "request_id")), "q2");
    assert_string_equal(json_string_value(json_array_get(json_object_get(en, "redacted"), 0)),
                        "protected");
    assert_string_equal(json_string_value(json_object_get(en, "policy_set")),
                        json_string_value(json_object_get(a, "policy_set")));
    assert_string_equal(json_string_value(json_object_get(en, "source")), "10.1.2.3");
    json_decref(en);
    json_decref(a);
    /* ads purpose: forbid wins, nothing released, still logged */
    a = ok(x, KEYD_MSG_ACCESS,
           "{\"request_id\":\"q3\",\"principal\":\"Employee::\\\"alice\\\"\","
           "\"action\":\"read\",\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m1\"," CTX(
               "US", "ads") "}");
    assert_string_equal(json_string_value(json_object_get(a, "decision")), "deny");
    assert_null(json_object_get(a, "document"));
    en = log_entry(x, (uint64_t)json_integer_value(json_object_get(a, "log_index")));
    assert_string_equal(json_string_value(json_object_get(en, "decision")), "deny");
    assert_string_equal(json_string_value(json_array_get(json_object_get(en, "policies"), 0)),
                        "policy3");
    json_decref(en);
    json_decref(a);
    /* mallory writes: denied, logged, record unchanged */
    a = ok(x, KEYD_MSG_ACCESS,
           "{\"request_id\":\"w2\",\"principal\":\"Employee::\\\"mallory\\\"\","
           "\"action\":\"write\",\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m1\","
           "\"document\":{\"title\":\"pwned\"}," CTX("CN", "support") "}");
    assert_string_equal(json_string_value(json_object_get(a, "decision")), "deny");
    json_decref(a);
    a = ok(x, KEYD_MSG_ACCESS,
           "{\"request_id\":\"q4\",\"principal\":\"Employee::\\\"alice\\\"\","
           "\"action\":\"read\",\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m1\"," CTX(
               "US", "support") "}");
    assert_true(json_equal(json_object_get(a, "document"), want));
    assert_int_equal(json_integer_value(json_object_get(a, "version")), 1);
    json_decref(a);
    json_decref(want);
    json_decref(exc);
    json_decref(wh);
}

static void keyd_access_export_delete(void **state)
{
    env *x = *state;
    register_us(x);
    write_doc(x);
    json_t *a = ok(x, KEYD_MSG_ACCESS,
                   "{\"request_id\":\"e1\",\"principal\":\"Employee::\\\"bob\\\"\","
                   "\"action\":\"export\",\"user\":\"u1\"," CTX("SG", "moderation") "}");
    assert_string_equal(json_string_value(json_object_get(a, "decision")), "partial");
    json_t *recs = json_object_get(a, "records");
    assert_int_equal(json_array_size(recs), 1);
    assert_null(json_object_get(json_object_get(json_array_get(recs, 0), "document"), "body"));
    json_decref(a);
    a = ok(x, KEYD_MSG_ACCESS,
           "{\"request_id\":\"d1\",\"principal\":\"Employee::\\\"alice\\\"\","
           "\"action\":\"delete\",\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m1\"," CTX(
               "US", "support") "}");
    assert_string_equal(json_string_value(json_object_get(a, "outcome")), "ok");
    json_decref(a);
    a = ok(x, KEYD_MSG_ACCESS,
           "{\"request_id\":\"q5\",\"principal\":\"Employee::\\\"alice\\\"\","
           "\"action\":\"read\",\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m1\"," CTX(
               "US", "support") "}");
    assert_string_equal(json_string_value(json_object_get(a, "outcome")), "not_found");
    json_decref(a);
}

static void keyd_access_shred(void **state)
{
    env *x = *state;
    register_us(x);
    write_doc(x);
    /* Two reads first: the second is served with the DEK cached by the first, and the shred
     * must take that cached key away too. */
    for (int i = 0; i < 2; i++) {
        json_t *r = ok(x, KEYD_MSG_ACCESS,
                       "{\"request_id\":\"q5\",\"principal\":\"Employee::\\\"alice\\\"\","
                       "\"action\":\"read\",\"user\":\"u1\",\"collection\":\"messages\","
                       "\"id\":\"m1\"," CTX("US", "support") "}");
        assert_string_equal(json_string_value(json_object_get(r, "outcome")), "ok");
        assert_non_null(json_object_get(r, "document"));
        json_decref(r);
    }
    uint64_t hits, misses;
    keyd_dekcache_stats(x->k->deks, &hits, &misses);
    assert_true(hits >= 1);
    json_t *a = ok(x, KEYD_MSG_SHRED, "{\"request_id\":\"s1\",\"user\":\"u1\"}");
    json_t *en = log_entry(x, (uint64_t)json_integer_value(json_object_get(a, "log_index")));
    assert_string_equal(json_string_value(json_object_get(en, "type")), "shred");
    assert_string_equal(json_string_value(json_object_get(en, "principal")), "uid:0");
    json_decref(en);
    json_decref(a);
    a = ok(x, KEYD_MSG_ACCESS,
           "{\"request_id\":\"q6\",\"principal\":\"Employee::\\\"alice\\\"\","
           "\"action\":\"read\",\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m1\"," CTX(
               "US", "support") "}");
    assert_string_equal(json_string_value(json_object_get(a, "decision")), "allow");
    assert_string_equal(json_string_value(json_object_get(a, "outcome")), "key_destroyed");
    assert_null(json_object_get(a, "document"));
    json_decref(a);
}

static void keyd_access_reload(void **state)
{
    env *x = *state;
    warden_err e;
    char p[512], v[512], before[72], after[72];
    register_us(x);
    write_doc(x);
    warden_keyd_policy_hash(before, x->k);
    snprintf(v, sizeof v, "%s/tests/vectors/keyd/policies_reload.cedar",
             getenv("WARDEN_SOURCE_DIR"));
    path(p, sizeof p, x, "policies.cedar");
    copy_file(v, p);
    json_t *a = ok(x, KEYD_MSG_RELOAD, NULL);
    warden_keyd_policy_hash(after, x->k);
    assert_string_not_equal(before, after);
    assert_string_equal(json_string_value(json_object_get(a, "policy_set")), after);
    json_t *en = log_entry(x, (uint64_t)json_integer_value(json_object_get(a, "log_index")));
    assert_string_equal(json_string_value(json_object_get(en, "type")), "reload");
    assert_string_equal(json_string_value(json_object_get(en, "policy_set")), after);
    json_decref(en);
    json_decref(a);
    /* the archived bundle is there under its hash */
    struct stat st;
    snprintf(p, sizeof p, "%s/log.policysets/%s.json", x->dir, after + 7);
    assert_int_equal(stat(p, &st), 0);
    a = ok(x, KEYD_MSG_ACCESS,
           "{\"request_id\":\"q7\",\"principal\":\"Employee::\\\"alice\\\"\","
           "\"action\":\"read\",\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m1\"," CTX(
               "US", "support") "}");
    assert_string_equal(json_string_value(json_object_get(a, "decision")), "deny");
    assert_string_equal(json_string_value(json_object_get(a, "policy_set")), after);
    json_decref(a);
    /* a broken policy file is refused and the old set stays */
    path(p, sizeof p, x, "policies.cedar");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("permit (principal,", f);
    fclose(f);
    uint64_t idx;
    assert_int_equal(warden_keyd_reload(&idx, x->k, &e), WARDEN_EPARSE);
    warden_keyd_policy_hash(before, x->k);
    assert_string_equal(before, after);
}

/* The log cannot be written: the access is refused with WARDEN_EIO and nothing is
 * released, and so is every later one. */
static void keyd_access_fails_closed(void **state)
{
    env *x = *state;
    warden_err e;
    char p[512], q[512];
    register_us(x);
    write_doc(x);
    /* Let the integrator finish the earlier entries first, or it races the damage below. */
    assert_int_equal(warden_keyd_log_sync(x->k, &e), 0);
    path(p, sizeof p, x, "log/tile/entries");
    path(q, sizeof q, x, "log/tile/entries.moved");
    assert_int_equal(rename(p, q), 0);
    assert_int_equal(warden_file_write_atomic(p, "x", 1, 0600, &e), 0);
    json_t *a = (json_t *)1;
    const char *rd =
        "{\"request_id\":\"q8\",\"principal\":\"Employee::\\\"alice\\\"\","
        "\"action\":\"read\",\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m1\"," CTX(
            "US", "support") "}";
    /* An append is acknowledged once its journal record is durable, so this access may still
     * be answered (its entry is logged) before the failing integration closes the log. */
    int rc = call(&a, x, KEYD_MSG_ACCESS, rd, &e);
    if (rc == 0) {
        json_decref(a);
        a = (json_t *)1;
    } else {
        assert_int_equal(rc, WARDEN_EIO);
    }
    /* Publishing fails, and from then on every access is refused and nothing released. */
    assert_int_equal(warden_keyd_log_sync(x->k, &e), WARDEN_EIO);
    a = (json_t *)1;
    assert_int_equal(call(&a, x, KEYD_MSG_ACCESS, rd, &e), WARDEN_EIO);
    assert_null(a);
    /* a refusal cannot be logged either: it fails closed as unavailable, not "not found" */
    const char *unknown =
        "{\"request_id\":\"q9\",\"principal\":\"Employee::\\\"alice\\\"\","
        "\"action\":\"read\",\"user\":\"nobody\",\"collection\":\"messages\",\"id\":\"m1\"," CTX(
            "US", "support") "}";
    a = (json_t *)1;
    assert_int_equal(call(&a, x, KEYD_MSG_ACCESS, unknown, &e), WARDEN_EIO);
    assert_null(a);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(rename(q, p), 0);
    assert_int_equal(call(&a, x, KEYD_MSG_ACCESS, rd, &e), WARDEN_EIO);
    assert_null(a);
}

/* After a run of requests the whole log verifies with the signer's public key. */
static void keyd_access_log_verifies(void **state)
{
    env *x = *state;
    warden_err e;
    register_us(x);
    write_doc(x);
    warden_keyd_free(x->k);
    x->k = NULL;
    char p[512];
    warden_tlog_signer *s = NULL;
    warden_tlog_verifier *v = NULL;
    warden_tlog_source *src = NULL;
    warden_buf vk;
    warden_buf_init(&vk);
    path(p, sizeof p, x, "log.key");
    assert_int_equal(warden_tlog_signer_load(&s, p, &e), 0);
    assert_int_equal(warden_tlog_signer_vkey(&vk, s, &e), 0);
    assert_int_equal(warden_tlog_verifier_new(&v, (const char *)vk.p, vk.len, &e), 0);
    path(p, sizeof p, x, "log");
    assert_int_equal(warden_tlog_source_dir_new(&src, p, &e), 0);
    warden_tlog_checkpoint cp;
    if (warden_tlog_verify(&cp, src, v, &e) != 0)
        fail_msg("verify: %s", e.msg);
    assert_int_equal(cp.size, 3); /* start, register, write */
    warden_tlog_source_free(src);
    warden_tlog_verifier_free(v);
    warden_tlog_signer_free(s);
    warden_buf_fini(&vk);
    /* reopening continues the same log */
    assert_int_equal(warden_keyd_open(&x->k, x->cfg, &e), 0);
}

/* Replaces the store under a closed keyd, then reopens it. */
static warden_store *store_open(env *x)
{
    warden_err e;
    warden_store *st = NULL;
    char p[512];
    warden_keyd_free(x->k);
    x->k = NULL;
    path(p, sizeof p, x, "data");
    warden_store_lmdb_config c = {.dir = p};
    if (warden_store_lmdb_open(&st, &c, &e) != 0)
        fail_msg("store: %s", e.msg);
    return st;
}

static void reopen(env *x, warden_store *st)
{
    warden_err e;
    warden_store_free(st);
    if (warden_keyd_open(&x->k, x->cfg, &e) != 0)
        fail_msg("reopen: %s", e.msg);
}

static int read_rec(json_t **a, env *x, const char *user, const char *id, warden_err *e)
{
    char req[512];
    snprintf(req, sizeof req,
             "{\"request_id\":\"t\",\"principal\":\"Employee::\\\"alice\\\"\","
             "\"action\":\"read\",\"user\":\"%s\",\"collection\":\"messages\",\"id\":\"%s\"," CTX(
                 "US", "support") "}",
             user, id);
    return call(a, x, KEYD_MSG_ACCESS, req, e);
}

/* A ciphertext copied to another id, user or version does not decrypt: the read is an
 * error (after its decision was logged), never someone else's plaintext. */
static void keyd_access_tamper_record(void **state)
{
    env *x = *state;
    warden_err e;
    json_t *a = NULL;
    register_us(x);
    write_doc(x);
    a = ok(x, KEYD_MSG_REGISTER,
           "{\"request_id\":\"r9\",\"principal\":\"Employee::\\\"alice\\\"\",\"user\":\"u3\","
           "\"jurisdiction\":\"US\"," CTX("US", "signup") "}");
    json_decref(a);
    /* u3 needs a DEK of its own: one write */
    a = ok(x, KEYD_MSG_ACCESS,
           "{\"request_id\":\"w3\",\"principal\":\"Employee::\\\"alice\\\"\","
           "\"action\":\"write\",\"user\":\"u3\",\"collection\":\"messages\",\"id\":\"x\","
           "\"document\":{}," CTX("US", "support") "}");
    json_decref(a);
    warden_store *st = store_open(x);
    warden_store_record r;
    warden_store_record_init(&r);
    assert_int_equal(warden_store_record_get(st, &r, "u1", "messages", "m1", &e), 0);
    /* another id of the same user, same version */
    assert_int_equal(
        warden_store_record_put(st, "u1", "messages", "m2", 1, r.blob.p, r.blob.len, &e), 0);
    /* another user (with a DEK of its own) */
    assert_int_equal(
        warden_store_record_put(st, "u3", "messages", "m1", 1, r.blob.p, r.blob.len, &e), 0);
    /* a replay as a newer version of the same record */
    assert_int_equal(
        warden_store_record_put(st, "u1", "messages", "m1", 2, r.blob.p, r.blob.len, &e), 0);
    warden_store_record_fini(&r);
    reopen(x, st);
    assert_int_equal(read_rec(&a, x, "u1", "m2", &e), WARDEN_EVERIFY);
    assert_null(a);
    assert_int_equal(read_rec(&a, x, "u3", "m1", &e), WARDEN_EVERIFY);
    assert_int_equal(read_rec(&a, x, "u1", "m1", &e), WARDEN_EVERIFY);
}

/* A wrapped DEK from another region's KEK, or another user's, does not unwrap. */
static void keyd_access_tamper_dek(void **state)
{
    env *x = *state;
    warden_err e;
    json_t *a = NULL;
    char p[512];
    register_us(x);
    write_doc(x);
    warden_store *st = store_open(x);
    /* virginia's KEK wraps a DEK for u4; texas must refuse it */
    warden_kek *other = NULL;
    warden_dek *dek = NULL;
    warden_buf blob;
    warden_buf_init(&blob);
    path(p, sizeof p, x, "virginia.key");
    assert_int_equal(warden_kek_keyfile_create(p, "virginia", &e), 0);
    assert_int_equal(warden_kek_keyfile_open(&other, p, "virginia", &e), 0);
    assert_int_equal(warden_dek_new(&dek, &e), 0);
    assert_int_equal(warden_kek_wrap(&blob, other, dek, "u4", &e), 0);
    warden_store_dek sd = {blob.p, blob.len, warden_kek_id(other), 1};
    assert_int_equal(warden_store_user_register(st, "u4", "US", 1, &sd, &e), 0);
    /* u1's own wrapped DEK given to u5 */
    warden_store_user u;
    warden_store_user_init(&u);
    assert_int_equal(warden_store_user_get(st, &u, "u1", &e), 0);
    warden_store_dek sd1 = {u.wrapped.p, u.wrapped.len, u.kek_id, u.kek_version};
    assert_int_equal(warden_store_user_register(st, "u5", "US", 1, &sd1, &e), 0);
    warden_store_record r;
    warden_store_record_init(&r);
    assert_int_equal(warden_store_record_get(st, &r, "u1", "messages", "m1", &e), 0);
    assert_int_equal(
        warden_store_record_put(st, "u4", "messages", "m1", 1, r.blob.p, r.blob.len, &e), 0);
    assert_int_equal(
        warden_store_record_put(st, "u5", "messages", "m1", 1, r.blob.p, r.blob.len, &e), 0);
    warden_store_record_fini(&r);
    warden_store_user_fini(&u);
    warden_buf_fini(&blob);
    warden_dek_free(dek);
    warden_kek_free(other);
    reopen(x, st);
    assert_int_equal(read_rec(&a, x, "u4", "m1", &e), WARDEN_EVERIFY);
    assert_int_equal(read_rec(&a, x, "u5", "m1", &e), WARDEN_EVERIFY);
    /* the genuine record still reads */
    assert_int_equal(read_rec(&a, x, "u1", "m1", &e), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "document"), "body")),
                        "secret");
    json_decref(a);
}

/* A config with a typo is refused with its file and key named, not half-applied. */
static void keyd_access_config_errors(void **state)
{
    env *x = *state;
    warden_err e;
    warden_keyd *k2 = NULL;
    char p[512];
    path(p, sizeof p, x, "bad.json");
    const char *bad[] = {
        "{\"region\":\"texas\",\"jurisdiction\":[\"US\"]}",
        "{\"region\":\"texas\",\"jurisdictions\":[\"US\"],\"data_dir\":\"d\","
        "\"keys\":{\"provider\":\"vault\"},\"policies\":\"p\",\"log\":{}}",
        "{\"region\":\"texas\",",
        "{\"region\":\"texas\",\"jurisdictions\":[\"US\"],\"data_dir\":\"data\","
        "\"keys\":{\"provider\":\"keyfile\",\"path\":\"kek.key\"},"
        "\"policies\":\"policies.cedar\",\"log\":{\"dir\":\"log\",\"key\":\"log.key\"},"
        "\"socket\":\"keyd.sock\",\"workers\":0}",
    };
    const int want[] = {WARDEN_EINVAL, WARDEN_EINVAL, WARDEN_EPARSE, WARDEN_EINVAL};
    const char *says[] = {"unknown key \"jurisdiction\"", "keys.provider", "bad.json:1:",
                          "\"workers\" must be 1..64"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(warden_file_write_atomic(p, bad[i], strlen(bad[i]), 0600, &e), 0);
        assert_int_equal(warden_keyd_open(&k2, p, &e), want[i]);
        assert_null(k2);
        if (strstr(e.msg, says[i]) == NULL)
            fail_msg("config %zu: message '%s' lacks '%s'", i, e.msg, says[i]);
    }
}

/* The auditor's re-run agrees with every decision, across a reload, and a tampered
 * archive is caught. */
static void keyd_access_audit_check(void **state)
{
    env *x = *state;
    warden_err e;
    char p[512], v[512], logd[512], arch[512];
    register_us(x);
    write_doc(x);
    json_t *a =
        ok(x, KEYD_MSG_ACCESS,
           "{\"request_id\":\"q2\",\"principal\":\"Employee::\\\"bob\\\"\","
           "\"action\":\"read\",\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m1\"," CTX(
               "SG", "moderation") "}");
    json_decref(a);
    snprintf(v, sizeof v, "%s/tests/vectors/keyd/policies_reload.cedar",
             getenv("WARDEN_SOURCE_DIR"));
    path(p, sizeof p, x, "policies.cedar");
    copy_file(v, p);
    a = ok(x, KEYD_MSG_RELOAD, NULL);
    json_decref(a);
    a = ok(x, KEYD_MSG_ACCESS,
           "{\"request_id\":\"q3\",\"principal\":\"Employee::\\\"alice\\\"\","
           "\"action\":\"read\",\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m1\"," CTX(
               "US", "support") "}");
    assert_string_equal(json_string_value(json_object_get(a, "decision")), "deny");
    json_decref(a);
    warden_keyd_free(x->k);
    x->k = NULL;
    warden_tlog_signer *s = NULL;
    warden_buf vk;
    warden_buf_init(&vk);
    path(p, sizeof p, x, "log.key");
    assert_int_equal(warden_tlog_signer_load(&s, p, &e), 0);
    assert_int_equal(warden_tlog_signer_vkey(&vk, s, &e), 0);
    assert_int_equal(warden_buf_cstr(&vk), 0);
    path(logd, sizeof logd, x, "log");
    path(arch, sizeof arch, x, "log.policysets");
    uint64_t n = 0;
    if (warden_keyd_audit_check(&n, logd, arch, (const char *)vk.p, &e) != 0)
        fail_msg("check: %s", e.msg);
    assert_int_equal(n, 4); /* register, write, bob's read, alice's denied read */
    /* rewrite the first archived set (the one the first decisions name) */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cd '%s' && sed -i 's/advertising/advertizing/' *.json", arch);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(warden_keyd_audit_check(&n, logd, arch, (const char *)vk.p, &e),
                     WARDEN_EVERIFY);
    assert_non_null(strstr(e.msg, "does not match its hash"));
    warden_buf_fini(&vk);
    warden_tlog_signer_free(s);
}

/* A write that names its version is a compare-and-set: the wrong version changes nothing. */
static void keyd_access_write_version(void **state)
{
    env *x = *state;
    register_us(x);
    write_doc(x);
#define MIGW(v)                                                                                    \
    "{\"request_id\":\"mw\",\"principal\":\"Service::\\\"migrator\\\"\",\"action\":\"write\","     \
    "\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m1\",\"version\":" v ","              \
    "\"document\":{\"title\":\"v2\"}," CTX("US", "migration") "}"
    json_t *a = ok(x, KEYD_MSG_ACCESS, MIGW("1"));
    assert_string_equal(json_string_value(json_object_get(a, "decision")), "allow");
    assert_string_equal(json_string_value(json_object_get(a, "outcome")), "conflict");
    assert_int_equal(json_integer_value(json_object_get(a, "version")), 1);
    json_decref(a);
    a = ok(x, KEYD_MSG_ACCESS, MIGW("2"));
    assert_string_equal(json_string_value(json_object_get(a, "outcome")), "ok");
    assert_int_equal(json_integer_value(json_object_get(a, "version")), 2);
    json_decref(a);
    a = ok(x, KEYD_MSG_ACCESS, MIGW("2"));
    assert_string_equal(json_string_value(json_object_get(a, "outcome")), "conflict");
    json_decref(a);
    warden_err e;
    json_t *body = NULL;
    const char *bad = "{\"request_id\":\"x\",\"principal\":\"Service::\\\"migrator\\\"\","
                      "\"action\":\"read\",\"user\":\"u1\",\"collection\":\"messages\","
                      "\"id\":\"m1\",\"version\":1," CTX("US", "migration") "}";
    assert_int_equal(keyd_request_decode(&body, KEYD_MSG_ACCESS, (const uint8_t *)bad,
                                         strlen(bad), &e),
                     WARDEN_EINVAL);
#undef MIGW
}

/* ATTEST logs the statement in a decision entry when Cedar allows it, and only then. */
static void keyd_access_attest(void **state)
{
    env *x = *state;
    json_t *a = ok(x, KEYD_MSG_ATTEST,
                   "{\"request_id\":\"at1\",\"principal\":\"Service::\\\"migrator\\\"\","
                   "\"statement\":\"hello\\nworld \\u2014 sig\\n\"," CTX("US", "migration") "}");
    assert_string_equal(json_string_value(json_object_get(a, "decision")), "allow");
    json_t *en = log_entry(x, (uint64_t)json_integer_value(json_object_get(a, "log_index")));
    assert_string_equal(json_string_value(json_object_get(en, "action")), "attest");
    assert_string_equal(json_string_value(json_object_get(en, "statement")),
                        "hello\nworld \xe2\x80\x94 sig\n");
    json_decref(en);
    json_decref(a);
    a = ok(x, KEYD_MSG_ATTEST,
           "{\"request_id\":\"at2\",\"principal\":\"Employee::\\\"bob\\\"\","
           "\"statement\":\"forged\"," CTX("US", "migration") "}");
    assert_string_equal(json_string_value(json_object_get(a, "decision")), "deny");
    en = log_entry(x, (uint64_t)json_integer_value(json_object_get(a, "log_index")));
    assert_null(json_object_get(en, "statement"));
    json_decref(en);
    json_decref(a);
    warden_err e;
    json_t *body = NULL;
    const char *bad = "{\"request_id\":\"x\",\"principal\":\"Service::\\\"migrator\\\"\","
                      "\"statement\":\"tab\\there\"," CTX("US", "migration") "}";
    assert_int_equal(keyd_request_decode(&body, KEYD_MSG_ATTEST, (const uint8_t *)bad,
                                         strlen(bad), &e),
                     WARDEN_EINVAL);
}

/* IMPORT: per record a write (compare-and-set) and a read-back, decided and logged like
 * ACCESS, in one batch; an unregistered owner gets no entry. */
static void keyd_access_import(void **state)
{
    env *x = *state;
    register_us(x);
    write_doc(x); /* u1/messages/m1 is at version 1 */
    json_t *a = ok(x, KEYD_MSG_IMPORT,
                   "{\"request_id\":\"im\",\"principal\":\"Service::\\\"migrator\\\"\","
                   CTX("US", "migration") ",\"records\":["
                   "{\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m2\",\"version\":1,"
                   "\"document\":{\"title\":\"t2\",\"body\":\"b2\"}},"
                   "{\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m1\",\"version\":1,"
                   "\"document\":{\"title\":\"other\"}},"
                   "{\"user\":\"nobody\",\"collection\":\"messages\",\"id\":\"m1\",\"version\":1,"
                   "\"document\":{}}]}");
    json_t *res = json_object_get(a, "results");
    assert_int_equal(json_array_size(res), 3);
    /* each result is [decision, log_index, outcome, version, sha256 of the read-back] */
    json_t *r0 = json_array_get(res, 0), *r1 = json_array_get(res, 1);
    assert_string_equal(json_string_value(json_array_get(r0, 0)), "allow");
    assert_string_equal(json_string_value(json_array_get(r0, 2)), "ok");
    assert_int_equal(json_integer_value(json_array_get(r0, 3)), 1);
    /* keyd read the stored record back: the digest is that of the canonical document */
    static const char CANON[] = "{\"body\":\"b2\",\"title\":\"t2\"}";
    uint8_t md[32];
    char hex[65];
    SHA256((const uint8_t *)CANON, strlen(CANON), md);
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    assert_string_equal(json_string_value(json_array_get(r0, 4)), hex);
    /* the plaintext is not in the answer */
    assert_int_equal(json_array_size(r0), 5);
    /* m1 exists at version 1: the write is a conflict and gets no digest (nothing about a
     * copy this request did not write is released without a read decision) */
    assert_string_equal(json_string_value(json_array_get(r1, 2)), "conflict");
    assert_int_equal(json_integer_value(json_array_get(r1, 3)), 1);
    assert_true(json_is_null(json_array_get(r1, 4)));
    assert_string_equal(json_string_value(json_array_get(json_array_get(res, 2), 2)),
                        "unknown_user");
    assert_true(json_is_null(json_array_get(json_array_get(res, 2), 1)));
    /* one entry per record, the write's; the stored copy reads back as sent */
    uint64_t wi = (uint64_t)json_integer_value(json_array_get(r0, 1));
    json_t *en = log_entry(x, wi);
    assert_string_equal(json_string_value(json_object_get(en, "action")), "write");
    assert_string_equal(json_string_value(json_object_get(en, "request_id")), "im/0/w");
    json_decref(en);
    en = log_entry(x, wi + 1);
    assert_string_equal(json_string_value(json_object_get(en, "action")), "write");
    assert_string_equal(json_string_value(json_object_get(en, "request_id")), "im/1/w");
    json_decref(en);
    json_decref(a);
    a = ok(x, KEYD_MSG_ACCESS,
           "{\"request_id\":\"rd\",\"principal\":\"Service::\\\"migrator\\\"\","
           "\"action\":\"read\",\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m2\","
           CTX("US", "migration") "}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "document"), "body")),
                        "b2");
    json_decref(a);
    /* an employee may not write from SG: denied, logged, nothing stored, no digest */
    a = ok(x, KEYD_MSG_IMPORT,
           "{\"request_id\":\"im2\",\"principal\":\"Employee::\\\"bob\\\"\"," CTX("SG", "migration")
           ",\"records\":[{\"user\":\"u1\",\"collection\":\"messages\",\"id\":\"m3\","
           "\"version\":1,\"document\":{\"title\":\"t3\"}}]}");
    json_t *b0 = json_array_get(json_object_get(a, "results"), 0);
    assert_string_equal(json_string_value(json_array_get(b0, 0)), "deny");
    assert_int_equal(json_integer_value(json_array_get(b0, 3)), 0);
    assert_true(json_is_null(json_array_get(b0, 4)));
    json_decref(a);
    /* the decisions re-run offline */
    warden_err e;
    uint64_t n = 0;
    char logd[512], arch[512];
    path(logd, sizeof logd, x, "log");
    path(arch, sizeof arch, x, "log.policysets");
    warden_tlog_signer *s = NULL;
    warden_buf vk;
    warden_buf_init(&vk);
    char kp[512];
    path(kp, sizeof kp, x, "log.key");
    assert_int_equal(warden_tlog_signer_load(&s, kp, &e), 0);
    assert_int_equal(warden_tlog_signer_vkey(&vk, s, &e), 0);
    assert_int_equal(warden_buf_cstr(&vk), 0);
    assert_int_equal(warden_keyd_log_sync(x->k, &e), 0);
    if (warden_keyd_audit_check(&n, logd, arch, (const char *)vk.p, &e) != 0)
        fail_msg("check: %s", e.msg);
    assert_int_equal(n, 6); /* register, write, 2 x write, the read, bob's write */
    warden_buf_fini(&vk);
    warden_tlog_signer_free(s);
}

/* REGISTER_MANY: REGISTER's decision and entry per user, new users stored with a DEK in one
 * commit, an existing one answered "exists", a jurisdiction outside the region refused. */
static void keyd_access_register_many(void **state)
{
    env *x = *state;
    register_us(x); /* u1 exists */
    json_t *a = ok(x, KEYD_MSG_REGISTER_MANY,
                   "{\"request_id\":\"rm\",\"principal\":\"Service::\\\"migrator\\\"\","
                   CTX("US", "migration") ",\"users\":[{\"user\":\"u1\",\"jurisdiction\":\"US\"},"
                   "{\"user\":\"u2\",\"jurisdiction\":\"US\"},"
                   "{\"user\":\"s1\",\"jurisdiction\":\"SG\"}]}");
    json_t *res = json_object_get(a, "results");
    assert_int_equal(json_array_size(res), 3);
    const char *want[3][2] = {{"allow", "exists"}, {"allow", "ok"}, {"deny", "ok"}};
    for (size_t i = 0; i < 3; i++) {
        json_t *r = json_array_get(res, i);
        assert_string_equal(json_string_value(json_array_get(r, 0)), want[i][0]);
        assert_string_equal(json_string_value(json_array_get(r, 2)), want[i][1]);
        json_t *en = log_entry(x, (uint64_t)json_integer_value(json_array_get(r, 1)));
        char rid[16];
        snprintf(rid, sizeof rid, "rm/%zu", i);
        assert_string_equal(json_string_value(json_object_get(en, "request_id")), rid);
        assert_string_equal(json_string_value(json_object_get(en, "action")), "store");
        json_decref(en);
    }
    json_decref(a);
    warden_err e;
    warden_store_user u;
    warden_store_user_init(&u);
    assert_int_equal(warden_store_user_get(x->k->store, &u, "u2", &e), 0);
    assert_string_equal(u.jurisdiction, "US");
    assert_true(u.has_dek); /* stored with the registration */
    assert_int_equal(warden_store_user_get(x->k->store, &u, "s1", &e), WARDEN_ENOTFOUND);
    warden_store_user_fini(&u);
    /* u2's first write uses that DEK and reads back through an ACCESS read */
    a = ok(x, KEYD_MSG_IMPORT,
           "{\"request_id\":\"im\",\"principal\":\"Service::\\\"migrator\\\"\","
           CTX("US", "migration") ",\"records\":[{\"user\":\"u2\",\"collection\":\"messages\","
           "\"id\":\"m1\",\"version\":1,\"document\":{\"title\":\"t\"}}]}");
    json_t *r0 = json_array_get(json_object_get(a, "results"), 0);
    assert_string_equal(json_string_value(json_array_get(r0, 2)), "ok");
    assert_true(json_is_string(json_array_get(r0, 4)));
    json_decref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(keyd_access_residency, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_access_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_access_json_wipe_installed, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_access_read_per_class, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_access_export_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_access_shred, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_access_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_access_fails_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_access_log_verifies, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_access_tamper_record, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_access_tamper_dek, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_access_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_access_audit_check, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_access_write_version, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_access_attest, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_access_import, setup, teardown),
        cmocka_unit_test_setup_teardown(keyd_access_register_many, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
