/* `warden token`: make the issuing key, issue bearer tokens and check them. Only argument
 * handling lives here; see include/warden/token.h. Issued tokens are credentials: their
 * buffers are wiped after printing. */
#include "cli/cli.h"
#include "warden/cluster.h"
#include "warden/token.h"
#include "warden/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longest --ttl: a bearer token living over a year is a standing credential, not a token. */
#define TTL_MAX (366LL * 86400)
#define LEEWAY_DEFAULT 30

void cmd_token_usage(FILE *out)
{
    fprintf(out,
            "usage: warden token keygen --key FILE\n"
            "       warden token pubkey --key FILE\n"
            "       warden token issue --kind user|employee --subject S --ttl DURATION\n"
            "                          --key FILE (--issuer I --audience A | --cluster FILE)\n"
            "                          [--jurisdiction J]\n"
            "       warden token verify (--pubkey FILE --issuer I --audience A | --cluster FILE)\n"
            "                           [--leeway SECONDS] < token\n\n"
            "Bearer tokens are JWTs (RFC 7519) signed with EdDSA/Ed25519 (RFC 8037); see\n"
            "docs/tokens.md. keygen creates FILE (PKCS#8 PEM, mode 0600, never overwritten)\n"
            "and prints its public key, which gateways use to verify; pubkey prints it again.\n"
            "issue prints one token: DURATION is a number with s, m, h or d (e.g. 1h, at most\n"
            "366d); user tokens need --jurisdiction, the user's home jurisdiction. With\n"
            "--cluster, issuer and audience (and for verify the public key) come from the\n"
            "cluster file. verify reads a token on stdin and prints its claims as JSON, or\n"
            "says which check failed (exit 1). Default leeway for clock skew: %d s.\n",
            LEEWAY_DEFAULT);
}

/* --name VALUE pairs into vals[] by the names in names[] (NULL-terminated). */
static int opts(const char **vals, const char *const *names, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int k = -1;
        if (strncmp(a, "--", 2) == 0)
            for (int j = 0; names[j] != NULL; j++)
                if (strcmp(a + 2, names[j]) == 0)
                    k = j;
        if (k < 0 || i + 1 >= argc) {
            fprintf(stderr, "warden token %s: %s '%s'\n", argv[0],
                    k < 0 ? "unknown argument" : "missing value for", a);
            return -1;
        }
        vals[k] = argv[++i];
    }
    return 0;
}

static int need(const char *v, const char *sub, const char *name)
{
    if (v != NULL)
        return 0;
    fprintf(stderr, "warden token %s: --%s is required\n", sub, name);
    return -1;
}

/* "90", "90s", "15m", "1h", "7d" -> seconds in 1..TTL_MAX. */
static int parse_ttl(int64_t *out, const char *s)
{
    size_t n = strlen(s);
    int64_t mult = 1;
    if (n > 0) {
        switch (s[n - 1]) {
        case 's':
            mult = 1, n--;
            break;
        case 'm':
            mult = 60, n--;
            break;
        case 'h':
            mult = 3600, n--;
            break;
        case 'd':
            mult = 86400, n--;
            break;
        default:
            break;
        }
    }
    uint64_t v;
    if (n == 0 || warden_parse_u64(&v, s, n) != 0 || v == 0 || v > (uint64_t)(TTL_MAX / mult))
        return -1;
    *out = (int64_t)v * mult;
    return 0;
}

static int print_public(const warden_token_key *k)
{
    warden_buf pem;
    warden_err err;
    int st = 0;
    warden_buf_init(&pem);
    if (warden_token_key_public_pem(&pem, k, &err) != 0) {
        fprintf(stderr, "warden token: %s\n", err.msg);
        st = 1;
    } else if (fwrite(pem.p, 1, pem.len, stdout) != pem.len || fflush(stdout) != 0) {
        st = 1;
    }
    warden_buf_fini(&pem);
    return st;
}

static int run_key(int argc, char **argv, bool generate)
{
    static const char *const NAMES[] = {"key", NULL};
    const char *v[1] = {NULL};
    warden_err err;
    warden_token_key *k = NULL;
    if (opts(v, NAMES, argc, argv) != 0 || need(v[0], argv[0], "key") != 0)
        return 2;
    if (generate && warden_token_key_generate(v[0], &err) != 0) {
        fprintf(stderr, "warden token keygen: %s\n", err.msg);
        return 1;
    }
    if (warden_token_key_load(&k, v[0], &err) != 0) {
        fprintf(stderr, "warden token %s: %s\n", argv[0], err.msg);
        return 1;
    }
    int st = print_public(k);
    warden_token_key_free(k);
    return st;
}

/* Fills issuer/audience/pubkey gaps from the cluster file when one is given. */
static int from_cluster(warden_cluster **c, const char *path, const char *sub)
{
    warden_err err;
    if (path == NULL)
        return 0;
    if (warden_cluster_load(c, path, &err) != 0) {
        fprintf(stderr, "warden token %s: %s\n", sub, err.msg);
        return -1;
    }
    return 0;
}

static int copy_claim(char *dst, size_t cap, const char *v, const char *what)
{
    if (strlen(v) >= cap) {
        fprintf(stderr, "warden token issue: %s longer than %zu bytes\n", what, cap - 1);
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int run_issue(int argc, char **argv)
{
    static const char *const NAMES[] = {"kind",     "subject",      "ttl",     "key", "issuer",
                                        "audience", "jurisdiction", "cluster", NULL};
    const char *v[8] = {NULL};
    warden_token_claims c;
    warden_cluster *cl = NULL;
    warden_token_key *k = NULL;
    warden_buf tok;
    warden_err err;
    int64_t ttl = 0;
    int st = 2;
    memset(&c, 0, sizeof c);
    warden_buf_init(&tok);
    if (opts(v, NAMES, argc, argv) != 0 || from_cluster(&cl, v[7], "issue") != 0)
        goto out;
    if (cl != NULL) {
        v[4] = v[4] != NULL ? v[4] : cl->issuer;
        v[5] = v[5] != NULL ? v[5] : cl->audience;
    }
    if (need(v[0], "issue", "kind") != 0 || need(v[1], "issue", "subject") != 0 ||
        need(v[2], "issue", "ttl") != 0 || need(v[3], "issue", "key") != 0 ||
        need(v[4], "issue", "issuer (or --cluster)") != 0 ||
        need(v[5], "issue", "audience (or --cluster)") != 0)
        goto out;
    if (strcmp(v[0], "user") == 0) {
        c.kind = WARDEN_TOKEN_USER;
        if (need(v[6], "issue", "jurisdiction (for a user token)") != 0)
            goto out;
    } else if (strcmp(v[0], "employee") == 0) {
        c.kind = WARDEN_TOKEN_EMPLOYEE;
        if (v[6] != NULL) {
            fprintf(stderr, "warden token issue: --jurisdiction is for user tokens only\n");
            goto out;
        }
    } else {
        fprintf(stderr, "warden token issue: --kind must be user or employee\n");
        goto out;
    }
    if (parse_ttl(&ttl, v[2]) != 0) {
        fprintf(stderr, "warden token issue: --ttl must be like 90s, 15m, 1h or 7d (at most "
                        "366d)\n");
        goto out;
    }
    if (copy_claim(c.sub, sizeof c.sub, v[1], "--subject") != 0 ||
        copy_claim(c.iss, sizeof c.iss, v[4], "--issuer") != 0 ||
        copy_claim(c.aud, sizeof c.aud, v[5], "--audience") != 0 ||
        (v[6] != NULL && copy_claim(c.jur, sizeof c.jur, v[6], "--jurisdiction") != 0))
        goto out;
    st = 1;
    c.iat = (int64_t)time(NULL);
    c.exp = c.iat + ttl;
    if (warden_token_key_load(&k, v[3], &err) != 0 || warden_token_issue(&tok, &c, k, &err) != 0) {
        fprintf(stderr, "warden token issue: %s\n", err.msg);
        goto out;
    }
    if (fwrite(tok.p, 1, tok.len, stdout) != tok.len || fputc('\n', stdout) == EOF ||
        fflush(stdout) != 0) {
        fprintf(stderr, "warden token issue: cannot write the token\n");
        goto out;
    }
    st = 0;
out:
    warden_buf_fini_wipe(&tok);
    warden_token_key_free(k);
    warden_cluster_free(cl);
    return st;
}

static int print_claims(const warden_token_claims *c)
{
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "kind",
                  c->kind == WARDEN_TOKEN_USER ? "user" : "employee", "sub", c->sub, "iss", c->iss,
                  "aud", c->aud, "iat", (json_int_t)c->iat, "exp", (json_int_t)c->exp);
    char *s = NULL;
    int st = 1;
    if (j == NULL || (c->jur[0] != '\0' && json_object_set_new(j, "jur", json_string(c->jur))) ||
        (c->nbf != 0 && json_object_set_new(j, "nbf", json_integer(c->nbf))) ||
        (s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
        fprintf(stderr, "warden token verify: out of memory\n");
        goto out;
    }
    printf("%s\n", s);
    st = fflush(stdout) == 0 ? 0 : 1;
out:
    free(s);
    json_decref(j);
    return st;
}

static int run_verify(int argc, char **argv)
{
    static const char *const NAMES[] = {"pubkey", "issuer", "audience", "cluster", "leeway", NULL};
    const char *v[5] = {NULL};
    warden_cluster *cl = NULL;
    warden_token_key *k = NULL;
    warden_token_claims c;
    warden_err err;
    /* Room for the longest token, a CRLF and one byte to notice anything longer. */
    char *tok = NULL;
    size_t cap = WARDEN_TOKEN_MAX + 3, n = 0;
    uint64_t leeway = LEEWAY_DEFAULT;
    int st = 2;
    if (opts(v, NAMES, argc, argv) != 0 || from_cluster(&cl, v[3], "verify") != 0)
        goto out;
    if (cl != NULL) {
        v[0] = v[0] != NULL ? v[0] : cl->token_key;
        v[1] = v[1] != NULL ? v[1] : cl->issuer;
        v[2] = v[2] != NULL ? v[2] : cl->audience;
    }
    if (need(v[0], "verify", "pubkey (or --cluster)") != 0 ||
        need(v[1], "verify", "issuer (or --cluster)") != 0 ||
        need(v[2], "verify", "audience (or --cluster)") != 0)
        goto out;
    if (v[4] != NULL && (warden_parse_u64(&leeway, v[4], strlen(v[4])) != 0 || leeway > 3600)) {
        fprintf(stderr, "warden token verify: --leeway must be 0..3600 seconds\n");
        goto out;
    }
    st = 1;
    if ((tok = malloc(cap)) == NULL) {
        fprintf(stderr, "warden token verify: out of memory\n");
        goto out;
    }
    while (n < cap) {
        size_t r = fread(tok + n, 1, cap - n, stdin);
        if (r == 0)
            break;
        n += r;
    }
    if (ferror(stdin)) {
        fprintf(stderr, "warden token verify: cannot read stdin\n");
        goto out;
    }
    /* One trailing newline (echo, a file) is the transport's, not the token's. */
    if (n > 0 && tok[n - 1] == '\n')
        n--;
    if (n > 0 && tok[n - 1] == '\r')
        n--;
    if (warden_token_key_load(&k, v[0], &err) != 0 ||
        warden_token_verify(&c, tok, n, k, v[1], v[2], (int64_t)time(NULL), (int64_t)leeway,
                            &err) != 0) {
        fprintf(stderr, "warden token verify: %s\n", err.msg);
        goto out;
    }
    st = print_claims(&c);
out:
    if (tok != NULL)
        warden_wipe(tok, cap);
    free(tok);
    warden_token_key_free(k);
    warden_cluster_free(cl);
    return st;
}

int cmd_token(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        cmd_token_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    argc--, argv++;
    if (strcmp(sub, "keygen") == 0)
        return run_key(argc, argv, true);
    if (strcmp(sub, "pubkey") == 0)
        return run_key(argc, argv, false);
    if (strcmp(sub, "issue") == 0)
        return run_issue(argc, argv);
    if (strcmp(sub, "verify") == 0)
        return run_verify(argc, argv);
    fprintf(stderr, "warden token: unknown subcommand '%s'\n", sub);
    cmd_token_usage(stderr);
    return 2;
}
