#!/usr/bin/env bash
# Kills a log appender (8 threads appending) with SIGKILL at random moments
# (TLOG_CRASH_KILLS times, default 25) and checks after each kill that reopening recovers a
# log that verifies and holds every entry whose append had returned, at its index, with its
# exact bytes (the journal replay path). A process kill keeps the page cache, so this checks
# the acknowledgement order and recovery, not power loss.
set -euo pipefail
tool="${WARDEN_BUILD_DIR:?}/tlog_crash"
kills="${TLOG_CRASH_KILLS:-25}"
tmp="$(mktemp -d /tmp/warden-tlog-crash-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
dir="$tmp/log"
mkdir "$tmp/acks"
for i in $(seq 1 "$kills"); do
  "$tool" append "$dir" "$tmp/key" "$i" >"$tmp/acks/$i" 2>"$tmp/err" &
  pid=$!
  sleep "0.$(( (RANDOM % 40) + 5 ))"
  kill -9 "$pid" 2>/dev/null || { echo "appender $i died by itself:"; cat "$tmp/err"; exit 1; }
  wait "$pid" 2>/dev/null || true
  "$tool" check "$dir" "$tmp/key" "$tmp/acks"/* >"$tmp/check" || { echo "kill $i: check failed"; cat "$tmp/check"; exit 1; }
  replayed=$(( ${replayed:-0} + $(sed -n 's/.*; \([0-9]*\) replayed.*/\1/p' "$tmp/check") ))
done
n="$(cat "$tmp/acks"/* | wc -l)"
[ "$n" -gt "$kills" ] || { echo "only $n acknowledged appends in $kills runs: nothing exercised"; exit 1; }
[ "$replayed" -gt 0 ] || { echo "no kill left journaled entries to replay: the journal path was not exercised"; exit 1; }
echo "tlog crash test: $kills kills, $replayed entries replayed from the journal in all; last check: $(cat "$tmp/check")"
