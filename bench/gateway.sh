#!/bin/bash
# nginx serving a static 1 KiB JSON file vs the warden gateway serving a 1 KiB record that is
# authorized (token + two Cedar decisions), logged durably (audit entry under a signed
# checkpoint, group commit), decrypted (AES-256-GCM) and redacted — both over keep-alive
# with `wrk -t2 -c64 -d10s` on 127.0.0.1. Prints both rates, the ratio, p50/p99, the CPU time
# the gateway and keyd spent per request (from /proc/PID/stat: on a shared machine a rate
# moves with others' load, CPU per request much less) and the load average.
# usage: bench/gateway.sh [BUILD_DIR] [GATEWAY_THREADS]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$ROOT/build}
THREADS=${2:-2}
W=$B/warden
TOKTOOL=$B/gateway_token
DUR=${BENCH_DURATION:-10s}
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 2; }
command -v nginx >/dev/null || { echo "nginx is missing (apt-get install nginx-light)" >&2; exit 2; }
[ -x "$TOKTOOL" ] || { echo "build $TOKTOOL first" >&2; exit 2; }
T=$(mktemp -d)
chmod 755 "$T" # nginx workers run as another user and must reach www/
KPID= GPID= NPID=
cleanup() {
    for p in $NPID $GPID $KPID; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
cd "$T"
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
PG=$(free_port)
PN=$(free_port)
while [ "$PN" = "$PG" ]; do PN=$(free_port); done

# ---- the region: keyd + gateway, the gateway tests' policies
FIX=$ROOT/tests/gateway/fixtures
mkdir texas
cp "$FIX"/{policies.cedar,entities.json,messages.schema.json} texas/
cp "$FIX/networks.csv" .
cat > texas/keyd.json <<EOF
{"region": "texas", "jurisdictions": ["US"], "data_dir": "data",
 "keys": {"provider": "keyfile", "path": "kek.key"},
 "policies": "policies.cedar", "entities": "entities.json",
 "schemas": ["messages.schema.json"],
 "log": {"dir": "log", "key": "log.key"}, "socket": "keyd.sock"}
EOF
cat > cluster.json <<EOF
{"issuer": "https://id.bench", "audience": "warden", "token_key": "token.pub",
 "networks": "networks.csv",
 "regions": [{"name": "texas", "operator": "Custodian Inc.", "country": "US",
  "role": "custodian", "jurisdictions": ["US"], "url": "http://127.0.0.1:$PG",
  "keyd": "texas/keyd.json"}]}
EOF
"$TOKTOOL" keygen token.key token.pub
TOK=$("$TOKTOOL" issue token.key user u1 US https://id.bench warden 0 3600)
"$W" keys init --config texas/keyd.json >/dev/null
"$W" keyd --config texas/keyd.json 2>keyd.err &
KPID=$!
for _ in $(seq 200); do [ -S texas/keyd.sock ] && break; sleep 0.05; done
"$W" gateway --cluster cluster.json --region texas --threads "$THREADS" >gw.out 2>gw.err &
GPID=$!
for _ in $(seq 200); do grep -q listening gw.out 2>/dev/null && break; sleep 0.05; done
URL=http://127.0.0.1:$PG/v1/me/messages/bench
body=$(head -c 900 /dev/zero | tr '\0' 'x')
curl -sf -o put.json -X PUT -H "Authorization: Bearer $TOK" \
    --data-binary "{\"title\":\"bench\",\"body\":\"$body\",\"author\":{\"name\":\"A\",\"phone\":\"5\"}}" \
    "$URL" || { echo "PUT failed: $(cat put.json gw.err)" >&2; exit 1; }
curl -sf -o rec.json -H "Authorization: Bearer $TOK" "$URL"
REC=$(wc -c <rec.json)

# ---- nginx: the same bytes as a static file
mkdir www
head -c 1024 /dev/zero | tr '\0' 'x' | sed 's/^/{"d":"/; s/.\{8\}$/"}/' >www/rec.json
cat > nginx.conf <<EOF
worker_processes 2;
daemon off;
pid $T/nginx.pid;
error_log $T/nginx.err;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $T/tmp; proxy_temp_path $T/tmp; fastcgi_temp_path $T/tmp;
    uwsgi_temp_path $T/tmp; scgi_temp_path $T/tmp;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$PN;
        root $T/www;
        location / { default_type application/json; }
    }
}
EOF
mkdir tmp
nginx -c "$T/nginx.conf" -p "$T" &
NPID=$!
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$PN/rec.json" && break; sleep 0.05; done

# rate, p50 (ms), p99 (ms) from wrk --latency
measure() {
    /usr/bin/time -f "%U %S" -o wrk.cpu wrk -t2 -c64 -d"$DUR" --latency "$@" >wrk.out 2>&1
    python3 - <<'EOF'
import re
t = open("wrk.out").read()
def ms(s):
    v, u = float(s[:-2] if s.endswith(("us", "ms")) else s[:-1]), s[-2:] if s.endswith(("us", "ms")) else s[-1:]
    return v / 1000 if u == "us" else v if u == "ms" else v * 1000
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
errs = re.search(r"Socket errors: (.*)", t)
total = int(re.search(r"(\d+) requests in", t).group(1))
u, s = map(float, open("wrk.cpu").read().split()[-2:])
print("%.0f %.3f %.3f %s %s %d %.0f" % (rate, p50, p99, non2xx.group(1) if non2xx else 0,
                                 "none" if not errs else errs.group(1).replace(" ", ""), total,
                                 (u + s) * 1e6 / max(1, total)))
EOF
}
# user + system CPU of a process, in clock ticks
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
us_per() { python3 -c "import os,sys; print('%.0f' % ((int(sys.argv[2]) - int(sys.argv[1])) * 1e6 / os.sysconf('SC_CLK_TCK') / max(1, int(sys.argv[3]))))" "$@"; }
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
# nginx: the master and its workers
nticks() { local t=0; for p in $NPID $(pgrep -P "$NPID"); do t=$((t + $(ticks "$p"))); done; echo $t; }
n0=$(nticks)
read -r NR N50 N99 NBAD NERR NN NWRK < <(measure "http://127.0.0.1:$PN/rec.json")
n1=$(nticks)
NCPU=$(us_per "$n0" "$n1" "$NN")
g0=$(ticks $GPID) k0=$(ticks $KPID)
read -r GR G50 G99 GBAD GERR GN GWRK < <(measure -H "Authorization: Bearer $TOK" "$URL")
g1=$(ticks $GPID) k1=$(ticks $KPID)
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
GCPU=$(us_per "$g0" "$g1" "$GN") KCPU=$(us_per "$k0" "$k1" "$GN")
LOGSIZE=$(curl -s "http://127.0.0.1:$PG/log/checkpoint" | sed -n 2p)
# where the time goes: the gateway's HTTP layer alone, and keyd alone at the same concurrency
g0=$(ticks $GPID)
read -r HR H50 H99 HBAD HERR HN HWRK < <(measure "http://127.0.0.1:$PG/healthz")
g1=$(ticks $GPID)
HCPU=$(us_per "$g0" "$g1" "$HN")
KLINE=
if [ -x "$B/keyd_load" ]; then
    KLINE=$("$B/keyd_load" texas/keyd.sock 64 300 read u1 2>&1 || true)
fi
echo "== wrk -t2 -c64 -d$DUR, keep-alive, 127.0.0.1 ($(nproc) cores; gateway --threads $THREADS) =="
printf '%-44s %9s req/s  p50 %7s ms  p99 %7s ms  non-2xx %s  socket errors %s\n' \
    "nginx, static 1 KiB JSON" "$NR" "$N50" "$N99" "$NBAD" "$NERR"
printf '%-44s %9s req/s  p50 %7s ms  p99 %7s ms  non-2xx %s  socket errors %s\n' \
    "warden, authorized+logged+decrypted record" "$GR" "$G50" "$G99" "$GBAD" "$GERR"
printf '%-44s %9s req/s  p50 %7s ms  p99 %7s ms  non-2xx %s  socket errors %s\n' \
    "warden /healthz (HTTP layer only, no keyd)" "$HR" "$H50" "$H99" "$HBAD" "$HERR"
[ -n "$KLINE" ] && echo "keyd alone, 64 socket clients (keyd_load):   $KLINE"
python3 -c "import sys; print('ratio warden/nginx: %.3f   (goal >= 0.5, p99 < 5 ms: p99 %s ms)' % (float(sys.argv[1]) / float(sys.argv[2]), sys.argv[3]))" "$GR" "$NR" "$G99"
echo "CPU per request: nginx $NCPU us + wrk $NWRK us; warden record: gateway $GCPU us + keyd $KCPU us + wrk $GWRK us; /healthz: gateway $HCPU us + wrk $HWRK us"
echo "load average before: $LOAD0; after the warden run: $LOAD1"
echo "record answer: $REC bytes; log entries after the run: $LOGSIZE"
