#!/bin/bash
# warden report residency against real keyds and a real PostgreSQL legacy copy: the
# singapore keyd is configured more loosely (SG and US) than the cluster file (SG), so the
# US user registered there is a violation, as are the legacy US rows in virginia's
# PostgreSQL database; once those are gone the violations table is empty and the exit
# status 0. Also: JSON and HTML output, a keyd answering as another region, bad --legacy.
set -u
W=${WARDEN_BINARY:?}
SRC=${WARDEN_SOURCE_DIR:?}
T=$(mktemp -d)
. "$SRC/tests/lib/pg.sh"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    pg_stop
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -3 "$T"/*/keyd.err 2>/dev/null; exit 1; }
cd "$T"

cp "$SRC"/tests/vectors/keyd/{entities.json,messages.schema.json} "$T/"
cat >policies.cedar <<'EOC'
permit (principal, action == Action::"store", resource);
permit (principal, action in [Action::"read", Action::"write"], resource);
EOC
: >networks.csv
echo "not a key: the report never reads it" >token.pub
# region name, jurisdictions in its keyd config
keyd_up() {
    mkdir -p "$1"
    cat >"$1/keyd.json" <<EOC
{"region": "$1", "jurisdictions": $2, "data_dir": "data",
 "keys": {"provider": "keyfile", "path": "kek.key"},
 "policies": "../policies.cedar", "entities": "../entities.json",
 "schemas": ["../messages.schema.json"],
 "log": {"dir": "log", "key": "log.key", "origin": "test.example/$1"},
 "socket": "keyd.sock", "peer_uids": [$(id -u)], "store_map_mb": 16}
EOC
    [ -f "$1/kek.key" ] || "$W" keys init --config "$1/keyd.json" >/dev/null || fail "keys init $1"
    rm -f "$1/keyd.sock"
    "$W" keyd --config "$1/keyd.json" 2>>"$1/keyd.err" &
    PIDS+=($!)
    for _ in $(seq 200); do [ -S "$1/keyd.sock" ] && break; sleep 0.05; done
    [ -S "$1/keyd.sock" ] || fail "keyd $1 did not start"
}
keyd_up texas '["US"]'
keyd_up virginia '["CA"]'
keyd_up singapore '["SG", "US"]'
cat >cluster.json <<'EOC'
{"issuer": "https://id.test", "audience": "warden", "token_key": "token.pub",
 "networks": "networks.csv",
 "regions": [
  {"name": "texas", "role": "custodian", "jurisdictions": ["US"], "url": "http://127.0.0.1:1",
   "keyd": "texas/keyd.json"},
  {"name": "virginia", "role": "legacy", "jurisdictions": ["CA"], "url": "http://127.0.0.1:2",
   "keyd": "virginia/keyd.json"},
  {"name": "singapore", "role": "legacy", "jurisdictions": ["SG"], "url": "http://127.0.0.1:3",
   "keyd": "singapore/keyd.json"}]}
EOC

acc() { # region action user jurisdiction-or-collection [id document]
    if [ "$2" = register ]; then
        "$W" access --socket "$1/keyd.sock" --principal 'Service::"t"' --action register \
            --user "$3" --jurisdiction "$4" --purpose test --source-ip 127.0.0.1 --location US \
            >/dev/null 2>&1 || fail "register $3 in $1"
    else
        "$W" access --socket "$1/keyd.sock" --principal 'Service::"t"' --action write \
            --user "$3" --collection "$4" --id "$5" --document "$6" --purpose test \
            --source-ip 127.0.0.1 --location US >/dev/null 2>&1 || fail "write $3/$4/$5 in $1"
    fi
}
acc texas register ava US
acc texas write ava messages m1 '{"title":"a"}'
acc texas write ava messages m2 '{"title":"b"}'
acc texas register noah US
acc texas write noah messages m1 '{"title":"c"}'
acc singapore register siti SG
acc singapore write siti messages m1 '{"title":"d"}'
acc singapore register ben US
acc singapore write ben messages m1 '{"title":"e"}'
acc singapore write ben messages m2 '{"title":"f"}'
acc singapore write ben messages m3 '{"title":"g"}'

"$W" keyd inventory --socket texas/keyd.sock >inv.json || fail "keyd inventory"
python3 - <<'EOP' || fail "inventory: $(cat inv.json)"
import json
a = json.load(open("inv.json"))
assert a["region"] == "texas" and a["jurisdictions"] == ["US"], a
u = {x["user"]: x for x in a["users"]}
assert u["ava"]["records"] == 2 and u["ava"]["collections"] == {"messages": 2}, u
assert u["noah"]["jurisdiction"] == "US" and u["noah"]["records"] == 1, u
assert "document" not in json.dumps(a) and "title" not in json.dumps(a), a
EOP

pg_start || fail "postgresql did not start"
psql -q -v ON_ERROR_STOP=1 <<'EOS' || fail "legacy table"
CREATE TABLE legacy_records (
  user_id text NOT NULL, jurisdiction text NOT NULL, collection text NOT NULL, id text NOT NULL,
  document jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, collection, id));
INSERT INTO legacy_records (user_id, jurisdiction, collection, id, document)
SELECT 'us' || u, 'US', 'messages', 'm' || m, '{}' FROM generate_series(1, 4) u, generate_series(1, 5) m;
INSERT INTO legacy_records VALUES ('ca1', 'CA', 'messages', 'm1', '{}', now());
EOS

"$W" report residency --cluster cluster.json --legacy "virginia=$PG_CONNINFO" --json >r1.json
st=$?
[ $st = 3 ] || fail "exit status $st with violations"
python3 - <<'EOP' || fail "report: $(cat r1.json)"
import json
d = json.load(open("r1.json"))
assert d["report"] == "residency", d
t = {x["name"]: x for x in d["tables"]}
s = dict(d["summary"])
v = sorted(map(tuple, t["violations"]["rows"]))
assert len(v) == 2, v
assert v[0][:5] == ("singapore", "keyd", "US", 1, 3), v
assert "cluster file does not let" in v[0][5] and "keyd config" not in v[0][5], v
assert v[1][:5] == ("virginia", "postgresql", "US", 4, 20), v
assert s["violations"] == 2 and s["records in violation"] == 23, s
p = {(r[0], r[1], r[3]): r for r in t["placement"]["rows"]}
assert p[("US", "texas", "keyd")][4:] == [2, 3, "yes"], p
assert p[("SG", "singapore", "keyd")][4:] == [1, 1, "yes"], p
assert p[("CA", "virginia", "postgresql")][4:] == [1, 1, "yes"], p
assert s["records"] == 3 + 1 + 3 + 20 + 1 and s["jurisdictions"] == ["CA", "SG", "US"], s
r = {x[0]: x for x in t["regions"]["rows"]}
assert r["singapore"][4] == "no" and r["texas"][4] == "yes", r
EOP

"$W" report residency --cluster cluster.json --legacy "virginia=$PG_CONNINFO" >r1.txt
[ $? = 3 ] || fail "text exit status"
grep -q 'singapore.*keyd.*US.*cluster file does not let' r1.txt || fail "text: $(cat r1.txt)"
"$W" report residency --cluster cluster.json --html --out r1.html
[ $? = 3 ] || fail "html exit status"
grep -q '<table' r1.html && grep -q 'singapore' r1.html || fail "html"

# a keyd that no longer lists what it holds: texas restarted with CA only
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null
keyd_up texas '["CA"]'
"$W" report residency --cluster cluster.json --json >r2.json
python3 - <<'EOP' || fail "texas unlisted: $(cat r2.json)"
import json
d = json.load(open("r2.json"))
v = [r for r in {x["name"]: x for x in d["tables"]}["violations"]["rows"] if r[0] == "texas"]
assert len(v) == 1 and v[0][5] == "the region's keyd config does not list it", v
EOP
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null
keyd_up texas '["US"]'

# clean: ben's data shredded in singapore, the legacy US rows gone
"$W" keys shred --socket singapore/keyd.sock --user ben >/dev/null 2>&1 || fail "shred"
psql -q -c "DELETE FROM legacy_records WHERE jurisdiction = 'US'" || fail "delete"
"$W" report residency --cluster cluster.json --legacy "virginia=$PG_CONNINFO" --json >r3.json
st=$?
[ $st = 0 ] || fail "exit status $st when clean: $(cat r3.json)"
python3 - <<'EOP' || fail "clean report: $(cat r3.json)"
import json
d = json.load(open("r3.json"))
t = {x["name"]: x for x in d["tables"]}
assert t["violations"]["rows"] == [], t["violations"]
assert dict(d["summary"])["violations"] == 0, d["summary"]
assert ["US", "texas", "custodian", "keyd", 2, 3, "yes"] in t["placement"]["rows"], t
EOP

# errors: a keyd answering as another region, an unknown legacy region, a bad --legacy
out=$("$W" report residency --cluster cluster.json --legacy "mars=$PG_CONNINFO" 2>&1)
[ $? = 1 ] && [[ "$out" == *'--legacy mars: no such region'* ]] || fail "unknown legacy region accepted: $out"
sed -i 's/"keyd": "virginia\/keyd.json"/"keyd": "texas\/keyd.json"/' cluster.json
out=$("$W" report residency --cluster cluster.json 2>&1)
[ $? = 1 ] && [[ "$out" == *'region virginia: its keyd'*'answers as region "texas"'* ]] ||
    fail "impostor: $out"
out=$("$W" report residency --cluster cluster.json --legacy nonsense 2>&1)
[ $? = 2 ] && [[ "$out" == *'REGION=CONNINFO'* ]] || fail "bad --legacy: $out"
echo ok
