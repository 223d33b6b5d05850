#!/usr/bin/env bash
# Transparency log benchmark (issue 4, "Speed"). Prints, in one run:
#   - durable appends/s with 1, 8 and 64 concurrent appender threads (256-byte
#     entries, through the library's group-commit appender: each append returns
#     only once its entry is durable), next to the raw rate of "write 256 bytes +
#     fdatasync" on the same filesystem;
#   - in-memory integration (leaf hashing + tree integration, no disk) in leaves/s,
#     next to `openssl speed -seconds 3 sha256` at 64 bytes;
#   - the ratios against the goals: >= 100,000 entries/s with 64 appenders and
#     >= 50x the raw fsync rate.
#
# usage: bench/tlog.sh [BUILD_DIR]     (default: build; needs tlog_bench, fsync_rate)
# env:   BENCH_SECONDS (per measurement, default 3), BENCH_DIR (where the logs are
#        written; default a temp dir under BUILD_DIR, i.e. the build's filesystem)
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="$(cd "${1:-$SRC/build}" && pwd)"
SECS="${BENCH_SECONDS:-3}"
BENCH="$BUILD/tlog_bench"
FSYNC="$BUILD/fsync_rate"
for t in "$BENCH" "$FSYNC" "$BUILD/warden"; do
    [ -x "$t" ] || { echo "bench/tlog.sh: $t not built (cmake --build $BUILD)" >&2; exit 1; }
done
mkdir -p "${BENCH_DIR:-$BUILD}"
WORK="$(mktemp -d "${BENCH_DIR:-$BUILD}/tlog-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# paren LINE: the parenthesised details at the end of a tool's output line.
paren() { sed -n 's/^[^(]*(\(.*\))$/\1/p' <<<"$1"; }

echo "tlog benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $SECS s per measurement"
echo "filesystem: $(df -T "$WORK" | awk 'NR==2 {print $1, $2}') ($WORK)"
echo

# The disk may be shared, and its fsync rate then swings from one second to the next:
# each append measurement is paired with raw fsync measurements taken just before and
# just after it, and its ratio uses their mean.
rawrate() { "$FSYNC" "$WORK" 1 256 | awk '{print $2}'; }
pub="$("$FSYNC" "$WORK" "$SECS" 256 publish | awk '{print $2}')"
printf '%-40s %9s /s   (the cost floor of one published file)\n' "tmp+fdatasync+rename+dir fsync" "$pub"

"$BUILD/warden" log init --dir "$WORK/keyonly" --origin example.com/bench --key "$WORK/bench.key" >/dev/null
declare -A rate raw
for th in 1 8 64; do
    rm -rf "$WORK/log"
    "$BUILD/warden" log init --dir "$WORK/log" --origin example.com/bench --key "$WORK/bench.key" >/dev/null
    r1="$(rawrate)"
    out="$("$BENCH" append "$WORK/log" "$WORK/bench.key" "$th" "$SECS" 256)"
    r2="$(rawrate)"
    rate[$th]="$(awk '{print $2}' <<<"$out")"
    raw[$th]="$(awk -v a="$r1" -v b="$r2" 'BEGIN {printf "%.0f", (a + b) / 2}')"
    printf '%-40s %9s /s   raw fsync %s/s (%s, %s) -> %.1fx   (%s)\n' \
        "durable appends, $th appender(s)" "${rate[$th]}" "${raw[$th]}" "$r1" "$r2" \
        "$(awk -v a="${rate[$th]}" -v b="${raw[$th]}" 'BEGIN {print a / b}')" "$(paren "$out")"
    # The log the benchmark wrote must verify: speed from a broken log is no speed.
    "$BUILD/warden" log verify --dir "$WORK/log" --vkey "$("$BUILD/warden" log vkey --key "$WORK/bench.key")" \
        >"$WORK/verify.out" 2>&1 || { cat "$WORK/verify.out" >&2; echo "bench: log does not verify" >&2; exit 1; }
done
echo

integ="$("$BENCH" integrate "$SECS")"
leaves="$(awk '{print $2}' <<<"$integ")"
printf '%-40s %9s /s   (%s)\n' "in-memory integration (leaves)" "$leaves" "$(paren "$integ")"
# openssl speed prints "sha256  <16B>k <64B>k ..." in 1000s of bytes/s.
ssl="$(openssl speed -seconds "$SECS" sha256 2>/dev/null | awk '$1 == "sha256" {sub(/k$/, "", $3); print $3}')"
[ -n "$ssl" ] || { echo "bench: could not parse openssl speed output" >&2; exit 1; }
sha64="$(awk -v k="$ssl" 'BEGIN {printf "%.0f", k * 1000 / 64}')"
printf '%-40s %9s /s   (%s kB/s)\n' "openssl speed sha256, 64-byte blocks" "$sha64" "$ssl"
printf '%-40s %9.2f\n' "integration leaves per sha256(64 B)" "$(awk -v a="$leaves" -v b="$sha64" 'BEGIN {print a / b}')"
echo

r64="${rate[64]}"
goal1="$(awk -v a="$r64" 'BEGIN {printf "%.2f", a / 100000}')"
goal2="$(awk -v a="$r64" -v b="${raw[64]}" 'BEGIN {printf "%.1f", a / b}')"
verdict() { awk -v x="$1" -v g="$2" 'BEGIN {print (x >= g) ? "MET" : "NOT MET"}'; }
printf 'goal: >= 100,000 durable entries/s with 64 appenders: %s/s = %sx goal -> %s\n' "$r64" "$goal1" "$(verdict "$goal1" 1)"
printf 'goal: >= 50x raw fsync rate with 64 appenders: %sx -> %s\n' "$goal2" "$(verdict "$goal2" 50)"
