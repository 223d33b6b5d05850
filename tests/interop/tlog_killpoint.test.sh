#!/usr/bin/env bash
# Systematic crash points for the tlog appender. tests/interop/tlog_killat.c (an
# LD_PRELOAD shim) SIGKILLs the process at its N-th fsync / fdatasync /
# sync_file_range / rename / unlink, just before or just after the call; N sweeps every
# such call of a run, so the appender is killed once at each durable step of recovery
# and of a batch (the random-time test, tlog_crash, only samples them).
#
# 1. Single batch through `warden log append` (20 entries from a log of 250, crossing
#    the first full tile; and from 65,530, creating the first level-2 tile). After each
#    kill: the log as left verifies with size old or old+20 (a batch is atomic); a
#    reopen (appending one marker entry) succeeds; the log's root then equals the root
#    Go computes for prefill+marker or prefill+batch+marker (exact content; a published
#    batch must be kept, an unpublished but journaled one is replayed); and Go's
#    verifier accepts the directory (no leftover file).
# 2. The threaded appender (tests/tools/tlog_crashtool, 4 threads): killed at each of its
#    first KILLPOINT_THREADED calls; every acknowledged entry must survive reopen.
source "$(dirname "$0")/tlog_lib.sh"

build_tlogcheck
TOOL="$WARDEN_BUILD_DIR/tlog_crashtool"
[ -x "$TOOL" ] || die "$TOOL not built"
SHIM="$WARDEN_BUILD_DIR/tlog_killat.so"
${CC:-cc} -shared -fPIC -O1 -Wall -Wextra -Werror -o "$SHIM" "$WARDEN_SOURCE_DIR/tests/interop/tlog_killat.c" -ldl ||
    die "building the LD_PRELOAD shim failed"
# A sanitizer build's runtime must come first; the shim only wraps libc calls.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

KEY="$T/keys/log.key"
expect_ok "init" "$W" log init --dir "$T/keyonly" --origin example.com/killpoint --key "$KEY"
expect_ok "vkey" "$W" log vkey --key "$KEY"
cp "$T/out" "$T/vkey"
expect_ok "go key" "$TLOGCHECK" keygen -name example.com/ref -skey "$T/ref.skey" -vkey-out "$T/ref.vkey"

# root_of FILE: the root Go computes for the entries in FILE (one per line).
root_of() {
    rm -rf "$T/ref"
    "$TLOGCHECK" write -dir "$T/ref" -skey "$T/ref.skey" -origin example.com/ref <"$1" >/dev/null ||
        die "tlogcheck write failed"
    sed -n 3p "$T/ref/checkpoint"
}

kills=0
single_batch() {
    local prefill="$1" base="$T/base.$1"
    expect_ok "init $prefill" "$W" log init --dir "$base" --origin example.com/killpoint --key "$KEY"
    "$TOOL" gen 0 "$prefill" >"$T/prefill"
    expect_ok "prefill $prefill" "$W" log append --dir "$base" --key "$KEY" <"$T/prefill"
    "$TOOL" gen 1 20 >"$T/batch"
    "$TOOL" gen 2 1 >"$T/marker"
    cat "$T/prefill" "$T/marker" >"$T/without"
    cat "$T/prefill" "$T/batch" "$T/marker" >"$T/with"
    local root_without root_with
    root_without="$(root_of "$T/without")"
    root_with="$(root_of "$T/with")"

    # How many kill points does one append of the batch have?
    rm -rf "$T/d" && cp -a "$base" "$T/d"
    KILLAT_COUNT_FILE="$T/count" LD_PRELOAD="$SHIM" "$W" log append --dir "$T/d" --key "$KEY" \
        <"$T/batch" >/dev/null || die "counting run failed"
    local count
    count="$(cat "$T/count")"
    [ "$count" -ge 4 ] || die "only $count kill points in an append: is the shim working?"

    local when n rc size after lost=0 kept=0
    for when in before after; do
        for n in $(seq 1 "$count"); do
            rm -rf "$T/d" && cp -a "$base" "$T/d"
            rc=0
            # (in a group whose stderr is /dev/null, so that bash's "Killed" notice goes to /dev/null)
            { KILLAT_N="$n" KILLAT_WHEN="$when" LD_PRELOAD="$SHIM" \
                "$W" log append --dir "$T/d" --key "$KEY" <"$T/batch" >/dev/null 2>"$T/err"; } 2>/dev/null || rc=$?
            [ "$rc" -eq 137 ] || { cat "$T/err" >&2; die "prefill $prefill, kill $when call $n: exit $rc, want SIGKILL"; }
            kills=$((kills + 1))
            expect_ok "prefill $prefill, kill $when call $n: verify as left" \
                "$W" log verify --dir "$T/d" --vkey "$T/vkey"
            size="$(sed -n 's/^ok \([0-9]*\) entries$/\1/p' "$T/out")"
            # A published batch must survive. An unpublished one may come back on reopen: once
            # its journal record is durable it replays (the append could have been
            # acknowledged), and before that it is gone. Either way the result is exact.
            case "$size" in
            "$prefill") published=0 ;;
            $((prefill + 20))) published=1 ;;
            *) die "prefill $prefill, kill $when call $n: size $size is neither $prefill nor $((prefill + 20))" ;;
            esac
            expect_ok "prefill $prefill, kill $when call $n: reopen and append" \
                "$W" log append --dir "$T/d" --key "$KEY" <"$T/marker"
            after="$(sed -n 3p "$T/d/checkpoint")"
            if [ "$after" = "$root_with" ]; then
                kept=$((kept + 1))
            elif [ "$after" = "$root_without" ] && [ "$published" -eq 0 ]; then
                lost=$((lost + 1))
            else
                die "prefill $prefill, kill $when call $n: root after reopen is not Go's root of the expected entries"
            fi
            pass
            expect_ok "prefill $prefill, kill $when call $n: Go verifies" \
                "$TLOGCHECK" verify -dir "$T/d" -vkey "$T/vkey"
        done
    done
    # The sweep must straddle the commit point (the checkpoint rename), or it tested
    # only one side of it.
    [ "$lost" -gt 0 ] && [ "$kept" -gt 0 ] || die "prefill $prefill: batch lost $lost times, kept $kept times"
    pass
    echo "  prefill $prefill: $count kill points x before/after, each recovered to the exact expected log" \
        "(batch absent after $lost kills, present after $kept)"
}

single_batch 250
single_batch $((65536 - 6))

# The threaded appender, killed at each of its first calls (init, recovery, batches).
THREADED="${KILLPOINT_THREADED:-40}"
LOG="$T/threaded"
expect_ok "threaded init" "$W" log init --dir "$LOG" --origin example.com/killpoint --key "$KEY"
"$TOOL" gen 0 240 >"$T/fill"
expect_ok "threaded prefill" "$W" log append --dir "$LOG" --key "$KEY" <"$T/fill"
: >"$T/acks"
for n in $(seq 1 "$THREADED"); do
    when=before
    [ $((n % 2)) -eq 0 ] && when=after
    rc=0
    { KILLAT_N="$n" KILLAT_WHEN="$when" LD_PRELOAD="$SHIM" \
        "$TOOL" run "$LOG" "$KEY" "$T/acks" 4 $((n + 10)) 2>"$T/err"; } 2>/dev/null || rc=$?
    [ "$rc" -eq 137 ] || { cat "$T/err" >&2; die "threaded kill at call $n: exit $rc, want SIGKILL"; }
    kills=$((kills + 1))
    expect_ok "threaded kill $when call $n: verify as left" "$W" log verify --dir "$LOG" --vkey "$T/vkey"
    expect_ok "threaded kill $when call $n: reopen, check acks" "$TOOL" check "$LOG" "$KEY" "$T/acks"
done
acked="$(sed -n 's/^checked \([0-9]*\) acks.*/\1/p' "$T/out")"
expect_ok "threaded: Go verifies" "$TLOGCHECK" verify -dir "$LOG" -vkey "$T/vkey"
echo "tlog_killpoint: $kills kills at syscall points, $acked acknowledged entries checked, $CHECKS checks"
