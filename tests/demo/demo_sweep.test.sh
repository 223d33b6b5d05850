#!/bin/bash
# A demo killed with SIGKILL cannot remove its PostgreSQL directory; its server dies with it
# (PR_SET_PDEATHSIG) and the next demo removes the directory. Asserts both, and that a
# directory whose owner still runs is left alone.
set -u
W=${WARDEN_BINARY:?}
SRC=${WARDEN_SOURCE_DIR:?}
T=$(mktemp -d)
. "$SRC/tests/lib/procs.sh" # pids_with
LIVE=
cleanup() {
    for d in d1 d2; do pids_with "$T/$d/cluster.json" | xargs -r kill 2>/dev/null; done
    [ -n "$LIVE" ] && rm -rf "$LIVE"
    [ -n "${SLEEPER:-}" ] && kill "$SLEEPER" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# a directory of a demo that still runs (this test's own sleeper): must survive the sweep
sleep 600 &
SLEEPER=$!
LIVE=$(mktemp -d /tmp/warden-demo-pg.XXXXXX)
echo "$SLEEPER" >"$LIVE/owner.pid"

"$W" demo --dir "$T/d1" --template "$SRC/examples/cluster" >"$T/out1" 2>&1 &
DEMO=$!
mine=
for _ in $(seq 600); do
    for f in /tmp/warden-demo-pg.*/owner.pid; do
        [ -f "$f" ] && [ "$(cat "$f" 2>/dev/null)" = "$DEMO" ] && mine=$(dirname "$f")
    done
    [ -n "$mine" ] && [ -f "$mine/data/postmaster.pid" ] && break
    sleep 0.1
done
[ -n "$mine" ] && [ -f "$mine/data/postmaster.pid" ] || fail "the demo's PostgreSQL did not start"
pg=$(head -1 "$mine/data/postmaster.pid")
kill -9 "$DEMO"
wait "$DEMO" 2>/dev/null
for _ in $(seq 100); do kill -0 "$pg" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pg" 2>/dev/null && fail "PostgreSQL $pg outlived the killed demo"
[ -d "$mine" ] || fail "expected the killed demo's directory to be left behind (test is void)"
pids_with "$T/d1/cluster.json" | xargs -r kill 2>/dev/null

timeout -s INT 300 "$W" demo --dir "$T/d2" --template "$SRC/examples/cluster" >"$T/out2" 2>&1 ||
    { cat "$T/out2"; fail "second demo failed"; }
[ -d "$mine" ] && fail "the next demo did not remove $mine"
[ -d "$LIVE" ] || fail "the sweep removed a directory whose owner still runs"
echo "PASS: killed demo's server died with it; its directory swept; a live one kept"
