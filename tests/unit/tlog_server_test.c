/* The HTTP server: the layout is served with the right types and caching headers, anything
 * outside the grammar is 404, other methods 405, and a log verifies over HTTP (libcurl). */
#include "tlog_testutil.h"

#include <curl/curl.h>
#include <unistd.h>

typedef struct env {
    char dir[1024];
    char key[1100];
    char url[64];
    warden_tlog_signer *s;
    warden_tlog_verifier *v;
    warden_tlog_server *srv;
} env;

static int setup(void **state)
{
    env *x = calloc(1, sizeof *x);
    warden_err e;
    warden_buf vk;
    warden_tlog_appender *a = NULL;
    snprintf(x->dir, sizeof x->dir, "%s", scratch_dir("server"));
    snprintf(x->key, sizeof x->key, "%s.key", x->dir);
    unlink(x->key);
    assert_int_equal(warden_tlog_key_generate(x->key, "serve.example", NULL, &e), 0);
    assert_int_equal(warden_tlog_signer_load(&x->s, x->key, &e), 0);
    warden_buf_init(&vk);
    assert_int_equal(warden_tlog_signer_vkey(&vk, x->s, &e), 0);
    assert_int_equal(warden_tlog_verifier_new(&x->v, (char *)vk.p, vk.len, &e), 0);
    warden_buf_fini(&vk);
    assert_int_equal(warden_tlog_create(x->dir, "serve.example", x->s, &e), 0);
    assert_int_equal(warden_tlog_appender_new(&a, x->dir, x->s, NULL, &e), 0);
    static const uint8_t *ents[600];
    static size_t lens[600];
    for (int i = 0; i < 600; i++) {
        ents[i] = (const uint8_t *)"served entry";
        lens[i] = 12;
    }
    uint64_t first;
    assert_int_equal(warden_tlog_append_many(&first, a, ents, lens, 600, &e), 0);
    warden_tlog_appender_free(a);
    /* A dotfile and a temp file that must never be served. */
    char p[1200];
    snprintf(p, sizeof p, "%s/.secret", x->dir);
    FILE *f = fopen(p, "w");
    fputs("x", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/tile/0/000.tmp", x->dir);
    f = fopen(p, "w");
    fputs("x", f);
    fclose(f);
    /* What an interrupted batch leaves past the checkpoint (size 600): never served. */
    static const char *const beyond[] = {"tile/0/002", "tile/0/002.p/89", "tile/entries/003",
                                         "tile/1/000.p/3", "tile/0/002.p/50"};
    for (size_t i = 0; i < sizeof beyond / sizeof beyond[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", x->dir, beyond[i]);
        f = fopen(p, "w");
        assert_non_null(f);
        fputs("unpublished", f);
        fclose(f);
    }
    for (int i = 0; i < 50 && x->srv == NULL; i++) {
        char listen[64];
        int port = 20000 + (int)((getpid() * 7 + i * 131) % 30000);
        snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
        if (warden_tlog_server_new(&x->srv, x->dir, listen, &e) == 0)
            snprintf(x->url, sizeof x->url, "http://127.0.0.1:%d", port);
    }
    assert_non_null(x->srv);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    env *x = *state;
    warden_tlog_server_free(x->srv);
    warden_tlog_signer_free(x->s);
    warden_tlog_verifier_free(x->v);
    remove_tree(x->dir);
    unlink(x->key);
    free(x);
    return 0;
}

typedef struct reply {
    long status;
    char cache[128];
    char type[128];
    size_t body;
} reply;

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    reply *r = ud;
    size_t len = size * n;
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)(len < 255 ? len : 255), p);
    line[strcspn(line, "\r\n")] = '\0';
    if (strncasecmp(line, "Cache-Control: ", 15) == 0)
        snprintf(r->cache, sizeof r->cache, "%.100s", line + 15);
    if (strncasecmp(line, "Content-Type: ", 14) == 0)
        snprintf(r->type, sizeof r->type, "%.100s", line + 14);
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    ((reply *)ud)->body += size * n;
    return size * n;
}

static reply fetch(env *x, const char *method, const char *path)
{
    reply r = {0};
    char url[512];
    snprintf(url, sizeof url, "%s%s", x->url, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* send "/../" as written */
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    return r;
}

static void tlog_server_layout(void **state)
{
    env *x = *state;
    reply r = fetch(x, "GET", "/checkpoint");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.cache, "no-cache");
    assert_string_equal(r.type, "text/plain; charset=utf-8");
    r = fetch(x, "GET", "/tile/0/001");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body, 8192);
    assert_string_equal(r.cache, "public, max-age=31536000, immutable");
    assert_string_equal(r.type, "application/octet-stream");
    r = fetch(x, "GET", "/tile/entries/000");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.cache, "public, max-age=31536000, immutable");
    r = fetch(x, "GET", "/tile/0/002.p/88");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body, 88 * 32);
    assert_string_equal(r.cache, "public, max-age=60");
    /* An older checkpoint's partial tile is still part of the published layout. */
    r = fetch(x, "GET", "/tile/0/002.p/50");
    assert_int_equal(r.status, 200);
    r = fetch(x, "HEAD", "/tile/1/000.p/2");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body, 0);
}

static void tlog_server_rejects(void **state)
{
    env *x = *state;
    static const char *const notfound[] = {
        "/",
        "/.secret",
        "/.journal", /* the appender's write-ahead journal: exists, never served */
        "/tile/0/000.tmp",
        "/tile/../checkpoint",
        "/tile/0/../../.secret",
        "/../etc/passwd",
        "/tile/0/1",
        "/tile/0/x000/001",
        "/tile/0/003",
        "/tile/0/",
        "/tile/0/002.p/87",
        "/checkpoint/",
        "/tile/8/0/000",
        "/tile",
        "//checkpoint",
    };
    for (size_t i = 0; i < sizeof notfound / sizeof notfound[0]; i++) {
        reply r = fetch(x, "GET", notfound[i]);
        if (r.status != 404)
            fail_msg("GET %s: status %ld, want 404", notfound[i], r.status);
    }
    assert_int_equal(fetch(x, "POST", "/checkpoint").status, 405);
    assert_int_equal(fetch(x, "PUT", "/tile/0/000").status, 405);
    assert_int_equal(fetch(x, "DELETE", "/checkpoint").status, 405);
}

static void tlog_server_verify_over_http(void **state)
{
    env *x = *state;
    warden_err e;
    warden_tlog_source *src = NULL;
    warden_tlog_checkpoint cp;
    assert_int_equal(warden_tlog_source_url_new(&src, x->url, &e), 0);
    if (warden_tlog_verify(&cp, src, x->v, &e) != 0)
        fail_msg("verify over HTTP: %s", e.msg);
    assert_int_equal(cp.size, 600);
    warden_buf b;
    warden_buf_init(&b);
    assert_int_equal(warden_tlog_source_get(&b, src, "tile/0/009", 8192, &e), WARDEN_ENOTFOUND);
    assert_int_equal(warden_tlog_source_get(&b, src, "tile/0/000", 100, &e), WARDEN_ELIMIT);
    warden_buf_fini(&b);
    warden_tlog_source_free(src);
    assert_int_equal(warden_tlog_source_url_new(&src, "file:///etc", &e), WARDEN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tlog_server_layout),
        cmocka_unit_test(tlog_server_rejects),
        cmocka_unit_test(tlog_server_verify_over_http),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
