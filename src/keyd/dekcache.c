/* A bounded cache of unwrapped DEKs, so that a read does not pay a KEK unwrap and a fresh
 * mapping of locked memory (mmap + mlock + munmap, whose TLB shootdown stalls both CPUs)
 * every time.
 *
 * Main invariant: the cache never answers with a key that an unwrap of the blob the store
 * holds right now would not give. An entry is keyed by the user *and the exact wrapped blob*
 * that was unwrapped: the caller looks the user up in the store first (a shredded user has
 * no blob, so the cache is never consulted for them) and passes the blob it found, so a
 * re-wrapped or replaced DEK simply misses. Shred, rotate and retire also wipe entries
 * (keyd_dekcache_forget) so that key bytes do not outlive their user in memory; an unwrap
 * that raced with such a wipe is not inserted (the epoch the caller read before its store
 * lookup has changed). Key bytes live only in warden_secret_alloc memory: the slots' keys,
 * and a small pool of spare DEK objects that callers borrow and give back (wiped). */
#include "keyd/keyd_internal.h"

#include <stdlib.h>
#include <string.h>

#define DEKCACHE_WAYS 4
#define DEKCACHE_BLOB_MAX 256 /* wrapped blobs are ~100 bytes; larger ones are not cached */
#define DEKCACHE_POOL_MAX 128 /* spare DEK objects kept for reuse */

typedef struct slot {
    bool live;
    uint64_t used; /* LRU clock within the set */
    char user[WARDEN_STORE_USER_MAX + 1];
    uint8_t blob[DEKCACHE_BLOB_MAX];
    size_t blob_len;
    warden_dek *dek; /* secret memory, allocated on first use of the slot, kept until free */
} slot;

struct keyd_dekcache {
    pthread_mutex_t mu;
    slot *slots;
    size_t nsets;
    uint64_t tick, epoch;
    uint64_t hits, misses;
    warden_dek *pool[DEKCACHE_POOL_MAX];
    size_t npool;
};

int keyd_dekcache_new(keyd_dekcache **out, size_t capacity, warden_err *err)
{
    *out = NULL;
    keyd_dekcache *c = calloc(1, sizeof *c);
    size_t nsets = capacity / DEKCACHE_WAYS;
    if (c == NULL || (c->slots = calloc(nsets ? nsets * DEKCACHE_WAYS : 1, sizeof *c->slots)) == NULL) {
        free(c);
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
    c->nsets = nsets; /* 0: the cache is off, only the pool of spare objects works */
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return 0;
}

static void slot_clear(slot *s)
{
    if (s->dek != NULL) {
        warden_dek_free(s->dek); /* wipes */
        s->dek = NULL;
    }
    s->live = false;
    s->blob_len = 0;
    s->user[0] = '\0';
}

void keyd_dekcache_free(keyd_dekcache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nsets * DEKCACHE_WAYS; i++)
        slot_clear(&c->slots[i]);
    for (size_t i = 0; i < c->npool; i++)
        warden_dek_free(c->pool[i]);
    free(c->slots);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

uint64_t keyd_dekcache_epoch(keyd_dekcache *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t e = c->epoch;
    pthread_mutex_unlock(&c->mu);
    return e;
}

/* FNV-1a of the user name: picks the set. */
static size_t set_of(const keyd_dekcache *c, const char *user)
{
    uint64_t h = 1469598103934665603u;
    for (const unsigned char *p = (const unsigned char *)user; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    return (size_t)(h % c->nsets) * DEKCACHE_WAYS;
}

static bool matches(const slot *s, const char *user, const uint8_t *blob, size_t len)
{
    return s->live && s->blob_len == len && strcmp(s->user, user) == 0 &&
           memcmp(s->blob, blob, len) == 0; /* the blob is public: plain compare is fine */
}

/* A spare DEK object from the pool, or a new one. Called without the lock. */
static int spare(warden_dek **out, keyd_dekcache *c, warden_err *err)
{
    pthread_mutex_lock(&c->mu);
    *out = c->npool > 0 ? c->pool[--c->npool] : NULL;
    pthread_mutex_unlock(&c->mu);
    return *out != NULL ? 0 : warden_dek_new(out, err);
}

/* Stores a copy of dek for (user, blob) unless an invalidation came since epoch. */
static void insert(keyd_dekcache *c, uint64_t epoch, const char *user, const uint8_t *blob,
                   size_t len, const warden_dek *dek)
{
    size_t ulen = strlen(user);
    if (c->nsets == 0 || len > DEKCACHE_BLOB_MAX || ulen > WARDEN_STORE_USER_MAX)
        return;
    warden_err ignored;
    pthread_mutex_lock(&c->mu);
    if (c->epoch == epoch) {
        /* An empty way if there is one, else the least recently used. */
        slot *set = &c->slots[set_of(c, user)], *victim = &set[0];
        for (int w = 0; w < DEKCACHE_WAYS; w++) {
            if (matches(&set[w], user, blob, len)) {
                victim = NULL; /* a racing reader inserted it already */
                break;
            }
            if (victim->live && (!set[w].live || set[w].used < victim->used))
                victim = &set[w];
        }
        if (victim != NULL && (victim->dek != NULL || warden_dek_new(&victim->dek, &ignored) == 0)) {
            warden_dek_copy(victim->dek, dek);
            memcpy(victim->user, user, ulen + 1);
            memcpy(victim->blob, blob, len);
            victim->blob_len = len;
            victim->used = ++c->tick;
            victim->live = true;
        }
    }
    pthread_mutex_unlock(&c->mu);
}

int keyd_dekcache_get(warden_dek **out, keyd_dekcache *c, uint64_t epoch, warden_kek *kek,
                      const char *user, const uint8_t *blob, size_t len, warden_err *err)
{
    *out = NULL;
    warden_dek *d = NULL;
    int rc = spare(&d, c, err);
    if (rc != 0)
        return rc;
    bool hit = false;
    pthread_mutex_lock(&c->mu);
    if (c->nsets > 0) {
        slot *set = &c->slots[set_of(c, user)];
        for (int w = 0; w < DEKCACHE_WAYS && !hit; w++)
            if (matches(&set[w], user, blob, len)) {
                warden_dek_copy(d, set[w].dek);
                set[w].used = ++c->tick;
                hit = true;
            }
    }
    c->hits += hit;
    c->misses += !hit;
    pthread_mutex_unlock(&c->mu);
    if (hit) {
        *out = d;
        return 0;
    }
    keyd_dekcache_put(c, d);
    /* The unwrap itself checks the blob against this region and user (AES-GCM AAD). */
    warden_dek *fresh = NULL;
    if ((rc = warden_kek_unwrap(&fresh, kek, blob, len, user, err)) != 0)
        return rc;
    insert(c, epoch, user, blob, len, fresh);
    *out = fresh;
    return 0;
}

void keyd_dekcache_put(keyd_dekcache *c, warden_dek *dek)
{
    if (dek == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    if (c->npool < DEKCACHE_POOL_MAX) {
        /* Wipe before it waits in the pool: a spare holds no key. */
        warden_dek_wipe(dek);
        c->pool[c->npool++] = dek;
        dek = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    warden_dek_free(dek);
}

void keyd_dekcache_forget(keyd_dekcache *c, const char *user)
{
    pthread_mutex_lock(&c->mu);
    c->epoch++;
    for (size_t i = 0; i < c->nsets * DEKCACHE_WAYS; i++)
        if (c->slots[i].live && (user == NULL || strcmp(c->slots[i].user, user) == 0))
            slot_clear(&c->slots[i]);
    pthread_mutex_unlock(&c->mu);
}

void keyd_dekcache_stats(keyd_dekcache *c, uint64_t *hits, uint64_t *misses)
{
    pthread_mutex_lock(&c->mu);
    *hits = c->hits;
    *misses = c->misses;
    pthread_mutex_unlock(&c->mu);
}
