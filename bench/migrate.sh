#!/bin/bash
# Migrates N legacy records of about 1 KiB (default 1,000,000) from a PostgreSQL table into a
# fresh texas keyd with `warden migrate` (each record: residency, logged write, keyd's
# read-back of the stored copy, hash comparison; statements; deletion) and prints verified records per second
# next to, measured in the same run: PostgreSQL's own `COPY ... TO` rate for the same table
# and the raw write rate of the region store (LMDB, 1000 puts per durable commit and one).
# usage: bench/migrate.sh [N] [BUILD_DIR] [CONNECTIONS]   (env BATCH: records per batch,
# default 4000; MIGRATE_OPTS: more options, e.g. --single-writes; KEYD_WRAP: a command to run
# keyd under, e.g. a profiler)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-1000000}
B=${2:-$ROOT/build}
C=${3:-4}
W=$B/warden
T=$(mktemp -d)
SRC=$ROOT
KPID=
. "$ROOT/tests/lib/pg.sh"
trap '[ -n "$KPID" ] && kill $KPID 2>/dev/null; wait 2>/dev/null; pg_stop; rm -rf "$T"' EXIT
cd "$T"
now() { date +%s.%N; }
rate() { python3 -c "import sys; print('%.0f' % ($1 / ($3 - $2)))"; }

pg_start >/dev/null
psql -q -v ON_ERROR_STOP=1 <<EOS
CREATE TABLE legacy_records (
  user_id text NOT NULL, jurisdiction text NOT NULL, collection text NOT NULL, id text NOT NULL,
  document jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, collection, id));
INSERT INTO legacy_records (user_id, jurisdiction, collection, id, document)
SELECT 'u' || (i / 10), 'US', 'messages', 'm' || i,
       jsonb_build_object('title', 'message ' || i, 'body', repeat(md5(i::text), 29),
                          'author', jsonb_build_object('name', 'user ' || (i / 10), 'phone', '555-0100'))
FROM generate_series(1, $N) i;
VACUUM ANALYZE legacy_records;
EOS
bytes=$(psql -Atc "select avg(length(document::text))::int from legacy_records")
echo "== $N records, ~$bytes bytes of JSON each, $((N / 10)) users =="

t0=$(now); psql -Atc "COPY legacy_records TO STDOUT" >/dev/null; t1=$(now)
echo "PostgreSQL COPY TO:           $(rate "$N" "$t0" "$t1") records/s"

mkdir -m 700 lmdb1 lmdb2
echo "LMDB store, 1000 puts/commit: $("$B/lmdb_rate" batch lmdb1 "$N" "$bytes" | cut -d' ' -f2) records/s"
n1=$((N < 2000 ? N : 2000))
echo "LMDB store, 1 put/commit:     $("$B/lmdb_rate" single lmdb2 "$n1" "$bytes" | cut -d' ' -f2) records/s"
rm -rf lmdb1 lmdb2

cp "$ROOT"/tests/vectors/keyd/{policies.cedar,entities.json,messages.schema.json} .
cat >keyd.json <<EOC
{"region": "texas", "jurisdictions": ["US"], "data_dir": "data",
 "keys": {"provider": "keyfile", "path": "kek.key"},
 "policies": "policies.cedar", "entities": "entities.json",
 "schemas": ["messages.schema.json"],
 "log": {"dir": "log", "key": "log.key"}, "socket": "keyd.sock",
 "store_map_mb": $((N * 3 / 1000 + 256))}
EOC
"$W" keys init --config keyd.json >/dev/null
${KEYD_WRAP:-} "$W" keyd --config keyd.json 2>keyd.err &
KPID=$!
for _ in $(seq 200); do [ -S keyd.sock ] && break; sleep 0.05; done
"$W" migrate keygen --key mig.key >/dev/null
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# PostgreSQL's CPU: the postmaster's own, its reaped backends' (cutime, cstime) and the live
# children's
pgcpu() {
    local pm c t
    pm=$(head -1 "$PG_DIR/data/postmaster.pid")
    t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat")
    for c in $(pgrep -P "$pm"); do t=$((t + $(cpu "$c" 2>/dev/null || echo 0))); done
    echo "$t"
}
k0=$(cpu $KPID)
p0=$(pgcpu)
t0=$(now)
/usr/bin/time -f "%U %S" -o mig.cpu "$W" migrate --pg "$PG_CONNINFO" --socket keyd.sock --key mig.key --connections "$C" ${MIGRATE_OPTS:-} \
    --batch "${BATCH:-4000}" >mig.out 2>mig.err || { cat mig.out mig.err; tail -3 keyd.err; exit 1; }
t1=$(now)
k1=$(cpu $KPID)
sleep 0.2 # the migrator's backends exit and are reaped
p1=$(pgcpu)
grep -q "^migrated now $N," mig.out || { echo "not all migrated:"; cat mig.out; exit 1; }
echo "warden migrate (verified):    $(rate "$N" "$t0" "$t1") records/s  ($C keyd connections;" \
    "per record: 1 Cedar decision, 1 log entry (write), encrypt, read-back + decrypt + hash;" \
    "one registration per 10 records)"
python3 - "$N" "$k0" "$k1" "$(cat mig.cpu)" "$t0" "$t1" "$p0" "$p1" <<'EOP'
import sys
n, k0, k1 = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
pg = (int(sys.argv[8]) - int(sys.argv[7])) / 100.0
u, s = map(float, sys.argv[4].split())
wall = float(sys.argv[6]) - float(sys.argv[5])
kd = (k1 - k0) / 100.0
print("   CPU: keyd %.0f us/record, migrator %.0f us/record, PostgreSQL %.0f us/record; wall"
      " %.1f s on %s cores (load: %s)" % (kd / n * 1e6, (u + s) / n * 1e6, pg / n * 1e6, wall,
                                          __import__("os").cpu_count(),
                                          open("/proc/loadavg").read().split()[0]))
print("   => with these CPU costs and no other load: ~%.0f records/s per keyd core"
      % (n / kd if kd else 0))
EOP
echo "   log size: $(sed -n 2p log/checkpoint) entries; source rows left: $(psql -Atc 'select count(*) from legacy_records')"
