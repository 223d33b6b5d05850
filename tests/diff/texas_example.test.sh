#!/usr/bin/env bash
# The bundled example (examples/texas/): warden's decisions must equal the checked-in
# expected.jsonl and the official Cedar implementation's on the same files, request by
# request (decision, determining policies, policies that errored).
set -euo pipefail

src=${WARDEN_SOURCE_DIR:?WARDEN_SOURCE_DIR must be set}
bin=${WARDEN_BINARY:?WARDEN_BINARY must be set}
here=$src/tests/diff
ex=$src/examples/texas

if [ ! -d "$here/node_modules/@cedar-policy/cedar-wasm" ]; then
    echo "FAIL: the reference is not installed; run: npm ci --prefix tests/diff" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=(--policies "$ex/policies.cedar" --entities "$ex/entities.json" --links "$ex/links.json"
      --requests "$ex/requests.jsonl")

"$bin" authorize "${args[@]}" > "$work/warden.jsonl"
# The README shows the example as a table: it must print, one row per request.
"$bin" authorize "${args[@]}" --format table > "$work/table.txt"
rows=$(grep -c 'UserData::' "$work/table.txt" || true)
if [ "$rows" -ne "$(grep -c . "$ex/requests.jsonl")" ]; then
    echo "FAIL: --format table printed $rows request rows"
    exit 1
fi
node --no-opt "$here/ref_authorize.mjs" "${args[@]}" > "$work/ref.jsonl"

# Compares two JSON-lines files on decision, sorted reasons and the set of erroring policies.
node - "$ex/expected.jsonl" "$work/ref.jsonl" "$work/warden.jsonl" "$ex/requests.jsonl" <<'JS'
const fs = require('fs');
const [expPath, refPath, wPath, reqPath] = process.argv.slice(2);
const read = (p) => fs.readFileSync(p, 'utf8').split('\n').filter((l) => l.trim() !== '');
const key = (l) => {
    const o = JSON.parse(l);
    if (o.error !== undefined) return 'error';
    return `${o.decision} reasons=[${[...o.reasons].sort()}] errors=[${[...new Set(o.errors.map((e) => e.policy))].sort()}]`;
};
const exp = read(expPath).map(key);
const ref = read(refPath).map(key);
const w = read(wPath).map(key);
const reqs = read(reqPath);
let bad = 0;
if (reqs.length < 15 || exp.length !== reqs.length) {
    console.log(`FAIL: ${reqs.length} requests, ${exp.length} expected lines`);
    bad++;
}
const allows = exp.filter((k) => k.startsWith('allow')).length;
if (allows === 0 || allows === exp.length) {
    console.log('FAIL: the example should show both allowed and denied requests');
    bad++;
}
for (let i = 0; i < reqs.length; i++) {
    if (exp[i] !== ref[i]) {
        console.log(`FAIL request ${i + 1}: expected.jsonl says ${exp[i]}, the reference says ${ref[i]}`);
        bad++;
    }
    if (exp[i] !== w[i]) {
        console.log(`FAIL request ${i + 1}: expected ${exp[i]}, warden says ${w[i]}\n  ${reqs[i]}`);
        bad++;
    }
}
console.log(`texas example: ${reqs.length - bad}/${reqs.length} requests as expected ` +
    `(${allows} allow, ${exp.length - allows} deny)`);
process.exit(bad ? 1 : 0);
JS
