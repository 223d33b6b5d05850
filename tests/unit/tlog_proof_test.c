/* Inclusion and consistency proofs: generation and verification against every proof of the
 * RFC 6962 reference tree (proofs.txt, from Go's sumdb/tlog; ct-vectors.txt, published CT
 * vectors), and rejection of altered proofs. */
#include "tlog_testutil.h"

typedef struct mem_tree {
    warden_tlog_hash leaf[8];
    size_t n;
    warden_tlog_hash root[9];
} mem_tree;

static int mem_subtree(void *ctx, warden_tlog_hash *out, unsigned height, uint64_t index,
                       warden_err *err)
{
    mem_tree *t = ctx;
    uint64_t lo = index << height, n = UINT64_C(1) << height;
    if (lo + n > t->n)
        return warden_err_set(err, WARDEN_EINVAL, "subtree beyond the tree");
    warden_tlog_tree_hash(out, t->leaf + lo, n);
    return 0;
}

typedef struct vec_line {
    char kind[16];
    unsigned long a, b;
    warden_tlog_hash proof[WARDEN_TLOG_PROOF_MAX];
    size_t n;
} vec_line;

/* Loads the leaves and roots of a vector file, then runs fn over every proof line (roots may
 * come after the proofs); returns how many proofs there were. */
static size_t for_each_proof(const char *file, mem_tree *t, void (*fn)(mem_tree *, vec_line *))
{
    size_t count = 0;
    t->n = 0;
    for (int pass = 0; pass < 2; pass++) {
        warden_buf b;
        vec_read(&b, file);
        char *save = NULL;
        for (char *line = strtok_r((char *)b.p, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            static char hexes[8192];
            static vec_line v;
            unsigned long sz;
            char h[80];
            if (pass == 0 && sscanf(line, "leaf %79s", h) == 1) {
                uint8_t d[40];
                size_t len = strcmp(h, "-") == 0 ? 0 : strlen(h) / 2;
                if (len)
                    hex_decode(d, h, len);
                warden_tlog_leaf_hash(&t->leaf[t->n++], d, len);
            } else if (pass == 0 && sscanf(line, "root %lu %79s", &sz, h) == 2) {
                assert_true(sz <= 8);
                hex_decode(t->root[sz].b, h, 32);
            } else if (pass == 1 &&
                       (strncmp(line, "inclusion ", 10) == 0 ||
                        strncmp(line, "consistency ", 12) == 0) &&
                       sscanf(line, "%15s %lu %lu %8191s", v.kind, &v.a, &v.b, hexes) == 4) {
                v.n = parse_hash_list(v.proof, hexes);
                fn(t, &v);
                count++;
            }
        }
        warden_buf_fini(&b);
    }
    return count;
}

static void check_line(mem_tree *t, vec_line *v)
{
    warden_tlog_hash_reader r = {mem_subtree, t};
    warden_tlog_hash got[WARDEN_TLOG_PROOF_MAX];
    size_t n = 0;
    warden_err e;
    if (strcmp(v->kind, "inclusion") == 0) {
        mem_tree sub = *t;
        sub.n = v->b; /* the reader must only need the first b leaves */
        r.ctx = &sub;
        assert_int_equal(warden_tlog_prove_inclusion(got, &n, v->a, v->b, &r, &e), 0);
        assert_int_equal(n, v->n);
        for (size_t i = 0; i < n; i++)
            assert_memory_equal(got[i].b, v->proof[i].b, 32);
        if (warden_tlog_verify_inclusion(&t->leaf[v->a], v->a, v->b, &t->root[v->b], v->proof, v->n,
                                         &e) != 0)
            fail_msg("inclusion %lu %lu: %s", v->a, v->b, e.msg);
        /* Any flipped bit, a dropped or an extra hash must fail. */
        for (size_t i = 0; i < v->n; i++) {
            v->proof[i].b[i % 32] ^= 0x80;
            assert_int_equal(warden_tlog_verify_inclusion(&t->leaf[v->a], v->a, v->b,
                                                          &t->root[v->b], v->proof, v->n, &e),
                             WARDEN_EVERIFY);
            v->proof[i].b[i % 32] ^= 0x80;
        }
        if (v->n > 0)
            assert_int_equal(warden_tlog_verify_inclusion(&t->leaf[v->a], v->a, v->b,
                                                          &t->root[v->b], v->proof, v->n - 1, &e),
                             WARDEN_EVERIFY);
        v->proof[v->n] = t->leaf[0];
        assert_int_equal(warden_tlog_verify_inclusion(&t->leaf[v->a], v->a, v->b, &t->root[v->b],
                                                      v->proof, v->n + 1, &e),
                         WARDEN_EVERIFY);
        /* The same proof for another leaf or index does not verify. */
        if (v->b > 1) {
            uint64_t other = (v->a + 1) % v->b;
            assert_int_equal(warden_tlog_verify_inclusion(&t->leaf[other], v->a, v->b,
                                                          &t->root[v->b], v->proof, v->n, &e),
                             WARDEN_EVERIFY);
            assert_int_not_equal(warden_tlog_verify_inclusion(&t->leaf[v->a], other, v->b,
                                                              &t->root[v->b], v->proof, v->n, &e),
                                 0);
        }
    } else {
        mem_tree sub = *t;
        sub.n = v->b;
        r.ctx = &sub;
        assert_int_equal(warden_tlog_prove_consistency(got, &n, v->a, v->b, &r, &e), 0);
        assert_int_equal(n, v->n);
        for (size_t i = 0; i < n; i++)
            assert_memory_equal(got[i].b, v->proof[i].b, 32);
        assert_int_equal(warden_tlog_verify_consistency(v->a, v->b, &t->root[v->a], &t->root[v->b],
                                                        v->proof, v->n, &e),
                         0);
        for (size_t i = 0; i < v->n; i++) {
            v->proof[i].b[0] ^= 1;
            assert_int_equal(warden_tlog_verify_consistency(v->a, v->b, &t->root[v->a],
                                                            &t->root[v->b], v->proof, v->n, &e),
                             WARDEN_EVERIFY);
            v->proof[i].b[0] ^= 1;
        }
        if (v->a < v->b) {
            /* Wrong roots fail. */
            assert_int_equal(warden_tlog_verify_consistency(v->a, v->b, &t->root[v->b],
                                                            &t->root[v->b], v->proof, v->n, &e),
                             WARDEN_EVERIFY);
            assert_int_equal(warden_tlog_verify_consistency(v->a, v->b, &t->root[v->a],
                                                            &t->root[v->a], v->proof, v->n, &e),
                             WARDEN_EVERIFY);
            assert_int_equal(warden_tlog_verify_consistency(v->a, v->b, &t->root[v->a],
                                                            &t->root[v->b], v->proof, v->n - 1, &e),
                             WARDEN_EVERIFY);
        }
    }
}

static void tlog_proof_go_vectors(void **state)
{
    (void)state;
    mem_tree t;
    size_t n = for_each_proof("proofs.txt", &t, check_line);
    assert_int_equal(n, 72); /* 36 inclusion + 36 consistency proofs for sizes 1..8 */
}

static void tlog_proof_ct_vectors(void **state)
{
    (void)state;
    mem_tree t;
    size_t n = for_each_proof("ct-vectors.txt", &t, check_line);
    assert_int_equal(n, 9);
}

static void tlog_proof_bad_args(void **state)
{
    (void)state;
    warden_tlog_hash h = {{0}}, p[WARDEN_TLOG_PROOF_MAX];
    size_t n;
    warden_err e;
    mem_tree t = {.n = 0};
    warden_tlog_hash_reader r = {mem_subtree, &t};
    assert_int_equal(warden_tlog_prove_inclusion(p, &n, 3, 3, &r, &e), WARDEN_EINVAL);
    assert_int_equal(warden_tlog_prove_consistency(p, &n, 4, 3, &r, &e), WARDEN_EINVAL);
    assert_int_equal(warden_tlog_verify_inclusion(&h, 3, 3, &h, p, 0, &e), WARDEN_EINVAL);
    assert_int_equal(warden_tlog_verify_consistency(4, 3, &h, &h, p, 0, &e), WARDEN_EINVAL);
    /* From the empty tree: nothing to prove, but a non-empty proof is refused. */
    assert_int_equal(warden_tlog_verify_consistency(0, 3, &h, &h, p, 0, &e), 0);
    assert_int_equal(warden_tlog_verify_consistency(0, 3, &h, &h, p, 1, &e), WARDEN_EVERIFY);
    /* 0 < old < new needs a proof. */
    assert_int_equal(warden_tlog_verify_consistency(2, 3, &h, &h, p, 0, &e), WARDEN_EVERIFY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tlog_proof_go_vectors),
        cmocka_unit_test(tlog_proof_ct_vectors),
        cmocka_unit_test(tlog_proof_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
