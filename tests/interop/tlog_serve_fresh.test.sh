#!/usr/bin/env bash
# Regression: `warden log serve` must follow every new checkpoint, even when the new file
# reuses the inode of one it saw before (ext4 does so across the appender's renames). A
# server that cached the tree size by inode kept serving the old size and 404ed new tiles.
source "$WARDEN_SOURCE_DIR/tests/interop/tlog_lib.sh"

D="$T/s"
KEY="$T/keys/k"
expect_ok "init" "$W" log init --dir "$D" --origin example.com/fresh --key "$KEY"
seq 1 300 >"$T/in"
expect_ok "append 300" "$W" log append --dir "$D" --key "$KEY" <"$T/in"

PORT="$(free_port)"
"$W" log serve --dir "$D" --listen "127.0.0.1:$PORT" >"$T/serve.log" 2>&1 &
CLEANUP_PIDS+=("$!")
URL="http://127.0.0.1:$PORT"
wait_http "$URL/checkpoint"

code="$(curl -so /dev/null -w '%{http_code}' "$URL/tile/0/001.p/44")"
[ "$code" = 200 ] || die "partial tile of size 300 not served (HTTP $code)"
pass
ln "$D/checkpoint" "$T/keep" # keep the served checkpoint's inode alive
echo a | "$W" log append --dir "$D" --key "$KEY" >/dev/null
echo b | "$W" log append --dir "$D" --key "$KEY" >/dev/null
cat "$D/checkpoint" >"$T/keep" # the newest checkpoint, in the old inode
mv "$T/keep" "$D/checkpoint"
code="$(curl -so /dev/null -w '%{http_code}' "$URL/tile/0/001.p/46")"
[ "$code" = 200 ] || die "tile of the new checkpoint (size 302) not served: HTTP $code"
pass
expect_ok "verify --url after inode reuse" "$W" log verify --url "$URL" --vkey "$("$W" log vkey --key "$KEY")"
grep -q "^ok 302 entries" "$T/out" || die "verify --url: $(cat "$T/out")"
pass
echo "tlog_serve_fresh: $CHECKS checks passed"
