/* `warden log`: the transparency log's command line. Only argument handling lives here;
 * every action is one or two calls into include/warden/tlog.h. */
#include "cli/cli.h"
#include "warden/tlog.h"

#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cmd_log_usage(FILE *out)
{
    fprintf(out,
            "usage: warden log init --dir DIR --origin ORIGIN --key KEYFILE\n"
            "       warden log vkey --key KEYFILE\n"
            "       warden log append --dir DIR --key KEYFILE   < entries (one per line)\n"
            "       warden log verify (--dir DIR | --url URL) --vkey VKEY\n"
            "       warden log prove --dir DIR --index I\n"
            "       warden log consistency --dir DIR --old CHECKPOINTFILE\n"
            "       warden log check-proof --proof FILE --checkpoint FILE --vkey VKEY\n"
            "                              [--entry FILE] [--old CHECKPOINTFILE]\n"
            "       warden log serve --dir DIR --listen HOST:PORT\n\n"
            "An append-only Merkle log (RFC 6962) with signed checkpoints (C2SP tlog-checkpoint,\n"
            "signed-note Ed25519) stored in the C2SP tlog-tiles layout. init creates KEYFILE\n"
            "(mode 0600, never inside DIR) when it does not exist and prints the verifier key.\n"
            "VKEY is the verifier key text or a file holding it. append returns once every\n"
            "entry is durable and a new checkpoint is published. prove and consistency print\n"
            "JSON proofs that check-proof verifies offline (--entry: the entry's exact bytes).\n");
}

/* Options of one subcommand: --name VALUE or --name=VALUE. */
typedef struct opts {
    const char *dir, *origin, *key, *url, *vkey, *index, *old, *proof, *checkpoint, *entry, *listen;
} opts;

static int parse_opts(opts *o, int argc, char **argv, const char *allowed)
{
    memset(o, 0, sizeof *o);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "warden log %s: unexpected argument '%s'\n", argv[1], a);
            return -1;
        }
        a += 2;
        size_t nl = strcspn(a, "=");
        if (a[nl] == '=')
            val = a + nl + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else {
            fprintf(stderr, "warden log %s: --%s needs a value\n", argv[1], a);
            return -1;
        }
        char name[32];
        if (nl >= sizeof name)
            nl = sizeof name - 1;
        memcpy(name, a, nl);
        name[nl] = '\0';
        char pat[40];
        snprintf(pat, sizeof pat, " %s ", name);
        if (strstr(allowed, pat) == NULL) {
            fprintf(stderr, "warden log %s: unknown option --%s\n", argv[1], name);
            return -1;
        }
        const char **slot = strcmp(name, "dir") == 0          ? &o->dir
                            : strcmp(name, "origin") == 0     ? &o->origin
                            : strcmp(name, "key") == 0        ? &o->key
                            : strcmp(name, "url") == 0        ? &o->url
                            : strcmp(name, "vkey") == 0       ? &o->vkey
                            : strcmp(name, "index") == 0      ? &o->index
                            : strcmp(name, "old") == 0        ? &o->old
                            : strcmp(name, "proof") == 0      ? &o->proof
                            : strcmp(name, "checkpoint") == 0 ? &o->checkpoint
                            : strcmp(name, "entry") == 0      ? &o->entry
                                                              : &o->listen;
        *slot = val;
    }
    return 0;
}

static int need(const char *v, const char *sub, const char *name)
{
    if (v == NULL) {
        fprintf(stderr, "warden log %s: --%s is required (see 'warden log --help')\n", sub, name);
        return -1;
    }
    return 0;
}

static int fail(const char *sub, const warden_err *e)
{
    fprintf(stderr, "warden log %s: %s\n", sub, e->msg);
    return 1;
}

/* VKEY is the key text itself or the name of a file holding it. */
static int load_verifier(warden_tlog_verifier **v, const char *vkey, warden_err *e)
{
    struct stat st;
    int rc;
    if (strchr(vkey, '+') == NULL || stat(vkey, &st) == 0) {
        warden_buf b;
        warden_buf_init(&b);
        rc = warden_file_read(&b, vkey, 4096, e);
        if (rc == 0)
            rc = warden_tlog_verifier_new(v, (const char *)b.p, b.len, e);
        warden_buf_fini(&b);
        return rc;
    }
    return warden_tlog_verifier_new(v, vkey, strlen(vkey), e);
}

static int print_vkey(const warden_tlog_signer *s, warden_err *e)
{
    warden_buf b;
    warden_buf_init(&b);
    int rc = warden_tlog_signer_vkey(&b, s, e);
    if (rc == 0)
        printf("%.*s\n", (int)b.len, (const char *)b.p);
    warden_buf_fini(&b);
    return rc;
}

static int do_init(const opts *o)
{
    warden_err e;
    warden_tlog_signer *s = NULL;
    int rc;
    struct stat st;
    if (need(o->dir, "init", "dir") || need(o->origin, "init", "origin") ||
        need(o->key, "init", "key"))
        return 2;
    /* The directory first, so that "key inside the log directory" can be checked. */
    if ((rc = warden_mkdir_p(o->dir, &e)) != 0)
        return fail("init", &e);
    if (stat(o->key, &st) != 0 && (rc = warden_tlog_key_generate(o->key, o->origin, o->dir, &e)))
        return fail("init", &e);
    if ((rc = warden_tlog_signer_load(&s, o->key, &e)) != 0 ||
        (rc = warden_tlog_create(o->dir, o->origin, s, &e)) != 0 || (rc = print_vkey(s, &e)))
        rc = fail("init", &e);
    warden_tlog_signer_free(s);
    return rc;
}

static int do_vkey(const opts *o)
{
    warden_err e;
    warden_tlog_signer *s = NULL;
    if (need(o->key, "vkey", "key"))
        return 2;
    int rc = 0;
    if (warden_tlog_signer_load(&s, o->key, &e) != 0 || print_vkey(s, &e) != 0)
        rc = fail("vkey", &e);
    warden_tlog_signer_free(s);
    return rc;
}

static int do_append(const opts *o)
{
    warden_err e;
    warden_tlog_signer *s = NULL;
    warden_tlog_appender *a = NULL;
    warden_buf in;
    const uint8_t **ents = NULL;
    size_t *lens = NULL, n = 0, cap = 0;
    int rc = 0;
    uint8_t chunk[65536];
    size_t got;
    if (need(o->dir, "append", "dir") || need(o->key, "append", "key"))
        return 2;
    warden_buf_init(&in);
    while ((got = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
        if (warden_buf_append(&in, chunk, got) != 0) {
            fprintf(stderr, "warden log append: out of memory\n");
            rc = 1;
            goto out;
        }
    }
    /* Every line, without its newline, is one entry; a last line without newline too. */
    for (size_t start = 0, line = 1; start < in.len; line++) {
        size_t end = start;
        while (end < in.len && in.p[end] != '\n')
            end++;
        if (end - start > WARDEN_TLOG_ENTRY_MAX) {
            fprintf(stderr, "warden log append: <stdin>:%zu: line of %zu bytes exceeds %d\n", line,
                    end - start, WARDEN_TLOG_ENTRY_MAX);
            rc = 1;
            goto out;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            void *p1 = realloc(ents, cap * sizeof *ents), *p2;
            if (p1 != NULL)
                ents = p1;
            p2 = realloc(lens, cap * sizeof *lens);
            if (p2 != NULL)
                lens = p2;
            if (p1 == NULL || p2 == NULL) {
                fprintf(stderr, "warden log append: out of memory\n");
                rc = 1;
                goto out;
            }
        }
        ents[n] = in.p + start;
        lens[n++] = end - start;
        start = end + 1;
    }
    if (warden_tlog_signer_load(&s, o->key, &e) != 0 ||
        warden_tlog_appender_new(&a, o->dir, s, NULL, &e) != 0) {
        rc = fail("append", &e);
        goto out;
    }
    uint64_t first = 0, f = 0;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < WARDEN_TLOG_BATCH_MAX ? n - done : WARDEN_TLOG_BATCH_MAX;
        if (warden_tlog_append_many(&f, a, ents + done, lens + done, k, &e) != 0) {
            rc = fail("append", &e);
            goto out;
        }
        if (done == 0)
            first = f;
        done += k;
    }
    /* The command promises a published checkpoint covering its entries on return. */
    if (warden_tlog_appender_sync(a, &e) != 0) {
        rc = fail("append", &e);
        goto out;
    }
    if (n == 0)
        printf("appended 0 entries, tree size %llu\n",
               (unsigned long long)warden_tlog_appender_size(a));
    else
        printf("appended %llu..%llu, tree size %llu\n", (unsigned long long)first,
               (unsigned long long)(first + n - 1),
               (unsigned long long)warden_tlog_appender_size(a));
out:
    warden_tlog_appender_free(a);
    warden_tlog_signer_free(s);
    free(ents);
    free(lens);
    warden_buf_fini(&in);
    return rc;
}

static int do_verify(const opts *o)
{
    warden_err e;
    warden_tlog_verifier *v = NULL;
    warden_tlog_source *src = NULL;
    warden_tlog_checkpoint cp;
    int rc = 0;
    if ((o->dir == NULL) == (o->url == NULL)) {
        fprintf(stderr, "warden log verify: give exactly one of --dir and --url\n");
        return 2;
    }
    if (need(o->vkey, "verify", "vkey"))
        return 2;
    if (load_verifier(&v, o->vkey, &e) != 0 ||
        (o->dir ? warden_tlog_source_dir_new(&src, o->dir, &e)
                : warden_tlog_source_url_new(&src, o->url, &e)) != 0 ||
        warden_tlog_verify(&cp, src, v, &e) != 0)
        rc = fail("verify", &e);
    else
        printf("ok %llu entries\n", (unsigned long long)cp.size);
    warden_tlog_source_free(src);
    warden_tlog_verifier_free(v);
    return rc;
}

static json_t *hash_json(const warden_tlog_hash *h)
{
    char b64[48];
    warden_tlog_hash_b64(b64, h);
    return json_string(b64);
}

static json_t *proof_json(const warden_tlog_hash *p, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++)
        json_array_append_new(a, hash_json(&p[i]));
    return a;
}

static int print_json(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (s == NULL) {
        fprintf(stderr, "warden log: out of memory\n");
        return 1;
    }
    printf("%s\n", s);
    free(s);
    return 0;
}

static int do_prove(const opts *o)
{
    warden_err e;
    warden_tlog_source *src = NULL;
    warden_tlog_checkpoint cp;
    warden_tlog_hash_reader r;
    warden_tlog_hash proof[WARDEN_TLOG_PROOF_MAX], leaf;
    size_t n = 0;
    uint64_t index;
    warden_buf ent;
    int rc = 0;
    if (need(o->dir, "prove", "dir") || need(o->index, "prove", "index"))
        return 2;
    if (warden_parse_u64(&index, o->index, strlen(o->index)) != 0) {
        fprintf(stderr, "warden log prove: --index %s: not a number\n", o->index);
        return 2;
    }
    warden_buf_init(&ent);
    if (warden_tlog_source_dir_new(&src, o->dir, &e) != 0 ||
        warden_tlog_source_checkpoint(&cp, src, NULL, &e) != 0 ||
        warden_tlog_source_entry(&ent, src, cp.size, index, &e) != 0) {
        rc = fail("prove", &e);
        goto out;
    }
    warden_tlog_leaf_hash(&leaf, ent.p, ent.len);
    warden_tlog_source_reader(&r, src, cp.size);
    if (warden_tlog_prove_inclusion(proof, &n, index, cp.size, &r, &e) != 0) {
        rc = fail("prove", &e);
        goto out;
    }
    rc = print_json(json_pack("{s:I,s:I,s:o,s:o,s:o}", "index", (json_int_t)index, "tree_size",
                              (json_int_t)cp.size, "leaf_hash", hash_json(&leaf), "root",
                              hash_json(&cp.root), "proof", proof_json(proof, n)));
out:
    warden_buf_fini(&ent);
    warden_tlog_source_free(src);
    return rc;
}

/* Reads a checkpoint file: verified with v when given, else syntax only. */
static int read_checkpoint_file(warden_tlog_checkpoint *cp, const char *path,
                                const warden_tlog_verifier *v, warden_err *e)
{
    warden_buf b;
    size_t tlen = 0;
    warden_buf_init(&b);
    int rc = warden_file_read(&b, path, WARDEN_TLOG_NOTE_MAX, e);
    if (rc == 0) {
        if (v != NULL)
            rc = warden_tlog_checkpoint_open(cp, b.p, b.len, v, e);
        else if ((rc = warden_tlog_note_parse(&tlen, b.p, b.len, e)) == 0)
            rc = warden_tlog_checkpoint_parse(cp, b.p, tlen, e);
        if (rc != 0)
            warden_err_prefix(e, "%s", path);
    }
    warden_buf_fini(&b);
    return rc;
}

static int do_consistency(const opts *o)
{
    warden_err e;
    warden_tlog_source *src = NULL;
    warden_tlog_checkpoint cp, old;
    warden_tlog_hash_reader r;
    warden_tlog_hash proof[WARDEN_TLOG_PROOF_MAX], old_root;
    size_t n = 0;
    int rc = 0;
    if (need(o->dir, "consistency", "dir") || need(o->old, "consistency", "old"))
        return 2;
    if (read_checkpoint_file(&old, o->old, NULL, &e) != 0 ||
        warden_tlog_source_dir_new(&src, o->dir, &e) != 0 ||
        warden_tlog_source_checkpoint(&cp, src, NULL, &e) != 0) {
        rc = fail("consistency", &e);
        goto out;
    }
    if (old.size > cp.size) {
        fprintf(stderr, "warden log consistency: %s has size %llu, beyond the log's %llu\n", o->old,
                (unsigned long long)old.size, (unsigned long long)cp.size);
        rc = 1;
        goto out;
    }
    warden_tlog_source_reader(&r, src, cp.size);
    if (warden_tlog_reader_root(&old_root, &r, old.size, &e) != 0 ||
        warden_tlog_prove_consistency(proof, &n, old.size, cp.size, &r, &e) != 0) {
        rc = fail("consistency", &e);
        goto out;
    }
    if (memcmp(old_root.b, old.root.b, WARDEN_TLOG_HASH_SIZE) != 0) {
        fprintf(stderr,
                "warden log consistency: %s: its root is not this log's root at size "
                "%llu\n",
                o->old, (unsigned long long)old.size);
        rc = 1;
        goto out;
    }
    rc = print_json(json_pack("{s:I,s:I,s:o,s:o,s:o}", "old_size", (json_int_t)old.size, "new_size",
                              (json_int_t)cp.size, "old_root", hash_json(&old.root), "new_root",
                              hash_json(&cp.root), "proof", proof_json(proof, n)));
out:
    warden_tlog_source_free(src);
    return rc;
}

/* Reads a base64 hash member of a proof object. */
static int json_hash(warden_tlog_hash *h, json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return -1;
    return warden_tlog_hash_from_b64(h, json_string_value(v), json_string_length(v));
}

static int json_size(uint64_t *out, json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int do_check_proof(const opts *o)
{
    warden_err e;
    warden_tlog_verifier *v = NULL;
    warden_tlog_checkpoint cp, old;
    warden_tlog_hash proof[WARDEN_TLOG_PROOF_MAX];
    json_t *j = NULL;
    json_error_t je;
    warden_buf ent;
    int rc = 1;
    if (need(o->proof, "check-proof", "proof") ||
        need(o->checkpoint, "check-proof", "checkpoint") || need(o->vkey, "check-proof", "vkey"))
        return 2;
    warden_buf_init(&ent);
    if (load_verifier(&v, o->vkey, &e) != 0 ||
        read_checkpoint_file(&cp, o->checkpoint, v, &e) != 0) {
        fail("check-proof", &e);
        goto out;
    }
    if ((j = json_load_file(o->proof, JSON_REJECT_DUPLICATES, &je)) == NULL || !json_is_object(j)) {
        fprintf(stderr, "warden log check-proof: %s:%d:%d: %s\n", o->proof, je.line, je.column,
                j ? "not a JSON object" : je.text);
        goto out;
    }
    json_t *pa = json_object_get(j, "proof");
    size_t n = json_array_size(pa);
    if (!json_is_array(pa) || n > WARDEN_TLOG_PROOF_MAX) {
        fprintf(stderr,
                "warden log check-proof: %s: \"proof\" must be an array of at most %d "
                "hashes\n",
                o->proof, WARDEN_TLOG_PROOF_MAX);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *h = json_array_get(pa, i);
        if (!json_is_string(h) ||
            warden_tlog_hash_from_b64(&proof[i], json_string_value(h), json_string_length(h))) {
            fprintf(stderr, "warden log check-proof: %s: proof[%zu] is not a base64 hash\n",
                    o->proof, i);
            goto out;
        }
    }
    if (json_object_get(j, "index") != NULL) {
        uint64_t index, size;
        warden_tlog_hash leaf, root;
        if (json_size(&index, j, "index") || json_size(&size, j, "tree_size") ||
            json_hash(&leaf, j, "leaf_hash") || json_hash(&root, j, "root")) {
            fprintf(stderr, "warden log check-proof: %s: malformed inclusion proof\n", o->proof);
            goto out;
        }
        if (size != cp.size) {
            fprintf(stderr,
                    "warden log check-proof: proof is for tree size %llu, the checkpoint "
                    "has %llu\n",
                    (unsigned long long)size, (unsigned long long)cp.size);
            goto out;
        }
        if (o->entry != NULL) {
            warden_tlog_hash mine;
            if (warden_file_read(&ent, o->entry, WARDEN_TLOG_ENTRY_MAX, &e) != 0) {
                fail("check-proof", &e);
                goto out;
            }
            warden_tlog_leaf_hash(&mine, ent.p, ent.len);
            if (memcmp(mine.b, leaf.b, WARDEN_TLOG_HASH_SIZE) != 0) {
                fprintf(stderr,
                        "warden log check-proof: %s does not hash to the proof's "
                        "leaf_hash\n",
                        o->entry);
                goto out;
            }
        }
        if (warden_tlog_verify_inclusion(&leaf, index, cp.size, &cp.root, proof, n, &e) != 0) {
            fail("check-proof", &e);
            goto out;
        }
    } else if (json_object_get(j, "old_size") != NULL) {
        uint64_t old_size, new_size;
        warden_tlog_hash old_root;
        if (json_size(&old_size, j, "old_size") || json_size(&new_size, j, "new_size") ||
            json_hash(&old_root, j, "old_root")) {
            fprintf(stderr, "warden log check-proof: %s: malformed consistency proof\n", o->proof);
            goto out;
        }
        if (new_size != cp.size) {
            fprintf(stderr,
                    "warden log check-proof: proof is for new size %llu, the checkpoint "
                    "has %llu\n",
                    (unsigned long long)new_size, (unsigned long long)cp.size);
            goto out;
        }
        if (o->old != NULL) {
            if (read_checkpoint_file(&old, o->old, v, &e) != 0) {
                fail("check-proof", &e);
                goto out;
            }
            if (old.size != old_size || memcmp(old.root.b, old_root.b, 32) != 0) {
                fprintf(stderr, "warden log check-proof: %s is not the proof's old tree\n", o->old);
                goto out;
            }
        }
        if (warden_tlog_verify_consistency(old_size, cp.size, &old_root, &cp.root, proof, n, &e) !=
            0) {
            fail("check-proof", &e);
            goto out;
        }
    } else {
        fprintf(stderr,
                "warden log check-proof: %s: neither an inclusion (index) nor a "
                "consistency (old_size) proof\n",
                o->proof);
        goto out;
    }
    printf("ok\n");
    rc = 0;
out:
    json_decref(j);
    warden_buf_fini(&ent);
    warden_tlog_verifier_free(v);
    return rc;
}

static int do_serve(const opts *o)
{
    warden_err e;
    warden_tlog_server *s = NULL;
    sigset_t set;
    int sig = 0;
    if (need(o->dir, "serve", "dir") || need(o->listen, "serve", "listen"))
        return 2;
    /* Block the stop signals before libmicrohttpd starts its threads, then wait for one. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (warden_tlog_server_new(&s, o->dir, o->listen, &e) != 0)
        return fail("serve", &e);
    fprintf(stderr, "warden log serve: serving %s on http://%s/\n", o->dir, o->listen);
    sigwait(&set, &sig);
    warden_tlog_server_free(s);
    return 0;
}

int cmd_log(int argc, char **argv)
{
    opts o;
    static const struct {
        const char *name;
        const char *allowed;
        int (*run)(const opts *);
    } subs[] = {
        {"init", " dir origin key ", do_init},
        {"vkey", " key ", do_vkey},
        {"append", " dir key ", do_append},
        {"verify", " dir url vkey ", do_verify},
        {"prove", " dir index ", do_prove},
        {"consistency", " dir old ", do_consistency},
        {"check-proof", " proof checkpoint vkey entry old ", do_check_proof},
        {"serve", " dir listen ", do_serve},
    };
    if (argc < 2) {
        cmd_log_usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(argv[1], subs[i].name) != 0)
            continue;
        if (parse_opts(&o, argc, argv, subs[i].allowed) != 0)
            return 2;
        return subs[i].run(&o);
    }
    fprintf(stderr, "warden log: unknown subcommand '%s'\n", argv[1]);
    cmd_log_usage(stderr);
    return 2;
}
