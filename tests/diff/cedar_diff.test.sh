#!/usr/bin/env bash
# Differential test: `warden authorize` against the official Cedar (cedar-wasm 4.13.0) on the
# hand-written cases, the regression cases, the inputs both must refuse, at least 10,000
# random requests (a fixed seed set plus one seed chosen per run; set CEDAR_DIFF_SEED to replay
# a run) and one large policy set for the scope index. Any disagreement fails the test and
# leaves its case directory under $WARDEN_BUILD_DIR/cedar-diff-failures/ for reproduction.
set -euo pipefail

src=${WARDEN_SOURCE_DIR:?WARDEN_SOURCE_DIR must be set}
bin=${WARDEN_BINARY:?WARDEN_BINARY must be set}
here=$src/tests/diff
out_dir=${WARDEN_BUILD_DIR:-${TMPDIR:-/tmp}}/cedar-diff-failures

if [ ! -d "$here/node_modules/@cedar-policy/cedar-wasm" ]; then
    echo "FAIL: the reference is not installed; run: npm ci --prefix tests/diff" >&2
    exit 1
fi
if [ ! -x "$bin" ]; then
    echo "FAIL: warden binary not found at $bin" >&2
    exit 1
fi

# Fixed seeds always run; one more seed varies per run so that CI keeps exploring.
FIXED_SEEDS="1 2 3"
seed=${CEDAR_DIFF_SEED:-$(( ($(date +%s) ^ $$) % 1000000 + 1000 ))}
RANDOM_CASES=${CEDAR_DIFF_CASES:-200}
REQUESTS_PER_CASE=50
echo "cedar_diff: random seed $seed (replay with CEDAR_DIFF_SEED=$seed); fixed seeds $FIXED_SEEDS"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Generated cases: 200 x 50 requests for the run's seed, 20 x 50 for each fixed seed.
node "$here/gen.mjs" --seed "$seed" --cases "$RANDOM_CASES" --requests "$REQUESTS_PER_CASE" \
    --out "$work/gen" > "$work/dirs"
for s in $FIXED_SEEDS; do
    node "$here/gen.mjs" --seed "$s" --cases 20 --requests "$REQUESTS_PER_CASE" \
        --out "$work/gen" >> "$work/dirs"
done

# One large set, so that warden's scope index is compared too: the bench's 1,000-entity
# directory with 3,000 policies, most pinned to one principal or resource, and requests
# aimed at them.
node "$src/bench/cedar_gen.mjs" --out "$work/gen/scale_s$seed" --policies 3000 --requests 120 \
    --seed "$seed"
echo "$work/gen/scale_s$seed" >> "$work/dirs"

good=()
for d in "$here"/cases/*/ "$here"/regressions/*/; do
    [ -f "$d/policies.cedar" ] && good+=("${d%/}")
done
# Known disagreements wait in pending/ until warden is fixed (then they move to regressions/).
pending=()
for d in "$here"/pending/*/; do
    [ -f "$d/policies.cedar" ] && pending+=("${d%/}")
done
if [ "${CEDAR_DIFF_PENDING:-0}" = 1 ]; then
    good+=("${pending[@]}")
elif [ "${#pending[@]}" -gt 0 ]; then
    echo "cedar_diff: ${#pending[@]} known disagreement case(s) in tests/diff/pending/ not run (CEDAR_DIFF_PENDING=1 runs them)"
fi
mapfile -t generated < "$work/dirs"

# node 20's optimizing compiler has crashed now and then in its deoptimizer while running
# the reference (V8 "unreachable code" in DoComputeBuiltinContinuation), so the harness runs
# with --no-opt (no measurable cost: the time goes to wasm and to warden) and a harness that
# dies by a signal is rerun once. warden's own crashes are caught inside compare.mjs.
compare() {
    local rc=0
    node --no-opt "$here/compare.mjs" "$@" || rc=$?
    if [ "$rc" -ge 128 ]; then
        echo "cedar_diff: the node harness died (status $rc); rerunning it once"
        rc=0
        node --no-opt "$here/compare.mjs" "$@" || rc=$?
    fi
    return "$rc"
}

# The harness itself must be able to fail: a warden whose first allow turns into a deny has
# to be caught.
printf '#!/bin/sh\n"%s" "$@" | sed %s\n' "$bin" "'0,/\"allow\"/s//\"deny\"/'" > "$work/flip"
chmod +x "$work/flip"
if node --no-opt "$here/compare.mjs" --warden "$work/flip" --quiet "$here/cases/scope" > /dev/null; then
    echo "FAIL: compare.mjs did not notice a flipped decision"
    exit 1
fi

status=0
echo "== hand-written, regression and generated cases (${#good[@]} fixed cases, ${#generated[@]} generated)"
compare --warden "$bin" --failed "$work/failed" "${good[@]}" "${generated[@]}" ||
    status=1

echo "== inputs that both must refuse"
compare --warden "$bin" --bad --failed "$work/failed-bad" "$here"/bad/*/ || status=1

# The single-request form must give the same line as the same request in a file.
echo "== single request flags"
c=$here/cases/entity_json
single=$("$bin" authorize --policies "$c/policies.cedar" --entities "$c/entities.json" \
    --principal 'User::"alice"' --action 'Action::"view"' --resource 'Doc::"d1"' \
    --context '{"who": {"__entity": {"type": "User", "id": "alice"}}, "list": [], "when": {"__extn": {"fn": "datetime", "arg": "2024-06-01"}}}') ||
    { echo "FAIL: warden authorize with single-request flags exited non-zero"; status=1; }
expect=$(node "$here/ref_authorize.mjs" --policies "$c/policies.cedar" --entities "$c/entities.json" \
    --principal 'User::"alice"' --action 'Action::"view"' --resource 'Doc::"d1"' \
    --context '{"who": {"__entity": {"type": "User", "id": "alice"}}, "list": [], "when": {"__extn": {"fn": "datetime", "arg": "2024-06-01"}}}')
norm() { node -e 'const o=JSON.parse(require("fs").readFileSync(0,"utf8")); console.log(o.decision, [...o.reasons].sort().join(","), [...new Set(o.errors.map(e=>e.policy))].sort().join(","))'; }
if [ "$(printf '%s' "$single" | norm 2>/dev/null)" != "$(printf '%s' "$expect" | norm)" ]; then
    echo "DISAGREE single request: reference $expect, warden $single"
    status=1
else
    echo "agreement: 1/1 single-request runs"
fi

if [ "$status" -ne 0 ]; then
    mkdir -p "$out_dir"
    cat "$work/failed" "$work/failed-bad" 2>/dev/null | sort -u | while read -r d; do
        [ -n "$d" ] && cp -r "$d" "$out_dir/" && echo "reproducer: $out_dir/$(basename "$d")"
    done
    echo "FAIL: warden disagrees with the reference (seed $seed)"
    exit 1
fi
echo "cedar_diff: all agree (seed $seed)"
