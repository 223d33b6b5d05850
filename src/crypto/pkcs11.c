/* The PKCS#11 provider: each KEK version is an AES-256 secret key generated on the token
 * (CKA_TOKEN, CKA_SENSITIVE, CKA_PRIVATE true; CKA_EXTRACTABLE false) and labelled
 * warden-kek-<region>-v<N>. A DEK is wrapped by CKM_AES_GCM C_Encrypt of its 32 bytes as
 * data inside the token, with our nonce and associated data: unlike CKM_AES_KEY_WRAP_PAD
 * this authenticates the region/user binding, and the DEK never becomes a token object.
 * Invariant: KEK bytes never leave the token; one session per KEK, used under a mutex
 * because a PKCS#11 session must not be used by two threads at once. */
#include "crypto/crypto_internal.h"

#include <dlfcn.h>
#include <limits.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- modules: loaded once per process, initialised while someone uses them ---- */

typedef struct p11_module {
    char path[PATH_MAX];
    CK_FUNCTION_LIST_PTR fl;
    int refs;
    bool owns_init; /* false if someone else in the process initialised it first */
    struct p11_module *next;
} p11_module;

static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static p11_module *modules;

static int module_acquire(p11_module **out, const char *path, warden_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&modules_lock);
    p11_module *m = modules;
    while (m != NULL && strcmp(m->path, path) != 0)
        m = m->next;
    if (m == NULL) {
        m = calloc(1, sizeof *m);
        if (m == NULL) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory for a PKCS#11 module");
            goto out;
        }
        snprintf(m->path, sizeof m->path, "%s", path);
        /* Never dlclose'd: many modules register atexit handlers or threads. */
        void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        CK_C_GetFunctionList get = NULL;
        if (dl != NULL)
            *(void **)&get = dlsym(dl, "C_GetFunctionList");
        if (dl == NULL || get == NULL || get(&m->fl) != CKR_OK || m->fl == NULL) {
            rc = warden_err_set(err, WARDEN_ENOTFOUND, "cannot load PKCS#11 module %s: %s", path,
                                dl == NULL ? dlerror() : "no usable C_GetFunctionList");
            free(m);
            goto out;
        }
        m->next = modules;
        modules = m;
    }
    if (m->refs == 0) {
        CK_C_INITIALIZE_ARGS args;
        memset(&args, 0, sizeof args);
        args.flags = CKF_OS_LOCKING_OK;
        CK_RV rv = m->fl->C_Initialize(&args);
        if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
            rc = warden_err_set(err, WARDEN_EIO, "PKCS#11 module %s: C_Initialize failed (0x%lx)",
                                path, (unsigned long)rv);
            goto out;
        }
        m->owns_init = rv == CKR_OK;
    }
    m->refs++;
    *out = m;
out:
    pthread_mutex_unlock(&modules_lock);
    return rc;
}

static void module_release(p11_module *m)
{
    pthread_mutex_lock(&modules_lock);
    if (--m->refs == 0 && m->owns_init)
        (void)m->fl->C_Finalize(NULL);
    pthread_mutex_unlock(&modules_lock);
}

/* ---- one region's KEK on one token ---- */

typedef struct p11_key {
    uint32_t version;
    CK_OBJECT_HANDLE h;
} p11_key;

typedef struct p11 {
    p11_module *mod;
    CK_FUNCTION_LIST_PTR fl;
    CK_SESSION_HANDLE sess;
    bool have_sess;
    pthread_mutex_t lock;
    char region[33];
    char token[33];
    p11_key *keys;
    size_t n;
    uint32_t current;
} p11;

static void p11_close(void *st)
{
    p11 *p = st;
    if (p == NULL)
        return;
    /* Closing our session ends our login once no other session of this process uses it. */
    if (p->have_sess)
        (void)p->fl->C_CloseSession(p->sess);
    if (p->mod != NULL)
        module_release(p->mod);
    pthread_mutex_destroy(&p->lock);
    free(p->keys);
    free(p);
}

static int p11_fail(warden_err *err, const p11 *p, const char *what, CK_RV rv)
{
    int code = WARDEN_EIO;
    if (rv == CKR_HOST_MEMORY || rv == CKR_DEVICE_MEMORY)
        code = WARDEN_ENOMEM;
    return warden_err_set(err, code, "PKCS#11 token '%s': %s failed (CKR 0x%lx)", p->token, what,
                          (unsigned long)rv);
}

static void label_for(char *out, size_t cap, const char *region, uint32_t version)
{
    snprintf(out, cap, "warden-kek-%s-v%u", region, (unsigned)version);
}

static int find_slot(CK_SLOT_ID *slot, p11 *p, warden_err *err)
{
    CK_ULONG n = 0;
    CK_SLOT_ID *slots = NULL;
    int rc = 0;
    CK_RV rv = p->fl->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv != CKR_OK)
        return p11_fail(err, p, "C_GetSlotList", rv);
    slots = calloc(n ? n : 1, sizeof *slots);
    if (slots == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory for PKCS#11 slots");
    if ((rv = p->fl->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
        rc = p11_fail(err, p, "C_GetSlotList", rv);
        goto out;
    }
    size_t want = strlen(p->token);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (p->fl->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        /* Token labels are 32 bytes, blank padded, not NUL-terminated. */
        size_t len = sizeof ti.label;
        while (len > 0 && ti.label[len - 1] == ' ')
            len--;
        if (len == want && memcmp(ti.label, p->token, want) == 0) {
            *slot = slots[i];
            goto out;
        }
    }
    rc = warden_err_set(err, WARDEN_ENOTFOUND, "no PKCS#11 token labelled '%s' in module %s",
                        p->token, p->mod->path);
out:
    free(slots);
    return rc;
}

static int add_key(p11 *p, uint32_t version, CK_OBJECT_HANDLE h, warden_err *err)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->keys[i].version == version)
            return warden_err_set(err, WARDEN_ECORRUPT,
                                  "PKCS#11 token '%s' holds two keys for region %s version %u",
                                  p->token, p->region, (unsigned)version);
    p11_key *nk = realloc(p->keys, (p->n + 1) * sizeof *nk);
    if (nk == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory for PKCS#11 keys");
    p->keys = nk;
    p->keys[p->n].version = version;
    p->keys[p->n].h = h;
    p->n++;
    if (version > p->current)
        p->current = version;
    return 0;
}

/* Finds every AES secret key labelled warden-kek-<region>-v<N> on the token. */
static int load_keys(p11 *p, warden_err *err)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                           {CKA_KEY_TYPE, &kt, sizeof kt},
                           {CKA_TOKEN, &yes, sizeof yes}};
    char prefix[64];
    int rc = 0;
    int plen = snprintf(prefix, sizeof prefix, "warden-kek-%s-v", p->region);
    CK_RV rv = p->fl->C_FindObjectsInit(p->sess, tmpl, 3);
    if (rv != CKR_OK)
        return p11_fail(err, p, "C_FindObjectsInit", rv);
    for (;;) {
        CK_OBJECT_HANDLE h;
        CK_ULONG got = 0;
        if ((rv = p->fl->C_FindObjects(p->sess, &h, 1, &got)) != CKR_OK) {
            rc = p11_fail(err, p, "C_FindObjects", rv);
            break;
        }
        if (got == 0)
            break;
        char label[128];
        CK_ATTRIBUTE a = {CKA_LABEL, label, sizeof label - 1};
        if (p->fl->C_GetAttributeValue(p->sess, h, &a, 1) != CKR_OK ||
            a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen >= sizeof label)
            continue;
        size_t len = a.ulValueLen;
        uint64_t v;
        if (len <= (size_t)plen || memcmp(label, prefix, (size_t)plen) != 0 ||
            warden_parse_u64(&v, label + plen, len - (size_t)plen) != 0 || v == 0 || v > UINT32_MAX)
            continue;
        if ((rc = add_key(p, (uint32_t)v, h, err)) != 0)
            break;
    }
    rv = p->fl->C_FindObjectsFinal(p->sess);
    if (rc == 0 && rv != CKR_OK)
        rc = p11_fail(err, p, "C_FindObjectsFinal", rv);
    return rc;
}

static int generate(p11 *p, uint32_t version, warden_err *err)
{
    char label[64];
    label_for(label, sizeof label, p->region, version);
    CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ULONG vlen = 32;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof cls},       {CKA_KEY_TYPE, &kt, sizeof kt},
        {CKA_VALUE_LEN, &vlen, sizeof vlen}, {CKA_TOKEN, &yes, sizeof yes},
        {CKA_PRIVATE, &yes, sizeof yes},     {CKA_SENSITIVE, &yes, sizeof yes},
        {CKA_EXTRACTABLE, &no, sizeof no},   {CKA_ENCRYPT, &yes, sizeof yes},
        {CKA_DECRYPT, &yes, sizeof yes},     {CKA_WRAP, &no, sizeof no},
        {CKA_UNWRAP, &no, sizeof no},        {CKA_SIGN, &no, sizeof no},
        {CKA_VERIFY, &no, sizeof no},        {CKA_DERIVE, &no, sizeof no},
        {CKA_LABEL, label, strlen(label)},
    };
    CK_OBJECT_HANDLE h;
    CK_RV rv = p->fl->C_GenerateKey(p->sess, &mech, tmpl, sizeof tmpl / sizeof *tmpl, &h);
    if (rv != CKR_OK)
        return p11_fail(err, p, "C_GenerateKey of an AES-256 KEK", rv);
    return add_key(p, version, h, err);
}

static p11_key *find_key(p11 *p, uint32_t version)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->keys[i].version == version)
            return &p->keys[i];
    return NULL;
}

static void gcm_params(CK_GCM_PARAMS *g, const uint8_t *nonce, const uint8_t *aad, size_t aad_len)
{
    g->pIv = (CK_BYTE_PTR)nonce;
    g->ulIvLen = WARDEN_GCM_NONCE_LEN;
    g->ulIvBits = WARDEN_GCM_NONCE_LEN * 8;
    g->pAAD = (CK_BYTE_PTR)aad;
    g->ulAADLen = aad_len;
    g->ulTagBits = WARDEN_GCM_TAG_LEN * 8;
}

static int p11_seal(void *st, uint32_t version, const uint8_t nonce[WARDEN_GCM_NONCE_LEN],
                    const uint8_t *aad, size_t aad_len, const uint8_t dek[WARDEN_DEK_LEN],
                    uint8_t ct[WARDEN_DEK_LEN], uint8_t tag[WARDEN_GCM_TAG_LEN], warden_err *err)
{
    p11 *p = st;
    int rc = 0;
    uint8_t out[WARDEN_DEK_LEN + WARDEN_GCM_TAG_LEN];
    CK_ULONG out_len = sizeof out;
    CK_GCM_PARAMS g;
    gcm_params(&g, nonce, aad, aad_len);
    CK_MECHANISM mech = {CKM_AES_GCM, &g, sizeof g};
    pthread_mutex_lock(&p->lock);
    p11_key *k = find_key(p, version);
    if (k == NULL) {
        rc = warden_err_set(err, WARDEN_EINTERNAL, "current KEK version %u is not on the token",
                            (unsigned)version);
        goto out;
    }
    CK_RV rv = p->fl->C_EncryptInit(p->sess, &mech, k->h);
    if (rv != CKR_OK) {
        rc = p11_fail(err, p, "C_EncryptInit(CKM_AES_GCM)", rv);
        goto out;
    }
    rv = p->fl->C_Encrypt(p->sess, (CK_BYTE_PTR)dek, WARDEN_DEK_LEN, out, &out_len);
    if (rv != CKR_OK || out_len != sizeof out) {
        rc = p11_fail(err, p, "C_Encrypt(CKM_AES_GCM)", rv);
        goto out;
    }
    /* The ciphertext is not secret; the DEK it hides never sat in this buffer. */
    memcpy(ct, out, WARDEN_DEK_LEN);
    memcpy(tag, out + WARDEN_DEK_LEN, WARDEN_GCM_TAG_LEN);
out:
    pthread_mutex_unlock(&p->lock);
    return rc;
}

static int p11_open(void *st, uint32_t version, const uint8_t nonce[WARDEN_GCM_NONCE_LEN],
                    const uint8_t *aad, size_t aad_len, const uint8_t ct[WARDEN_DEK_LEN],
                    const uint8_t tag[WARDEN_GCM_TAG_LEN], uint8_t dek[WARDEN_DEK_LEN],
                    warden_err *err)
{
    p11 *p = st;
    int rc = 0;
    uint8_t in[WARDEN_DEK_LEN + WARDEN_GCM_TAG_LEN];
    /* Tokens may want room for ct+tag in the output; keep that scratch in locked memory. */
    uint8_t *out = warden_secret_alloc(sizeof in);
    CK_ULONG out_len = sizeof in;
    CK_GCM_PARAMS g;
    if (out == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of locked memory for a DEK");
    memcpy(in, ct, WARDEN_DEK_LEN);
    memcpy(in + WARDEN_DEK_LEN, tag, WARDEN_GCM_TAG_LEN);
    gcm_params(&g, nonce, aad, aad_len);
    CK_MECHANISM mech = {CKM_AES_GCM, &g, sizeof g};
    pthread_mutex_lock(&p->lock);
    p11_key *k = find_key(p, version);
    if (k == NULL) {
        rc = warden_err_set(err, WARDEN_ENOTFOUND,
                            "KEK version %u of region %s is not on token '%s' (retired or never "
                            "created)",
                            (unsigned)version, p->region, p->token);
        goto out;
    }
    CK_RV rv = p->fl->C_DecryptInit(p->sess, &mech, k->h);
    if (rv != CKR_OK) {
        rc = p11_fail(err, p, "C_DecryptInit(CKM_AES_GCM)", rv);
        goto out;
    }
    rv = p->fl->C_Decrypt(p->sess, in, sizeof in, out, &out_len);
    if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
        rv == CKR_FUNCTION_FAILED || rv == CKR_GENERAL_ERROR) {
        /* Tokens report a GCM tag mismatch with any of these. */
        rc = warden_err_set(err, WARDEN_EVERIFY, "authentication tag does not verify");
        goto out;
    }
    if (rv != CKR_OK || out_len != WARDEN_DEK_LEN) {
        rc = p11_fail(err, p, "C_Decrypt(CKM_AES_GCM)", rv);
        goto out;
    }
    memcpy(dek, out, WARDEN_DEK_LEN);
out:
    pthread_mutex_unlock(&p->lock);
    warden_secret_free(out, sizeof in);
    return rc;
}

static uint32_t p11_current(void *st)
{
    return ((p11 *)st)->current;
}

static int p11_rotate(void *st, uint32_t *version, warden_err *err)
{
    p11 *p = st;
    if (p->current == UINT32_MAX)
        return warden_err_set(err, WARDEN_ELIMIT, "no KEK version numbers left");
    pthread_mutex_lock(&p->lock);
    int rc = generate(p, p->current + 1, err);
    pthread_mutex_unlock(&p->lock);
    if (rc == 0)
        *version = p->current;
    return rc;
}

static int p11_retire(void *st, uint32_t version, warden_err *err)
{
    p11 *p = st;
    int rc = 0;
    pthread_mutex_lock(&p->lock);
    p11_key *k = find_key(p, version);
    if (k == NULL) {
        rc = warden_err_set(err, WARDEN_ENOTFOUND, "no such version on token '%s'", p->token);
        goto out;
    }
    CK_RV rv = p->fl->C_DestroyObject(p->sess, k->h);
    if (rv != CKR_OK) {
        rc = p11_fail(err, p, "C_DestroyObject", rv);
        goto out;
    }
    *k = p->keys[--p->n];
out:
    pthread_mutex_unlock(&p->lock);
    return rc;
}

static const warden_kek_ops PKCS11_OPS = {
    .provider = WARDEN_KEK_PKCS11,
    .seal = p11_seal,
    .open = p11_open,
    .current = p11_current,
    .rotate = p11_rotate,
    .retire = p11_retire,
    .close = p11_close,
};

/* Loads the module, opens a read-write session on the token, logs in and loads the keys. */
static int p11_connect(p11 **out, const warden_pkcs11_config *cfg, warden_err *err)
{
    int rc;
    CK_SLOT_ID slot = 0;
    if (cfg == NULL || cfg->module == NULL || cfg->token_label == NULL)
        return warden_err_set(err, WARDEN_EINVAL, "PKCS#11 config needs a module and a token");
    if ((rc = warden_crypto_check_region(cfg->region, err)) != 0)
        return rc;
    if ((rc = warden_crypto_check_name("token label", cfg->token_label, 32, err)) != 0)
        return rc;
    const char *pin = cfg->pin;
    if (pin == NULL && cfg->pin_env != NULL)
        pin = getenv(cfg->pin_env);
    if (pin == NULL)
        return warden_err_set(err, WARDEN_EINVAL,
                              "no PKCS#11 PIN: set it in the config or in the variable %s",
                              cfg->pin_env ? cfg->pin_env : "named by pin_env");
    p11 *p = calloc(1, sizeof *p);
    if (p == NULL)
        return warden_err_set(err, WARDEN_ENOMEM, "out of memory for a PKCS#11 KEK");
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return warden_err_set(err, WARDEN_EINTERNAL, "cannot create the PKCS#11 lock");
    }
    snprintf(p->region, sizeof p->region, "%s", cfg->region);
    snprintf(p->token, sizeof p->token, "%s", cfg->token_label);
    if ((rc = module_acquire(&p->mod, cfg->module, err)) != 0)
        goto out;
    p->fl = p->mod->fl;
    if ((rc = find_slot(&slot, p, err)) != 0)
        goto out;
    CK_RV rv =
        p->fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &p->sess);
    if (rv != CKR_OK) {
        rc = p11_fail(err, p, "C_OpenSession", rv);
        goto out;
    }
    p->have_sess = true;
    rv = p->fl->C_Login(p->sess, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED ||
        rv == CKR_PIN_LEN_RANGE) {
        rc = warden_err_set(err, WARDEN_EDENIED, "PKCS#11 token '%s' refused the user PIN: %s",
                            p->token,
                            rv == CKR_PIN_LOCKED    ? "the PIN is locked"
                            : rv == CKR_PIN_EXPIRED ? "the PIN has expired"
                                                    : "incorrect PIN");
        goto out;
    }
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
        rc = p11_fail(err, p, "C_Login", rv);
        goto out;
    }
    rc = load_keys(p, err);
out:
    if (rc != 0)
        p11_close(p);
    else
        *out = p;
    return rc;
}

static int p11_wrap_up(warden_kek **out, p11 *p, warden_err *err)
{
    char id[64];
    snprintf(id, sizeof id, "warden-kek-%s", p->region);
    char region[33];
    snprintf(region, sizeof region, "%s", p->region);
    return warden_kek_new(out, &PKCS11_OPS, p, region, id, err);
}

int warden_kek_pkcs11_create(const warden_pkcs11_config *cfg, warden_err *err)
{
    p11 *p = NULL;
    int rc = p11_connect(&p, cfg, err);
    if (rc != 0)
        return rc;
    if (p->n > 0)
        rc = warden_err_set(err, WARDEN_EEXIST,
                            "PKCS#11 token '%s' already holds KEK version %u of region %s",
                            p->token, (unsigned)p->current, p->region);
    else
        rc = generate(p, 1, err);
    p11_close(p);
    return rc;
}

int warden_kek_pkcs11_open(warden_kek **out, const warden_pkcs11_config *cfg, warden_err *err)
{
    p11 *p = NULL;
    int rc = p11_connect(&p, cfg, err);
    if (rc != 0)
        return rc;
    if (p->n == 0) {
        rc = warden_err_set(err, WARDEN_ENOTFOUND,
                            "PKCS#11 token '%s' holds no KEK for region %s (labelled "
                            "warden-kek-%s-v<N>); create one with warden keys init",
                            p->token, p->region, p->region);
        p11_close(p);
        return rc;
    }
    return p11_wrap_up(out, p, err);
}
