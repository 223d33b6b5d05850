#!/usr/bin/env bash
# Tamper tests for `warden log verify` and `warden log serve`: every way of damaging
# a log directory (flipped byte in a bundle, full tile, partial tile, level-1 tile,
# checkpoint body, signature; truncated tile; dropped bundle or tile; extra, missing
# or reordered entries; a validly signed checkpoint that lies) must be rejected with a
# non-zero exit and a message naming the damaged file or index. Then the same over
# HTTP: verify --url against `warden log serve` (intact: ok; tampered: rejected), and
# serve's headers, 404s, path traversal attempts and 405 on POST, with curl.
source "$(dirname "$0")/tlog_lib.sh"

ORIGIN="example.com/warden-tamper"
KEY="$T/keys/log.key"
GOOD="$T/good"
N=600 # bundles 000, 001, 002.p/88; tiles 0/000, 0/001, 0/002.p/88, 1/000.p/2

expect_ok "init" "$W" log init --dir "$GOOD" --origin "$ORIGIN" --key "$KEY"
expect_ok "vkey" "$W" log vkey --key "$KEY"
cp "$T/out" "$T/vkey"
# Two appends, so that the log also holds whatever a second batch leaves behind.
seq 0 399 | sed 's/^/tamper-entry-/' >"$T/b1"
seq 400 $((N - 1)) | sed 's/^/tamper-entry-/' >"$T/b2"
expect_ok "append 1" "$W" log append --dir "$GOOD" --key "$KEY" <"$T/b1"
expect_ok "append 2" "$W" log append --dir "$GOOD" --key "$KEY" <"$T/b2"
expect_ok "verify intact" "$W" log verify --dir "$GOOD" --vkey "$T/vkey"
grep -qx "ok $N entries" "$T/out" || die "intact log: $(cat "$T/out")"
for f in checkpoint tile/entries/000 tile/entries/001 tile/entries/002.p/88 tile/0/000 \
    tile/0/001 tile/0/002.p/88 tile/1/000.p/2; do
    [ -f "$GOOD/$f" ] || die "expected layout file $f is missing"
done
pass

# fresh: a writable copy of the intact log in $D.
fresh() {
    D="$T/bad"
    rm -rf "$D"
    cp -a "$GOOD" "$D"
}

# flip FILE OFFSET: XOR one byte (negative OFFSET counts from the end).
flip() {
    python3 - "$1" "$2" <<'EOF'
import sys
p, off = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read())
b[off] ^= 0x01
open(p, "wb").write(bytes(b))
EOF
}

# entry_offset BUNDLE K: byte offset of entry K's data (after its length prefix).
entry_offset() {
    python3 - "$1" "$2" <<'EOF'
import sys
b = open(sys.argv[1], "rb").read()
off, k = 0, int(sys.argv[2])
for _ in range(k):
    off += 2 + int.from_bytes(b[off:off + 2], "big")
print(off + 2)
EOF
}

# rejects DESC PATTERN: verify of $D must fail, naming the place (PATTERN).
rejects() {
    expect_fail "$1" "$2" "$W" log verify --dir "$D" --vkey "$T/vkey"
}

# Entry bundles.
fresh; flip "$D/tile/entries/001" "$(entry_offset "$D/tile/entries/001" 44)"
rejects "flipped byte in entry 300" "tile/entries/001|\b300\b"
fresh; flip "$D/tile/entries/000" 0
rejects "flipped length prefix of entry 0" "tile/entries/000"
fresh; flip "$D/tile/entries/002.p/88" -1
rejects "flipped byte in partial bundle" "tile/entries/002\.p/88|\b599\b"
fresh; rm "$D/tile/entries/001"
rejects "dropped bundle" "tile/entries/001"
fresh; rm "$D/tile/entries/002.p/88"
rejects "dropped partial bundle" "tile/entries/002\.p/88"
fresh; printf '\000\003abc' >>"$D/tile/entries/000"
rejects "extra entry in a full bundle" "tile/entries/000"
fresh; printf '\000\003abc' >>"$D/tile/entries/002.p/88"
rejects "extra entry in a partial bundle" "tile/entries/002\.p/88"
fresh; printf '\000' >>"$D/tile/entries/001"
rejects "trailing garbage byte in a bundle" "tile/entries/001"
fresh; head -c -5 "$GOOD/tile/entries/001" >"$D/tile/entries/001"
rejects "truncated bundle" "tile/entries/001"
fresh; python3 - "$D/tile/entries/000" <<'EOF'
import sys
p = sys.argv[1]
b = open(p, "rb").read()
es, off = [], 0
while off < len(b):
    n = int.from_bytes(b[off:off + 2], "big")
    es.append(b[off:off + 2 + n]); off += 2 + n
es[10], es[11] = es[11], es[10]
open(p, "wb").write(b"".join(es))
EOF
rejects "two entries swapped" "tile/entries/000|\b1[01]\b"

# Hash tiles.
fresh; flip "$D/tile/0/001" $((32 * 17 + 5))
rejects "flipped byte in full tile" "tile/0/001"
fresh; flip "$D/tile/0/002.p/88" $((32 * 87))
rejects "flipped byte in partial tile" "tile/0/002\.p/88"
fresh; flip "$D/tile/1/000.p/2" 3
rejects "flipped byte in level-1 tile" "tile/1/000\.p/2"
fresh; head -c 8191 "$GOOD/tile/0/000" >"$D/tile/0/000"
rejects "truncated full tile" "tile/0/000"
fresh; head -c $((32 * 87)) "$GOOD/tile/0/002.p/88" >"$D/tile/0/002.p/88"
rejects "truncated partial tile" "tile/0/002\.p/88"
fresh; cat "$GOOD/tile/0/000" "$GOOD/tile/0/000" | head -c 8224 >"$D/tile/0/000"
rejects "over-long tile" "tile/0/000"
fresh; rm "$D/tile/0/001"
rejects "dropped hash tile" "tile/0/001"
fresh; rm "$D/tile/1/000.p/2"
rejects "dropped level-1 tile" "tile/1/000\.p/2"

# Checkpoint: body and signature.
sigline() { grep -n '^— ' "$1" | head -1 | cut -d: -f1; }
fresh; sed -i "2s/.*/$((N - 1))/" "$D/checkpoint"
rejects "checkpoint size changed" "checkpoint"
fresh; python3 - "$D/checkpoint" <<'EOF'
import sys
p = sys.argv[1]
lines = open(p, "rb").read().split(b"\n")
r = bytearray(lines[2]); r[0] = ord("A") if r[0] != ord("A") else ord("B")
lines[2] = bytes(r)
open(p, "wb").write(b"\n".join(lines))
EOF
rejects "checkpoint root changed" "checkpoint"
fresh; sed -i "1s/.*/example.com\/other-origin/" "$D/checkpoint"
rejects "checkpoint origin changed" "checkpoint"
fresh; python3 - "$D/checkpoint" <<'EOF'
import sys, base64
p = sys.argv[1]
lines = open(p, "rb").read().split(b"\n")
for i, l in enumerate(lines):
    if l.startswith("\u2014 ".encode()):
        name, sig = l.rsplit(b" ", 1)
        s = bytearray(base64.b64decode(sig)); s[10] ^= 1
        lines[i] = name + b" " + base64.b64encode(bytes(s))
        break
open(p, "wb").write(b"\n".join(lines))
EOF
rejects "flipped signature byte" "checkpoint"
fresh; python3 - "$D/checkpoint" <<'EOF'
import sys, base64
p = sys.argv[1]
lines = open(p, "rb").read().split(b"\n")
for i, l in enumerate(lines):
    if l.startswith("\u2014 ".encode()):
        name, sig = l.rsplit(b" ", 1)
        s = bytearray(base64.b64decode(sig)); s[0] ^= 1
        lines[i] = name + b" " + base64.b64encode(bytes(s))
open(p, "wb").write(b"\n".join(lines))
EOF
rejects "signature key hash changed" "checkpoint"
fresh; head -c -20 "$GOOD/checkpoint" >"$D/checkpoint"
rejects "truncated checkpoint" "checkpoint"
fresh; rm "$D/checkpoint"
rejects "no checkpoint" "checkpoint"

# A checkpoint that is validly signed (with the log's own key) but lies: the tiles
# and bundles must still be checked against it.
build_tlogcheck
liar() {
    python3 - "$GOOD/checkpoint" "$T/liar.body" "$1" "$2" <<'EOF'
import sys
src, dst, line, val = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
body = open(src, "rb").read().split(b"\n\n")[0].split(b"\n")
body[line] = val.encode()
open(dst, "wb").write(b"\n".join(body) + b"\n\n")
EOF
    "$TLOGCHECK" sign -in "$T/liar.body" -skey "$KEY" -out "$D/checkpoint" || die "re-signing failed"
}
fresh; liar 2 "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
rejects "signed checkpoint with a wrong root" "root|checkpoint"
fresh; liar 1 $((N + 1))
rejects "signed checkpoint claiming one entry more" "tile/entries/002\.p/89|\b$N\b"
fresh; liar 1 $((N - 1))
expect_fail "signed checkpoint claiming one entry fewer" "root|checkpoint|tile/0/002|tile/entries/002" \
    "$W" log verify --dir "$D" --vkey "$T/vkey"

# Wrong verifier key (another log's).
expect_ok "other key" "$W" log init --dir "$T/other" --origin example.com/other --key "$T/keys/other.key"
expect_ok "other vkey" "$W" log vkey --key "$T/keys/other.key"
cp "$T/out" "$T/other.vkey"
expect_fail "verify with another log's vkey" "checkpoint|signature|key" \
    "$W" log verify --dir "$GOOD" --vkey "$T/other.vkey"

# The appender (reopen) must refuse a directory whose right edge someone else damaged,
# naming the file, and must not publish anything on top of it.
for f in tile/0/002.p/88 tile/1/000.p/2 tile/entries/002.p/88; do
    fresh; flip "$D/$f" 7
    cp "$D/checkpoint" "$T/cp.before"
    echo "one more" >"$T/one"
    expect_fail "append onto a damaged $f" "tile/|root|changed" "$W" log append --dir "$D" --key "$KEY" <"$T/one"
    cmp -s "$D/checkpoint" "$T/cp.before" || die "append published a checkpoint over a damaged $f"
    pass
done
# What an interrupted batch could leave beyond the checkpoint (files of a bigger tree)
# is not part of the published log: verify ignores it, the appender removes or
# overwrites it, and the result verifies.
fresh
printf 'garbage' >"$D/tile/entries/002.p/95"
head -c $((95 * 32)) /dev/urandom >"$D/tile/0/002.p/95"
expect_ok "verify ignores files beyond the checkpoint" "$W" log verify --dir "$D" --vkey "$T/vkey"
seq 600 609 | sed 's/^/tamper-entry-/' >"$T/b3"
expect_ok "append over leftovers beyond the checkpoint" "$W" log append --dir "$D" --key "$KEY" <"$T/b3"
expect_ok "verify after append over leftovers" "$W" log verify --dir "$D" --vkey "$T/vkey"
grep -qx "ok 610 entries" "$T/out" || die "after leftovers: $(cat "$T/out")"
for f in tile/entries/002.p/95 tile/0/002.p/95; do
    if [ -e "$D/$f" ]; then
        [ "$(stat -c %s "$D/$f")" -ne 7 ] || die "leftover $f survived unchanged"
    fi
done
pass

# Guards: the private key never lands inside the served directory; init never clobbers
# a log; one appender per log; bad origins are refused.
expect_fail "key inside the log dir" "inside the log directory|publicly" \
    "$W" log init --dir "$T/g" --origin example.com/g --key "$T/g/log.key"
[ ! -e "$T/g/log.key" ] || die "refused init still wrote $T/g/log.key"
pass
expect_fail "init over an existing log" "checkpoint|exists" \
    "$W" log init --dir "$GOOD" --origin "$ORIGIN" --key "$KEY"
expect_ok "existing log untouched by refused init" "$W" log verify --dir "$GOOD" --vkey "$T/vkey"
grep -qx "ok $N entries" "$T/out" || die "after refused init: $(cat "$T/out")"
expect_fail "origin with a space" "invalid|origin|name" \
    "$W" log init --dir "$T/g2" --origin "bad origin" --key "$T/keys/g2.key"
fresh
"$WARDEN_BUILD_DIR/tlog_crashtool" run "$D" "$KEY" "$T/holder.acks" 1 9 >/dev/null 2>&1 &
HOLDER=$!
CLEANUP_PIDS+=("$HOLDER")
for _ in $(seq 1 50); do [ -s "$T/holder.acks" ] && break; sleep 0.1; done
[ -s "$T/holder.acks" ] || die "crashtool did not start appending"
expect_fail "second appender on a locked log" "appender|lock" "$W" log append --dir "$D" --key "$KEY" <"$T/one"
kill "$HOLDER" 2>/dev/null || true
wait "$HOLDER" 2>/dev/null || true

# ---- Over HTTP ----
serve() {
    PORT="$(free_port)"
    "$W" log serve --dir "$1" --listen "127.0.0.1:$PORT" >"$T/serve.log" 2>&1 &
    SERVE_PID=$!
    CLEANUP_PIDS+=("$SERVE_PID")
    URL="http://127.0.0.1:$PORT"
    wait_http "$URL/checkpoint"
}
stop_serve() {
    kill "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
}

fresh
printf 'TOPSECRET\n' >"$T/secret.txt"
printf 'not part of the layout\n' >"$D/notes.txt"
# Files of a bigger tree (an interrupted batch's leftovers) are not published.
head -c 8192 /dev/zero >"$D/tile/0/003"
head -c $((95 * 32)) /dev/zero >"$D/tile/0/002.p/95"
printf '\000\001x' >"$D/tile/entries/002.p/95"
serve "$D"
expect_ok "verify --url intact" "$W" log verify --url "$URL" --vkey "$T/vkey"
grep -qx "ok $N entries" "$T/out" || die "verify --url: $(cat "$T/out")"

# status PATH [curl args]: HTTP status for PATH, sent as is (no client normalisation).
status() {
    local p="$1"
    shift
    curl -s --path-as-is -o "$T/body" -D "$T/headers" -w '%{http_code}' "$@" "$URL$p"
}
header() { grep -i "^$1:" "$T/headers" | tr -d '\r' | cut -d' ' -f2-; }

[ "$(status /checkpoint)" = 200 ] || die "GET /checkpoint not 200"
cmp -s "$T/body" "$D/checkpoint" || die "GET /checkpoint body differs from the file"
header cache-control | grep -qi "no-cache" || die "checkpoint Cache-Control: '$(header cache-control)'"
header content-type | grep -qi "^text/plain" || die "checkpoint Content-Type: '$(header content-type)'"
pass
for p in /tile/0/000 /tile/0/001 /tile/entries/000 /tile/entries/001; do
    [ "$(status "$p")" = 200 ] || die "GET $p not 200"
    cmp -s "$T/body" "$D$p" || die "GET $p body differs from the file"
    header cache-control | grep -qi "immutable" || die "$p Cache-Control: '$(header cache-control)'"
    header content-type | grep -qi "^application/octet-stream" || die "$p Content-Type: '$(header content-type)'"
    pass
done
for p in /tile/0/002.p/88 /tile/entries/002.p/88 /tile/1/000.p/2; do
    [ "$(status "$p")" = 200 ] || die "GET $p not 200"
    cmp -s "$T/body" "$D$p" || die "GET $p body differs from the file"
    pass
done
for p in /notes.txt /tile/0/003 /tile/0/002.p/95 /tile/entries/002.p/95 /tile/0/abc /tile/9/000 /tile/entries/000/x /nonexistent / /tile/ \
    /tile/0/ /checkpoint/x; do
    s="$(status "$p")"
    [ "$s" = 404 ] || die "GET $p: status $s, want 404"
    pass
done
for p in /../secret.txt /tile/../../secret.txt /tile/../checkpoint /%2e%2e/secret.txt \
    /tile/%2e%2e/%2e%2e/secret.txt /tile/..%2f..%2fsecret.txt /tile/0/..%2f..%2f..%2fsecret.txt \
    /tile/../../etc/passwd /../../../../etc/passwd /%2e%2e/%2e%2e/%2e%2e/etc/passwd \
    /tile/entries/%2e%2e%2f%2e%2e%2fcheckpoint //etc/passwd /./checkpoint/../secret.txt; do
    s="$(status "$p")"
    case "$s" in 400 | 403 | 404) ;; *) die "GET $p: status $s, want 400/403/404" ;; esac
    if grep -q "TOPSECRET\|root:" "$T/body"; then die "GET $p leaked a file outside the log"; fi
    pass
done
for m in POST PUT DELETE; do
    s="$(status /checkpoint -X "$m" --data x)"
    [ "$s" = 405 ] || die "$m /checkpoint: status $s, want 405"
    pass
done

# Tamper while served: verify --url names the damaged tile.
flip "$D/tile/0/001" 100
expect_fail "verify --url on a tampered tile" "tile/0/001" "$W" log verify --url "$URL" --vkey "$T/vkey"
flip "$D/tile/0/001" 100
rm "$D/tile/entries/002.p/88"
expect_fail "verify --url with a missing bundle" "tile/entries/002\.p/88" \
    "$W" log verify --url "$URL" --vkey "$T/vkey"
stop_serve
expect_fail "verify --url with nothing listening" "." "$W" log verify --url "$URL" --vkey "$T/vkey"
grep -q "Sanitizer\|runtime error" "$T/serve.log" && die "serve reported: $(cat "$T/serve.log")"

# An auditor verifying while the log grows: verify --dir and --url run in a loop while
# the appender adds entries across a tile boundary (partial tiles are superseded and
# deleted under the verifier's feet); every run must succeed.
LIVE="$T/live"
expect_ok "live init" "$W" log init --dir "$LIVE" --origin "$ORIGIN" --key "$KEY"
"$WARDEN_BUILD_DIR/tlog_crashtool" gen 0 240 >"$T/live.fill"
expect_ok "live prefill" "$W" log append --dir "$LIVE" --key "$KEY" <"$T/live.fill"
serve "$LIVE"
"$WARDEN_BUILD_DIR/tlog_crashtool" run "$LIVE" "$KEY" "$T/live.acks" 16 1 >/dev/null 2>"$T/live.err" &
LIVE_PID=$!
CLEANUP_PIDS+=("$LIVE_PID")
live_runs=0
while kill -0 "$LIVE_PID" 2>/dev/null; do
    expect_ok "verify --dir while appending" "$W" log verify --dir "$LIVE" --vkey "$T/vkey"
    expect_ok "verify --url while appending" "$W" log verify --url "$URL" --vkey "$T/vkey"
    live_runs=$((live_runs + 1))
done
wait "$LIVE_PID" || { cat "$T/live.err" >&2; die "appender failed during live verification"; }
stop_serve
[ "$live_runs" -ge 3 ] || die "only $live_runs live verification rounds"
echo "  live: $live_runs verify rounds while the log grew from 240 to $(sed -n 2p "$LIVE/checkpoint") entries"

# "Servable as-is by any static web server": nginx serves the directory, and
# verify --url must accept it, then name a tile damaged behind nginx's back.
command -v nginx >/dev/null || die "nginx is not installed (nginx-light)"
fresh
NPORT="$(free_port)"
mkdir -p "$T/nginx"
cat >"$T/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $T/nginx/body;
    proxy_temp_path $T/nginx/proxy;
    fastcgi_temp_path $T/nginx/fastcgi;
    uwsgi_temp_path $T/nginx/uwsgi;
    scgi_temp_path $T/nginx/scgi;
    server {
        listen 127.0.0.1:$NPORT;
        root $D;
    }
}
EOF
nginx -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" >/dev/null 2>&1 &
NGINX_PID=$!
CLEANUP_PIDS+=("$NGINX_PID")
URL="http://127.0.0.1:$NPORT"
wait_http "$URL/checkpoint"
expect_ok "verify --url through nginx" "$W" log verify --url "$URL" --vkey "$T/vkey"
grep -qx "ok $N entries" "$T/out" || die "verify through nginx: $(cat "$T/out")"
flip "$D/tile/0/002.p/88" 40
expect_fail "verify --url through nginx, damaged partial tile" "tile/0/002\.p/88" \
    "$W" log verify --url "$URL" --vkey "$T/vkey"
kill "$NGINX_PID" 2>/dev/null || true
wait "$NGINX_PID" 2>/dev/null || true

echo "tlog_tamper: $CHECKS checks passed"
