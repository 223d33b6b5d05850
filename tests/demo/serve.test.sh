#!/bin/bash
# `warden serve` runs one region: it comes up (readyz over real HTTP), answers a user's
# write, serves the region's log so that `warden log verify --url` accepts it (start,
# registration and write entries), reloads keyd on SIGHUP, and on SIGTERM
# stops gateway and keyd and exits 0, leaving neither a process nor keyd's socket behind.
# Bad arguments are usage errors; an unknown region is a clear error.
set -u
W=${WARDEN_BINARY:?}
SRC=${WARDEN_SOURCE_DIR:?}
T=$(mktemp -d)
SPID=
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
# pids (other than ours) whose command line mentions $1 (no procps needed)
. "${WARDEN_SOURCE_DIR:?}/tests/lib/procs.sh" # pids_with
fail() { echo "FAIL: $*"; [ -f "$T/serve.err" ] && sed 's/^/serve: /' "$T/serve.err"; exit 1; }

cp -r "$SRC/examples/cluster" "$T/c"
cd "$T/c"
"$W" token keygen --key issuer.key >token.pub || fail "token keygen"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$PORT" <<'PY' || fail "cannot write cluster.json"
import json, sys
c = json.load(open("cluster.json"))
for i, r in enumerate(c["regions"]):
    port = int(sys.argv[1]) if r["name"] == "texas" else 9 + i  # others are never contacted
    r["url"] = "http://127.0.0.1:%d" % port
json.dump(c, open("cluster.json", "w"), indent=1)
PY
"$W" keys init --config texas/keyd.json >/dev/null || fail "keys init"

# usage errors and an unknown region
"$W" serve --cluster cluster.json >/dev/null 2>&1; [ $? = 2 ] || fail "missing --region is not a usage error"
"$W" serve --cluster cluster.json --region texas --bogus 1 >/dev/null 2>&1
[ $? = 2 ] || fail "unknown option is not a usage error"
"$W" serve --cluster cluster.json --region atlantis 2>"$T/bad.err"; st=$?
[ $st = 1 ] || fail "unknown region: status $st"
grep -q 'atlantis' "$T/bad.err" || fail "unknown region not named: $(cat "$T/bad.err")"

"$W" serve --cluster cluster.json --region texas 2>"$T/serve.err" &
SPID=$!
URL="http://127.0.0.1:$PORT"
up=0
for _ in $(seq 600); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" = 200 ]; then up=1; break; fi
    kill -0 "$SPID" 2>/dev/null || fail "serve exited during start-up"
    sleep 0.05
done
[ $up = 1 ] || fail "/readyz never answered 200"
[ -S texas/keyd.sock ] || fail "keyd's socket is missing"
grep -q "region texas" "$T/serve.err" || fail "no start-up line"

# one real request: a US user's first write registers her and is logged
tok=$("$W" token issue --kind user --subject ann --jurisdiction US --ttl 10m --key issuer.key \
    --cluster cluster.json) || fail "token issue"
code=$(curl -s -o "$T/put.json" -w '%{http_code}' -X PUT -H "Authorization: Bearer $tok" \
    -H 'Content-Type: application/json' --data '{"to":"bob","body":"hi"}' "$URL/v1/me/messages/m1")
[ "$code" = 200 ] || fail "PUT answered $code: $(cat "$T/put.json")"
grep -q '"decision":"allow"' "$T/put.json" || fail "PUT: $(cat "$T/put.json")"

# the log is served and verifies with the region's log key. An answer is released once its
# entry is durable in the journal; the signed checkpoint covering it follows within one
# publication (docs/tlog.md), so wait for it rather than race it.
vk=$("$W" log vkey --key texas/log.key) || fail "vkey"
for _ in $(seq 50); do
    "$W" log verify --url "$URL/log" --vkey "$vk" >"$T/verify.out" || fail "log verify --url"
    grep -Eq '^ok [3-9][0-9]* entries$' "$T/verify.out" && break
    sleep 0.1
done
grep -Eq '^ok [3-9][0-9]* entries$' "$T/verify.out" || fail "verify printed $(cat "$T/verify.out")"

# SIGHUP reloads keyd's policies (and the region keeps serving)
kill -HUP "$SPID"
for _ in $(seq 100); do grep -q "reloaded policy set" "$T/serve.err" && break; sleep 0.05; done
grep -q "reloaded policy set" "$T/serve.err" || fail "SIGHUP did not reload"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" = 200 ] || fail "not ready after reload"

# SIGTERM: clean stop, exit 0, nothing left behind
kill -TERM "$SPID"
wait "$SPID"; st=$?; SPID=
[ $st = 0 ] || fail "serve exit status $st after SIGTERM"
[ -e texas/keyd.sock ] && fail "keyd's socket left behind"
[ -n "$(pids_with "$T/c/cluster.json")" ] && fail "a serve process is left"
curl -s -o /dev/null --max-time 2 "$URL/readyz" && fail "still answering after SIGTERM"
"$W" log verify --dir texas/log --vkey "$vk" >/dev/null || fail "log does not verify after stop"
echo ok
