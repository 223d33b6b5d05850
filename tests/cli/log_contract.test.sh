#!/bin/bash
# The `warden log` command-line contract that scripts (interop, tamper, crash, bench) rely
# on: exact output lines, JSON shapes and exit codes of every subcommand.
set -u
W=${WARDEN_BINARY:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cd "$T"

vk=$("$W" log init --dir log --origin contract.example/log --key k.key) || fail "init"
[[ "$vk" =~ ^contract.example/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$ ]] || fail "init printed '$vk'"
[ "$(stat -c %a k.key)" = 600 ] || fail "key mode"
[ "$("$W" log vkey --key k.key)" = "$vk" ] || fail "vkey differs from init"
"$W" log init --dir log --origin contract.example/log --key k.key 2>/dev/null && fail "init twice"
"$W" log init --dir log2 --origin x --key log2/k.key 2>/dev/null && fail "key inside log dir"

out=$(printf 'first\n\nthird' | "$W" log append --dir log --key k.key) || fail "append"
[ "$out" = "appended 0..2, tree size 3" ] || fail "append printed '$out'"
cp log/checkpoint old-checkpoint
out=$(seq 1 600 | "$W" log append --dir log --key k.key) || fail "append 2"
[ "$out" = "appended 3..602, tree size 603" ] || fail "append printed '$out'"

out=$("$W" log verify --dir log --vkey "$vk") || fail "verify"
[ "$out" = "ok 603 entries" ] || fail "verify printed '$out'"
echo "$vk" > vk.txt
[ "$("$W" log verify --dir log --vkey vk.txt)" = "ok 603 entries" ] || fail "verify vkey file"

"$W" log prove --dir log --index 2 > incl.json || fail "prove"
grep -Eq '^\{"index":2,"tree_size":603,"leaf_hash":"[A-Za-z0-9+/=]{44}","root":"[A-Za-z0-9+/=]{44}","proof":\["[A-Za-z0-9+/=]{44}"(,"[A-Za-z0-9+/=]{44}")*\]\}$' incl.json ||
    fail "prove JSON: $(cat incl.json)"
printf third > e
[ "$("$W" log check-proof --proof incl.json --checkpoint log/checkpoint --vkey "$vk" --entry e)" = ok ] ||
    fail "check-proof inclusion"
printf thirt > e
"$W" log check-proof --proof incl.json --checkpoint log/checkpoint --vkey "$vk" --entry e 2>/dev/null &&
    fail "check-proof accepted a wrong entry"

"$W" log consistency --dir log --old old-checkpoint > cons.json || fail "consistency"
grep -Eq '^\{"old_size":3,"new_size":603,"old_root":"[A-Za-z0-9+/=]{44}","new_root":"[A-Za-z0-9+/=]{44}","proof":\[.*\]\}$' cons.json ||
    fail "consistency JSON: $(cat cons.json)"
[ "$("$W" log check-proof --proof cons.json --checkpoint log/checkpoint --vkey "$vk")" = ok ] ||
    fail "check-proof consistency"
"$W" log check-proof --proof cons.json --checkpoint old-checkpoint --vkey "$vk" 2>/dev/null &&
    fail "check-proof accepted the wrong checkpoint"

# Tampering is reported with the file's path, exit 1.
printf 'X' | dd of=log/tile/entries/000 bs=1 seek=7 conv=notrunc 2>/dev/null
err=$("$W" log verify --dir log --vkey "$vk" 2>&1)
[ $? = 1 ] || fail "verify accepted a tampered bundle"
[[ "$err" == *tile/entries/000* ]] || fail "verify error does not name the bundle: $err"

"$W" log bogus 2>/dev/null; [ $? = 2 ] || fail "unknown subcommand exit code"
"$W" log verify --dir log 2>/dev/null; [ $? = 2 ] || fail "missing --vkey exit code"
echo "log contract ok"
