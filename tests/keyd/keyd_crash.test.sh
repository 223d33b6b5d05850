#!/bin/bash
# Crash test: kill -9 keyd at random moments under concurrent load (writers and readers),
# KEYD_CRASH_KILLS times (default 100), restarting it each time. Afterwards:
#  - every answer a client received has its entry in the log, at the index it was told,
#    with its request id and decision (log-before-release survived every crash);
#  - no acknowledged write is lost: each record's version is at least the highest version
#    a client was told it wrote;
#  - the log verifies with the signer's public key, and every decision in it re-runs to
#    the same result offline (warden keyd check).
set -u
W=${WARDEN_BINARY:?}
SRC=${WARDEN_SOURCE_DIR:?}
BLD=${WARDEN_BUILD_DIR:?}
LOAD=$BLD/keyd_load
KILLS=${KEYD_CRASH_KILLS:-100}
T=$(mktemp -d)
KPID=
cleanup() { [ -n "$KPID" ] && kill -9 "$KPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -5 "$T/keyd.err" 2>/dev/null; exit 1; }
cd "$T"
cp "$SRC"/tests/vectors/keyd/{policies.cedar,entities.json,messages.schema.json} .
cat > keyd.json <<EOF
{"region": "texas", "jurisdictions": ["US"], "data_dir": "data",
 "keys": {"provider": "keyfile", "path": "kek.key"},
 "policies": "policies.cedar", "entities": "entities.json",
 "schemas": ["messages.schema.json"],
 "log": {"dir": "log", "key": "log.key"}, "socket": "keyd.sock"}
EOF
"$W" keys init --config keyd.json >/dev/null || fail "keys init"

start() {
    rm -f keyd.sock
    "$W" keyd --config keyd.json 2>>keyd.err &
    KPID=$!
    for _ in $(seq 400); do [ -S keyd.sock ] && return 0; sleep 0.025; done
    fail "keyd did not start"
}
S=(--socket keyd.sock --source-ip 10.0.0.9 --location US --principal 'Employee::"alice"')
start
"$W" access "${S[@]}" --action register --user u1 --jurisdiction US --purpose t >/dev/null 2>&1 ||
    fail "register"
"$W" access "${S[@]}" --action write --user u1 --collection messages --id bench --purpose t \
    --document '{"title":"t","body":"b"}' >/dev/null 2>&1 || fail "seed write"

for i in $(seq "$KILLS"); do
    [ -n "$KPID" ] || start
    "$LOAD" keyd.sock 6 100000 write u1 acks.txt >/dev/null 2>&1 &
    L1=$!
    "$LOAD" keyd.sock 4 100000 read u1 acks.txt >/dev/null 2>&1 &
    L2=$!
    sleep "0.$(( RANDOM % 40 + 5 ))"
    kill -9 "$KPID"
    wait "$KPID" 2>/dev/null
    KPID=
    wait "$L1" "$L2"
done
start
n=$(wc -l < acks.txt)
[ "$n" -gt 100 ] || fail "only $n answers in $KILLS runs"

# acknowledged writes: the record is at least at the acknowledged version
for c in 0 1 2 3 4 5; do
    want=$(awk -v c="-c$c-" 'index($1, c) && $3 == "allow" && $4 > 0 { if ($4 > m) m = $4 } END { print m + 0 }' acks.txt)
    [ "$want" -gt 0 ] || continue
    "$W" access "${S[@]}" --action read --user u1 --collection messages --id "c$c" --purpose t \
        >final.json 2>/dev/null || fail "final read c$c"
    got=$(python3 -c 'import json;print(json.load(open("final.json")).get("version",0))')
    [ "$got" -ge "$want" ] || fail "c$c: acknowledged version $want lost (store has $got)"
done
kill -TERM "$KPID"; wait "$KPID"; KPID=

vk=$("$W" log vkey --key log.key) || fail "vkey"
"$W" log verify --dir log --vkey "$vk" >/dev/null || fail "log does not verify after $KILLS kills"
"$W" keyd check --log log --archive log.policysets --vkey "$vk" >/dev/null ||
    fail "re-running the logged decisions failed"
python3 - <<'EOF' || fail "an answer has no matching log entry"
import json, os, struct
size = int(open("log/checkpoint").read().split("\n")[1])
def bundle_path(n, width):
    s = "%d" % n
    s = "0" * ((3 - len(s) % 3) % 3) + s
    parts = [s[i:i+3] for i in range(0, len(s), 3)]
    p = "log/tile/entries/" + "/".join(["x" + x for x in parts[:-1]] + parts[-1:])
    return p if width == 256 else p + ".p/%d" % width
cache = {}
def entry(i):
    n = i // 256
    if n not in cache:
        full = bundle_path(n, 256)
        path = full if os.path.exists(full) else bundle_path(n, size - n * 256)
        b = open(path, "rb").read(); off = 0; es = []
        while off < len(b):
            l = struct.unpack(">H", b[off:off+2])[0]; es.append(b[off+2:off+2+l]); off += 2 + l
        cache[n] = es
    return json.loads(cache[n][i % 256])
count = 0
for line in open("acks.txt"):
    rid, idx, dec, ver, k = line.split()
    idx = int(idx)
    assert idx < size, ("answer index beyond the log", line)
    e = entry(idx)
    assert e["request_id"] == rid and e["decision"] == dec, (line, e)
    count += 1
print("checked", count, "answers against a log of", size)
EOF
echo "ok: $KILLS kills, $n answers checked"
