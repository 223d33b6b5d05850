#!/bin/bash
# Kills `warden migrate` with SIGKILL at random moments (MIGRATE_CRASH_KILLS times, default
# 50), adding records when a run finishes before its kill and changing a few source rows
# between runs, then lets a last run finish and checks: every US record is in the
# destination exactly once (version 1; version 2 for a row changed after it was migrated)
# with the source's final content, SG records were refused and stay in the source, no US
# row is left in the source, and `warden migrate verify` and `warden keyd check` pass.
set -u
W=${WARDEN_BINARY:?}
SRC=${WARDEN_SOURCE_DIR:?}
KILLS=${MIGRATE_CRASH_KILLS:-50}
T=$(mktemp -d)
. "$SRC/tests/migrate/migrate_lib.sh"
trap mig_cleanup EXIT
cd "$T"
pg_start || fail "postgresql did not start"
legacy_schema
keyd_start
mvk=$("$W" migrate keygen --key mig.key) || fail "keygen"
lvk=$("$W" log vkey --key log.key) || fail "log vkey"
# expected: what the destination must hold at the end, and in which version
psql -q -v ON_ERROR_STOP=1 -c "CREATE TABLE expected (user_id text, collection text, id text,
    document jsonb, version int, touched boolean DEFAULT false, PRIMARY KEY (user_id, collection, id))" ||
    fail "expected table"

chunk=0
add_chunk() { # $1 US records in new users, plus 10 SG records
    chunk=$((chunk + 1))
    psql -q -v ON_ERROR_STOP=1 <<EOS || fail "add chunk"
INSERT INTO legacy_records (user_id, jurisdiction, collection, id, document)
SELECT 'c${chunk}u' || (i / 4), 'US', 'messages', 'm' || i,
       jsonb_build_object('title', 't' || i, 'body', repeat('x', 200) || i, 'chunk', $chunk)
FROM generate_series(1, $1) i;
INSERT INTO expected SELECT user_id, collection, id, document, 1 FROM legacy_records
WHERE user_id LIKE 'c${chunk}u%';
INSERT INTO legacy_records (user_id, jurisdiction, collection, id, document)
SELECT 'c${chunk}sg' || i, 'SG', 'messages', 'm1', '{"title":"sg"}' FROM generate_series(1, 10) i;
EOS
}
# Changes a few untouched rows: one never migrated (still version 1 at the end), and ones
# already migrated (done), which must come back as version 2. Pending rows are left alone:
# whether their first write landed is exactly what the migration must find out.
change_rows() {
    psql -q -v ON_ERROR_STOP=1 <<'EOS' || fail "change rows"
WITH pick AS (
  (SELECT e.user_id, e.collection, e.id, 2 AS v FROM expected e JOIN warden_migration m
     ON m.source_table = 'legacy_records' AND (m.user_id, m.collection, m.id) = (e.user_id, e.collection, e.id)
   JOIN legacy_records s ON (s.user_id, s.collection, s.id) = (e.user_id, e.collection, e.id)
   WHERE m.state = 'done' AND NOT e.touched ORDER BY random() LIMIT 2)
  UNION ALL
  (SELECT e.user_id, e.collection, e.id, 1 FROM expected e
   JOIN legacy_records s ON (s.user_id, s.collection, s.id) = (e.user_id, e.collection, e.id)
   WHERE NOT e.touched AND NOT EXISTS (SELECT 1 FROM warden_migration m WHERE m.source_table =
     'legacy_records' AND (m.user_id, m.collection, m.id) = (e.user_id, e.collection, e.id))
   ORDER BY random() LIMIT 1)),
upd AS (UPDATE legacy_records s SET document = s.document || '{"changed": true}', updated_at = now()
        FROM pick p WHERE (s.user_id, s.collection, s.id) = (p.user_id, p.collection, p.id)
        RETURNING s.user_id, s.collection, s.id, s.document)
UPDATE expected e SET document = u.document, version = p.v, touched = true
FROM upd u JOIN pick p USING (user_id, collection, id)
WHERE (e.user_id, e.collection, e.id) = (u.user_id, u.collection, u.id);
EOS
}

add_chunk 600
kills=0 finished=0 iter=0
while [ $kills -lt "$KILLS" ]; do
    iter=$((iter + 1))
    [ $iter -gt $((KILLS * 4)) ] && fail "only $kills kills in $iter runs"
    delay=$(python3 -c 'import random; print("%.3f" % (random.random() ** 2 * 1.2))')
    mode=() # every fourth run sends single ACCESS writes instead of IMPORT batches
    [ $((iter % 4)) = 0 ] && mode=(--single-writes)
    "$W" migrate --pg "$PG_CONNINFO" --socket keyd.sock --key mig.key --batch 64 \
        --connections 4 "${mode[@]}" >run.out 2>run.err &
    mpid=$!
    sleep "$delay"
    if kill -9 $mpid 2>/dev/null; then
        wait $mpid 2>/dev/null
        kills=$((kills + 1))
    else
        wait $mpid || fail "run $iter failed: $(cat run.out run.err)"
        finished=$((finished + 1))
        add_chunk 300
    fi
    [ $((iter % 3)) = 0 ] && change_rows
done
"$W" migrate --pg "$PG_CONNINFO" --socket keyd.sock --key mig.key >final.out 2>final.err ||
    fail "final run: $(cat final.out final.err)"
grep -q 'conflicts 0; failed 0$' final.out || fail "final: $(cat final.out)"
kill -0 "$KPID" || fail "keyd died"

[ "$(psql -Atc "select count(*) from legacy_records where jurisdiction = 'US'")" = 0 ] ||
    fail "US rows left in the source"
[ "$(psql -Atc "select count(*) from legacy_records where jurisdiction = 'SG'")" = $((chunk * 10)) ] ||
    fail "SG rows lost from the source"
psql -AtF $'\t' -c "select user_id, collection, id from expected order by 1, 2, 3" >keys.tsv
python3 "$SRC/tests/migrate/keyd_read.py" keyd.sock <keys.tsv >dest.tsv || fail "read back"
psql -AtF $'\t' -c "select user_id, collection, id, version, document::text from expected order by 1, 2, 3" |
    python3 -c '
import json, sys
for l in sys.stdin:
    u, c, i, v, d = l.rstrip("\n").split("\t")
    print("\t".join([u, c, i, v, json.dumps(json.loads(d), separators=(",", ":"), sort_keys=True, ensure_ascii=True)]))
' >want.tsv
n=$(wc -l <want.tsv)
if ! cmp -s want.tsv dest.tsv; then
    diff want.tsv dest.tsv | head -10
    fail "the destination differs from the source's final content (of $n records)"
fi
changed=$(psql -Atc "select count(*) from expected where touched")
v2=$(psql -Atc "select count(*) from expected where version = 2")
out=$("$W" migrate verify --log log --vkey "$lvk" --migration-vkey "$mvk" --socket keyd.sock) ||
    fail "verify: $out"
echo "$out" | grep -q "destination: $n migrated records read back" || fail "verify: $out"
"$W" keyd check --log log --archive log.policysets --vkey "$lvk" >/dev/null || fail "keyd check"
echo "ok: $kills kills, $finished runs finished early, $chunk chunks, $n records exactly once" \
    "($changed changed in the source, $v2 of them after migration), verified"
