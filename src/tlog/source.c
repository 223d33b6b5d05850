/* Reading a log through its public layout only: from a directory or over HTTP(S) with
 * libcurl. Everything read here is untrusted: tiles are length-checked, bundles parsed with
 * the cursor, and the checkpoint is opened with the caller's verifier key. */
#include "tlog/tlog_internal.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_TILES 4

typedef struct cached_tile {
    int valid;
    int level;
    uint64_t index;
    unsigned width;
    warden_tlog_hash h[WARDEN_TLOG_TILE_WIDTH];
} cached_tile;

struct warden_tlog_source {
    char *dir;
    char *url;
    CURL *curl;
    uint64_t size; /* tree size the reader serves */
    cached_tile cache[CACHE_TILES];
    unsigned next_slot;
};

int warden_tlog_source_dir_new(warden_tlog_source **out, const char *dir, warden_err *err)
{
    warden_tlog_source *s = calloc(1, sizeof *s);
    if (s == NULL || (s->dir = strdup(dir)) == NULL) {
        free(s);
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
    *out = s;
    return 0;
}

int warden_tlog_source_url_new(warden_tlog_source **out, const char *url, warden_err *err)
{
    int rc = 0;
    warden_tlog_source *s = NULL;
    size_t n = strlen(url);
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return warden_err_set(err, WARDEN_EINVAL, "%s: not an http:// or https:// URL", url);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return warden_err_set(err, WARDEN_EINTERNAL, "libcurl initialisation failed");
    if ((s = calloc(1, sizeof *s)) == NULL || (s->url = strdup(url)) == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    while (n > 0 && s->url[n - 1] == '/')
        s->url[--n] = '\0';
    if ((s->curl = curl_easy_init()) == NULL) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "libcurl: cannot create a handle");
        goto out;
    }
    *out = s;
    s = NULL;
out:
    warden_tlog_source_free(s);
    return rc;
}

void warden_tlog_source_free(warden_tlog_source *s)
{
    if (s == NULL)
        return;
    if (s->curl != NULL)
        curl_easy_cleanup(s->curl);
    free(s->dir);
    free(s->url);
    free(s);
}

typedef struct fetch_ctx {
    warden_buf *out;
    size_t start;
    size_t max;
    int over;
    int nomem;
} fetch_ctx;

static size_t on_data(char *p, size_t size, size_t nmemb, void *userdata)
{
    fetch_ctx *f = userdata;
    size_t n = size * nmemb;
    if (f->out->len - f->start + n > f->max) {
        f->over = 1;
        return 0; /* aborts the transfer */
    }
    if (warden_buf_append(f->out, p, n) != 0) {
        f->nomem = 1;
        return 0;
    }
    return n;
}

static int http_get(warden_buf *out, warden_tlog_source *s, const char *path, size_t max,
                    warden_err *err)
{
    char url[4096];
    char ebuf[CURL_ERROR_SIZE] = "";
    long status = 0;
    fetch_ctx f = {.out = out, .start = out->len, .max = max};
    int n = snprintf(url, sizeof url, "%s/%s", s->url, path);
    if (n < 0 || (size_t)n >= sizeof url)
        return warden_err_set(err, WARDEN_EINVAL, "%s/%s: URL too long", s->url, path);
    curl_easy_reset(s->curl);
    curl_easy_setopt(s->curl, CURLOPT_URL, url);
    curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(s->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(s->curl, CURLOPT_ACCEPT_ENCODING, ""); /* gzip etc. if the server offers */
    curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &f);
    CURLcode cc = curl_easy_perform(s->curl);
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    if (f.over) {
        out->len = f.start;
        return warden_err_set(err, WARDEN_ELIMIT, "%s: larger than %zu bytes", url, max);
    }
    if (f.nomem) {
        out->len = f.start;
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
    if (cc != CURLE_OK) {
        out->len = f.start;
        return warden_err_set(err, WARDEN_EIO, "%s: %s", url,
                              ebuf[0] ? ebuf : curl_easy_strerror(cc));
    }
    if (status != 200) {
        out->len = f.start;
        return warden_err_set(err, status == 404 ? WARDEN_ENOTFOUND : WARDEN_EIO,
                              "%s: HTTP status %ld", url, status);
    }
    return 0;
}

int warden_tlog_source_get(warden_buf *out, warden_tlog_source *s, const char *path, size_t max,
                           warden_err *err)
{
    if (s->url != NULL)
        return http_get(out, s, path, max, err);
    char full[4096];
    int n = snprintf(full, sizeof full, "%s/%s", s->dir, path);
    if (n < 0 || (size_t)n >= sizeof full)
        return warden_err_set(err, WARDEN_EINVAL, "%s/%s: path too long", s->dir, path);
    return warden_file_read(out, full, max, err);
}

int tlog_source_get_tile(warden_buf *out, warden_tlog_source *s, int level, uint64_t index,
                         unsigned w, char path[WARDEN_TLOG_PATH_MAX], warden_err *err)
{
    int bundle = level == WARDEN_TLOG_ENTRIES_LEVEL;
    size_t unit = bundle ? WARDEN_TLOG_ENTRY_MAX + 2 : WARDEN_TLOG_HASH_SIZE;
    size_t start = out->len;
    int rc = warden_tlog_tile_path(path, WARDEN_TLOG_PATH_MAX, level, index, w);
    if (rc != 0)
        return warden_err_set(err, WARDEN_EINTERNAL, "tile %d/%llu: no path", level,
                              (unsigned long long)index);
    rc = warden_tlog_source_get(out, s, path, (size_t)w * unit, err);
    if (rc != WARDEN_ENOTFOUND || w >= WARDEN_TLOG_TILE_WIDTH)
        return rc;
    /* The partial tile may have been superseded by the full one since the checkpoint. */
    warden_err first;
    char full[WARDEN_TLOG_PATH_MAX];
    if (err != NULL)
        first = *err;
    if (warden_tlog_tile_path(full, sizeof full, level, index, 0) != 0 ||
        warden_tlog_source_get(out, s, full, WARDEN_TLOG_TILE_WIDTH * unit, err) != 0) {
        out->len = start;
        if (err != NULL)
            *err = first;
        return WARDEN_ENOTFOUND;
    }
    memcpy(path, full, sizeof full);
    size_t keep = (size_t)w * WARDEN_TLOG_HASH_SIZE;
    if (bundle) {
        warden_cursor c;
        warden_cursor_init(&c, out->p + start, out->len - start);
        for (unsigned i = 0; i < w; i++) {
            uint16_t n;
            const uint8_t *e;
            if (warden_cursor_be16(&c, &n) != 0 || warden_cursor_bytes(&c, &e, n) != 0) {
                out->len = start;
                return warden_err_set(err, WARDEN_ECORRUPT, "%s: entry %u is truncated", path, i);
            }
        }
        keep = c.off;
    } else if (out->len - start != WARDEN_TLOG_TILE_WIDTH * WARDEN_TLOG_HASH_SIZE) {
        out->len = start;
        return warden_err_set(err, WARDEN_ECORRUPT, "%s: %zu bytes, expected %d", path,
                              out->len - start, WARDEN_TLOG_TILE_WIDTH * WARDEN_TLOG_HASH_SIZE);
    }
    out->len = start + keep;
    return 0;
}

int warden_tlog_source_checkpoint(warden_tlog_checkpoint *cp, warden_tlog_source *s,
                                  const warden_tlog_verifier *v, warden_err *err)
{
    warden_buf b;
    size_t tlen = 0;
    warden_buf_init(&b);
    int rc = warden_tlog_source_get(&b, s, "checkpoint", WARDEN_TLOG_NOTE_MAX, err);
    if (rc == 0) {
        if (v != NULL)
            rc = warden_tlog_checkpoint_open(cp, b.p, b.len, v, err);
        else if ((rc = warden_tlog_note_parse(&tlen, b.p, b.len, err)) == 0)
            rc = warden_tlog_checkpoint_parse(cp, b.p, tlen, err);
        if (rc != 0)
            warden_err_prefix(err, "checkpoint");
    }
    warden_buf_fini(&b);
    return rc;
}

/* Reads hash tile (level, index) of the tree of s->size entries, through a small cache. */
static int read_tile(const warden_tlog_hash **hashes, unsigned *width, warden_tlog_source *s,
                     int level, uint64_t index, warden_err *err)
{
    unsigned shift = (unsigned)(level + 1) * WARDEN_TLOG_TILE_HEIGHT;
    uint64_t full_tiles = shift >= 64 ? 0 : s->size >> shift;
    unsigned w =
        index < full_tiles ? WARDEN_TLOG_TILE_WIDTH : warden_tlog_partial_width(level, s->size);
    if (index > full_tiles || w == 0)
        return warden_err_set(err, WARDEN_EINVAL, "tile %d/%llu is beyond tree size %llu", level,
                              (unsigned long long)index, (unsigned long long)s->size);
    for (unsigned i = 0; i < CACHE_TILES; i++) {
        cached_tile *t = &s->cache[i];
        if (t->valid && t->level == level && t->index == index && t->width == w) {
            *hashes = t->h;
            *width = w;
            return 0;
        }
    }
    cached_tile *t = &s->cache[s->next_slot++ % CACHE_TILES];
    char path[WARDEN_TLOG_PATH_MAX];
    warden_buf b;
    int rc;
    warden_buf_init(&b);
    t->valid = 0;
    if ((rc = tlog_source_get_tile(&b, s, level, index, w, path, err)) != 0)
        goto out;
    if (b.len != (size_t)w * WARDEN_TLOG_HASH_SIZE) {
        rc = warden_err_set(err, WARDEN_ECORRUPT, "%s: %zu bytes, expected %u", path, b.len,
                            w * WARDEN_TLOG_HASH_SIZE);
        goto out;
    }
    memcpy(t->h, b.p, b.len);
    t->valid = 1, t->level = level, t->index = index, t->width = w;
    *hashes = t->h;
    *width = w;
out:
    warden_buf_fini(&b);
    return rc;
}

static int source_subtree(void *ctx, warden_tlog_hash *out, unsigned height, uint64_t index,
                          warden_err *err)
{
    warden_tlog_source *s = ctx;
    int level = (int)(height / WARDEN_TLOG_TILE_HEIGHT);
    unsigned r = height % WARDEN_TLOG_TILE_HEIGHT;
    uint64_t first = index << r; /* first hash at this level */
    uint64_t count = UINT64_C(1) << r;
    const warden_tlog_hash *h = NULL;
    unsigned w = 0;
    int rc = read_tile(&h, &w, s, level, first / WARDEN_TLOG_TILE_WIDTH, err);
    if (rc != 0)
        return rc;
    unsigned off = (unsigned)(first % WARDEN_TLOG_TILE_WIDTH);
    if (off + count > w)
        return warden_err_set(err, WARDEN_EINVAL, "subtree %u/%llu is not complete at size %llu",
                              height, (unsigned long long)index, (unsigned long long)s->size);
    warden_tlog_tree_hash(out, h + off, count);
    return 0;
}

void warden_tlog_source_reader(warden_tlog_hash_reader *r, warden_tlog_source *s, uint64_t size)
{
    if (s->size != size)
        for (unsigned i = 0; i < CACHE_TILES; i++)
            s->cache[i].valid = 0;
    s->size = size;
    r->subtree = source_subtree;
    r->ctx = s;
}

int warden_tlog_source_entry(warden_buf *out, warden_tlog_source *s, uint64_t size, uint64_t index,
                             warden_err *err)
{
    char path[WARDEN_TLOG_PATH_MAX];
    warden_buf b;
    warden_tlog_bundle *bd = NULL;
    if (index >= size)
        return warden_err_set(err, WARDEN_EINVAL, "index %llu is not below tree size %llu",
                              (unsigned long long)index, (unsigned long long)size);
    uint64_t n = index / WARDEN_TLOG_TILE_WIDTH;
    unsigned w = n < size / WARDEN_TLOG_TILE_WIDTH ? WARDEN_TLOG_TILE_WIDTH
                                                   : warden_tlog_partial_width(0, size);
    int rc;
    warden_buf_init(&b);
    if ((bd = malloc(sizeof *bd)) == NULL) {
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = tlog_source_get_tile(&b, s, WARDEN_TLOG_ENTRIES_LEVEL, n, w, path, err)) != 0)
        goto out;
    if ((rc = warden_tlog_bundle_parse(bd, b.p, b.len, w, err)) != 0) {
        warden_err_prefix(err, "%s", path);
        rc = WARDEN_ECORRUPT;
        if (err != NULL)
            err->code = rc;
        goto out;
    }
    size_t i = (size_t)(index % WARDEN_TLOG_TILE_WIDTH);
    if (warden_buf_append(out, bd->entry[i], bd->len[i]) != 0)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
out:
    free(bd);
    warden_buf_fini(&b);
    return rc;
}
