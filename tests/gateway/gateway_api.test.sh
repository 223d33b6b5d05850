#!/bin/bash
# Drives a real `warden gateway` in front of a real keyd with real curl: tokens (missing,
# malformed, expired, not yet valid, wrong audience, issuer or key), end-user writes with
# auto-registration and reads, employee reads decided by Cedar on the location and site
# derived from distinct 127/8 source addresses, the required purpose, residency redirects,
# X-Forwarded-For from untrusted and trusted peers, body limits, malformed JSON, unknown
# routes and methods, shredding (410), the log under /log/ (verified by `warden log verify`
# over HTTP), /metrics, /healthz, /readyz, concurrency and a clean SIGTERM.
. "${WARDEN_SOURCE_DIR:?}/tests/gateway/lib.sh"

start_keyd
start_gateway texas gw --threads 4 --max-body 4096
start_gateway singapore sg

U1=$(tok user u1 US) || fail "issue u1"
USG=$(tok user s1 SG) || fail "issue s1"
ALICE=$(tok employee alice) || fail "issue alice"
BOB=$(tok employee bob) || fail "issue bob"
MAL=$(tok employee mallory) || fail "issue mallory"
AU=(-H "Authorization: Bearer $U1")

# ---- liveness and readiness
expect healthz 200 "$(req hz "$TX/healthz")"
expect "healthz body" alive "$(jget hz.json 'j["status"]')"
expect readyz 200 "$(req rz "$TX/readyz")"
expect "readyz region" texas "$(jget rz.json 'j["region"]')"
expect "singapore readyz without keyd" 503 "$(req rz2 "$SG/readyz")"
expect "readyz error kind" unavailable "$(jget rz2.json 'j["kind"]')"

# ---- authentication: each failure is 401 with a JSON error and WWW-Authenticate
URL=$TX/v1/me/messages/m1
expect "no token" 401 "$(req a1 "$URL")"
expect "no token kind" unauthenticated "$(jget a1.json 'j["kind"]')"
grep -qi '^WWW-Authenticate: Bearer' a1.h || fail "no WWW-Authenticate header"
expect "not bearer" 401 "$(req a2 -H 'Authorization: Basic dTpw' "$URL")"
expect "garbage token" 401 "$(req a3 -H 'Authorization: Bearer abc.def.ghi' "$URL")"
expect "expired token" 401 "$(req a4 -H "Authorization: Bearer $(tok user u1 US "" "" -7200 3600)" "$URL")"
grep -qi expired a4.json || fail "expired token message: $(cat a4.json)"
expect "future token" 401 "$(req a5 -H "Authorization: Bearer $(tok user u1 US "" "" 7200 3600)" "$URL")"
expect "wrong audience" 401 "$(req a6 -H "Authorization: Bearer $(tok user u1 US "" other-aud)" "$URL")"
grep -qi audience a6.json || fail "audience message: $(cat a6.json)"
expect "wrong issuer" 401 "$(req a7 -H "Authorization: Bearer $(tok user u1 US https://evil.test)" "$URL")"
expect "wrong key" 401 "$(req a8 -H "Authorization: Bearer $(tok user u1 US "" "" 0 3600 other.key)" "$URL")"
# a token 55 s past exp is inside the 60 s leeway; used once (and cached) it must still die
# when the leeway ends: verified tokens are cached only inside [nbf, exp)
NEAR=$(tok user u1 US "" "" -3655 3600)
st=$(req a12 -H "Authorization: Bearer $NEAR" "$URL")
[ "$st" != 401 ] || fail "token inside the leeway refused: $(cat a12.json)"
sleep 6
expect "token after the leeway" 401 "$(req a13 -H "Authorization: Bearer $NEAR" "$URL")"
# change one signature character well inside (the last one carries padding bits)
c=${U1: -10:1}
[ "$c" = A ] && r=B || r=A
BAD="${U1:0:${#U1}-10}$r${U1: -9}"
[ "$BAD" != "$U1" ] && [ ${#BAD} = ${#U1} ] || fail "tampering"
expect "tampered token" 401 "$(req a9 -H "Authorization: Bearer $BAD" "$URL")"
grep -q "$U1" a9.json && fail "token echoed in an error"
expect "user token on employee route" 403 "$(req a10 "${AU[@]}" -H 'Warden-Purpose: x' "$TX/v1/users/u1/messages/m1")"
expect "employee token on user route" 403 "$(req a11 -H "Authorization: Bearer $ALICE" "$URL")"

# ---- routes and methods
expect "unknown route" 404 "$(req r1 "${AU[@]}" "$TX/v1/nope")"
expect "unknown route kind" not_found "$(jget r1.json 'j["kind"]')"
expect "wrong method" 405 "$(req r2 "${AU[@]}" -X POST "$URL")"
expect "Allow header" "GET, PUT, DELETE" "$(hdr r2.h Allow)"
expect "bad collection name" 400 "$(req r3 "${AU[@]}" "$TX/v1/me/bad%24coll/m1")"
expect "escaped slash" 400 "$(req r4 "${AU[@]}" "$TX/v1/me/messages/a%2Fb")"
expect "trailing slash" 404 "$(req r5 "${AU[@]}" "$TX/v1/me/messages/m1/")"

# ---- end user: first PUT registers, then writes
DOC='{"title":"hello","body":"secret text","author":{"name":"Ann","phone":"555"}}'
st=$(req p1 "${AU[@]}" -X PUT -H 'Content-Type: application/json' --data-binary "$DOC" "$URL")
expect "first PUT" 200 "$st"
expect "first PUT decision" allow "$(jget p1.json 'j["decision"]')"
expect "first PUT version" 1 "$(jget p1.json 'j["version"]')"
RID=$(hdr p1.h Warden-Request-Id)
[[ "$RID" =~ ^gw-[0-9a-f]{24}$ ]] || fail "request id header '$RID'"
expect "request id in body" "$RID" "$(jget p1.json 'j["request_id"]')"
st=$(req p2 "${AU[@]}" -X PUT --data-binary "$DOC" "$URL")
expect "second PUT version" 2 "$(jget p2.json 'j["version"]')"
expect "GET own record" 200 "$(req g1 "${AU[@]}" "$URL")"
expect "own record body" "secret text" "$(jget g1.json 'j["document"]["body"]')"
expect "own record withheld" "[]" "$(jget g1.json 'j["withheld"]')"
expect "no-store" no-store "$(hdr g1.h Cache-Control)"
expect "content type" application/json "$(hdr g1.h Content-Type)"
expect "unknown record" 404 "$(req g2 "${AU[@]}" "$TX/v1/me/messages/nope")"
expect "unknown record kind" not_found "$(jget g2.json 'j["kind"]')"
expect "unknown collection" 404 "$(req g3 "${AU[@]}" "$TX/v1/me/no_such_collection/m1")"
expect "export" 200 "$(req e1 "${AU[@]}" "$TX/v1/me/export")"
expect "export count" 1 "$(jget e1.json 'len(j["records"])')"
expect "malformed JSON" 400 "$(req m1 "${AU[@]}" -X PUT --data-binary '{"a":' "$URL")"
grep -q '"body:1:' m1.json || fail "malformed JSON message lacks its position: $(cat m1.json)"
expect "JSON array body" 400 "$(req m2 "${AU[@]}" -X PUT --data-binary '[1,2]' "$URL")"
expect "duplicate keys" 400 "$(req m3 "${AU[@]}" -X PUT --data-binary '{"a":1,"a":2}' "$URL")"
head -c 5000 /dev/zero | tr '\0' 'a' | sed 's/^/{"t":"/; s/$/"}/' >big.json
expect "oversized body" 413 "$(req m4 "${AU[@]}" -X PUT --data-binary @big.json "$URL")"
expect "oversized kind" too_large "$(jget m4.json 'j["kind"]')"
expect "oversized chunked body" 413 "$(req m5 "${AU[@]}" -X PUT -H 'Transfer-Encoding: chunked' \
    --data-binary @big.json "$URL")"
expect "record unchanged" 2 "$(req g4 "${AU[@]}" "$URL" >/dev/null; jget g4.json 'j["version"]')"

# ---- residency: a user is sent home before any keyd is asked
st=$(req rd1 "${AU[@]}" "$SG/v1/me/messages/m1?x=1&y=%2F")
expect "US user at singapore" 307 "$st"
expect "redirect target" "$TX/v1/me/messages/m1?x=1&y=%2F" "$(hdr rd1.h Location)"
expect "redirect PUT" 307 "$(req rd2 "${AU[@]}" -X PUT --data-binary "$DOC" "$SG/v1/me/messages/m9")"
expect "SG user at texas" 307 "$(req rd3 -H "Authorization: Bearer $USG" "$TX/v1/me/export")"
expect "SG redirect target" "$SG/v1/me/export" "$(hdr rd3.h Location)"
st=$(curl -s -o follow.json -w "%{http_code}" --location-trusted "${AU[@]}" "$SG/v1/me/messages/m1")
expect "following the redirect" 200 "$st"

# ---- employees: purpose required; decisions on the location derived from the source
E="$TX/v1/users/u1/messages/m1"
expect "missing purpose" 400 "$(req x1 -H "Authorization: Bearer $ALICE" "$E")"
grep -q Warden-Purpose x1.json || fail "missing purpose message: $(cat x1.json)"
expect "bad purpose" 400 "$(req x2 -H "Authorization: Bearer $ALICE" -H 'Warden-Purpose: a"b' "$E")"
AL=(-H "Authorization: Bearer $ALICE" -H 'Warden-Purpose: support')
expect "alice on the custodian network" 200 "$(req x3 --interface 127.0.2.5 "${AL[@]}" "$E")"
expect "alice gets the body" "secret text" "$(jget x3.json 'j["document"]["body"]')"
expect "alice from China" 403 "$(req x4 --interface 127.0.1.5 "${AL[@]}" "$E")"
expect "deny decision" deny "$(jget x4.json 'j["decision"]')"
grep -q secret x4.json && fail "denied answer carries data"
expect "alice from an unknown network" 403 "$(req x5 "${AL[@]}" "$E")"
BO=(-H "Authorization: Bearer $BOB" -H 'Warden-Purpose: moderation')
expect "bob (trust) from China" 200 "$(req x6 --interface 127.0.1.7 "${BO[@]}" "$E")"
expect "bob partial" partial "$(jget x6.json 'j["decision"]')"
grep -q secret x6.json && fail "bob got a protected field"
jget x6.json 'j["withheld"]' | grep -q "/body" || fail "bob: /body not listed as withheld"
expect "mallory" 403 "$(req x7 --interface 127.0.1.8 -H "Authorization: Bearer $MAL" \
    -H 'Warden-Purpose: support' "$E")"
expect "ads purpose" 403 "$(req x8 --interface 127.0.2.5 -H "Authorization: Bearer $ALICE" \
    -H 'Warden-Purpose: ads' "$E")"
expect "user not held here" 404 "$(req x9 --interface 127.0.2.5 "${AL[@]}" "$TX/v1/users/nobody/messages/m1")"
grep -q "not held in region texas" x9.json || fail "unknown user message: $(cat x9.json)"
expect "employee export" 200 "$(req x10 --interface 127.0.2.5 "${AL[@]}" "$TX/v1/users/u1/export")"
# site: deleting needs the custodian site, a US office is not enough
expect "delete from a US office" 403 "$(req d1 --interface 127.0.3.9 "${AL[@]}" -X DELETE "$E")"
I=$(jget x3.json 'j["log_index"]')
entry=$(log_entry "$I")
python3 -c 'import json,sys; e=json.loads(sys.argv[1]); assert e["source"]=="127.0.2.5" and e["site"]=="custodian-dc" and e["location"]=="US" and e["context"]["site"]=="custodian-dc", e' "$entry" ||
    fail "entry $I does not record source and site"
expect "entry request id" "$(hdr x3.h Warden-Request-Id)" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["request_id"])' "$entry")"

# ---- X-Forwarded-For: ignored from an untrusted peer, honoured from the trusted proxy
expect "spoofed XFF" 403 "$(req f1 --interface 127.0.1.5 -H 'X-Forwarded-For: 127.0.2.9' "${AL[@]}" "$E")"
entry=$(log_entry "$(jget f1.json 'j["log_index"]')")
python3 -c 'import json,sys; e=json.loads(sys.argv[1]); assert e["source"]=="127.0.1.5" and e["location"]=="CN", e' "$entry" ||
    fail "spoofed XFF was used: $entry"
expect "XFF via trusted proxy" 200 "$(req f2 --interface 127.0.4.1 \
    -H 'X-Forwarded-For: 127.0.1.1, 127.0.2.9' "${AL[@]}" "$E")"
entry=$(log_entry "$(jget f2.json 'j["log_index"]')")
python3 -c 'import json,sys; e=json.loads(sys.argv[1]); assert e["source"]=="127.0.2.9" and e["site"]=="custodian-dc", e' "$entry" ||
    fail "trusted XFF not used: $entry"
expect "XFF chain: right-most untrusted wins" 403 "$(req f3 --interface 127.0.4.1 \
    -H 'X-Forwarded-For: 127.0.2.9, 127.0.1.1' "${AL[@]}" "$E")"
expect "garbage XFF via proxy" 403 "$(req f4 --interface 127.0.4.1 -H 'X-Forwarded-For: nonsense' \
    "${AL[@]}" "$E")"
entry=$(log_entry "$(jget f4.json 'j["log_index"]')")
python3 -c 'import json,sys; e=json.loads(sys.argv[1]); assert e["source"]=="0.0.0.0" and e["location"]=="unknown", e' "$entry" ||
    fail "garbage XFF: $entry"

# ---- deleting from the custodian site works; then the record is gone
expect "delete at the custodian" 200 "$(req d2 --interface 127.0.2.5 "${AL[@]}" -X DELETE "$E")"
expect "deleted record" 404 "$(req d3 "${AU[@]}" "$URL")"
expect "user deletes own" 404 "$(req d4 "${AU[@]}" -X DELETE "$URL")"
expect "PUT again" 200 "$(req p3 "${AU[@]}" -X PUT --data-binary "$DOC" "$URL")"

# ---- concurrency: 320 reads from 16 parallel clients, in keep-alive pairs
seq 160 | xargs -P 16 -I{} sh -c "curl -s -o /dev/null -o /dev/null -w '%{http_code}\n' \
    -H 'Authorization: Bearer $U1' '$URL' '$URL'" >conc.txt
expect "concurrent answers" 320 "$(wc -l <conc.txt)"
expect "concurrent 200s" 320 "$(grep -c "^200$" conc.txt)"

# ---- the log: checkpoint not cached, full tiles immutable, nothing outside the layout
expect "checkpoint" 200 "$(req l1 "$TX/log/checkpoint")"
expect "checkpoint cache" no-cache "$(hdr l1.h Cache-Control)"
SIZE=$(sed -n 2p l1.json)
[ "$SIZE" -ge 256 ] || fail "log has only $SIZE entries"
expect "full entry bundle" 200 "$(req l2 "$TX/log/tile/entries/000")"
hdr l2.h Cache-Control | grep -q immutable || fail "full bundle not immutable"
expect "HEAD tile" 200 "$(curl -s -o /dev/null -w '%{http_code}' -I "$TX/log/tile/0/000")"
expect "tile past the checkpoint" 404 "$(req l3 "$TX/log/tile/0/999")"
expect "traversal" 404 "$(req l4 --path-as-is "$TX/log/../texas/keyd.json")"
expect "escaped traversal" 404 "$(req l5 "$TX/log/%2e%2e/keyd.json")"
expect "journal not served" 404 "$(req l6 "$TX/log/journal")"
expect "log POST" 405 "$(req l7 -X POST "$TX/log/checkpoint")"
VK=$("$W" log vkey --key texas/log.key) || fail "vkey"
"$W" log verify --url "$TX/log" --vkey "$VK" >verify.out 2>&1 || fail "log verify over HTTP: $(cat verify.out)"

# ---- shredding: reads answer 410 Gone
"$W" keys shred --socket texas/keyd.sock --user u1 >/dev/null 2>&1 || fail "shred"
expect "shredded read" 410 "$(req s1 "${AU[@]}" "$URL")"
expect "shredded kind" key_destroyed "$(jget s1.json 'j["kind"]')"
grep -q secret s1.json && fail "shredded data released"
expect "shredded employee read" 410 "$(req s2 --interface 127.0.2.5 "${AL[@]}" "$E")"

# ---- metrics
expect metrics 200 "$(req mt "$TX/metrics")"
grep -q '^warden_gateway_requests_total{route="me_record",status="200"} [1-9]' mt.json ||
    fail "metrics: no me_record 200s"
grep -q '^warden_gateway_requests_total{route="user_record",status="403"} [1-9]' mt.json ||
    fail "metrics: no user_record 403s"
grep -q '^warden_gateway_decisions_total{decision="deny"} [1-9]' mt.json || fail "metrics: denials"
grep -q '^warden_gateway_outcomes_total{outcome="key_destroyed"} [1-9]' mt.json ||
    fail "metrics: key_destroyed"
grep -q '^warden_gateway_redirects_total 1$' mt.json || fail "texas redirected someone else than the SG user"
grep -q '^warden_gateway_request_duration_seconds_bucket{route="me_record",le="+Inf"} [1-9]' mt.json ||
    fail "metrics: no latency histogram"
grep -q "^warden_log_size{region=\"texas\"} [1-9]" mt.json || fail "metrics: log size"
grep -q '^warden_gateway_redirects_total [1-9]' <(curl -s "$SG/metrics") || fail "sg redirects"

# ---- keyd restarts: down is 503, then the pooled connections are replaced transparently
kill -TERM "$KPID"; wait "$KPID"; KPID=
expect "readyz with keyd down" 503 "$(req k1 "$TX/readyz")"
expect "read with keyd down" 503 "$(req k2 "${AU[@]}" "$URL")"
expect "keyd down kind" unavailable "$(jget k2.json 'j["kind"]')"
start_keyd
for i in 1 2 3 4; do
    expect "readyz after keyd restart ($i)" 200 "$(req k3 "$TX/readyz")"
    expect "read after keyd restart ($i)" 410 "$(req k4 "${AU[@]}" "$URL")"
done

# ---- SIGTERM stops the gateway cleanly; keyd's log re-runs offline
kill -TERM "$GPID"
wait "$GPID"
st=$?
GPID=
expect "gateway exit status" 0 "$st"
curl -s -o /dev/null --max-time 2 "$TX/healthz" && fail "gateway still answers after SIGTERM"
kill -TERM "$KPID"; wait "$KPID"; KPID=
out=$("$W" keyd check --log texas/log --archive texas/log.policysets --vkey "$VK") ||
    fail "keyd check: $out"
echo ok
