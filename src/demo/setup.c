/* The demo's setup: a fresh directory holding a copy of the cluster template, free ports
 * written into its cluster file, the token issuer's key, and every region's KEK and log key.
 * Nothing here talks to a region; regions.c starts them. */
#define _GNU_SOURCE /* nftw */
#include "demo/demo_internal.h"

#include "warden/keyd.h"
#include "warden/tlog.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int path_join(char *out, size_t cap, const char *a, const char *b, warden_err *err)
{
    int n = snprintf(out, cap, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= cap)
        return warden_err_set(err, WARDEN_EINVAL, "path too long: %s/%s", a, b);
    return 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Copies the regular files and directories under src into dst (created 0700). */
static int copy_tree(const char *src, const char *dst, warden_err *err)
{
    DIR *dir = opendir(src);
    int rc = 0;
    if (dir == NULL)
        return warden_err_set(err, WARDEN_EIO, "open %s: %s", src, strerror(errno));
    if (mkdir(dst, 0700) != 0 && errno != EEXIST) {
        rc = warden_err_set(err, WARDEN_EIO, "mkdir %s: %s", dst, strerror(errno));
        goto out;
    }
    struct dirent *e;
    while (rc == 0 && (e = readdir(dir)) != NULL) {
        char s[PATH_MAX], t[PATH_MAX];
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        if ((rc = path_join(s, sizeof s, src, e->d_name, err)) != 0 ||
            (rc = path_join(t, sizeof t, dst, e->d_name, err)) != 0)
            break;
        if (lstat(s, &st) != 0) {
            rc = warden_err_set(err, WARDEN_EIO, "stat %s: %s", s, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            rc = copy_tree(s, t, err);
        } else if (S_ISREG(st.st_mode)) {
            warden_buf b;
            warden_buf_init(&b);
            rc = warden_file_read(&b, s, 1 << 20, err);
            if (rc == 0)
                rc = warden_file_write_atomic(t, b.p, b.len, 0600, err);
            warden_buf_fini(&b);
        }
    }
out:
    closedir(dir);
    return rc;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}

/* Picks n distinct free TCP ports on 127.0.0.1 by binding them all at once, then closing. */
static int pick_ports(uint16_t *ports, size_t n, warden_err *err)
{
    int fds[DEMO_REGIONS_MAX];
    size_t i;
    int rc = 0;
    for (i = 0; i < n; i++) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
        socklen_t sl = sizeof sa;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&sa, sizeof sa) != 0 ||
            getsockname(fds[i], (struct sockaddr *)&sa, &sl) != 0) {
            rc = warden_err_set(err, WARDEN_EIO, "cannot find a free port: %s", strerror(errno));
            if (fds[i] >= 0)
                close(fds[i]);
            break;
        }
        ports[i] = ntohs(sa.sin_port);
    }
    while (i-- > 0)
        close(fds[i]);
    return rc;
}

static int find_template(char *out, const char *given, const char *exe, warden_err *err)
{
    char base[PATH_MAX];
    if (given != NULL) {
        if (realpath(given, out) == NULL || !is_dir(out))
            return warden_err_set(err, WARDEN_ENOTFOUND, "template %s: %s", given,
                                  strerror(errno ? errno : ENOTDIR));
        return 0;
    }
    /* From a checkout the binary is <source>/<build dir>/warden. */
    snprintf(base, sizeof base, "%s", exe);
    char *slash = strrchr(base, '/');
    if (slash != NULL)
        *slash = '\0';
    const char *rel[] = {"../examples/cluster", "../../examples/cluster", NULL};
    for (size_t i = 0; rel[i] != NULL; i++) {
        char p[PATH_MAX + 32];
        snprintf(p, sizeof p, "%s/%s", base, rel[i]);
        if (realpath(p, out) != NULL && is_dir(out))
            return 0;
    }
    if (realpath("examples/cluster", out) != NULL && is_dir(out))
        return 0;
    return warden_err_set(err, WARDEN_ENOTFOUND,
                          "cannot find the cluster template (examples/cluster): give --template");
}

static int choose_dir(demo *d, const warden_demo_options *o, warden_err *err)
{
    if (o->dir != NULL) {
        DIR *dir = opendir(o->dir);
        if (dir != NULL) {
            struct dirent *e;
            int empty = 1;
            while ((e = readdir(dir)) != NULL)
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                    empty = 0;
            closedir(dir);
            if (!empty)
                return warden_err_set(err, WARDEN_EEXIST, "%s is not empty", o->dir);
        } else if (mkdir(o->dir, 0700) != 0) {
            return warden_err_set(err, WARDEN_EIO, "mkdir %s: %s", o->dir, strerror(errno));
        }
        if (realpath(o->dir, d->dir) == NULL)
            return warden_err_set(err, WARDEN_EIO, "%s: %s", o->dir, strerror(errno));
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(d->dir, sizeof d->dir, "%s/warden-demo-XXXXXX",
                     tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
    if (n < 0 || (size_t)n >= sizeof d->dir || mkdtemp(d->dir) == NULL)
        return warden_err_set(err, WARDEN_EIO, "cannot create a temporary directory: %s",
                              strerror(errno));
    d->remove_dir = !o->keep;
    return 0;
}

/* Reads @id / @reason annotations in order: the Nth @id names policyN. */
static int read_policy_names(demo *d, warden_err *err)
{
    char p[PATH_MAX];
    warden_buf b;
    int rc;
    warden_buf_init(&b);
    if ((rc = path_join(p, sizeof p, d->dir, "policies.cedar", err)) != 0 ||
        (rc = warden_file_read(&b, p, 1 << 20, err)) != 0 || (rc = warden_buf_cstr(&b)) != 0)
        goto out;
    char *save = NULL;
    for (char *line = strtok_r((char *)b.p, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        while (*line == ' ')
            line++;
        int is_id = strncmp(line, "@id(\"", 5) == 0;
        int is_reason = strncmp(line, "@reason(\"", 9) == 0;
        if (!is_id && !is_reason)
            continue;
        char *v = strchr(line, '"') + 1, *end = strrchr(line, '"');
        if (end <= v)
            continue;
        if (is_id && d->n_policies < DEMO_POLICIES_MAX)
            d->policy_id[d->n_policies++] = strndup(v, (size_t)(end - v));
        else if (is_reason && d->n_policies > 0 && d->policy_reason[d->n_policies - 1] == NULL)
            d->policy_reason[d->n_policies - 1] = strndup(v, (size_t)(end - v));
    }
out:
    warden_buf_fini(&b);
    return rc;
}

static const char *policy_lookup(const demo *d, const char *id, int reason)
{
    unsigned long n;
    char *end;
    if (strncmp(id, "policy", 6) != 0)
        return reason ? NULL : id;
    n = strtoul(id + 6, &end, 10);
    if (*end != '\0' || n >= d->n_policies)
        return reason ? NULL : id;
    return reason ? d->policy_reason[n] : d->policy_id[n];
}

const char *demo_policy_name(const demo *d, const char *id)
{
    const char *s = policy_lookup(d, id, 0);
    return s != NULL ? s : id;
}

const char *demo_policy_reason(const demo *d, const char *id)
{
    return policy_lookup(d, id, 1);
}

demo_region *demo_region_find(demo *d, const char *name)
{
    for (size_t i = 0; i < d->n_regions; i++)
        if (strcmp(d->regions[i].name, name) == 0)
            return &d->regions[i];
    return NULL;
}

/* Fills r from its cluster entry: directory, socket (from its keyd config), vkey. */
static int region_init(demo_region *r, demo *d, json_t *reg, warden_err *err)
{
    const char *name = json_string_value(json_object_get(reg, "name"));
    const char *keyd = json_string_value(json_object_get(reg, "keyd"));
    char cfg[PATH_MAX];
    json_t *kj = NULL;
    warden_tlog_signer *s = NULL;
    warden_buf vk;
    int rc = 0;
    warden_buf_init(&vk);
    if (name == NULL || keyd == NULL || strlen(name) >= sizeof r->name)
        return warden_err_set(err, WARDEN_EINVAL, "cluster template: a region lacks name or keyd");
    snprintf(r->name, sizeof r->name, "%s", name);
    const char *role = json_string_value(json_object_get(reg, "role"));
    json_t *jurs = json_object_get(reg, "jurisdictions");
    size_t off = (size_t)snprintf(r->about, sizeof r->about, "%s, holds", role ? role : "?");
    for (size_t i = 0; i < json_array_size(jurs) && off < sizeof r->about; i++)
        off += (size_t)snprintf(r->about + off, sizeof r->about - off, " %s",
                                json_string_value(json_array_get(jurs, i)));
    if ((rc = path_join(cfg, sizeof cfg, d->dir, keyd, err)) != 0)
        return rc;
    snprintf(r->keyd_config, sizeof r->keyd_config, "%s", cfg);
    snprintf(r->dir, sizeof r->dir, "%s", cfg);
    char *slash = strrchr(r->dir, '/');
    *slash = '\0';
    if ((rc = path_join(r->serve_log, sizeof r->serve_log, r->dir, "serve.log", err)) != 0)
        return rc;
    json_error_t je;
    if ((kj = json_load_file(cfg, 0, &je)) == NULL)
        return warden_err_set(err, WARDEN_EPARSE, "%s:%d:%d: %s", cfg, je.line, je.column, je.text);
    const char *sock = json_string_value(json_object_get(kj, "socket"));
    const char *lkey = json_string_value(json_object_get(json_object_get(kj, "log"), "key"));
    char kp[PATH_MAX];
    if (sock == NULL || lkey == NULL) {
        rc = warden_err_set(err, WARDEN_EINVAL, "%s: the demo needs \"socket\" and log.key", cfg);
        goto out;
    }
    if ((rc = path_join(r->socket, sizeof r->socket, r->dir, sock, err)) != 0 ||
        (rc = path_join(kp, sizeof kp, r->dir, lkey, err)) != 0)
        goto out;
    int created = 0;
    if ((rc = warden_keyd_keys_init(&created, cfg, err)) != 0 ||
        (rc = warden_tlog_signer_load(&s, kp, err)) != 0 ||
        (rc = warden_tlog_signer_vkey(&vk, s, err)) != 0)
        goto out;
    if (vk.len >= sizeof r->vkey) {
        rc = warden_err_set(err, WARDEN_ELIMIT, "%s: verifier key too long", kp);
        goto out;
    }
    memcpy(r->vkey, vk.p, vk.len);
    r->vkey[vk.len] = '\0';
out:
    warden_tlog_signer_free(s);
    warden_buf_fini(&vk);
    json_decref(kj);
    return rc;
}

/* Writes the issuer's key (0600, private) and its public half (token.pub) for the gateways. */
static int token_keys(demo *d, const json_t *cluster, warden_err *err)
{
    char kp[PATH_MAX], pp[PATH_MAX];
    const char *pub = json_string_value(json_object_get(cluster, "token_key"));
    warden_buf pem;
    int rc;
    warden_buf_init(&pem);
    if (pub == NULL)
        return warden_err_set(err, WARDEN_EINVAL, "cluster template: missing \"token_key\"");
    if ((rc = path_join(kp, sizeof kp, d->dir, "token-issuer.key", err)) != 0 ||
        (rc = path_join(pp, sizeof pp, d->dir, pub, err)) != 0 ||
        (rc = warden_token_key_generate(kp, err)) != 0 ||
        (rc = warden_token_key_load(&d->token_key, kp, err)) != 0 ||
        (rc = warden_token_key_public_pem(&pem, d->token_key, err)) != 0)
        goto out;
    rc = warden_file_write_atomic(pp, pem.p, pem.len, 0644, err);
out:
    warden_buf_fini(&pem);
    return rc;
}

static int copy_str(char *out, size_t cap, const json_t *v, const char *what, warden_err *err)
{
    const char *s = json_string_value(v);
    if (s == NULL || strlen(s) >= cap)
        return warden_err_set(err, WARDEN_EINVAL, "cluster template: bad \"%s\"", what);
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

int demo_setup(demo *d, const warden_demo_options *o, warden_err *err)
{
    char tmpl[PATH_MAX];
    json_t *cluster = NULL;
    int rc;
    if (o->exe != NULL) {
        snprintf(d->exe, sizeof d->exe, "%s", o->exe);
    } else {
        ssize_t n = readlink("/proc/self/exe", d->exe, sizeof d->exe - 1);
        if (n <= 0)
            return warden_err_set(err, WARDEN_EIO, "readlink /proc/self/exe: %s", strerror(errno));
        d->exe[n] = '\0';
    }
    if ((rc = find_template(tmpl, o->template_dir, d->exe, err)) != 0 ||
        (rc = choose_dir(d, o, err)) != 0 || (rc = copy_tree(tmpl, d->dir, err)) != 0 ||
        (rc = path_join(d->cluster_path, sizeof d->cluster_path, d->dir, "cluster.json", err)) !=
            0 ||
        (rc = read_policy_names(d, err)) != 0)
        return rc;
    json_error_t je;
    if ((cluster = json_load_file(d->cluster_path, JSON_REJECT_DUPLICATES, &je)) == NULL)
        return warden_err_set(err, WARDEN_EPARSE, "%s:%d:%d: %s", d->cluster_path, je.line,
                              je.column, je.text);
    json_t *regs = json_object_get(cluster, "regions");
    size_t n = json_array_size(regs);
    if (n == 0 || n > DEMO_REGIONS_MAX) {
        rc =
            warden_err_set(err, WARDEN_EINVAL, "cluster template: 1..%d regions", DEMO_REGIONS_MAX);
        goto out;
    }
    if ((rc = copy_str(d->issuer, sizeof d->issuer, json_object_get(cluster, "issuer"), "issuer",
                       err)) != 0 ||
        (rc = copy_str(d->audience, sizeof d->audience, json_object_get(cluster, "audience"),
                       "audience", err)) != 0 ||
        (rc = token_keys(d, cluster, err)) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if ((rc = region_init(&d->regions[i], d, json_array_get(regs, i), err)) != 0)
            goto out;
        d->n_regions++;
    }
    rc = demo_setup_ports(d, err);
out:
    json_decref(cluster);
    return rc;
}

int demo_setup_ports(demo *d, warden_err *err)
{
    uint16_t ports[DEMO_REGIONS_MAX];
    json_error_t je;
    int rc;
    json_t *cluster = json_load_file(d->cluster_path, JSON_REJECT_DUPLICATES, &je);
    if (cluster == NULL)
        return warden_err_set(err, WARDEN_EPARSE, "%s:%d:%d: %s", d->cluster_path, je.line,
                              je.column, je.text);
    json_t *regs = json_object_get(cluster, "regions");
    if ((rc = pick_ports(ports, d->n_regions, err)) != 0)
        goto out;
    for (size_t i = 0; i < d->n_regions; i++) {
        demo_region *r = &d->regions[i];
        json_t *reg = json_array_get(regs, i);
        char listen[64];
        snprintf(r->url, sizeof r->url, "http://127.0.0.1:%u", (unsigned)ports[i]);
        snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)ports[i]);
        if (json_object_set_new(reg, "url", json_string(r->url)) != 0 ||
            json_object_set_new(reg, "listen", json_string(listen)) != 0) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (json_dump_file(cluster, d->cluster_path, JSON_INDENT(1) | JSON_PRESERVE_ORDER) != 0)
        rc = warden_err_set(err, WARDEN_EIO, "cannot write %s", d->cluster_path);
out:
    json_decref(cluster);
    return rc;
}

void demo_teardown(demo *d)
{
    warden_token_key_free(d->token_key);
    d->token_key = NULL;
    for (size_t i = 0; i < d->n_policies; i++) {
        free(d->policy_id[i]);
        free(d->policy_reason[i]);
    }
    d->n_policies = 0;
    if (d->remove_dir && d->dir[0] == '/')
        (void)nftw(d->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
