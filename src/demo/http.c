/* The demo's HTTP client (libcurl): one request per call, sent from a chosen source address
 * (CURLOPT_INTERFACE "host!<addr>" binds the socket to it, so the gateway sees a real peer
 * address on a network of networks.csv), redirects never followed (the demo shows them). */
#include "demo/demo_internal.h"

#include <curl/curl.h>
#include <string.h>
#include <strings.h>

#define DEMO_BODY_MAX (4u << 20)

void demo_response_init(demo_response *r)
{
    r->status = 0;
    warden_buf_init(&r->body);
    r->location[0] = '\0';
    r->json = NULL;
}

void demo_response_fini(demo_response *r)
{
    warden_buf_fini(&r->body);
    json_decref(r->json);
    r->json = NULL;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    demo_response *r = arg;
    size_t len = size * n;
    if (r->body.len + len > DEMO_BODY_MAX || warden_buf_append(&r->body, p, len) != 0)
        return 0; /* makes curl fail the transfer */
    return len;
}

/* Keeps the Location header (curl hands headers over one line at a time, not NUL-ended). */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    demo_response *r = arg;
    size_t len = size * n;
    static const char name[] = "location:";
    if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        size_t i = sizeof name - 1, j = len;
        while (i < j && (p[i] == ' ' || p[i] == '\t'))
            i++;
        while (j > i && (p[j - 1] == '\r' || p[j - 1] == '\n' || p[j - 1] == ' '))
            j--;
        if (j - i < sizeof r->location) {
            memcpy(r->location, p + i, j - i);
            r->location[j - i] = '\0';
        }
    }
    return len;
}

static int add_header(struct curl_slist **h, const char *name, const char *value)
{
    char line[WARDEN_TOKEN_MAX + 64];
    int n = snprintf(line, sizeof line, "%s %s", name, value);
    struct curl_slist *t = n < 0 || (size_t)n >= sizeof line ? NULL : curl_slist_append(*h, line);
    warden_wipe(line, sizeof line); /* may hold a bearer token */
    if (t == NULL)
        return -1;
    *h = t;
    return 0;
}

int demo_http(demo_response *r, const demo_request *q, warden_err *err)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char ebuf[CURL_ERROR_SIZE] = "";
    char iface[80];
    int rc = 0;
    if (c == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "curl_easy_init failed");
    if ((q->token != NULL && add_header(&h, "Authorization: Bearer", q->token) != 0) ||
        (q->purpose != NULL && add_header(&h, "Warden-Purpose:", q->purpose) != 0) ||
        (q->xff != NULL && add_header(&h, "X-Forwarded-For:", q->xff) != 0) ||
        (q->body != NULL && add_header(&h, "Content-Type:", "application/json") != 0)) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, q->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (q->body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(q->body));
    }
    if (q->from != NULL) {
        snprintf(iface, sizeof iface, "host!%s", q->from);
        curl_easy_setopt(c, CURLOPT_INTERFACE, iface);
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        rc = warden_err_set(err, WARDEN_EIO, "%s %s: %s", q->method, q->url,
                            ebuf[0] ? ebuf : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->body.len > 0) {
        json_t *j = json_loadb((const char *)r->body.p, r->body.len, 0, NULL);
        if (json_is_object(j))
            r->json = j;
        else
            json_decref(j);
    }
out:
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc;
}
