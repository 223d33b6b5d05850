#!/usr/bin/env bash
# Crash test for the tlog appender: start tests/tools/tlog_crashtool (several threads
# appending distinct entries through the library, acknowledging each only after its
# append call returned), SIGKILL it at a random moment (some at once, during init,
# most during batches), then:
#   1. `warden log verify` on the directory as left (what a static server would
#      publish at that instant must already verify);
#   2. reopen with the appender (recovery) and check that every acknowledged entry is
#      present at its acknowledged index with its exact bytes, that each thread's
#      entries are in order, and that no entry appears twice;
#   3. `warden log verify` again, and, on the last iteration of each log, Go's
#      tlogcheck verify (which also rejects leftover files recovery should remove).
# Iterations: TLOG_CRASH_ITERS (default 100). A fresh log is started every 10
# iterations so that check time stays bounded; the others reopen a log with history.
source "$(dirname "$0")/tlog_lib.sh"

ITERS="${TLOG_CRASH_ITERS:-100}"
THREADS="${TLOG_CRASH_THREADS:-8}"
TOOL="$WARDEN_BUILD_DIR/tlog_crashtool"
[ -x "$TOOL" ] || die "$TOOL not built"
KEY="$T/keys/log.key"
build_tlogcheck
expect_ok "key" "$W" log init --dir "$T/keyonly" --origin example.com/crash --key "$KEY"
expect_ok "vkey" "$W" log vkey --key "$KEY"
cp "$T/out" "$T/vkey"

# A per-run random seed, printed so a failure can be replayed with TLOG_CRASH_SEED.
SEED="${TLOG_CRASH_SEED:-$RANDOM}"
RANDOM="$SEED"
echo "tlog_crash: seed $SEED, $ITERS iterations, $THREADS threads"

kills=0
finished=0
acked_total=0
start_s=$(date +%s)
LOG=""
for it in $(seq 1 "$ITERS"); do
    if [ $(((it - 1) % 10)) -eq 0 ]; then
        LOG="$T/log.$it"
        expect_ok "init $it" "$W" log init --dir "$LOG" --origin example.com/crash --key "$KEY"
        # Prefill to just below a tile boundary so that the kills land while full
        # tiles and new levels are being created: the first log below 65536 (level 2),
        # the others below a multiple of 256 (level 1). Run id 0 marks prefill entries.
        if [ "$it" -eq 1 ]; then
            fill=$((65536 - 60 - RANDOM % 40))
        else
            fill=$((256 * (1 + RANDOM % 3) - 30 - RANDOM % 60))
        fi
        "$TOOL" gen 0 "$fill" >"$T/fill"
        expect_ok "prefill $it" "$W" log append --dir "$LOG" --key "$KEY" <"$T/fill"
        : >"$T/acks.$it"
        ACKS="$T/acks.$it"
    fi
    # Kill time in microseconds: 1 in 5 within the first 5 ms (during startup and
    # recovery), the rest anywhere in 0-200 ms.
    if [ $((RANDOM % 5)) -eq 0 ]; then
        us=$((RANDOM % 5000))
    else
        us=$(((RANDOM * 32768 + RANDOM) % 200000))
    fi
    # Group-commit options vary too: batches of 1, 3 or up to 4096 entries, with no
    # extra wait or up to 2 ms of it.
    batch=(1 3 4096 4096)
    wait_us=(0 0 500 2000)
    TLOG_MAX_BATCH="${batch[RANDOM % 4]}" TLOG_MAX_WAIT_US="${wait_us[RANDOM % 4]}" \
        "$TOOL" run "$LOG" "$KEY" "$ACKS" "$THREADS" "$it" 2>"$T/tool.err" &
    pid=$!
    sleep "$(printf '0.%06d' "$us")"
    if kill -KILL "$pid" 2>/dev/null; then
        kills=$((kills + 1))
    else
        finished=$((finished + 1))
    fi
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 137 ]; then
        cat "$T/tool.err" >&2
        die "iteration $it: crashtool exited $rc (not killed)"
    fi
    # 1. As left by the kill, before any recovery.
    expect_ok "iteration $it: verify before reopen (kill at ${us}us)" \
        "$W" log verify --dir "$LOG" --vkey "$T/vkey"
    # 2. Reopen (recovery) and check every acknowledgement.
    expect_ok "iteration $it: reopen and check acks (kill at ${us}us)" "$TOOL" check "$LOG" "$KEY" "$ACKS"
    n_acked=$(sed -n 's/^checked \([0-9]*\) acks.*/\1/p' "$T/out")
    [ -n "$n_acked" ] || die "iteration $it: check printed '$(cat "$T/out")'"
    # 3. After recovery.
    expect_ok "iteration $it: verify after reopen" "$W" log verify --dir "$LOG" --vkey "$T/vkey"
    if [ $((it % 10)) -eq 0 ] || [ "$it" -eq "$ITERS" ]; then
        # Before the log is left: Go's verifier, which also rejects any file that is
        # neither part of the tree nor an older partial, so recovery must have
        # removed every leftover of the interrupted batches.
        expect_ok "iteration $it: Go verifies the recovered log" "$TLOGCHECK" verify -dir "$LOG" -vkey "$T/vkey"
        acked_total=$((acked_total + n_acked))
        echo "  iteration $it: go: $(cat "$T/out"); $n_acked acks checked in this log"
    fi
done
end_s=$(date +%s)
[ "$ITERS" -lt 100 ] || [ "$kills" -ge 90 ] || die "only $kills of $ITERS runs were killed: the tool ends too soon"
echo "tlog_crash: $kills SIGKILLs ($finished runs ended on their own), $acked_total acknowledged entries checked, $CHECKS checks, $((end_s - start_s)) s"
