#!/usr/bin/env bash
# Runs one libFuzzer target for SECONDS (default 600) on its checked-in corpus.
# usage: scripts/fuzz.sh TARGET [SECONDS]   (after building build-fuzz with -DWARDEN_FUZZ=ON)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
t="$1"; secs="${2:-600}"
bin="$ROOT/build-fuzz/$t"
[ -x "$bin" ] || { echo "build it first: CC=clang cmake -S . -B build-fuzz -DWARDEN_FUZZ=ON && cmake --build build-fuzz" >&2; exit 2; }
mkdir -p "$ROOT/fuzz/corpus/$t" "$ROOT/fuzz/artifacts"
exec "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$ROOT/fuzz/artifacts/$t-" "$ROOT/fuzz/corpus/$t"
