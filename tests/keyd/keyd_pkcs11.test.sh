#!/bin/bash
# keyd with its KEK on a real SoftHSM2 token (PKCS#11): keys init generates the token key,
# then a write, a read, an online rotation (DEKs re-wrapped inside the token) and a read.
set -u
W=${WARDEN_BINARY:?}
SRC=${WARDEN_SOURCE_DIR:?}
MOD=${WARDEN_SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
T=$(mktemp -d)
KPID=
cleanup() { [ -n "$KPID" ] && kill "$KPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/keyd.err" ] && sed 's/^/keyd: /' "$T/keyd.err"; exit 1; }
cd "$T"
mkdir tokens
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$T" >softhsm2.conf
export SOFTHSM2_CONF=$T/softhsm2.conf WARDEN_PKCS11_PIN=4321
softhsm2-util --init-token --free --label warden --pin 4321 --so-pin 8765 >/dev/null || fail "init token"
cp "$SRC"/tests/vectors/keyd/{policies.cedar,entities.json,messages.schema.json} .
cat > keyd.json <<EOF
{"region": "texas", "jurisdictions": ["US"], "data_dir": "data",
 "keys": {"provider": "pkcs11", "module": "$MOD", "token": "warden", "pin_env": "WARDEN_PKCS11_PIN"},
 "policies": "policies.cedar", "entities": "entities.json",
 "schemas": ["messages.schema.json"],
 "log": {"dir": "log", "key": "log.key"}, "socket": "keyd.sock"}
EOF
[ "$("$W" keys init --config keyd.json)" = $'KEK: created\nlog key: created' ] || fail "keys init"
[ "$("$W" keys init --config keyd.json)" = $'KEK: exists\nlog key: exists' ] || fail "keys init twice"
"$W" keyd --config keyd.json 2>keyd.err &
KPID=$!
for _ in $(seq 100); do [ -S keyd.sock ] && break; sleep 0.05; done
S=(--socket keyd.sock --source-ip 10.0.0.7 --location US --principal 'Employee::"alice"')
"$W" access "${S[@]}" --action register --user u1 --jurisdiction US --purpose t >/dev/null 2>&1 || fail "register"
"$W" access "${S[@]}" --action write --user u1 --collection messages --id m1 --purpose t \
    --document '{"title":"t","body":"hsm secret"}' >/dev/null 2>&1 || fail "write"
"$W" access "${S[@]}" --action read --user u1 --collection messages --id m1 --purpose t >r1.json 2>/dev/null || fail "read"
grep -q 'hsm secret' r1.json || fail "read: $(cat r1.json)"
"$W" keyd status --socket keyd.sock | grep -q '"key_id": "warden-kek-texas"' || fail "status key id"
"$W" keys rotate --socket keyd.sock >rot.json 2>/dev/null || fail "rotate"
grep -q '"kek_version": 2' rot.json && grep -q '"rewrapped": 1' rot.json || fail "rotate: $(cat rot.json)"
"$W" access "${S[@]}" --action read --user u1 --collection messages --id m1 --purpose t >r2.json 2>/dev/null || fail "read 2"
grep -q 'hsm secret' r2.json || fail "read after rotate: $(cat r2.json)"
kill -TERM "$KPID"; wait "$KPID" || fail "keyd exit"; KPID=
# a restarted keyd finds both versions on the token
"$W" keyd --config keyd.json 2>>keyd.err &
KPID=$!
for _ in $(seq 100); do [ -S keyd.sock ] && break; sleep 0.05; done
"$W" access "${S[@]}" --action read --user u1 --collection messages --id m1 --purpose t >r3.json 2>/dev/null || fail "read 3"
grep -q 'hsm secret' r3.json || fail "read after restart: $(cat r3.json)"
echo ok
