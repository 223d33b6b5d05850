#!/bin/bash
# Drives keyd over its socket with 1 and 64 concurrent clients reading a 1 KiB record (each
# read: two Cedar decisions, one durable log entry, DEK unwrap (cached), AES-256-GCM decrypt,
# redaction), and prints decisions per second and p50/p99 latency next to the raw fsync
# rate and `openssl speed` AES-256-GCM at 1 KiB, measured in the same run; also keyd's CPU
# time per decision, and a clearly separate pipelined figure.
# The client (tests/tools/keyd_load.c) is ONE thread driving every connection with epoll:
# "clients 64" is 64 connections, each with exactly one request outstanding at a time (it
# sends the next only after the answer to the previous one); "clients 8x16" (pipelined) is
# 8 connections, each sending 16 requests in one write and then waiting for their 16
# answers. keyd batches the audit entries of whatever requests are waiting across
# connections into one durable log append; no answer leaves before its entry is durable.
# usage: [KEYD_WORKERS=N] bench/keyd.sh [BUILD_DIR] [REQUESTS_PER_CLIENT]
# (KEYD_WORKERS sets keyd's "workers"; default: one per CPU)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$ROOT/build}
N=${2:-2000}
W=$B/warden
LOAD=$B/keyd_load
T=$(mktemp -d)
KPID=
trap '[ -n "$KPID" ] && kill $KPID 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
cd "$T"
cp "$ROOT"/tests/vectors/keyd/{policies.cedar,entities.json,messages.schema.json} .
WORKERS=
[ -n "${KEYD_WORKERS:-}" ] && WORKERS=", \"workers\": $KEYD_WORKERS"
cat > keyd.json <<EOF
{"region": "texas", "jurisdictions": ["US"], "data_dir": "data",
 "keys": {"provider": "keyfile", "path": "kek.key"},
 "policies": "policies.cedar", "entities": "entities.json",
 "schemas": ["messages.schema.json"],
 "log": {"dir": "log", "key": "log.key"}, "socket": "keyd.sock"$WORKERS}
EOF
"$W" keys init --config keyd.json >/dev/null
"$W" keyd --config keyd.json 2>keyd.err &
KPID=$!
for _ in $(seq 100); do [ -S keyd.sock ] && break; sleep 0.05; done
S=(--socket keyd.sock --source-ip 10.0.0.9 --location US --principal 'Employee::"alice"')
"$W" access "${S[@]}" --action register --user u1 --jurisdiction US --purpose bench >/dev/null 2>&1
body=$(head -c 700 /dev/zero | tr '\0' 'x')
"$W" access "${S[@]}" --action write --user u1 --collection messages --id bench --purpose bench \
    --document "{\"title\":\"bench\",\"body\":\"$body\",\"author\":{\"name\":\"A\",\"phone\":\"5\"}}" \
    >/dev/null 2>&1

# keyd's own CPU time (user + system, in clock ticks) from /proc: on a shared machine the
# rate moves with other load, CPU per decision much less.
ticks() { awk '{print $14 + $15}' "/proc/$KPID/stat"; }
run() { # LABEL CLIENTS REQUESTS [PIPELINE]
    local t0 t1 out
    t0=$(ticks)
    out=$(KEYD_LOAD_PIPELINE=${4:-1} "$LOAD" keyd.sock "$2" "$3" read u1)
    t1=$(ticks)
    printf '%s %s keyd_cpu_us_per_request %.0f\n' "$1" "$out" \
        "$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v o="$out" \
            'BEGIN {split(o, f, " "); print d * 1e6 / hz / f[2]}')"
}
echo "== keyd reads of a 1 KiB record (policy: tests/vectors/keyd) =="
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
run 'clients  1:' 1 "$N"
run 'clients 64:' 64 "$N"
echo "== pipelined: 8 clients, each sending 16 requests per write (answers in order) =="
run 'clients 8x16:' 8 $((N * 8))  16
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== raw fsync rate (4 KiB write + fdatasync, same filesystem) =="
python3 - <<'EOF'
import os, time
fd = os.open("fsync.tmp", os.O_WRONLY | os.O_CREAT, 0o600)
n, t0 = 0, time.time()
while time.time() - t0 < 2:
    os.pwrite(fd, b"x" * 4096, 0); os.fdatasync(fd); n += 1
print("fsyncs/s %.0f" % (n / (time.time() - t0)))
EOF
echo "== openssl speed AES-256-GCM, 1 KiB blocks =="
openssl speed -seconds 2 -bytes 1024 -evp aes-256-gcm 2>/dev/null | tail -1
