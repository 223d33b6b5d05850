#!/usr/bin/env bash
# Cedar authorization speed, single thread: warden against the official cedar-wasm on the
# same generated inputs in the same run.
#
#   bench/cedar.sh                       # WARDEN_BINARY defaults to build/warden
#   BENCH_REQUESTS=5000 bench/cedar.sh
#
# Base set: 20 policies over 1,000 entities (hierarchies of depth 3), BENCH_REQUESTS requests.
# Curve: 100, 1,000 and 10,000 policies: the base 20 plus policies pinned to one principal or
# resource (80%, 98%, 99.8% of the set).
# Builds nothing; needs `npm ci --prefix tests/diff` for the reference (without it, only
# warden's figures are printed).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${WARDEN_BINARY:-$root/build/warden}
requests=${BENCH_REQUESTS:-2000}
repeat=${BENCH_REPEAT:-20}
ref_seconds=${BENCH_REF_SECONDS:-5}

[ -x "$bin" ] || { echo "bench/cedar.sh: no warden binary at $bin (build first or set WARDEN_BINARY)" >&2; exit 1; }
have_ref=1
[ -d "$root/tests/diff/node_modules/@cedar-policy/cedar-wasm" ] || have_ref=0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }

# warden's engine time: every request decided $repeat times, timed inside the process
# (request parsing and output excluded). Prints us/decision.
warden_engine() {
    "$bin" authorize --policies "$1/policies.cedar" --entities "$1/entities.json" \
        --requests "$1/requests.jsonl" --repeat "$repeat" 2>&1 >/dev/null |
        sed -n 's/.*us\/decision: \([0-9.]*\).*/\1/p'
}

# warden end to end: a whole run over the requests file minus a run over one request, so
# that loading the policies and the directory is not counted. Prints us/decision.
warden_e2e() {
    local best_n=999999 best_1=999999 t0 t1 i
    for i in 1 2 3; do
        t0=$(now); "$bin" authorize --policies "$1/policies.cedar" --entities "$1/entities.json" \
            --requests "$1/requests.jsonl" > /dev/null; t1=$(now)
        best_n=$(awk -v a="$t0" -v b="$t1" -v m="$best_n" 'BEGIN { d = b - a; print (d < m) ? d : m }')
        t0=$(now); "$bin" authorize --policies "$1/policies.cedar" --entities "$1/entities.json" \
            --requests "$1/one.jsonl" > /dev/null; t1=$(now)
        best_1=$(awk -v a="$t0" -v b="$t1" -v m="$best_1" 'BEGIN { d = b - a; print (d < m) ? d : m }')
    done
    awk -v a="$best_n" -v b="$best_1" -v n="$requests" 'BEGIN { printf "%.3f", (a - b) * 1e6 / (n - 1) }'
}

ref_us() {
    [ "$have_ref" = 1 ] || { echo "n/a"; return; }
    node "$root/bench/cedar_ref.mjs" "$1" "$2" "$ref_seconds" | sed -n 's/.*us\/decision: \([0-9.]*\).*/\1/p'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == 0) print "n/a"; else printf "%.0fx", a / b }'; }

echo "generating inputs (deterministic) ..." >&2
node "$root/bench/cedar_gen.mjs" --out "$work/base" --policies 20 --requests "$requests"
for n in 100 1000 10000; do
    node "$root/bench/cedar_gen.mjs" --out "$work/p$n" --policies "$n" --requests "$requests"
done

# A speed figure only means something if both engines decide alike on these inputs
# (The first 300 requests: the reference re-reads all 1,000 entities on every call.)
if [ "$have_ref" = 1 ]; then
    echo "checking that warden and cedar-wasm agree on the base workload ..." >&2
    mkdir -p "$work/check"
    cp "$work/base/policies.cedar" "$work/base/entities.json" "$work/check/"
    head -n 300 "$work/base/requests.jsonl" > "$work/check/requests.jsonl"
    node --no-opt "$root/tests/diff/compare.mjs" --warden "$bin" --quiet "$work/check" >&2 ||
        { echo "bench/cedar.sh: warden and cedar-wasm disagree on the benchmark inputs" >&2; exit 1; }
fi

echo "measuring ..." >&2
w_engine=$(warden_engine "$work/base")
w_e2e=$(warden_e2e "$work/base")
r_full=$(ref_us "$work/base" full)
r_slice=$(ref_us "$work/base" slice)

declare -A cw cr
for n in 100 1000 10000; do
    cw[$n]=$(warden_engine "$work/p$n")
    cr[$n]=$(ref_us "$work/p$n" slice)
done

cat <<EOF

Cedar authorization, single thread ($(uname -m), $(nproc) cores shared; cedar-wasm 4.13.0 on node $(node --version))
base: 20 policies, 1,000 entities (depth-3 hierarchies), $requests requests with contexts

  engine                                            us/decision   decisions/s   warden faster by
  warden, decision only (--repeat $repeat)                 $(printf '%12s' "$w_engine")  $(awk -v u="$w_engine" 'BEGIN{printf "%12.0f", 1e6/u}')
  warden, end to end (parse request, decide, print) $(printf '%12s' "$w_e2e")  $(awk -v u="$w_e2e" 'BEGIN{printf "%12.0f", 1e6/u}')
  cedar-wasm, whole directory per call (its API)    $(printf '%12s' "$r_full")  $(awk -v u="$r_full" 'BEGIN{if (u=="n/a") print "         n/a"; else printf "%12.0f", 1e6/u}')   $(ratio "$r_full" "$w_engine") (decision), $(ratio "$r_full" "$w_e2e") (end to end)
  cedar-wasm, only the request's entities           $(printf '%12s' "$r_slice")  $(awk -v u="$r_slice" 'BEGIN{if (u=="n/a") print "         n/a"; else printf "%12.0f", 1e6/u}')   $(ratio "$r_slice" "$w_engine") (decision), $(ratio "$r_slice" "$w_e2e") (end to end)

scaling: the base 20 + (N - 20) policies pinned to one principal or resource (us/decision)
  policies        warden    cedar-wasm (request's entities only)   warden faster by
EOF
for n in 100 1000 10000; do
    printf '  %8s  %12s  %12s                           %s\n' "$n" "${cw[$n]}" "${cr[$n]}" "$(ratio "${cr[$n]}" "${cw[$n]}")"
done
echo
echo "  warden cost growth 100 -> 10,000 policies: $(awk -v a="${cw[100]}" -v b="${cw[10000]}" 'BEGIN{printf "%.1fx", b/a}') for 100x the policies"
[ "$have_ref" = 1 ] || echo "  (cedar-wasm not installed: run npm ci --prefix tests/diff for its figures)"
