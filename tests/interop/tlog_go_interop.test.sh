#!/usr/bin/env bash
# Interoperability of warden's transparency log with Go's sumdb/tlog and sumdb/note
# (Debian golang-golang-x-mod-dev), in both directions:
#  - warden writes, Go checks: a log grown through sizes 0, 1, 255, 256, 257, 511,
#    65536+3 (so level-0/1/2 tiles, full and partial, and stale partials occur) is
#    verified by tests/interop/tlogcheck after every step: checkpoint signature,
#    root, every tile byte for byte, every bundle, tile paths; inclusion and
#    consistency proofs from `warden log prove|consistency` are checked with
#    tlog.CheckRecord / tlog.CheckTree and must equal Go's own proofs.
#  - Go writes, warden checks: logs and keys made by Go (note.GenerateKey, note.Sign,
#    tlog tiles) must pass `warden log verify`, `warden log check-proof`, and warden
#    must read Go's key encodings.
# Fails (does not skip) when go is missing.
source "$(dirname "$0")/tlog_lib.sh"

build_tlogcheck
TC="$TLOGCHECK"
expect_ok "C2SP path examples" "$TC" selftest

ORIGIN="example.com/warden-interop"
KEY="$T/keys/log.key"
LOG="$T/log"

# gen FROM TO: deterministic entries [FROM, TO), one per line, with varied lengths
# and content: an empty entry, one with a CR and a tab, UTF-8, high bytes, and one
# of the maximum 65,535 bytes.
gen() {
    python3 - "$1" "$2" <<'EOF'
import sys
a, b = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout.buffer
for i in range(a, b):
    if i == 3:
        e = b""
    elif i == 4:
        e = b"cr\rand\ttab"
    elif i == 5:
        e = "\u00e9t\u00e9 \u2014 \u65e5\u672c".encode()
    elif i == 6:
        e = bytes(range(0x80, 0x100))
    elif i == 300:
        e = b"M" * 65535
    else:
        e = (b"entry-%d-" % i) + b"x" * (i * 7 % 97)
    out.write(e + b"\n")
EOF
}

# entry_file I FILE: writes entry I's exact bytes (no newline) to FILE.
entry_file() {
    gen "$1" "$(($1 + 1))" | head -c -1 >"$2"
}

expect_ok "log init" "$W" log init --dir "$LOG" --origin "$ORIGIN" --key "$KEY"
cp "$T/out" "$T/init.out"
expect_ok "log vkey" "$W" log vkey --key "$KEY"
VKEY_LINE="$(tr -d '\n' <"$T/out")"
printf '%s\n' "$VKEY_LINE" >"$T/vkey"
grep -qF "$VKEY_LINE" "$T/init.out" || die "init did not print the verifier key $VKEY_LINE"
pass
case "$VKEY_LINE" in "$ORIGIN"+[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]+*) pass ;;
    *) die "verifier key '$VKEY_LINE' is not <origin>+<8 hex>+<base64>" ;; esac
[ "$(stat -c %a "$KEY")" = 600 ] || die "key file mode is $(stat -c %a "$KEY"), want 600"
pass

# check_size N: Go verifies the whole log and warden agrees on N.
check_size() {
    local n="$1"
    expect_ok "go verify at size $n" "$TC" verify -dir "$LOG" -vkey "$T/vkey"
    grep -q "^ok $n entries" "$T/out" || die "tlogcheck at size $n: $(cat "$T/out")"
    expect_ok "warden verify at size $n" "$W" log verify --dir "$LOG" --vkey "$T/vkey"
    grep -qx "ok $n entries" "$T/out" || die "warden verify at size $n said: $(cat "$T/out")"
    cp "$LOG/checkpoint" "$T/cp.$n"
    SIZES+=("$n")
}

# prove N I: warden's inclusion proof for index I at size N passes Go's CheckRecord
# and warden's own check-proof; the wrong entry must not.
prove() {
    local n="$1" i="$2"
    expect_ok "prove $i at $n" "$W" log prove --dir "$LOG" --index "$i"
    cp "$T/out" "$T/proof.json"
    expect_ok "go inclusion $i at $n" "$TC" inclusion -dir "$LOG" -vkey "$T/vkey" -proof "$T/proof.json"
    entry_file "$i" "$T/entry"
    expect_ok "warden check-proof $i at $n" "$W" log check-proof --proof "$T/proof.json" \
        --checkpoint "$LOG/checkpoint" --vkey "$T/vkey" --entry "$T/entry"
    printf 'not-the-entry' >"$T/wrong"
    expect_fail "check-proof with a wrong entry ($i at $n)" "wrong.*(leaf|hash)" "$W" log check-proof \
        --proof "$T/proof.json" --checkpoint "$LOG/checkpoint" --vkey "$T/vkey" --entry "$T/wrong"
}

SIZES=()
check_size 0
expect_fail "prove on an empty log" "index 0 .*tree size 0" "$W" log prove --dir "$LOG" --index 0

grow_to() {
    local from="$1" to="$2"
    gen "$from" "$to" >"$T/batch"
    expect_ok "append $from..$to" "$W" log append --dir "$LOG" --key "$KEY" <"$T/batch"
    grep -q "appended $from\.\.$((to - 1)), tree size $to" "$T/out" ||
        die "append said '$(cat "$T/out")', want 'appended $from..$((to - 1)), tree size $to'"
    check_size "$to"
}

last=0
for n in 1 255 256 257 511 520; do
    grow_to "$last" "$n"
    for i in 0 $((n / 2)) $((n - 1)) 3 4 5 6 255 256; do
        [ "$i" -lt "$n" ] && prove "$n" "$i"
    done
    last="$n"
done
BIG=$((65536 + 3))
grow_to "$last" 65536
grow_to 65536 "$BIG"
for i in 0 300 65535 65536 $((BIG - 1)) 12345; do
    prove "$BIG" "$i"
done
expect_fail "prove past the end" "index $BIG .*tree size $BIG" "$W" log prove --dir "$LOG" --index "$BIG"

# Consistency from every earlier checkpoint to the final one, checked by Go.
for old in "${SIZES[@]}"; do
    expect_ok "consistency $old -> $BIG" "$W" log consistency --dir "$LOG" --old "$T/cp.$old"
    cp "$T/out" "$T/cons.json"
    expect_ok "go consistency $old -> $BIG" "$TC" consistency -dir "$LOG" -vkey "$T/vkey" \
        -old "$T/cp.$old" -proof "$T/cons.json"
done

# Damaged proofs must fail in both warden and Go.
expect_ok "prove for damaged-proof checks" "$W" log prove --dir "$LOG" --index 12345
cp "$T/out" "$T/proof.json"
entry_file 12345 "$T/entry"
python3 - "$T/proof.json" "$T/badproof.json" "$T/badsize.json" <<'EOF'
import sys, json, base64
p = json.load(open(sys.argv[1]))
h = bytearray(base64.b64decode(p["proof"][2])); h[0] ^= 1
bad = dict(p, proof=p["proof"][:2] + [base64.b64encode(bytes(h)).decode()] + p["proof"][3:])
json.dump(bad, open(sys.argv[2], "w"))
json.dump(dict(p, proof=p["proof"][:-1]), open(sys.argv[3], "w"))
EOF
for bad in badproof badsize; do
    expect_fail "warden check-proof, $bad" "proof|root|verify" "$W" log check-proof --proof "$T/$bad.json" \
        --checkpoint "$LOG/checkpoint" --vkey "$T/vkey" --entry "$T/entry"
    expect_fail "go inclusion, $bad" "CheckRecord|differs" "$TC" inclusion -dir "$LOG" -vkey "$T/vkey" -proof "$T/$bad.json"
done
expect_ok "consistency for damaged-proof checks" "$W" log consistency --dir "$LOG" --old "$T/cp.257"
python3 - "$T/out" "$T/badcons.json" <<'EOF'
import sys, json, base64
p = json.load(open(sys.argv[1]))
h = bytearray(base64.b64decode(p["proof"][0])); h[5] ^= 1
p["proof"][0] = base64.b64encode(bytes(h)).decode()
json.dump(p, open(sys.argv[2], "w"))
EOF
expect_fail "warden check-proof, damaged consistency proof" "proof|root|verify|consisten" "$W" log check-proof \
    --proof "$T/badcons.json" --checkpoint "$LOG/checkpoint" --vkey "$T/vkey" --old "$T/cp.257"
expect_fail "go consistency, damaged proof" "CheckTree|differs" "$TC" consistency -dir "$LOG" -vkey "$T/vkey" \
    -old "$T/cp.257" -proof "$T/badcons.json"
# An old checkpoint from another log (same key, different entries) is not consistent.
OTHER="$T/otherlog"
expect_ok "other log" "$W" log init --dir "$OTHER" --origin "$ORIGIN" --key "$KEY"
seq 1 300 | sed 's/^/other-/' >"$T/otherentries"
expect_ok "other log append" "$W" log append --dir "$OTHER" --key "$KEY" <"$T/otherentries"
expect_fail "consistency from another log's checkpoint" "root|consisten|not" "$W" log consistency \
    --dir "$LOG" --old "$OTHER/checkpoint"

# An entry over 65,535 bytes is refused and nothing is appended.
python3 -c 'import sys; sys.stdout.write("L"*65536 + "\n")' >"$T/huge"
expect_fail "append of a 65536-byte entry" "65536.*65535" "$W" log append --dir "$LOG" --key "$KEY" <"$T/huge"
expect_ok "log unchanged after refused append" "$TC" verify -dir "$LOG" -vkey "$T/vkey"
grep -q "^ok $BIG entries" "$T/out" || die "size changed after a refused append: $(cat "$T/out")"

# ---- Go writes, warden verifies ----
expect_ok "go keygen" "$TC" keygen -name example.com/go-log -skey "$T/go.skey" -vkey-out "$T/go.vkey"
expect_ok "warden reads Go's signer key" "$W" log vkey --key "$T/go.skey"
[ "$(tr -d '\n' <"$T/out")" = "$(tr -d '\n' <"$T/go.vkey")" ] ||
    die "warden derives vkey '$(cat "$T/out")' from Go's key, Go says '$(cat "$T/go.vkey")'"
pass

for n in 0 1 257 $BIG; do
    GL="$T/golog.$n"
    gen 0 "$n" >"$T/gobatch"
    expect_ok "go write $n" "$TC" write -dir "$GL" -skey "$T/go.skey" -origin example.com/go-log <"$T/gobatch"
    expect_ok "warden verifies Go log of $n" "$W" log verify --dir "$GL" --vkey "$T/go.vkey"
    grep -qx "ok $n entries" "$T/out" || die "warden verify on Go log of $n said: $(cat "$T/out")"
    expect_fail "Go log of $n under the wrong vkey" "checkpoint.*(signature|key)" "$W" log verify --dir "$GL" --vkey "$T/vkey"
done

# Proofs warden computes over Go's tiles verify in Go.
GL="$T/golog.$BIG"
for i in 0 65536 $((BIG - 1)); do
    expect_ok "warden prove on Go log" "$W" log prove --dir "$GL" --index "$i"
    cp "$T/out" "$T/gproof.json"
    expect_ok "go checks warden proof on Go log" "$TC" inclusion -dir "$GL" -vkey "$T/go.vkey" -proof "$T/gproof.json"
done

# Tile index 1000 and beyond: 256,300 entries put bundles and level-0 tiles under
# x001/ (the spec's "x001/x234/067" form), checked in both directions.
XL="$T/xlog"
XN=256300
seq 0 $((XN - 1)) | sed 's/^/x-entry-/' >"$T/xentries"
expect_ok "init x log" "$W" log init --dir "$XL" --origin "$ORIGIN" --key "$KEY"
expect_ok "append $XN" "$W" log append --dir "$XL" --key "$KEY" <"$T/xentries"
for f in tile/entries/x001/000 tile/entries/x001/001.p/44 tile/0/x001/000 tile/0/x001/001.p/44 tile/1/003.p/233 tile/2/000.p/3; do
    [ -f "$XL/$f" ] || die "warden log of $XN entries lacks $f"
done
pass
expect_ok "go verify $XN" "$TC" verify -dir "$XL" -vkey "$T/vkey"
grep -q "^ok $XN entries" "$T/out" || die "x log: $(cat "$T/out")"
for i in 255999 256000 $((XN - 1)); do
    expect_ok "prove $i of $XN" "$W" log prove --dir "$XL" --index "$i"
    cp "$T/out" "$T/xproof.json"
    expect_ok "go inclusion $i of $XN" "$TC" inclusion -dir "$XL" -vkey "$T/vkey" -proof "$T/xproof.json"
done
expect_ok "go write $XN" "$TC" write -dir "$T/goxlog" -skey "$T/go.skey" -origin example.com/go-log <"$T/xentries"
[ -f "$T/goxlog/tile/entries/x001/001.p/44" ] || die "Go's log lacks tile/entries/x001/001.p/44"
expect_ok "warden verifies Go log of $XN" "$W" log verify --dir "$T/goxlog" --vkey "$T/go.vkey"
grep -qx "ok $XN entries" "$T/out" || die "Go x log: $(cat "$T/out")"
[ "$(sed -n 3p "$T/goxlog/checkpoint")" = "$(sed -n 3p "$XL/checkpoint")" ] ||
    die "Go and warden disagree on the root of the same $XN entries"
pass
rm -rf "$XL" "$T/goxlog" "$T/xentries"

# A checkpoint of warden's log re-signed by Go: warden's check-proof accepts it with
# Go's vkey, and rejects it with warden's own key.
expect_ok "go re-signs checkpoint" "$TC" sign -in "$LOG/checkpoint" -skey "$T/go.skey" -out "$T/go.cp"
expect_ok "prove for Go-signed checkpoint" "$W" log prove --dir "$LOG" --index 65536
cp "$T/out" "$T/proof.json"
entry_file 65536 "$T/entry"
expect_ok "check-proof against Go-signed checkpoint" "$W" log check-proof --proof "$T/proof.json" \
    --checkpoint "$T/go.cp" --vkey "$T/go.vkey" --entry "$T/entry"
expect_fail "Go-signed checkpoint under warden's vkey" "go.cp.*(signature|key)" "$W" log check-proof --proof "$T/proof.json" \
    --checkpoint "$T/go.cp" --vkey "$T/vkey" --entry "$T/entry"

# A cosigned checkpoint (warden's signature, then Go's, as a witness would add): both
# sides accept it with either key; unknown signatures must be ignored (C2SP signed-note).
expect_ok "go cosigns warden's checkpoint" "$TC" cosign -in "$LOG/checkpoint" -vkey "$T/vkey" \
    -skey "$T/go.skey" -out "$T/cosigned"
[ "$(grep -c '^— ' "$T/cosigned")" = 2 ] || die "cosigned checkpoint does not hold 2 signatures"
pass
COS="$T/coslog"
cp -a "$LOG" "$COS"
cp "$T/cosigned" "$COS/checkpoint"
expect_ok "warden verifies cosigned checkpoint with its own key" "$W" log verify --dir "$COS" --vkey "$T/vkey"
grep -qx "ok $BIG entries" "$T/out" || die "cosigned: $(cat "$T/out")"
expect_ok "warden verifies cosigned checkpoint with Go's key" "$W" log verify --dir "$COS" --vkey "$T/go.vkey"
expect_ok "go verifies cosigned checkpoint with Go's key" "$TC" verify -dir "$COS" -vkey "$T/go.vkey"
expect_ok "check-proof against a cosigned checkpoint" "$W" log check-proof --proof "$T/proof.json" \
    --checkpoint "$T/cosigned" --vkey "$T/go.vkey" --entry "$T/entry"
rm -rf "$COS"

# A checkpoint with an extension line (C2SP tlog-checkpoint allows them; verifiers
# ignore them) written and signed by Go.
gen 0 300 >"$T/gobatch"
expect_ok "go write with extension line" "$TC" write -dir "$T/goext" -skey "$T/go.skey" \
    -origin example.com/go-log -ext "witness-hint example.net/w" <"$T/gobatch"
[ "$(sed -n 4p "$T/goext/checkpoint")" = "witness-hint example.net/w" ] || die "no extension line written"
expect_ok "warden verifies checkpoint with extension line" "$W" log verify --dir "$T/goext" --vkey "$T/go.vkey"
grep -qx "ok 300 entries" "$T/out" || die "extension line: $(cat "$T/out")"

# warden continues a log Go wrote, with Go's key, and Go still accepts the result.
GL="$T/golog.257"
gen 257 300 >"$T/more"
expect_ok "warden appends to Go's log" "$W" log append --dir "$GL" --key "$T/go.skey" <"$T/more"
expect_ok "go verifies the continued log" "$TC" verify -dir "$GL" -vkey "$T/go.vkey"
grep -q "^ok 300 entries" "$T/out" || die "continued Go log: $(cat "$T/out")"

echo "tlog_go_interop: $CHECKS checks passed (sizes ${SIZES[*]})"
