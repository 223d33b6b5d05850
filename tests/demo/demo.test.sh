#!/bin/bash
# `warden demo` end to end: three real regions, the whole scenario over HTTP. Asserts exit 0
# and each step's outcome as printed, the verified logs in the summary, that no region
# process is left, and — offline, from the kept directory — that texas's log verifies and
# every decision in it re-runs to the same result (`warden keyd check`).
set -u
W=${WARDEN_BINARY:?}
SRC=${WARDEN_SOURCE_DIR:?}
T=$(mktemp -d)
cleanup() { pids_with "$T/d/cluster.json" | xargs -r kill 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
# pids (other than ours) whose command line mentions $1 (no procps needed)
. "${WARDEN_SOURCE_DIR:?}/tests/lib/procs.sh" # pids_with
fail() { echo "FAIL: $*"; exit 1; }

timeout -s INT 300 "$W" demo --dir "$T/d" --template "$SRC/examples/cluster" >"$T/out" 2>"$T/err"
st=$?
cat "$T/out"
[ -s "$T/err" ] && sed 's/^/stderr: /' "$T/err"
[ $st = 0 ] || fail "demo exit status $st"

has() { grep -Eq -e "$1" "$T/out" || fail "missing in the output: $1"; }
steps=$(grep -c '=> as expected' "$T/out")
[ "$steps" -ge 19 ] || fail "only $steps steps behaved as expected"
grep -q 'NOT behave\|EXPECTED:' "$T/out" && fail "a step did not behave as expected"
has "^RESULT: all $steps steps behaved as expected; every region's log verified\.$"
# chapter 1: registration in the home region
has '^\[ 1\] a US user stores her profile'
has '-> 200 allow, log index [0-9]+ in texas'
has '-> 200 allow, log index [0-9]+ in singapore'
# chapter 2: routing
has '-> 307 Location: http://127\.0\.0\.1:[0-9]+/v1/me/messages/m1$'
has '-> 307 Location: http://127\.0\.0\.1:[0-9]+/v1/me/profile/main$'
has '^ +records +.*messages/m1.*\(3\)$'
grep -A3 'employee asks singapore for ava' "$T/out" |
    grep -Eq -e "-> 404 refused, log index [0-9]+ in singapore's log" ||
    fail "no logged 404 refusal from singapore"
# chapter 3: access
has '-> 403 deny, log index [0-9]+ in texas'
has 'protected +deny by forbid-us-protected-off-custodian'
has '-> 200 partial, log index'
has 'excepted +allow by excepted-public-content'
has 'withheld +\[.*"/draft_notes"'
has 'protected +allow by us-protected-trust-safety'
has 'deny by forbid-advertising'
has 'allow by sg-protected-local-staff'
grep -A3 'spoofs X-Forwarded-For' "$T/out" | grep -q 'from 127.0.1.5 with X-Forwarded-For: 127.0.2.7' ||
    fail "spoof step does not show its source"
# chapter 4: shredding
has '-> allow, log index [0-9]+ in texas.s log'
[ "$(grep -c -e '-> 410' "$T/out")" = 2 ] || fail "expected two 410 answers after the shred"
# protected values never shown to those who may not see them
grep -A12 'engineer in Beijing reads' "$T/out" | grep -q 'door code' && fail "protected text leaked"
# chapter 5: migration of the legacy PostgreSQL copies, with the residency report around it
has '^== Chapter 5 - migration'
grep -A12 'residency report, before the migration' "$T/out" >"$T/before"
grep -Eq 'US +in virginia +\(legacy, postgresql\) +40 users +200 records +<- not allowed' "$T/before" ||
    fail "before: legacy US records in virginia not shown"
grep -Eq '^ +virginia +postgresql US +40 users +200 records: the cluster file does not let' "$T/before" ||
    fail "before: virginia's violation not listed"
grep -Eq '^ +singapore +postgresql US +20 users +60 records: the cluster file does not let' "$T/before" ||
    fail "before: singapore's violation not listed"
grep -q -e '-> 2 violations' "$T/before" || fail "before: not 2 violations"
has '-> run [0-9a-f]{16}: 200 source records \(root logged first\), 200 migrated .* 0 refused .* 0 conflicts, 0 failed; 200 source rows deleted$'
has '-> run [0-9a-f]{16}: 70 source records \(root logged first\), 60 migrated .* 10 refused by residency \(left in singapore\), 0 conflicts, 0 failed; 60 source rows deleted$'
grep -A12 'residency report, after the migration' "$T/out" >"$T/after"
grep -Eq 'US +in texas +\(custodian, keyd\) +61 users +263 records$' "$T/after" ||
    fail "after: the migrated users are not in texas"
grep -Eq 'SG +in singapore +\(legacy, postgresql\) +5 users +10 records$' "$T/after" ||
    fail "after: the refused SG records are not left in singapore"
grep -A1 'VIOLATIONS' "$T/after" | grep -Eq '^ +none$' || fail "after: violations listed"
grep -q -e '-> 0 violations' "$T/after" || fail "after: not 0 violations"
grep -Eq 'US +in (virginia|singapore)' "$T/after" && fail "after: US records left in a legacy region"
[ "$(grep -Ec -e '-> migration [0-9a-f]{16} verified: statement signed' "$T/out")" = 2 ] ||
    fail "two migrations should verify"
has 'source 200 records, root ([A-Za-z0-9+/=]+); 200 migrated records read back, root \1 matches; 200 source rows deleted'
has 'source 70 records, root [A-Za-z0-9+/=]+; 60 migrated records read back, root [A-Za-z0-9+/=]+ matches; 60 source rows deleted'
# evidence: texas answered 16 requests (3 denied, 1 redirected); its log also holds the
# refusal keyd logs for each new user's first write, before the gateway registers them (2),
# and the migration's registrations, writes, reads and statements (so its size is not fixed).
# virginia logged nothing but its start (two starts if ports had to be picked again): the
# US request that reached it was redirected, not served; singapore logged its refusal of
# the employee's request for ava, whom it does not hold
has '^texas +16 +12 +3 +1 +[0-9]{3,} +yes +same +agree$'
has '^virginia +1 +0 +0 +1 +[12] +yes +same +agree$'
has '^singapore +4 +2 +0 +1 +[67] +yes +same +agree$'
for r in texas virginia singapore; do
    has "^  $r +ok: [0-9]+ entries"
    has "^  $r +ok: [0-9]+ decisions re-run offline, each gives the logged result$"
    has "^$r +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +yes +same +agree$"
    has "^  $r +agree: [0-9]+ data requests"
done
has '^All regions stopped cleanly\.$'

[ -n "$(pids_with "$T/d/cluster.json")" ] && fail "a region process is left"
# this demo's own server only: other tests may run a demo (and its PostgreSQL) in parallel
pgdir=$(sed -n 's/^ *PostgreSQL in \(\/tmp\/warden-demo-pg\.[A-Za-z0-9]*\), port [0-9]*$/\1/p' "$T/out")
[ -n "$pgdir" ] || fail "the demo did not say where PostgreSQL ran"
[ -n "$(pids_with "$pgdir/")" ] && fail "a PostgreSQL process is left"
[ -e "$pgdir" ] && fail "PostgreSQL's directory $pgdir is left"
[ -d "$T/d/texas/log" ] || fail "--dir was not kept"
vk=$("$W" log vkey --key "$T/d/texas/log.key") || fail "vkey"
"$W" log verify --dir "$T/d/texas/log" --vkey "$vk" >/dev/null || fail "texas log does not verify"
out=$("$W" keyd check --log "$T/d/texas/log" --archive "$T/d/texas/log.policysets" --vkey "$vk") ||
    fail "keyd check: $out"
[[ "$out" =~ ^ok\ [1-9][0-9]*\ decisions\ re-run$ ]] || fail "keyd check printed '$out'"
echo ok
