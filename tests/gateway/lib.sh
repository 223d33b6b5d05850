# Shared set-up of the gateway tests (sourced, not a test itself): a temporary cluster with
# two regions on 127.0.0.1 — texas (custodian, holds US, with a real keyd) and singapore
# (legacy, holds SG; its keyd is never started, which proves that redirects need none) —
# a token key, and helpers that drive the gateway with real curl.
set -u
W=${WARDEN_BINARY:?}
SRC=${WARDEN_SOURCE_DIR:?}
BLD=${WARDEN_BUILD_DIR:?}
TOKTOOL=$BLD/gateway_token
FIX=$SRC/tests/gateway/fixtures
T=$(mktemp -d)
KPID= GPID= SPID=
cleanup() {
    for p in $GPID $SPID $KPID; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    for f in keyd.err gw.err sg.err; do
        [ -s "$T/$f" ] && tail -5 "$T/$f" | sed "s/^/$f: /"
    done
    exit 1
}
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
cd "$T"
ISS=https://id.test
AUD=warden
PT=$(free_port)
PS=$(free_port)
while [ "$PS" = "$PT" ]; do PS=$(free_port); done
TX=http://127.0.0.1:$PT
SG=http://127.0.0.1:$PS

mkdir -p texas sg/log
cp "$FIX"/{policies.cedar,entities.json,messages.schema.json} texas/
cp "$FIX/networks.csv" .
cat > texas/keyd.json <<EOF
{"region": "texas", "jurisdictions": ["US"], "data_dir": "data",
 "keys": {"provider": "keyfile", "path": "kek.key"},
 "policies": "policies.cedar", "entities": "entities.json",
 "schemas": ["messages.schema.json"],
 "log": {"dir": "log", "key": "log.key", "origin": "test.example/texas"},
 "socket": "keyd.sock"}
EOF
cat > sg/keyd.json <<EOF
{"region": "singapore", "jurisdictions": ["SG"], "data_dir": "data",
 "keys": {"provider": "keyfile", "path": "kek.key"},
 "policies": "none.cedar", "log": {"dir": "log", "key": "log.key"}, "socket": "keyd.sock"}
EOF
cat > cluster.json <<EOF
{"issuer": "$ISS", "audience": "$AUD", "token_key": "token.pub", "networks": "networks.csv",
 "trusted_proxies": ["127.0.4.1"],
 "regions": [
  {"name": "texas", "operator": "Custodian Inc.", "country": "US", "role": "custodian",
   "jurisdictions": ["US"], "url": "$TX", "keyd": "texas/keyd.json"},
  {"name": "singapore", "operator": "Legacy Co.", "country": "SG", "role": "legacy",
   "jurisdictions": ["SG"], "url": "$SG", "keyd": "sg/keyd.json"}]}
EOF
"$W" token keygen --key token.key >token.pub || fail "token keygen"
"$W" token keygen --key other.key >other.pub || fail "token keygen"

# tok KIND SUB [JUR] [ISS] [AUD] [IAT_OFFSET] [TTL] [KEY]: a valid token comes from
# `warden token issue`; odd ones (other issuer or audience, expired, future, other key) from
# the test tool, since the CLI rightly refuses to make some of them
tok() {
    if [ $# -le 3 ]; then
        "$W" token issue --kind "$1" --subject "$2" ${3:+--jurisdiction "$3"} --ttl 1h \
            --key token.key --cluster cluster.json
        return
    fi
    "$TOKTOOL" issue "${8:-token.key}" "$1" "$2" "${3:--}" "${4:-$ISS}" "${5:-$AUD}" \
        "${6:-0}" "${7:-3600}"
}

start_keyd() {
    "$W" keys init --config texas/keyd.json >/dev/null || fail "keys init"
    "$W" keyd --config texas/keyd.json 2>>keyd.err &
    KPID=$!
    for _ in $(seq 200); do [ -S texas/keyd.sock ] && return 0; sleep 0.05; done
    fail "keyd did not start"
}

# start_gateway REGION OUTFILE [args...]: sets the pid in GPID (texas) or SPID
start_gateway() {
    local region=$1 out=$2
    shift 2
    "$W" gateway --cluster cluster.json --region "$region" "$@" >"$out.out" 2>"$out.err" &
    local pid=$!
    for _ in $(seq 200); do
        grep -q '^listening on port' "$out.out" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || fail "gateway $region exited: $(cat "$out.err")"
        sleep 0.05
    done
    grep -q '^listening on port' "$out.out" || fail "gateway $region did not start"
    if [ "$region" = texas ]; then GPID=$pid; else SPID=$pid; fi
}

# req OUTNAME curl-args...: prints the HTTP status; body in OUTNAME.json, headers OUTNAME.h
req() {
    local name=$1
    shift
    curl -s -o "$T/$name.json" -D "$T/$name.h" -w '%{http_code}' --max-time 20 "$@"
}

# jget FILE EXPR: a Python expression over the JSON document j
jget() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# hdr FILE NAME: a response header's value
hdr() {
    grep -i "^$2:" "$1" | head -1 | cut -d: -f2- | sed 's/^ *//; s/\r$//'
}

# expect WHAT WANT GOT
expect() {
    [ "$2" = "$3" ] || fail "$1: want $2, got $3"
}

# log_entry INDEX: the audit entry at INDEX from the texas log, read over HTTP /log/
log_entry() {
    python3 - "$TX" "$1" <<'PYEOF'
import json, struct, sys, urllib.request
base, i = sys.argv[1], int(sys.argv[2])
cp = urllib.request.urlopen(base + "/log/checkpoint").read().decode()
size = int(cp.split("\n")[1])
n = i // 256
def tilepath(n):
    s = "%03d" % (n % 1000); n //= 1000
    while n > 0:
        s = "x%03d/" % (n % 1000) + s; n //= 1000
    return s
full = (n + 1) * 256 <= size
p = "/log/tile/entries/" + tilepath(n) + ("" if full else ".p/%d" % (size - n * 256))
b = urllib.request.urlopen(base + p).read()
off, k = 0, n * 256
while off < len(b):
    l = struct.unpack(">H", b[off:off + 2])[0]
    if k == i:
        print(json.dumps(json.loads(b[off + 2:off + 2 + l])))
        break
    off += 2 + l; k += 1
PYEOF
}
