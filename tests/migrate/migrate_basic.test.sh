#!/bin/bash
# warden migrate against a real PostgreSQL server and a real keyd: residency (SG users stay
# in the source), invalid rows reported and kept, every US record written, read back and
# deleted from the source, statements in the log, `warden migrate verify` and `keyd check`
# passing; a row changed after migration migrated again; JSON Lines; tampering detected.
set -u
W=${WARDEN_BINARY:?}
SRC=${WARDEN_SOURCE_DIR:?}
T=$(mktemp -d)
. "$SRC/tests/migrate/migrate_lib.sh"
trap mig_cleanup EXIT
cd "$T"
pg_start || fail "postgresql did not start"
legacy_schema
keyd_start
mvk=$("$W" migrate keygen --key "$T/mig.key") || fail "keygen"
lvk=$("$W" log vkey --key "$T/log.key") || fail "log vkey"

# 40 US users x 5 messages, 10 SG users x 2, one invalid row (collection with a space)
psql -q -v ON_ERROR_STOP=1 <<'EOS' || fail "fill"
INSERT INTO legacy_records (user_id, jurisdiction, collection, id, document)
SELECT 'us' || u, 'US', 'messages', 'm' || m,
       jsonb_build_object('title', 'hello ' || m, 'body', 'secret ' || u || '/' || m || ' é',
                          'author', jsonb_build_object('name', 'N' || u, 'phone', '555-' || u),
                          'n', m * 1.5, 'tags', jsonb_build_array('a', m))
FROM generate_series(1, 40) u, generate_series(1, 5) m;
INSERT INTO legacy_records (user_id, jurisdiction, collection, id, document)
SELECT 'sg' || u, 'SG', 'messages', 'm' || m, jsonb_build_object('title', 'sg')
FROM generate_series(1, 10) u, generate_series(1, 2) m;
INSERT INTO legacy_records VALUES ('us1', 'US', 'bad coll', 'x', '{}', now());
EOS

out=$("$W" migrate --pg "$PG_CONNINFO" --dry-run) || fail "dry run"
echo "$out" | grep -q '^dry run: 221 source records' || fail "dry run: $out"
echo "$out" | grep -q '^would migrate 220: 220 new' || fail "dry run: $out"
echo "$out" | grep -q 'invalid (would be reported): 1$' || fail "dry run: $out"
[ "$(psql -Atc "select to_regclass('warden_migration') is null")" = t ] || fail "dry run wrote"

"$W" migrate --pg "$PG_CONNINFO" --socket "$T/keyd.sock" --key "$T/mig.key" >m1.out 2>m1.err
st=$?
[ $st = 0 ] || fail "migrate exit $st: $(cat m1.out m1.err)"
grep -q '^migrated now 200, earlier 0; refused 20; invalid 1; conflicts 0; failed 0$' m1.out ||
    fail "counts: $(cat m1.out)"
grep -q '^deleted 200 source rows' m1.out || fail "no deletion: $(cat m1.out)"
[ "$(grep -c '^refused sg' m1.err)" = 20 ] || fail "refusals not reported: $(cat m1.err)"
grep -q '^invalid us1/bad coll/x: invalid collection' m1.err || fail "invalid not reported"
grep -q 'migrate: 221/221 records' m1.err || fail "no progress lines: $(cat m1.err)"
[ "$(psql -Atc "select count(*) from legacy_records")" = 21 ] || fail "source not cleaned"
[ "$(psql -Atc "select count(*) from legacy_records where jurisdiction='US' and collection='messages'")" = 0 ] ||
    fail "US rows left"
[ "$(psql -Atc "select count(*) from warden_migration where state='done' and dest_version=1")" = 200 ] ||
    fail "progress table"

# the data arrived intact, readable by the custodian's staff
"$W" access --socket keyd.sock --principal 'Employee::"alice"' --action read --user us7 \
    --collection messages --id m3 --purpose support --source-ip 10.0.0.7 --location US >r.json 2>/dev/null ||
    fail "alice read"
python3 - <<'EOF2' || fail "document differs: $(cat r.json)"
import json
d = json.load(open("r.json"))["document"]
assert d == {"title": "hello 3", "body": "secret 7/3 \u00e9", "author": {"name": "N7", "phone": "555-7"},
             "n": 4.5, "tags": ["a", 3]}, d
assert json.load(open("r.json"))["version"] == 1
EOF2

out=$("$W" migrate verify --log log --vkey "$lvk" --migration-vkey "$mvk" --socket keyd.sock) ||
    fail "verify: $out"
echo "$out" | grep -q 'destination: 200 migrated records read back' || fail "verify: $out"
echo "$out" | grep -q 'deletion logged: 200 source rows deleted' || fail "verify: $out"
"$W" keyd check --log log --archive log.policysets --vkey "$lvk" >/dev/null || fail "keyd check"
"$W" report replay --dir log --vkey "$lvk" >replay.out 2>&1 || fail "report replay: $(cat replay.out)"
"$W" report access --dir log --vkey "$lvk" >access.out 2>&1 || fail "report access: $(cat access.out)"

# a rerun finds nothing to do and writes nothing
"$W" migrate --pg "$PG_CONNINFO" --socket keyd.sock --key mig.key >m2.out 2>m2.err || fail "rerun: $(cat m2.err)"
grep -q '^migrated now 0, earlier 0; refused 20' m2.out || fail "rerun: $(cat m2.out)"
grep -q '"version": 1' <(mig_read us7 messages m3) || fail "rerun wrote again"

# on a terminal: a progress bar with rate and ETA
psql -qc "insert into legacy_records (user_id, jurisdiction, collection, id, document)
          select 'tty' || i, 'US', 'messages', 'm1', '{\"t\":1}' from generate_series(1, 30) i"
script -qec "'$W' migrate --pg '$PG_CONNINFO' --socket keyd.sock --key mig.key" /dev/null >tty.out ||
    fail "tty run: $(cat tty.out)"
grep -Eq '\[#+\] 100% 51/51 records +[0-9]+ rec/s +ETA 0m00s' tty.out || fail "no progress bar: $(cat tty.out)"

# verify reads a served log by URL as well as a directory
port=$(pg_free_port)
"$W" log serve --dir log --listen "127.0.0.1:$port" 2>/dev/null &
SPID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/checkpoint" >/dev/null && break; sleep 0.05; done
out=$("$W" migrate verify --log "http://127.0.0.1:$port" --vkey "$lvk" --migration-vkey "$mvk" \
    --socket keyd.sock) || fail "verify by URL: $out"
kill $SPID; wait $SPID 2>/dev/null
echo "$out" | grep -q 'destination: 230 migrated records read back' || fail "verify by URL: $out"

# another key's signature is not accepted
other=$("$W" migrate keygen --key other.key --name warden-migration) || fail "keygen 2"
"$W" migrate verify --log log --vkey "$lvk" --migration-vkey "$other" --socket keyd.sock \
    >/dev/null 2>v.err && fail "verify accepted a statement under another key"
grep -q 'no end statement signed by the migration key' v.err || fail "verify: $(cat v.err)"

# a record changed after it was migrated is migrated again before deletion
psql -q -v ON_ERROR_STOP=1 <<'EOS' || fail "fill 2"
INSERT INTO legacy_records (user_id, jurisdiction, collection, id, document)
SELECT 'v' || u, 'US', 'notes', 'n1', jsonb_build_object('text', 'old')
FROM generate_series(1, 5) u;
EOS
"$W" migrate --pg "$PG_CONNINFO" --socket keyd.sock --key mig.key --keep-source >m3.out 2>&1 ||
    fail "keep-source: $(cat m3.out)"
grep -q '^migrated now 5, earlier 0' m3.out || fail "keep-source: $(cat m3.out)"
[ "$(psql -Atc "select count(*) from legacy_records where user_id like 'v%'")" = 5 ] || fail "kept?"
psql -qc "update legacy_records set document='{\"text\":\"new\"}', updated_at=now() where user_id='v2'"
out=$("$W" migrate --pg "$PG_CONNINFO" --socket keyd.sock --key mig.key --dry-run) || fail "dry 2"
echo "$out" | grep -q '1 changed since migrated' || fail "change not seen: $out"
"$W" migrate --pg "$PG_CONNINFO" --socket keyd.sock --key mig.key >m4.out 2>&1 || fail "m4: $(cat m4.out)"
grep -q '^migrated now 1, earlier 4' m4.out || fail "changed row: $(cat m4.out)"
grep -q '^deleted 5 source rows' m4.out || fail "m4: $(cat m4.out)"
mig_read v2 notes n1 >v2.json
grep -q '"text": "new"' v2.json && grep -q '"version": 2' v2.json || fail "v2: $(cat v2.json)"
"$W" migrate verify --log log --vkey "$lvk" --migration-vkey "$mvk" --socket keyd.sock >/dev/null ||
    fail "verify after the second run"

# JSON Lines: sorted, one record per line; unsorted input is an error with file:line
cat >x.jsonl <<'EOJ'
{"user":"j1","jurisdiction":"US","collection":"messages","id":"a","document":{"title":"j"}}
{"user":"j1","jurisdiction":"US","collection":"messages","id":"b","document":{"title":"k"}}

{"user":"j2","jurisdiction":"SG","collection":"messages","id":"a","document":{"title":"l"}}
EOJ
# (one ACCESS write and read per record here, to cover that path too)
"$W" migrate --jsonl x.jsonl --socket keyd.sock --key mig.key --single-writes >j.out 2>j.err ||
    fail "jsonl: $(cat j.err)"
grep -q '^migrated now 2, earlier 0; refused 1' j.out || fail "jsonl: $(cat j.out)"
"$W" migrate --jsonl x.jsonl --socket keyd.sock --key mig.key --single-writes >j2.out 2>j2.err ||
    fail "jsonl 2"
grep -q '^migrated now 2,' j2.out || fail "jsonl rerun: $(cat j2.out)"
grep -q '"version": 1' <(mig_read j1 messages b) || fail "jsonl rerun wrote again"
run=$(sed -n 's/^run \([0-9a-f]*\):.*/\1/p' j.out)
"$W" migrate verify --log log --vkey "$lvk" --migration-vkey "$mvk" --socket keyd.sock --run "$run" \
    >/dev/null || fail "verify jsonl run"
printf '%s\n' '{"user":"b","jurisdiction":"US","collection":"c","id":"1","document":{}}' \
    '{"user":"a","jurisdiction":"US","collection":"c","id":"1","document":{}}' >uns.jsonl
"$W" migrate --jsonl uns.jsonl --socket keyd.sock --key mig.key >/dev/null 2>u.err && fail "unsorted accepted"
grep -q 'uns.jsonl:2: not sorted' u.err || fail "unsorted: $(cat u.err)"
printf '{"user":"a",\n' >bad.jsonl
"$W" migrate --jsonl bad.jsonl --socket keyd.sock --key mig.key >/dev/null 2>b.err && fail "bad json accepted"
grep -q 'bad.jsonl:1:' b.err || fail "bad json: $(cat b.err)"

# a record changed in the destination behind the migrator's back is found by verify
"$W" access --socket keyd.sock --principal 'Employee::"alice"' --action write --user us9 \
    --collection messages --id m1 --purpose support --source-ip 10.0.0.7 --location US \
    --document '{"title":"tampered"}' >/dev/null 2>&1 || fail "tamper write"
pgrun=$(sed -n 's/^run \([0-9a-f]*\):.*/\1/p' m1.out)
"$W" migrate verify --log log --vkey "$lvk" --migration-vkey "$mvk" --socket keyd.sock \
    --run "$pgrun" >/dev/null 2>v2.err && fail "verify missed a changed record"
grep -q 'root' v2.err || fail "verify: $(cat v2.err)"
kill -0 "$KPID" || fail "keyd died"

# keyd's read-back digest must match: a destination whose stored copy does not read back as
# written (a proxy corrupts the digest of one record) fails that record, which is not
# recorded done; the rerun finds the written copy by reading it and completes it
psql -qc "insert into legacy_records (user_id, jurisdiction, collection, id, document)
          select 'tp', 'US', 'notes', 'n' || i, jsonb_build_object('i', i) from generate_series(1, 3) i" ||
    fail "tp rows"
python3 "$SRC/tests/migrate/digest_proxy.py" "$T/keyd.sock" "$T/proxy.sock" 1 2>proxy.err &
PPID_=$!
for _ in $(seq 100); do [ -S "$T/proxy.sock" ] && break; sleep 0.05; done
[ -S "$T/proxy.sock" ] || fail "proxy: $(cat proxy.err)"
"$W" migrate --pg "$PG_CONNINFO" --socket "$T/proxy.sock" --key mig.key --keep-source >tp.out 2>tp.err
st=$?
kill $PPID_; wait $PPID_ 2>/dev/null
[ $st = 3 ] || fail "a corrupted read-back was not a failure (exit $st): $(cat tp.out; tail -3 tp.err)"
grep -q '^migrated now 2, .* failed 1$' tp.out || fail "tp counts: $(cat tp.out)"
grep -q '^failed tp/notes/n1: read-back does not match what was written' tp.err || fail "tp: $(cat tp.err)"
[ "$(psql -Atc "select state from warden_migration where user_id='tp' and id='n1'")" = pending ] ||
    fail "a record whose read-back failed was recorded as migrated"
"$W" migrate --pg "$PG_CONNINFO" --socket keyd.sock --key mig.key --keep-source >tp2.out 2>&1 ||
    fail "tp rerun: $(cat tp2.out)"
grep -q '^migrated now 1, earlier 2' tp2.out || fail "tp rerun: $(cat tp2.out)"
grep -q '"version": 1' <(mig_read tp notes n1) || fail "tp rerun wrote again"

# a row PostgreSQL renders differently but whose canonical record is the same (1.0 and
# 1.00) is not migrated again, and is still deleted as unchanged
psql -qc "insert into legacy_records (user_id, jurisdiction, collection, id, document)
          values ('sc', 'US', 'notes', 'n1', '{\"n\": 1.0}')" || fail "sc row"
"$W" migrate --pg "$PG_CONNINFO" --socket keyd.sock --key mig.key --keep-source >sc.out 2>&1 ||
    fail "sc: $(cat sc.out)"
psql -qc "update legacy_records set document = '{\"n\": 1.00}' where user_id = 'sc'"
"$W" migrate --pg "$PG_CONNINFO" --socket keyd.sock --key mig.key >sc2.out 2>&1 || fail "sc2: $(cat sc2.out)"
grep -q '^migrated now 0, ' sc2.out || fail "sc2: $(cat sc2.out)"
[ "$(psql -Atc "select count(*) from legacy_records where user_id in ('sc', 'tp')")" = 0 ] ||
    fail "sc/tp rows not deleted: $(cat sc2.out)"

# large documents: IMPORT requests are split by size (3 x 6 MiB > one request's 16 MiB)
psql -q -v ON_ERROR_STOP=1 -c "insert into legacy_records (user_id, jurisdiction, collection, id, document)
    select 'big', 'US', 'files', 'f' || i, jsonb_build_object('data', repeat('z', 6 << 20))
    from generate_series(1, 3) i" || fail "big rows"
"$W" migrate --pg "$PG_CONNINFO" --socket keyd.sock --key mig.key >big.out 2>&1 || fail "big: $(cat big.out)"
grep -q '^migrated now 3, ' big.out || fail "big: $(cat big.out)"
[ "$(mig_read big files f2 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["document"]["data"]))')" = $((6 << 20)) ] ||
    fail "big record not intact"

# keyd's store size is configurable, and a bad value is refused with its name
sed 's/"store_map_mb": 64/"store_map_mb": 0/' keyd.json >bad.json
"$W" keyd --config bad.json >/dev/null 2>bad.err && fail "store_map_mb 0 accepted"
grep -q 'store_map_mb' bad.err || fail "bad store_map_mb: $(cat bad.err)"
echo ok
