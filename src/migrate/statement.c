/* The migration's signed statements: C2SP signed notes (Ed25519, the log's own note code)
 * whose text is a header line "warden-migration/v1 <kind>" and "name value" lines.
 * kind start: run, source, destination, records, source-root.
 * kind end:   those plus migrated, refused, conflicts, failed, dest-root.
 * kind delete: run, source, destination, deleted, kept.
 * Roots are standard base64 like checkpoint roots. docs/migrate.md is the prose version. */
#include "migrate/migrate_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool mig_statement_is(const char *text, size_t len)
{
    size_t h = strlen(MIG_NOTE_HEADER);
    return len > h && memcmp(text, MIG_NOTE_HEADER, h) == 0;
}

int mig_statement_sign(warden_buf *out, const mig_statement *st, const warden_tlog_signer *s,
                       warden_err *err)
{
    warden_buf t;
    warden_buf_init(&t);
    char sr[48], dr[48];
    warden_tlog_hash_b64(sr, &st->source_root);
    warden_tlog_hash_b64(dr, &st->dest_root);
    bool is_end = strcmp(st->kind, "end") == 0, is_del = strcmp(st->kind, "delete") == 0;
    int rc = warden_buf_printf(&t, MIG_NOTE_HEADER "%s\nrun %s\nsource %s\ndestination %s\n",
                               st->kind, st->run, st->source, st->destination);
    if (rc == 0 && !is_del)
        rc = warden_buf_printf(&t, "records %llu\nsource-root %s\n",
                               (unsigned long long)st->records, sr);
    if (rc == 0 && is_end)
        rc = warden_buf_printf(&t,
                               "migrated %llu\nrefused %llu\nconflicts %llu\nfailed %llu\n"
                               "dest-root %s\n",
                               (unsigned long long)st->migrated, (unsigned long long)st->refused,
                               (unsigned long long)st->conflicts, (unsigned long long)st->failed,
                               dr);
    if (rc == 0 && is_del)
        rc = warden_buf_printf(&t, "deleted %llu\nkept %llu\n", (unsigned long long)st->deleted,
                               (unsigned long long)st->kept);
    if (rc != 0)
        rc = warden_err_set(err, WARDEN_ENOMEM, "out of memory");
    else
        rc = warden_tlog_note_sign(out, t.p, t.len, s, err);
    warden_buf_fini(&t);
    return rc;
}

static int num(uint64_t *out, const char *v, size_t n, warden_err *err)
{
    /* one spelling per number, as in checkpoints: no leading zeroes */
    return warden_parse_u64(out, v, n) == 0 && (n == 1 || v[0] != '0')
               ? 0
               : warden_err_set(err, WARDEN_EPARSE, "statement: bad number \"%.*s\"",
                                (int)(n > 32 ? 32 : n), v);
}

int mig_statement_open(mig_statement *st, const char *note, size_t len,
                       const warden_tlog_verifier *v, warden_err *err)
{
    size_t tlen;
    memset(st, 0, sizeof *st);
    int rc = warden_tlog_note_open(&tlen, (const uint8_t *)note, len, &v, 1, err);
    return rc != 0 ? rc : mig_statement_parse(st, note, tlen, err);
}

int mig_statement_parse(mig_statement *st, const char *note, size_t tlen, warden_err *err)
{
    int rc = 0;
    memset(st, 0, sizeof *st);
    warden_cursor c;
    warden_cursor_init(&c, note, tlen);
    bool first = true;
    while (warden_cursor_left(&c) > 0) {
        const uint8_t *line;
        size_t n;
        if (warden_cursor_until(&c, '\n', &line, &n) != 0)
            return warden_err_set(err, WARDEN_EPARSE, "statement: unterminated line");
        const char *l = (const char *)line;
        if (first) {
            size_t h = strlen(MIG_NOTE_HEADER);
            if (n <= h || n - h >= sizeof st->kind || memcmp(l, MIG_NOTE_HEADER, h) != 0)
                return warden_err_set(err, WARDEN_EPARSE, "not a warden migration statement");
            memcpy(st->kind, l + h, n - h);
            first = false;
            continue;
        }
        const char *sp = memchr(l, ' ', n);
        if (sp == NULL)
            return warden_err_set(err, WARDEN_EPARSE, "statement: line without a value");
        size_t kn = (size_t)(sp - l), vn = n - kn - 1;
        const char *val = sp + 1;
#define KEY(s) (kn == strlen(s) && memcmp(l, s, kn) == 0)
#define STR(dst)                                                                                   \
    do {                                                                                           \
        if (vn >= sizeof(dst))                                                                     \
            return warden_err_set(err, WARDEN_EPARSE, "statement: value too long");                \
        memcpy(dst, val, vn);                                                                      \
        dst[vn] = '\0';                                                                            \
    } while (0)
        if (KEY("run"))
            STR(st->run);
        else if (KEY("source"))
            STR(st->source);
        else if (KEY("destination"))
            STR(st->destination);
        else if (KEY("records"))
            rc = num(&st->records, val, vn, err);
        else if (KEY("migrated"))
            rc = num(&st->migrated, val, vn, err);
        else if (KEY("refused"))
            rc = num(&st->refused, val, vn, err);
        else if (KEY("conflicts"))
            rc = num(&st->conflicts, val, vn, err);
        else if (KEY("failed"))
            rc = num(&st->failed, val, vn, err);
        else if (KEY("deleted"))
            rc = num(&st->deleted, val, vn, err);
        else if (KEY("kept"))
            rc = num(&st->kept, val, vn, err);
        else if (KEY("source-root"))
            rc = warden_tlog_hash_from_b64(&st->source_root, val, vn);
        else if (KEY("dest-root"))
            rc = warden_tlog_hash_from_b64(&st->dest_root, val, vn);
        else
            return warden_err_set(err, WARDEN_EPARSE, "statement: unknown line \"%.*s\"",
                                  (int)(kn > 32 ? 32 : kn), l);
#undef KEY
#undef STR
        if (rc != 0)
            return warden_err_set(err, WARDEN_EPARSE, "statement: bad value for \"%.*s\"",
                                  (int)(kn > 32 ? 32 : kn), l);
    }
    if (st->run[0] == '\0' || first)
        return warden_err_set(err, WARDEN_EPARSE, "statement: no run");
    return 0;
}
