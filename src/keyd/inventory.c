/* INVENTORY: what this region holds, for the residency report. Users with their home
 * jurisdiction and state, and live records counted per collection; never a key, a blob or
 * a field of a document, so it is as harmless as STATUS and, like it, not logged. The
 * region's configured jurisdictions come along so the report can compare them with the
 * cluster file. */
#include "keyd/keyd_internal.h"

#include <stdlib.h>
#include <string.h>

/* Counts user's live records per collection into counts (collection -> n). */
static int count_records(json_t *counts, json_int_t *total, warden_keyd *k, const char *user,
                         warden_err *err)
{
    warden_store_page page;
    warden_store_page_init(&page);
    char *ac = NULL, *ai = NULL;
    int rc = 0;
    for (;;) {
        warden_store_page_fini(&page);
        if ((rc = warden_store_record_list(k->store, &page, user, ac, ai, WARDEN_STORE_PAGE_MAX,
                                           err)) != 0)
            goto out;
        for (size_t i = 0; i < page.n; i++) {
            const char *c = page.v[i].collection;
            json_t *n = json_object_get(counts, c);
            json_int_t v = n != NULL ? json_integer_value(n) + 1 : 1;
            if (json_object_set_new(counts, c, json_integer(v)) != 0) {
                rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
                goto out;
            }
            (*total)++;
        }
        if (!page.more || page.n == 0)
            break;
        free(ac);
        free(ai);
        ac = strdup(page.v[page.n - 1].collection);
        ai = strdup(page.v[page.n - 1].id);
        if (ac == NULL || ai == NULL) {
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
            goto out;
        }
    }
out:
    free(ac);
    free(ai);
    warden_store_page_fini(&page);
    return rc;
}

int keyd_do_inventory(json_t **answer, warden_keyd *k, warden_err *err)
{
    warden_store_page page;
    warden_store_user u;
    warden_store_page_init(&page);
    warden_store_user_init(&u);
    char *after = NULL;
    json_t *users = json_array(), *jurs = json_array(), *ans = NULL;
    int rc = users == NULL || jurs == NULL ? warden_err_set(err, WARDEN_ENOMEM, "out of memory")
                                           : 0;
    for (size_t i = 0; rc == 0 && i < k->cfg.n_jurisdictions; i++)
        if (json_array_append_new(jurs, json_string(k->cfg.jurisdictions[i])) != 0)
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    while (rc == 0) {
        warden_store_page_fini(&page);
        if ((rc = warden_store_user_list(k->store, &page, after, 100, err)) != 0)
            break;
        for (size_t i = 0; rc == 0 && i < page.n; i++) {
            json_int_t total = 0;
            json_t *counts = json_object(), *row = NULL;
            warden_store_user_fini(&u);
            warden_store_user_init(&u);
            if ((rc = warden_store_user_get(k->store, &u, page.v[i].user, err)) == 0 &&
                counts != NULL)
                rc = count_records(counts, &total, k, page.v[i].user, err);
            if (rc == 0 && counts != NULL)
                row = json_pack("{s:s, s:s, s:s, s:I, s:O}", "user", page.v[i].user,
                                "jurisdiction", u.jurisdiction, "state",
                                u.state == WARDEN_USER_ACTIVE ? "active" : "shredded",
                                "records", total, "collections", counts);
            json_decref(counts);
            if (rc == 0 && (row == NULL || json_array_append_new(users, row) != 0))
                rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
        }
        if (rc != 0 || !page.more || page.n == 0)
            break;
        free(after);
        if ((after = strdup(page.v[page.n - 1].user)) == NULL)
            rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    }
    if (rc == 0 && (ans = json_pack("{s:s, s:O, s:O, s:s}", "region", k->cfg.region,
                                    "jurisdictions", jurs, "users", users, "outcome", "ok")) ==
                       NULL)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    *answer = ans;
    free(after);
    json_decref(users);
    json_decref(jurs);
    warden_store_user_fini(&u);
    warden_store_page_fini(&page);
    return rc;
}
