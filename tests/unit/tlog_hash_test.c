/* RFC 6962 hashing against the certificate-transparency reference tree (ct-vectors.txt). */
#include "tlog_testutil.h"
#include "tlog/tlog_internal.h"

#include <unistd.h>

typedef struct ct_tree {
    warden_tlog_hash leaf[8];
    size_t nleaves;
    warden_tlog_hash root[9];
    size_t nroots;
} ct_tree;

static void load_ct(ct_tree *t)
{
    warden_buf b;
    vec_read(&b, "ct-vectors.txt");
    memset(t, 0, sizeof *t);
    char *save = NULL;
    for (char *line = strtok_r((char *)b.p, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char a[64], h[600];
        unsigned long n;
        if (sscanf(line, "leaf %63s", a) == 1) {
            uint8_t data[64];
            size_t len = strcmp(a, "-") == 0 ? 0 : strlen(a) / 2;
            if (len)
                hex_decode(data, a, len);
            warden_tlog_leaf_hash(&t->leaf[t->nleaves++], data, len);
        } else if (sscanf(line, "root %lu %599s", &n, h) == 2) {
            assert_int_equal(n, t->nroots);
            hex_decode(t->root[t->nroots++].b, h, 32);
        }
    }
    assert_int_equal(t->nleaves, 8);
    assert_int_equal(t->nroots, 9);
    warden_buf_fini(&b);
}

static void tlog_hash_roots(void **state)
{
    (void)state;
    ct_tree t;
    load_ct(&t);
    for (size_t n = 0; n <= 8; n++) {
        warden_tlog_hash r;
        warden_tlog_tree_hash(&r, t.leaf, n);
        assert_memory_equal(r.b, t.root[n].b, 32);
    }
}

static void tlog_hash_node_is_prefixed(void **state)
{
    (void)state;
    ct_tree t;
    load_ct(&t);
    warden_tlog_hash n;
    warden_tlog_node_hash(&n, &t.leaf[0], &t.leaf[1]);
    assert_memory_equal(n.b, t.root[2].b, 32);
    /* Order matters. */
    warden_tlog_node_hash(&n, &t.leaf[1], &t.leaf[0]);
    assert_memory_not_equal(n.b, t.root[2].b, 32);
}

/* The right-edge root equals MTH for every size that splits across tile levels. */
static void tlog_hash_edge_root(void **state)
{
    (void)state;
    enum { N = 70000 };
    warden_tlog_hash *leaves = malloc(sizeof *leaves * N);
    assert_non_null(leaves);
    for (uint32_t i = 0; i < N; i++)
        warden_tlog_leaf_hash(&leaves[i], &i, sizeof i);
    static const uint64_t sizes[] = {0, 1, 2, 255, 256, 257, 511, 512, 65535, 65536, 65537, 70000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint64_t n = sizes[k];
        static warden_tlog_hash lv[TLOG_LEVELS][256];
        unsigned counts[TLOG_LEVELS] = {0};
        warden_tlog_hash *edge[TLOG_LEVELS];
        for (unsigned l = 0; l < TLOG_LEVELS; l++) {
            edge[l] = lv[l];
            counts[l] = warden_tlog_partial_width((int)l, n);
            if (counts[l] == 0)
                continue;
            uint64_t span = UINT64_C(1) << (8 * l);
            uint64_t start = (n >> (8 * (l + 1))) << (8 * (l + 1));
            for (unsigned i = 0; i < counts[l]; i++)
                warden_tlog_tree_hash(&lv[l][i], leaves + start + i * span, span);
        }
        warden_tlog_hash want, got;
        warden_tlog_tree_hash(&want, leaves, n);
        tlog_edge_root(&got, edge, counts, TLOG_LEVELS);
        assert_memory_equal(want.b, got.b, 32);
    }
    free(leaves);
}

static void tlog_hash_b64_roundtrip(void **state)
{
    (void)state;
    ct_tree t;
    load_ct(&t);
    char b64[48];
    warden_tlog_hash back;
    warden_tlog_hash_b64(b64, &t.root[8]);
    assert_int_equal(strlen(b64), 44);
    assert_int_equal(warden_tlog_hash_from_b64(&back, b64, 44), 0);
    assert_memory_equal(back.b, t.root[8].b, 32);
    assert_int_equal(warden_tlog_hash_from_b64(&back, b64, 43), WARDEN_EPARSE);
    b64[42] = 'B'; /* non-zero bits hidden by the padding: not canonical */
    assert_int_equal(warden_tlog_hash_from_b64(&back, b64, 44), WARDEN_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tlog_hash_roots),
        cmocka_unit_test(tlog_hash_node_is_prefixed),
        cmocka_unit_test(tlog_hash_edge_root),
        cmocka_unit_test(tlog_hash_b64_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
