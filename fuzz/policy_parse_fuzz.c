/* Fuzz target for the Cedar parser: parses arbitrary bytes as a policy set and as
 * one expression. Whatever parses must print back to text that parses to the same
 * tree, and templates must link; a mismatch aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/parser.h"
#include "warden/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_policy_round_trip(const cedar_policy *p)
{
    warden_buf a, b;
    warden_buf_init(&a);
    warden_buf_init(&b);
    cedar_pset *set2 = NULL;
    warden_err err;
    if (warden_policy_print(&a, p) != 0 || warden_policy_set_new(&set2, &err) != 0)
        abort();
    if (warden_policy_set_parse(set2, "printed", a.p, a.len, &err) != 0)
        abort(); /* the printer produced text the parser rejects */
    const cedar_policy *q = set2->n_policies ? set2->policies[0] : set2->templates[0];
    if (warden_policy_print(&b, q) != 0)
        abort();
    if (a.len != b.len || memcmp(a.p, b.p, a.len) != 0)
        abort(); /* the tree changed through print + parse */
    warden_policy_set_free(set2);
    warden_buf_fini(&a);
    warden_buf_fini(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cedar_pset *set = NULL;
    warden_err err;
    if (warden_policy_set_new(&set, &err) != 0)
        return 0;
    if (warden_policy_set_parse(set, "fuzz.cedar", data, size, &err) == 0) {
        for (size_t i = 0; i < set->n_policies; i++)
            check_policy_round_trip(set->policies[i]);
        size_t nt = set->n_templates;
        for (size_t i = 0; i < nt; i++) {
            const cedar_policy *t = set->templates[i];
            cedar_euid e;
            if (warden_policy_set_parse_euid(&e, set, "arg", (const uint8_t *)"Fuzz::\"x\"", 9,
                                             &err) != 0)
                abort();
            const cedar_policy *lp = NULL;
            char id[32];
            memcpy(id, "linked-", 7);
            size_t n = 7;
            for (size_t v = i;; v /= 10) {
                id[n++] = (char)('0' + v % 10);
                if (v < 10)
                    break;
            }
            if (warden_policy_set_link(&lp, set, t->id->p, t->id->len, id, n,
                                       t->has_principal_slot ? &e : NULL,
                                       t->has_resource_slot ? &e : NULL, &err) != 0)
                abort();
            check_policy_round_trip(lp);
        }
    }
    cedar_expr *e = NULL;
    if (warden_policy_set_parse_expr(&e, set, "fuzz.cedar", data, size, &err) == 0) {
        /* print -> parse must give the same tree (compared through the full form). */
        warden_buf text, a, b;
        warden_buf_init(&text);
        warden_buf_init(&a);
        warden_buf_init(&b);
        cedar_expr *e2 = NULL;
        if (warden_policy_expr_print(&text, e) != 0 || warden_policy_expr_print_full(&a, e) != 0)
            abort();
        if (warden_policy_set_parse_expr(&e2, set, "printed", text.p, text.len, &err) != 0)
            abort();
        if (warden_policy_expr_print_full(&b, e2) != 0)
            abort();
        if (a.len != b.len || memcmp(a.p, b.p, a.len) != 0)
            abort();
        warden_buf_fini(&text);
        warden_buf_fini(&a);
        warden_buf_fini(&b);
    }
    warden_policy_set_free(set);
    return 0;
}
