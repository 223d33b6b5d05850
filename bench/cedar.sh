#!/usr/bin/env bash
# Cedar decision speed, single thread: warden vs the official cedar-wasm on the same inputs
# in the same run (~20 policies over 1,000 entities, hierarchy depth 3), then warden's cost
# per decision as mostly-scoped policies grow 100 -> 1k -> 10k (the scope index at work).
# warden's time is decisions only (--repeat over pre-parsed requests), and end to end through
# the CLI (JSON request line in, JSON decision out); cedar-wasm is timed
# with pre-parsed policies, both with its whole entity store per call and with only the
# entities each request reaches (its lower bound). The ratio uses the lower bound.
# usage: bash bench/cedar.sh    (env: WARDEN_BINARY, CEDAR_WASM_JS)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
W=${WARDEN_BINARY:-$ROOT/build/warden}
WASM=${CEDAR_WASM_JS:-$ROOT/tests/diff/node_modules/@cedar-policy/cedar-wasm/nodejs/cedar_wasm.js}
[ -x "$W" ] || { echo "build warden first (bash scripts/build.sh build)" >&2; exit 2; }
[ -f "$WASM" ] || { echo "install cedar-wasm first (npm ci --prefix tests/diff)" >&2; exit 2; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

us_per_decision() { # dir repeat -> µs per decision (warden prints its timing on stderr)
    "$W" authorize --policies "$1/policies.cedar" --entities "$1/entities.json" \
        --requests "$1/requests.jsonl" --repeat "$2" 2>&1 >/dev/null |
        sed -n 's/.*us\/decision: \([0-9.]*\).*/\1/p'
}

node "$ROOT/bench/cedar_bench.mjs" gen "$T/w20" 20
"$W" authorize --policies "$T/w20/policies.cedar" --entities "$T/w20/entities.json" \
    --requests "$T/w20/requests.jsonl" | sed -n 's/.*"decision":"\([a-z]*\)".*/\1/p' >"$T/warden.dec"
node "$ROOT/bench/cedar_bench.mjs" wasm "$WASM" "$T/w20" 2000 >"$T/wasm.json"
node -e 'const j=require(process.argv[1]); console.log(j.decisions.join("\n"))' "$T/wasm.json" >"$T/wasm.dec"
if ! cmp -s "$T/warden.dec" "$T/wasm.dec"; then
    echo "warden and cedar-wasm disagree on the benchmark workload" >&2
    exit 1
fi
w=$(us_per_decision "$T/w20" 200)
# End to end through the CLI: parse each JSON request line, decide, print (20,000 lines,
# one load of policies and entities amortised over them).
for i in $(seq 20); do cat "$T/w20/requests.jsonl"; done >"$T/many.jsonl"
t0=$(date +%s%N)
"$W" authorize --policies "$T/w20/policies.cedar" --entities "$T/w20/entities.json" \
    --requests "$T/many.jsonl" >/dev/null
t1=$(date +%s%N)
e2e=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1000 / 20000 }')
read -r full minimal < <(node -e 'const j=require(process.argv[1]); console.log(j.full_us.toFixed(1), j.minimal_us.toFixed(1))' "$T/wasm.json")
echo "== 20 policies, 1,000 entities (depth 3), 1,000 requests; decisions agree"
printf '%-46s %12s\n' "engine" "us/decision"
printf '%-46s %12s\n' "warden (decision)" "$w"
printf '%-46s %12s\n' "warden CLI (JSON line in, decide, JSON out)" "$e2e"
printf '%-46s %12s\n' "cedar-wasm (reachable entities per call)" "$minimal"
printf '%-46s %12s\n' "cedar-wasm (whole entity store per call)" "$full"
awk -v a="$minimal" -v b="$w" 'BEGIN { printf "ratio: warden is %.0fx faster than cedar-wasm (lower bound)\n", a / b }'

echo "== mostly-scoped policies (warden)"
printf '%-10s %12s\n' "policies" "us/decision"
for n in 100 1000 10000; do
    node "$ROOT/bench/cedar_bench.mjs" gen "$T/s$n" "$n" scoped
    printf '%-10s %12s\n' "$n" "$(us_per_decision "$T/s$n" 20)"
done
