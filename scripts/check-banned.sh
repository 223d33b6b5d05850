#!/usr/bin/env bash
# Fails if our C sources use a banned function (STYLE.md): unbounded string functions,
# atoi (no error reporting) and rand (not a CSPRNG).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
pattern='\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|rand|srand)[[:space:]]*\('
if grep -rnE "$pattern" "$ROOT/src" "$ROOT/include" "$ROOT/fuzz" "$ROOT/tests/unit" "$ROOT/tests/tools" \
     --include='*.c' --include='*.h'; then
  echo "banned function used (see STYLE.md)" >&2
  exit 1
fi
echo "banned-function check: clean"
