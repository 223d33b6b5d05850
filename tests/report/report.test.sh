#!/bin/bash
# Drives a real keyd to produce an audit log (allowed, partial, denied, cross-border and
# refused requests), then runs every `warden report` on it: replay from a directory and over
# HTTP (log and policy archive served as <url>/policysets/), a replay of a forged log that
# must list the lie, the access report's counts and cross-border list, who-can under the
# same policies, and the HTML page rendered by headless Chromium.
set -u
W=${WARDEN_BINARY:?}
SRC=${WARDEN_SOURCE_DIR:?}
T=$(mktemp -d)
KPID= HPID=
cleanup() {
    [ -n "$KPID" ] && kill "$KPID" 2>/dev/null
    [ -n "$HPID" ] && kill "$HPID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/keyd.err" ] && sed 's/^/keyd: /' "$T/keyd.err" | tail -20; exit 1; }
CHROMIUM=$(command -v chromium || command -v chromium-browser) ||
    fail "chromium is not installed (scripts/install-deps.sh installs Debian's 'chromium'); the HTML report cannot be checked"
cd "$T"
cp "$SRC"/tests/vectors/keyd/{policies.cedar,messages.schema.json} .
cat >> policies.cedar <<'EOF2'

// Legal, from anywhere, may read whole records for a legal hold (a cross-border access).
permit (principal == Employee::"carol", action == Action::"read", resource)
when { context.purpose == "legal" };
EOF2
cat > entities.json <<'EOF2'
[
  {"uid": {"type": "Employee", "id": "alice"}, "attrs": {"country": "US"}, "parents": []},
  {"uid": {"type": "Employee", "id": "bob"}, "attrs": {"country": "SG"},
   "parents": [{"type": "Team", "id": "trust"}]},
  {"uid": {"type": "Employee", "id": "carol"}, "attrs": {"country": "SG"}, "parents": []},
  {"uid": {"type": "Employee", "id": "mallory"}, "attrs": {"country": "CN"}, "parents": []},
  {"uid": {"type": "Team", "id": "trust"}, "attrs": {}, "parents": []}
]
EOF2
cat > keyd.json <<EOF2
{"region": "texas", "jurisdictions": ["US"], "data_dir": "data",
 "keys": {"provider": "keyfile", "path": "kek.key"},
 "policies": "policies.cedar", "entities": "entities.json",
 "schemas": ["messages.schema.json"],
 "log": {"dir": "log", "key": "log.key", "origin": "test.example/texas"},
 "socket": "keyd.sock", "peer_uids": [0]}
EOF2
"$W" keys init --config keyd.json >/dev/null || fail "keys init"
"$W" keyd --config keyd.json 2>keyd.err &
KPID=$!
for _ in $(seq 100); do [ -S keyd.sock ] && break; sleep 0.05; done
[ -S keyd.sock ] || fail "no socket"

S=(--socket keyd.sock --source-ip 10.0.0.7)
acc() { "$W" access "${S[@]}" "$@" >/dev/null 2>&1; }
P() { echo "Employee::\"$1\""; }
acc --principal "$(P alice)" --location US --action register --user u1 --jurisdiction US \
    --purpose signup || fail "register"
acc --principal "$(P alice)" --location US --action write --user u1 --collection messages --id m1 \
    --purpose support --document '{"title":"hi","body":"secret","author":{"name":"A","phone":"5"}}' ||
    fail "write"
acc --principal "$(P alice)" --location US --action read --user u1 --collection messages --id m1 \
    --purpose support || fail "alice read"
acc --principal "$(P bob)" --location SG --action read --user u1 --collection messages --id m1 \
    --purpose moderation || fail "bob read"
acc --principal "$(P carol)" --location SG --action read --user u1 --collection messages --id m1 \
    --purpose legal || fail "carol read"
acc --principal "$(P alice)" --location US --action read --user u1 --collection messages --id m1 \
    --purpose ads; [ $? = 3 ] || fail "ads read not denied"
acc --principal "$(P mallory)" --location CN --action read --user u1 --collection messages \
    --id m1 --purpose support; [ $? = 3 ] || fail "mallory not denied"
acc --principal "$(P bob)" --location SG --action read --user us-user-9 --collection messages \
    --id m1 --purpose support; [ $? = 1 ] || fail "unknown user not refused"
kill -TERM "$KPID"; wait "$KPID"; KPID=
vk=$("$W" log vkey --key log.key) || fail "vkey"

# ---- replay from the directory: every decision re-runs the same ----
"$W" report replay --dir log --vkey "$vk" --json >replay.json || fail "replay (dir)"
python3 - <<'PY' || fail "replay report: $(cat replay.json)"
import json
d = json.load(open("replay.json")); s = dict(d["summary"])
assert d["report"] == "replay", d
assert s["decisions re-run"] == 7 and s["refusals (nothing to re-run)"] == 1, s
assert s["decisions that differ"] == 0 and d["tables"][0]["rows"] == [], d
PY
"$W" report replay --dir log --vkey "$vk" >replay.txt || fail "replay text"
grep -q "decisions re-run *| 7" replay.txt || fail "replay text: $(cat replay.txt)"
# the old keyd check agrees (one implementation)
[ "$("$W" keyd check --log log --archive log.policysets --vkey "$vk")" = "ok 7 decisions re-run" ] ||
    fail "keyd check disagrees"

# ---- over HTTP: the log at URL, archived sets at URL/policysets/ ----
mkdir srv && cp -r log/. srv/ && cp -r log.policysets srv/policysets
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd srv && exec python3 -m http.server --bind 127.0.0.1 "$port" >/dev/null 2>&1) &
HPID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/checkpoint" >/dev/null && break; sleep 0.05; done
"$W" report replay --log "http://127.0.0.1:$port" --vkey "$vk" --json >replay_url.json ||
    fail "replay (url)"
python3 -c '
import json; a = json.load(open("replay.json")); b = json.load(open("replay_url.json"))
assert a["summary"] == b["summary"] and a["tables"] == b["tables"], (a, b)' || fail "url != dir"
"$W" report access --log "http://127.0.0.1:$port/" --vkey "$vk" --json >access_url.json ||
    fail "access (url)"
# a missing archive is an error naming it, not a silent pass
"$W" report replay --log "http://127.0.0.1:$port" --archive "http://127.0.0.1:$port/nope" \
    --vkey "$vk" >/dev/null 2>miss.err && fail "replay without archive succeeded"
grep -q "policy archive" miss.err || fail "missing archive: $(cat miss.err)"
# a log that does not verify is refused
"$W" report access --dir log --vkey "$("$W" log init --dir other --origin x --key other.key)" \
    >/dev/null 2>bad.err && fail "access report accepted a log under the wrong key"

# ---- a forged log: a correctly signed entry whose recorded decision is a lie ----
mkdir forged
python3 - <<'PY' || fail "forging"
import json, struct
size = int(open("log/checkpoint").read().split("\n")[1])
b = open("log/tile/entries/000.p/%d" % size, "rb").read(); off = 0; out = []
while off < len(b):
    l = struct.unpack(">H", b[off:off+2])[0]; out.append(b[off+2:off+2+l]); off += 2 + l
lines = []
for e in out:
    j = json.loads(e)
    if j.get("principal") == 'Employee::"mallory"':  # denied; claim it was allowed
        j["decision"] = "allow"
        for c in j["classes"].values(): c["decision"] = "allow"
    lines.append(json.dumps(j, separators=(",", ":"), sort_keys=True))
open("forged.jsonl", "w").write("\n".join(lines) + "\n")
PY
fvk=$("$W" log init --dir forged/log --origin forged --key forged.key) || fail "forged init"
"$W" log append --dir forged/log --key forged.key <forged.jsonl >/dev/null || fail "forged append"
"$W" report replay --dir forged/log --archive log.policysets --vkey "$fvk" --json >forged.json
[ $? = 3 ] || fail "forged replay: exit status not 3"
python3 - <<'PY' || fail "forged replay report: $(cat forged.json)"
import json
d = json.load(open("forged.json")); rows = d["tables"][0]["rows"]
assert dict(d["summary"])["decisions that differ"] == 1, d["summary"]
assert len(rows) == 2 and all(r[3] == 'Employee::"mallory"' for r in rows), rows
assert {r[6] for r in rows} == {"protected", "excepted"}, rows
assert all(r[7] == "allow" and r[8] == "deny" for r in rows), rows
PY

# ---- access report ----
"$W" report access --dir log --vkey "$vk" --json >access.json || fail "access"
python3 - <<'PY' || fail "access report: $(cat access.json)"
import json
d = json.load(open("access.json")); s = dict(d["summary"])
t = {x["name"]: x for x in d["tables"]}
assert s["accesses"] == 8 and s["allow"] == 4 and s["partial"] == 1, s   # register, write, alice, carol
assert s["deny"] == 2 and s["refused"] == 1, s
pr = {r[0]: r[1:] for r in t["by_principal"]["rows"]}
assert pr['Employee::"alice"'] == [4, 3, 0, 1, 0], pr
assert pr['Employee::"bob"'] == [2, 0, 1, 0, 1], pr
assert pr['Employee::"mallory"'] == [1, 0, 0, 1, 0], pr
loc = {r[0]: r[1] for r in t["by_location"]["rows"]}
assert loc == {"US": 4, "SG": 3, "CN": 1}, loc
pur = {r[0]: r[1] for r in t["by_purpose"]["rows"]}
assert pur["legal"] == 1 and pur["ads"] == 1 and pur["support"] == 4, pur
cross = t["cross_border"]["rows"]
assert len(cross) == 1 and cross[0][3] == 'Employee::"carol"' and cross[0][4] == "SG", cross
assert cross[0][5] == "US" and cross[0][8] == "legal", cross
tl = d["timeline"]
assert sum(sum(p["counts"]) for p in tl["points"]) == 8, tl
b = json.load(open("access_url.json"))
assert b["tables"] == d["tables"], "url and dir access reports differ"
PY
"$W" report access --dir log --vkey "$vk" --since 2999-01-01 --json >later.json || fail "since"
python3 -c 'import json; assert dict(json.load(open("later.json"))["summary"])["accesses"] == 0' ||
    fail "--since did not filter"
"$W" report access --dir log --vkey "$vk" --since tomorrow >/dev/null 2>&1 && fail "bad --since"

# ---- who-can, under the same policies and directory ----
"$W" report who-can --config keyd.json --user u1 --jurisdiction US --collection messages \
    --locations US,SG,CN --json >whocan.json || fail "who-can"
python3 - <<'PY' || fail "who-can: $(cat whocan.json)"
import json
d = json.load(open("whocan.json")); t = {x["name"]: x["rows"] for x in d["tables"]}
prot = {(r[0], r[1]): r[2] for r in t["protected"]}
exc = {(r[0], r[1]): r[2] for r in t["excepted"]}
A, B, C, M = ('Employee::"%s"' % n for n in ("alice", "bob", "carol", "mallory"))
# alice: only from the US, any purpose but ads; carol: from anywhere, for legal only
assert prot[(A, "US")] == "(any) except ads", prot
assert (A, "SG") not in prot and (A, "(any other location)") not in prot, prot
assert all(prot[(C, l)] == ["legal"] for l in ("US", "SG", "CN", "(any other location)")), prot
assert not any(k[0] in (B, M) for k in prot), prot
# bob (trust team) reads the excepted fields from anywhere, except for ads
assert exc[(B, "SG")] == "(any) except ads" and (B, "(any other location)") in exc, exc
assert not any(k[0] == M for k in exc) and not any("Team" in k[0] for k in exc), exc
s = dict(d["summary"])
assert s["principals who could read protected fields"] == 2, s
assert s["principals who could read excepted fields"] == 3, s
PY
"$W" report who-can --policies policies.cedar --entities entities.json --user u1 \
    --jurisdiction US --collection messages --json >whocan2.json || fail "who-can (files)"
python3 -c '
import json; d = json.load(open("whocan2.json"))
rows = {x["name"]: x["rows"] for x in d["tables"]}["protected"]
assert any(r[0] == "Employee::\"alice\"" and r[1] == "US" for r in rows), rows' ||
    fail "who-can from files: $(cat whocan2.json)"
# locations from a networks table: each country once, tried with its first network's address
cat > networks.csv <<'EOF2'
# cidr,country,site
10.0.0.0/8,US,dallas
203.0.113.0/24,SG,singapore
198.51.100.0/24,SG,singapore-2
EOF2
"$W" report who-can --config keyd.json --user u1 --jurisdiction US --collection messages \
    --networks networks.csv --json >whocan3.json || fail "who-can (networks)"
python3 - <<'PY' || fail "who-can with networks: $(cat whocan3.json)"
import json
d = json.load(open("whocan3.json")); s = dict(d["summary"])
assert s["locations tried"] == 3, s            # US, SG, unknown
rows = {x["name"]: x["rows"] for x in d["tables"]}["protected"]
locs = sorted(r[1] for r in rows if r[0] == 'Employee::"carol"')
assert locs == ["(any other location)", "SG", "US"], rows
PY
printf '10.0.0.0/33,US,x\n' >bad.csv
"$W" report who-can --config keyd.json --user u1 --jurisdiction US --collection messages \
    --networks bad.csv >/dev/null 2>bad.err && fail "a bad networks table was accepted"
grep -q "bad.csv:1:" bad.err || fail "bad networks table: $(cat bad.err)"
"$W" report who-can --config keyd.json --user u1 --jurisdiction US >/dev/null 2>&1
[ $? = 2 ] || fail "who-can without --collection is not a usage error"

# ---- HTML, rendered by a real browser ----
"$W" report access --dir log --vkey "$vk" --html --out access.html || fail "access html"
"$W" report who-can --config keyd.json --user u1 --jurisdiction US --collection messages \
    --locations US,SG --html --out whocan.html || fail "who-can html"
grep -Eq '(src|href)=' access.html && fail "the page references an external resource"
dom() {
    timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$T/chrome" --dump-dom "file://$T/$1" 2>/dev/null
}
dom access.html >access.dom || fail "chromium failed on access.html"
python3 - <<'PY' || fail "rendered access page: $(head -c 2000 access.dom)"
import re
d = open("access.dom").read()
assert "<svg" in d and len(re.findall(r'<rect class="bar"', d)) >= 3, "no chart bars"
m = re.search(r'<section class="table" id="table-cross_border">(.*?)</section>', d, re.S)
assert m and m.group(1).count("<tr>") == 2 and "carol" in m.group(1) and "legal" in m.group(1), m
m = re.search(r'<table class="summary" id="summary">(.*?)</table>', d, re.S)
assert m and re.search(r"<th>accesses</th><td>8</td>", m.group(1)), m
PY
dom whocan.html >whocan.dom || fail "chromium failed on whocan.html"
grep -q 'id="table-protected"' whocan.dom || fail "who-can page: no protected table"
grep -q 'Employee::"carol"' whocan.dom || fail "who-can page lacks carol"
echo "report tests passed"
