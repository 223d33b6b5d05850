#!/usr/bin/env bash
# The `warden authorize` contract that scripts (and the differential test) rely on: exact
# JSON lines in request order, error lines for malformed requests, exit statuses, file
# errors with file:line:col before any decision, the single-request mode and the table.
# Fixtures: tests/vectors/policy/cli_* (decisions cross-checked against cedar-wasm).
set -u
W=${WARDEN_BINARY:?}
V=${WARDEN_SOURCE_DIR:?}/tests/vectors/policy
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
check() { # name, condition
    if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi
}

"$W" authorize --policies "$V/cli_policies.cedar" --entities "$V/eval_entities.json" \
    --links "$V/cli_links.json" --requests "$V/cli_requests.jsonl" >"$T/out" 2>"$T/err"
rc=$?
check "malformed lines give exit status 1" '[ $rc -eq 1 ]'
check "one line per request in order, exact" 'cmp -s "$T/out" "$V/cli_expected.jsonl"'
check "nothing on stderr for request errors" '[ ! -s "$T/err" ]'
check "error line names the line number" 'grep -q "^{\"error\":\"line 6: missing \\\\\"resource\\\\\"\"}$" "$T/out"'

grep -v -e '^not json' -e '^$' -e 'write\\""}$' "$V/cli_requests.jsonl" >"$T/good.jsonl"
"$W" authorize --policies "$V/cli_policies.cedar" --entities "$V/eval_entities.json" \
    --links "$V/cli_links.json" --requests - <"$T/good.jsonl" >"$T/out2"
rc=$?
check "all-good requests from stdin exit 0" '[ $rc -eq 0 ]'
check "stdin gives the same decisions" '[ "$(grep -c decision "$T/out2")" -eq 4 ]'

"$W" authorize --policies "$V/cli_policies.cedar" --entities "$V/eval_entities.json" \
    --principal 'User::"alice"' --action 'Action::"read"' --resource 'Doc::"d1"' \
    --context '{"blocked": true}' >"$T/one"
rc=$?
check "single request" '[ $rc -eq 0 ] && [ "$(cat "$T/one")" = "$(sed -n 2p "$V/cli_expected.jsonl")" ]'

"$W" authorize --policies "$V/cli_policies.cedar" --entities "$V/eval_entities.json" \
    --links "$V/cli_links.json" --requests "$V/cli_requests.jsonl" --format table >"$T/table"
check "table has a header and one row per request" \
    '[ "$(head -1 "$T/table" | tr -s " ")" = "# principal action resource decision reasons errors" ] && [ "$(wc -l <"$T/table")" -eq 8 ]'
check "table shows decisions" 'grep -q "ALLOW.*link0" "$T/table" && grep -q "error.*line 4" "$T/table"'

printf 'permit(principal, action, resource) when { 1 + };\n' >"$T/bad.cedar"
"$W" authorize --policies "$T/bad.cedar" --requests "$V/cli_requests.jsonl" >"$T/out3" 2>"$T/err3"
rc=$?
check "bad policy file: exit 1, no decisions" '[ $rc -eq 1 ] && [ ! -s "$T/out3" ]'
check "bad policy file: file:line:col" 'grep -q "bad.cedar:1:[0-9]*: " "$T/err3"'

printf '[{"uid":{"type":"A","id":"a"},"attrs":{},"parents":[]},\n]' >"$T/bad.json"
"$W" authorize --policies "$V/cli_policies.cedar" --entities "$T/bad.json" \
    --requests "$V/cli_requests.jsonl" >"$T/out4" 2>"$T/err4"
rc=$?
check "bad entities file: exit 1, file:line:col" \
    '[ $rc -eq 1 ] && [ ! -s "$T/out4" ] && grep -q "bad.json:2:1: " "$T/err4"'

printf '[{"uid":{"type":"A","id":"a"},"attrs":{},"parents":[{"type":"A","id":"a"}]}]' >"$T/cyc.json"
"$W" authorize --policies "$V/cli_policies.cedar" --entities "$T/cyc.json" \
    --requests "$V/cli_requests.jsonl" >"$T/out5" 2>"$T/err5"
rc=$?
check "cyclic hierarchy rejected" '[ $rc -eq 1 ] && grep -q "cycle" "$T/err5"'

"$W" authorize --policies "$V/cli_policies.cedar" >/dev/null 2>&1
check "no requests is a usage error (2)" '[ $? -eq 2 ]'
"$W" authorize --policies "$V/cli_policies.cedar" --requests x --principal 'U::"a"' >/dev/null 2>&1
check "both request modes is a usage error" '[ $? -eq 2 ]'
"$W" authorize --bogus >/dev/null 2>&1
check "unknown option is a usage error" '[ $? -eq 2 ]'
"$W" authorize --help >"$T/help"
rc=$?
check "--help exits 0 and documents every option" \
    '[ $rc -eq 0 ] && for o in --policies --entities --links --requests --principal --action --resource --context --format --repeat; do grep -q -- "$o" "$T/help" || exit 1; done'
"$W" help | grep -q "authorize"
check "listed in warden help" '[ $? -eq 0 ]'

echo "$fails failed"
[ "$fails" -eq 0 ]
