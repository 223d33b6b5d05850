#!/bin/bash
# Drives a real `warden keyd` over its unix socket: registration (residency), write, reads
# decided per data class, denial exit status, concurrent clients, SIGHUP reload, shredding,
# a protocol violation, a refused peer uid, and finally a full verification of the log in
# which every answer's log index must hold that request's entry.
set -u
W=${WARDEN_BINARY:?}
SRC=${WARDEN_SOURCE_DIR:?}
T=$(mktemp -d)
KPID=
cleanup() { [ -n "$KPID" ] && kill "$KPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/keyd.err" ] && sed 's/^/keyd: /' "$T/keyd.err"; exit 1; }
cd "$T"
cp "$SRC"/tests/vectors/keyd/{policies.cedar,entities.json,messages.schema.json} .
cat > keyd.json <<EOF
{"region": "texas", "jurisdictions": ["US"], "data_dir": "data",
 "keys": {"provider": "keyfile", "path": "kek.key"},
 "policies": "policies.cedar", "entities": "entities.json",
 "schemas": ["messages.schema.json"],
 "log": {"dir": "log", "key": "log.key", "origin": "test.example/texas"},
 "socket": "keyd.sock", "peer_uids": [0]}
EOF
out=$("$W" keys init --config keyd.json) || fail "keys init"
[ "$out" = $'KEK: created\nlog key: created' ] || fail "keys init printed '$out'"
[ "$(stat -c %a kek.key)" = 600 ] || fail "kek mode"
[ "$("$W" keys init --config keyd.json)" = $'KEK: exists\nlog key: exists' ] || fail "init twice"

"$W" keyd --config keyd.json 2>keyd.err &
KPID=$!
for _ in $(seq 100); do [ -S keyd.sock ] && break; sleep 0.05; done
[ -S keyd.sock ] || fail "no socket"
[ "$(stat -c %a keyd.sock)" = 660 ] || fail "socket mode $(stat -c %a keyd.sock)"

S=(--socket keyd.sock --source-ip 10.0.0.7)
A=(--principal 'Employee::"alice"' --location US)
B=(--principal 'Employee::"bob"' --location SG)
"$W" access "${S[@]}" "${A[@]}" --action register --user u1 --jurisdiction US --purpose signup \
    >reg.json 2>reg.err || fail "register"
grep -q '"decision": "allow"' reg.json || fail "register: $(cat reg.json)"
"$W" access "${S[@]}" "${A[@]}" --action register --user u2 --jurisdiction SG --purpose signup \
    >reg2.json 2>/dev/null
[ $? = 3 ] || fail "SG registration not denied"

DOC='{"title":"hello","body":"secret text","author":{"name":"Ann","phone":"555"}}'
"$W" access "${S[@]}" "${A[@]}" --action write --user u1 --collection messages --id m1 \
    --purpose support --document "$DOC" --request-id w1 >w.json 2>w.err || fail "write: $(cat w.json)"
grep -q '"version": 1' w.json || fail "write version"
grep -Eq '^log index: [0-9]+$' w.err || fail "write log index: $(cat w.err)"

"$W" access "${S[@]}" "${A[@]}" --action read --user u1 --collection messages --id m1 \
    --purpose support --request-id r1 >r1.json 2>/dev/null || fail "alice read"
grep -q 'secret text' r1.json || fail "alice did not get the body"
"$W" access "${S[@]}" "${B[@]}" --action read --user u1 --collection messages --id m1 \
    --purpose moderation --request-id r2 >r2.json 2>/dev/null || fail "bob read"
grep -q '"decision": "partial"' r2.json || fail "bob: $(cat r2.json)"
grep -q 'secret text' r2.json && fail "bob got a protected field"
grep -q '"/body"' r2.json || fail "bob's answer does not list /body as withheld"
"$W" access "${S[@]}" "${A[@]}" --action read --user u1 --collection messages --id m1 \
    --purpose ads --request-id r3 >r3.json 2>/dev/null
[ $? = 3 ] || fail "ads read not denied"
grep -q 'secret' r3.json && fail "denied answer carries data"

# 32 concurrent clients; every one must be answered
for i in $(seq 32); do
    "$W" access "${S[@]}" "${A[@]}" --action read --user u1 --collection messages --id m1 \
        --purpose support --request-id "c$i" >"c$i.json" 2>/dev/null &
done
wait_ok=1
for j in $(jobs -p); do [ "$j" = "$KPID" ] && continue; wait "$j" || wait_ok=0; done
[ $wait_ok = 1 ] || fail "a concurrent read failed"
for i in $(seq 32); do grep -q 'secret text' "c$i.json" || fail "concurrent read $i: $(cat c$i.json)"; done

# a protocol violation closes that connection only
python3 - <<'EOF' || fail "violation not closed"
import socket, struct
s = socket.socket(socket.AF_UNIX); s.connect("keyd.sock")
s.sendall(struct.pack(">IHH", 2, 77, 0) + b"{}")
s.settimeout(5)
try:
    assert s.recv(100) == b""
except ConnectionResetError:
    pass  # closed with our payload unread: a reset is a close too
EOF
kill -0 "$KPID" || fail "keyd died on a protocol violation"
grep -q "protocol violation" keyd.err || fail "violation not reported"

# requests that never reach a decision are logged as refusals: an unknown user (a legacy
# region asked for a US user it does not hold), a principal that is not Cedar text
"$W" access "${S[@]}" "${B[@]}" --action read --user us-user-9 --collection messages --id m1 \
    --purpose support --request-id f1 >f1.json 2>f1.err
[ $? = 1 ] || fail "unknown user not an error"
grep -q '"kind": "not_found"' f1.json || fail "unknown user: $(cat f1.json)"
grep -Eq '^log index: [0-9]+$' f1.err || fail "refusal without log index: $(cat f1.err)"
"$W" access "${S[@]}" --principal 'Employee::alice' --location US --action read --user u1 \
    --collection messages --id m1 --purpose support --request-id f2 >f2.json 2>/dev/null
[ $? = 1 ] || fail "bad principal not an error"
grep -q '"decision": "refused"' f2.json || fail "bad principal: $(cat f2.json)"
# a body that is a frame but not the listed fields, then a flood of bad headers: logged
# (without payload bytes), at most a burst of 10 plus the refill, the rest counted
python3 - <<'PY' || fail "violations not closed"
import socket, struct
def once(frame):
    s = socket.socket(socket.AF_UNIX); s.connect("keyd.sock"); s.sendall(frame); s.settimeout(5)
    try:
        assert s.recv(100) == b""
    except ConnectionResetError:
        pass
    s.close()
bad = b'{"secret":"PLAINTEXT-XYZ-0"}'
once(struct.pack(">IHH", len(bad), 1, 0) + bad)
for _ in range(20):
    once(struct.pack(">IHH", 0, 99, 0))
PY
sleep 1.5
python3 -c '
import socket, struct
s = socket.socket(socket.AF_UNIX); s.connect("keyd.sock"); s.sendall(struct.pack(">IHH", 0, 98, 0))
s.settimeout(5); s.recv(10)' 2>/dev/null
kill -0 "$KPID" || fail "keyd died on the violation flood"

# a peer uid that the config does not list is refused even if the file mode lets it in
chmod 0666 keyd.sock
chmod 0711 "$T"
setpriv --reuid 65534 --regid 65534 --clear-groups "$W" keyd status --socket "$T/keyd.sock" \
    >/dev/null 2>&1 && fail "uid 65534 was served"
grep -q "refused a connection from uid 65534" keyd.err || fail "uid refusal not reported"
chmod 0660 keyd.sock
chmod 0700 "$T"

"$W" keyd status --socket keyd.sock >st.json 2>/dev/null || fail "status"
h1=$(python3 -c 'import json,sys;print(json.load(open("st.json"))["policy_set"])')

# SIGHUP swaps the policy set: now nobody reads
cp "$SRC/tests/vectors/keyd/policies_reload.cedar" policies.cedar
kill -HUP "$KPID"
for _ in $(seq 100); do grep -q "reloaded policy set" keyd.err && break; sleep 0.05; done
grep -q "reloaded policy set" keyd.err || fail "no reload"
"$W" keyd status --socket keyd.sock >st2.json 2>/dev/null || fail "status 2"
h2=$(python3 -c 'import json,sys;print(json.load(open("st2.json"))["policy_set"])')
[ "$h1" != "$h2" ] || fail "policy-set hash unchanged"
[ -f "log.policysets/${h2#sha256:}.json" ] || fail "new policy set not archived"
"$W" access "${S[@]}" "${A[@]}" --action read --user u1 --collection messages --id m1 \
    --purpose support >/dev/null 2>&1
[ $? = 3 ] || fail "read allowed after reload"
cp "$SRC/tests/vectors/keyd/policies.cedar" policies.cedar
"$W" keyd reload --socket keyd.sock >/dev/null 2>&1 || fail "keyd reload"

# rotation re-wraps the DEK; reads keep working; only then can the old version be retired
"$W" keys retire --socket keyd.sock --version 1 >/dev/null 2>&1 && fail "retired the current KEK"
"$W" keys rotate --socket keyd.sock >rot.json 2>/dev/null || fail "rotate: $(cat rot.json)"
grep -q '"rewrapped": 1' rot.json || fail "rotate: $(cat rot.json)"
"$W" access "${S[@]}" "${A[@]}" --action read --user u1 --collection messages --id m1 \
    --purpose support >r4.json 2>/dev/null || fail "read after rotate"
grep -q 'secret text' r4.json || fail "read after rotate: $(cat r4.json)"
"$W" keys retire --socket keyd.sock --version 1 >ret.json 2>/dev/null || fail "retire: $(cat ret.json)"
"$W" keys retire --socket keyd.sock --version 1 >/dev/null 2>&1 && fail "retired version 1 twice"
"$W" access "${S[@]}" "${A[@]}" --action read --user u1 --collection messages --id m1 \
    --purpose support >r4b.json 2>/dev/null || fail "read after retire"
grep -q 'secret text' r4b.json || fail "read after retire: $(cat r4b.json)"

# shredding: later reads answer "key destroyed"
"$W" keys shred --socket keyd.sock --user u1 >sh.json 2>/dev/null || fail "shred"
"$W" access "${S[@]}" "${A[@]}" --action read --user u1 --collection messages --id m1 \
    --purpose support >r5.json 2>/dev/null || fail "read after shred"
grep -q '"outcome": "key_destroyed"' r5.json || fail "after shred: $(cat r5.json)"
grep -q 'secret' r5.json && fail "shredded data released"

kill -TERM "$KPID"; wait "$KPID"; st=$?; KPID=
[ $st = 0 ] || fail "keyd exit status $st"
[ -e keyd.sock ] && fail "socket left behind"

# the log verifies, and each answer's index holds its request's entry
vk=$("$W" log vkey --key log.key) || fail "vkey"
"$W" log verify --dir log --vkey "$vk" >/dev/null || fail "log does not verify"
out=$("$W" keyd check --log log --archive log.policysets --vkey "$vk") || fail "audit re-run failed"
[[ "$out" =~ ^ok\ [0-9]+\ decisions\ re-run$ ]] || fail "keyd check printed '$out'"
[ "$out" = "ok 42 decisions re-run" ] || fail "keyd check: $out (want the 42 decisions above)"
python3 - <<'EOF' || fail "answers and log entries disagree"
import json, glob, struct, os
def entry(i):
    # tlog-tiles entry bundle: tile/entries/<N>[.p/<W>]; tree small here: one bundle
    size = int(open("log/checkpoint").read().split("\n")[1])
    path = "log/tile/entries/000" if size >= 256 else "log/tile/entries/000.p/%d" % size
    b = open(path, "rb").read(); off = 0; n = 0
    while off < len(b):
        l = struct.unpack(">H", b[off:off+2])[0]; e = b[off+2:off+2+l]; off += 2 + l
        if n == i: return json.loads(e)
        n += 1
    raise SystemExit("no entry %d" % i)
for f, rid, dec in [("w.json", "w1", "allow"), ("r1.json", "r1", "allow"),
                    ("r2.json", "r2", "partial"), ("r3.json", "r3", "deny")]:
    a = json.load(open(f)); e = entry(a["log_index"])
    assert e["request_id"] == rid and e["decision"] == dec == a["decision"], (f, e)
    assert e["policy_set"] == a["policy_set"]
for i in range(1, 33):
    a = json.load(open("c%d.json" % i)); e = entry(a["log_index"])
    assert e["request_id"] == "c%d" % i, e
for f, rid, code in [("f1.json", "f1", -10), ("f2.json", None, None)]:
    a = json.load(open(f)); e = entry(a["log_index"])
    assert e["type"] == "refusal" and e["decision"] == "refused" and "classes" not in e, e
    assert e["code"] == a["code"] and e["reason"] == a["error"], (a, e)
    if rid: assert e["request_id"] == rid and e["code"] == code and e["location"] == "SG", e
size = int(open("log/checkpoint").read().split("\n")[1])
allv = [entry(i) for i in range(size)]
viol = [e for e in allv if e["type"] == "refusal" and "peer" in e]
body = [e for e in viol if e["reason"] == "payload fields invalid"]
assert len(body) == 1 and body[0]["message"] == "access" and body[0]["payload_bytes"] == 28, body
assert "PLAINTEXT-XYZ" not in open("log/tile/entries/000.p/%d" % size, "rb").read().decode("latin1")
hdr = [e for e in viol if e["message_type"] == 99]
assert 8 <= len(hdr) <= 12, len(hdr)  # 20 sent within ~1 s: a burst of 10 (+ refill)
late = [e for e in viol if e["message_type"] == 98]
assert len(late) == 1 and late[0]["suppressed"] >= 8 and late[0]["suppressed"] + len(hdr) == 20, late
assert all(e["peer"]["uid"] == 0 for e in viol), viol
EOF
echo ok
