#!/bin/bash
# The gateway over TLS (libmicrohttpd with GnuTLS): a self-signed certificate made with the
# openssl CLI, curl verifying it, an authorized write and read over HTTPS, plain HTTP refused
# on the TLS port, and the start-up errors for a missing key or mismatched files.
. "${WARDEN_SOURCE_DIR:?}/tests/gateway/lib.sh"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout tls.key -out tls.crt >/dev/null 2>&1 || fail "openssl req"
chmod 600 tls.key
start_keyd
# a certificate without its key is a usage error, not plain HTTP
"$W" gateway --cluster cluster.json --region texas --listen 127.0.0.1:0 --tls-cert tls.crt \
    >nokey.out 2>nokey.err && fail "started with a certificate and no key"
grep -q "both a certificate and a key" nokey.err || fail "no-key message: $(cat nokey.err)"
"$W" gateway --cluster cluster.json --region texas --listen 127.0.0.1:0 --tls-cert tls.crt \
    --tls-key tls.crt >bad.out 2>bad.err && fail "started with a certificate as its key"
start_gateway texas gw --tls-cert tls.crt --tls-key tls.key
HTTPS=https://127.0.0.1:$PT
expect "healthz over TLS" 200 "$(req hz --cacert tls.crt "$HTTPS/healthz")"
U1=$(tok user u1 US) || fail token
DOC='{"title":"over tls","body":"secret"}'
expect "PUT over TLS" 200 "$(req p --cacert tls.crt -H "Authorization: Bearer $U1" -X PUT \
    --data-binary "$DOC" "$HTTPS/v1/me/messages/t1")"
expect "GET over TLS" 200 "$(req g --cacert tls.crt -H "Authorization: Bearer $U1" \
    "$HTTPS/v1/me/messages/t1")"
expect "body over TLS" secret "$(jget g.json 'j["document"]["body"]')"
st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PT/healthz")
[ "$st" = 000 ] || [ "${st:0:1}" = 4 ] || fail "plain HTTP on the TLS port answered $st"
curl -s -o /dev/null --max-time 5 "$HTTPS/healthz" && fail "curl trusted an unknown certificate"
kill -0 "$GPID" || fail "gateway died"
echo ok
