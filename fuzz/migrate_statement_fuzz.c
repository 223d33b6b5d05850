/* Fuzzes the parser of migration statements (src/migrate/statement.c), which reads the
 * text of notes found in a log that `warden migrate verify` does not trust yet. Checked: no
 * crash, and a statement that parses has a run and a kind and NUL-terminated fields. */
#include "migrate/migrate_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mig_statement st;
    warden_err e;
    if (mig_statement_parse(&st, (const char *)data, size, &e) == 0) {
        if (st.run[0] == '\0' || st.kind[0] == '\0' ||
            memchr(st.source, '\0', sizeof st.source) == NULL ||
            memchr(st.destination, '\0', sizeof st.destination) == NULL)
            abort();
    }
    (void)mig_statement_is((const char *)data, size);
    return 0;
}
