#!/bin/bash
# `warden demo --keep`: after the story the regions stay up and the printed commands work
# (tokens in tokens.env, mode 0600: ava reads her message, the Beijing engineer is denied);
# SIGINT then stops every region and the demo exits 0 with nothing left running.
set -u
W=${WARDEN_BINARY:?}
SRC=${WARDEN_SOURCE_DIR:?}
T=$(mktemp -d)
DPID=
cleanup() {
    [ -n "$DPID" ] && kill -INT "$DPID" 2>/dev/null
    wait 2>/dev/null
    pids_with "$T/k/cluster.json" | xargs -r kill 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
# pids (other than ours) whose command line mentions $1 (no procps needed)
. "${WARDEN_SOURCE_DIR:?}/tests/lib/procs.sh" # pids_with
fail() { echo "FAIL: $*"; sed 's/^/demo: /' "$T/out"; exit 1; }

: >"$T/out"
"$W" demo --keep --dir "$T/k" --template "$SRC/examples/cluster" >"$T/out" 2>&1 &
DPID=$!
for _ in $(seq 2400); do
    grep -q '^Press Ctrl-C to stop the regions\.$' "$T/out" && break
    kill -0 "$DPID" 2>/dev/null || fail "demo exited before the regions were left running"
    sleep 0.05
done
grep -q '^Press Ctrl-C' "$T/out" || fail "no 'Press Ctrl-C' line"
grep -q '^RESULT: all [0-9]* steps behaved as expected' "$T/out" && fail "RESULT printed before stop"
[ "$(stat -c %a "$T/k/tokens.env")" = 600 ] || fail "tokens.env mode"
. "$T/k/tokens.env"
TX=$(grep -Eo 'http://127\.0\.0\.1:[0-9]+/metrics' "$T/out" | head -1)
TX=${TX%/metrics}
[ -n "$TX" ] || fail "no texas URL printed"
body=$(curl -s --interface 127.0.3.10 -H "Authorization: Bearer $AVA" "$TX/v1/me/messages/m1")
[[ "$body" == *'door code is 4471'* ]] || fail "ava's read: $body"
code=$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.1.5 -H "Authorization: Bearer $LI_WEI" \
    -H "Warden-Purpose: debugging" "$TX/v1/users/ava/messages/m1")
[ "$code" = 403 ] || fail "the engineer got $code"
[ "$(pids_with "$T/k/cluster.json" | wc -l)" = 3 ] || fail "three regions should be running"

kill -INT "$DPID"
wait "$DPID"; st=$?; DPID=
[ $st = 0 ] || fail "demo --keep exit status $st after SIGINT"
grep -q '^All regions stopped cleanly\.$' "$T/out" || fail "regions not stopped cleanly"
grep -q '^RESULT: all [0-9]* steps behaved as expected' "$T/out" || fail "no RESULT line"
[ -n "$(pids_with "$T/k/cluster.json")" ] && fail "a region is still running"
echo ok
