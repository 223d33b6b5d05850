#!/usr/bin/env bash
# The `warden token` contract: keygen makes a 0600 key and prints its public half, issue
# prints one token, verify prints the claims or which check failed (exit 1), and the
# cluster file can stand in for issuer, audience and public key.
set -u
W=${WARDEN_BINARY:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
check() { # name, condition
    if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi
}
ISS=https://id.example
AUD=warden

"$W" token keygen --key "$T/issuer.pem" >"$T/issuer.pub"
rc=$?
check "keygen exits 0" '[ $rc -eq 0 ]'
check "key file is 0600" '[ "$(stat -c %a "$T/issuer.pem")" = 600 ]'
check "keygen prints the public key" 'grep -q "BEGIN PUBLIC KEY" "$T/issuer.pub"'
check "the private key is not printed" '! grep -q PRIVATE "$T/issuer.pub"'
"$W" token pubkey --key "$T/issuer.pem" >"$T/again.pub"
check "pubkey prints the same key" 'cmp -s "$T/issuer.pub" "$T/again.pub"'
"$W" token keygen --key "$T/issuer.pem" >/dev/null 2>"$T/err"
rc=$?
check "keygen never overwrites" '[ $rc -eq 1 ] && grep -q "exists" "$T/err"'

"$W" token issue --kind user --subject u-1001 --ttl 1h --key "$T/issuer.pem" \
    --issuer "$ISS" --audience "$AUD" --jurisdiction US >"$T/user.tok"
rc=$?
check "issue exits 0" '[ $rc -eq 0 ]'
check "one line, three base64url parts" \
    '[ "$(wc -l <"$T/user.tok")" -eq 1 ] && grep -Eq "^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$" "$T/user.tok"'
"$W" token verify --pubkey "$T/issuer.pub" --issuer "$ISS" --audience "$AUD" \
    <"$T/user.tok" >"$T/claims" 2>"$T/err"
rc=$?
check "verify accepts it" '[ $rc -eq 0 ] && [ ! -s "$T/err" ]'
check "claims: kind, sub, jur" \
    'grep -q "\"kind\": \"user\"" "$T/claims" && grep -q "\"sub\": \"u-1001\"" "$T/claims" && grep -q "\"jur\": \"US\"" "$T/claims"'
check "claims: exp = iat + 3600" \
    '[ $(( $(sed -n "s/.*\"exp\": \([0-9]*\).*/\1/p" "$T/claims") - $(sed -n "s/.*\"iat\": \([0-9]*\).*/\1/p" "$T/claims") )) -eq 3600 ]'

"$W" token verify --pubkey "$T/issuer.pub" --issuer "$ISS" --audience other \
    <"$T/user.tok" >"$T/out" 2>"$T/err"
rc=$?
check "wrong audience rejected" '[ $rc -eq 1 ] && grep -q "wrong audience" "$T/err" && [ ! -s "$T/out" ]'
"$W" token verify --pubkey "$T/issuer.pub" --issuer https://evil.example --audience "$AUD" \
    <"$T/user.tok" 2>"$T/err" >/dev/null
rc=$?
check "wrong issuer rejected" '[ $rc -eq 1 ] && grep -q "wrong issuer" "$T/err"'
check "the error does not echo the token" '! grep -qF "$(cut -d. -f2 "$T/user.tok")" "$T/err"'

"$W" token keygen --key "$T/other.pem" >"$T/other.pub"
"$W" token verify --pubkey "$T/other.pub" --issuer "$ISS" --audience "$AUD" \
    <"$T/user.tok" 2>"$T/err" >/dev/null
rc=$?
check "another key's token rejected" '[ $rc -eq 1 ] && grep -q "signature does not verify" "$T/err"'

"$W" token issue --kind employee --subject alice --ttl 1s --key "$T/issuer.pem" \
    --issuer "$ISS" --audience "$AUD" >"$T/short.tok"
sleep 2
"$W" token verify --pubkey "$T/issuer.pub" --issuer "$ISS" --audience "$AUD" --leeway 0 \
    <"$T/short.tok" 2>"$T/err" >/dev/null
rc=$?
check "expired token rejected" '[ $rc -eq 1 ] && grep -q "expired" "$T/err"'
"$W" token verify --pubkey "$T/issuer.pub" --issuer "$ISS" --audience "$AUD" --leeway 60 \
    <"$T/short.tok" >"$T/claims" 2>/dev/null
rc=$?
check "within the leeway it is accepted" '[ $rc -eq 0 ] && grep -q "\"kind\": \"employee\"" "$T/claims" && ! grep -q jur "$T/claims"'

chmod 640 "$T/issuer.pem"
"$W" token issue --kind employee --subject alice --ttl 1h --key "$T/issuer.pem" \
    --issuer "$ISS" --audience "$AUD" >"$T/out" 2>"$T/err"
rc=$?
check "group-readable private key refused" '[ $rc -eq 1 ] && grep -q "chmod 600" "$T/err" && [ ! -s "$T/out" ]'
chmod 600 "$T/issuer.pem"

"$W" token issue --kind user --subject u --ttl 1h --key "$T/issuer.pem" --issuer "$ISS" \
    --audience "$AUD" >/dev/null 2>"$T/err"
check "user token without jurisdiction is a usage error" '[ $? -eq 2 ] && grep -q jurisdiction "$T/err"'
"$W" token issue --kind admin --subject u --ttl 1h --key "$T/issuer.pem" --issuer "$ISS" \
    --audience "$AUD" >/dev/null 2>&1
check "unknown kind is a usage error" '[ $? -eq 2 ]'
for ttl in 0 1x -5 h 367d; do
    "$W" token issue --kind employee --subject u --ttl "$ttl" --key "$T/issuer.pem" \
        --issuer "$ISS" --audience "$AUD" >/dev/null 2>&1
    check "ttl '$ttl' refused" '[ $? -eq 2 ]'
done
printf 'not.a.token' | "$W" token verify --pubkey "$T/issuer.pub" --issuer "$ISS" \
    --audience "$AUD" >/dev/null 2>"$T/err"
check "garbage rejected" '[ $? -eq 1 ] && grep -q "token:" "$T/err"'

# The cluster file supplies issuer, audience and the public key.
cat >"$T/cluster.json" <<JSON
{"issuer": "$ISS", "audience": "$AUD", "token_key": "issuer.pub",
 "networks": "networks.csv",
 "regions": [{"name": "texas", "role": "custodian", "jurisdictions": ["US"],
              "url": "http://127.0.0.1:8401", "keyd": "texas/keyd.json"}]}
JSON
"$W" token issue --kind user --subject u-7 --ttl 10m --key "$T/issuer.pem" \
    --cluster "$T/cluster.json" --jurisdiction US >"$T/c.tok"
check "issue with --cluster" '[ $? -eq 0 ]'
"$W" token verify --cluster "$T/cluster.json" <"$T/c.tok" >"$T/claims" 2>"$T/err"
rc=$?
check "verify with --cluster" '[ $rc -eq 0 ] && grep -q "\"iss\": \"$ISS\"" "$T/claims"'

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all token CLI checks passed"
