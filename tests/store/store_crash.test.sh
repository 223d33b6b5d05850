#!/usr/bin/env bash
# Kills a store writer with SIGKILL at random moments (STORE_CRASH_KILLS times, default 40)
# and checks after each kill that the store opens cleanly and holds every write the writer
# had acknowledged (printed after its put returned). A process kill keeps the page cache,
# so this checks LMDB's crash atomicity and our acknowledgement order, not power loss.
set -euo pipefail
tool="${WARDEN_BUILD_DIR:?}/store_crash"
kills="${STORE_CRASH_KILLS:-40}"
tmp="$(mktemp -d /tmp/warden-store-crash-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
dir="$tmp/data"
acked=0
for i in $(seq 1 "$kills"); do
  "$tool" write "$dir" >"$tmp/out" 2>"$tmp/err" &
  pid=$!
  sleep "0.$(( (RANDOM % 25) + 2 ))"
  kill -9 "$pid" 2>/dev/null || { echo "writer $i died by itself:"; cat "$tmp/err"; exit 1; }
  wait "$pid" 2>/dev/null || true
  last="$(tail -n 1 "$tmp/out" || true)"
  # A line cut by the kill is shorter than the one before; use the last complete line.
  if [ -n "$last" ] && [ "$(tail -c 1 "$tmp/out" | od -An -c | tr -d ' ')" != '\n' ]; then
    last="$(tail -n 2 "$tmp/out" | head -n 1)"
  fi
  [ -n "$last" ] && acked="$last"
  now="$("$tool" verify "$dir" "$acked")" || { echo "kill $i: verification failed"; exit 1; }
  acked="$now"
done
[ "$acked" -gt "$kills" ] || { echo "only $acked writes in $kills runs: the test did not exercise anything"; exit 1; }
echo "store crash test: $kills kills, $acked acknowledged writes, none lost"
