#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs dependencies, then builds and runs every
# test twice, once normally and once under AddressSanitizer + UndefinedBehaviorSanitizer.
# Exits non-zero if anything fails; the last line is CTest's summary.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

bash scripts/install-deps.sh
bash scripts/check-banned.sh

status=0
bash scripts/build.sh build
(cd build && ctest -j2 --output-on-failure --timeout 900) || status=1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
bash scripts/build.sh build-asan -DWARDEN_SANITIZE=ON
(cd build-asan && ctest -j2 --output-on-failure --timeout 900) || status=1
exit $status
