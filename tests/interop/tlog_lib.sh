# Shared helpers for the tlog script tests (sourced, not run). Each test gets a
# private temp dir, a counter of passed checks, and functions that fail loudly with
# the command's output so a CI log shows what went wrong.

set -euo pipefail

: "${WARDEN_BINARY:?WARDEN_BINARY must name the warden binary}"
: "${WARDEN_SOURCE_DIR:?WARDEN_SOURCE_DIR must name the source tree}"
: "${WARDEN_BUILD_DIR:?WARDEN_BUILD_DIR must name the build tree}"

W="$WARDEN_BINARY"
T="$(mktemp -d "${TMPDIR:-/tmp}/warden-tlog.XXXXXX")"
mkdir -p "$T/keys"
CHECKS=0
CLEANUP_PIDS=()

cleanup() {
    for p in "${CLEANUP_PIDS[@]:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
    done
    rm -rf "$T"
}
trap cleanup EXIT

die() {
    echo "FAIL: $*" >&2
    exit 1
}

pass() {
    CHECKS=$((CHECKS + 1))
}

# expect_ok DESC CMD...: CMD must exit 0; its stdout is left in $T/out.
expect_ok() {
    local desc="$1"
    shift
    if ! "$@" >"$T/out" 2>"$T/err"; then
        echo "--- stdout:" >&2; cat "$T/out" >&2
        echo "--- stderr:" >&2; cat "$T/err" >&2
        die "$desc: command failed: $*"
    fi
    pass
}

# expect_fail DESC PATTERN CMD...: CMD must exit non-zero (not crash: no signal, no
# sanitizer report) and its stdout+stderr must match the extended regex PATTERN.
expect_fail() {
    local desc="$1" pat="$2" rc=0
    shift 2
    "$@" >"$T/out" 2>"$T/err" || rc=$?
    cat "$T/out" "$T/err" >"$T/both"
    if [ "$rc" -eq 0 ]; then
        cat "$T/both" >&2
        die "$desc: expected failure, got exit 0: $*"
    fi
    if [ "$rc" -gt 125 ] || grep -q "Sanitizer\|runtime error" "$T/both"; then
        cat "$T/both" >&2
        die "$desc: crashed (exit $rc): $*"
    fi
    if ! grep -Eq -- "$pat" "$T/both"; then
        echo "--- output:" >&2; cat "$T/both" >&2
        die "$desc: message does not match /$pat/"
    fi
    [ -z "${TLOG_TEST_QUIET:-}" ] && echo "  rejected ($desc): $(grep -v '^$' "$T/both" | head -1)"
    pass
}

# build_tlogcheck: builds the Go verifier offline into $WARDEN_BUILD_DIR/tlogcheck
# against Debian's golang-golang-x-mod-dev. No network: GO111MODULE=off + GOPATH.
build_tlogcheck() {
    command -v go >/dev/null || die "go is not installed (need golang-go and golang-golang-x-mod-dev)"
    local gopath=/usr/share/gocode
    [ -d "$gopath/src/golang.org/x/mod/sumdb/tlog" ] ||
        die "golang.org/x/mod not found under $gopath (install golang-golang-x-mod-dev)"
    mkdir -p "$WARDEN_BUILD_DIR/go-cache"
    TLOGCHECK="$WARDEN_BUILD_DIR/tlogcheck"
    GO111MODULE=off GOPATH="$gopath" GOCACHE="$WARDEN_BUILD_DIR/go-cache" GOFLAGS= \
        GOPROXY=off CGO_ENABLED=0 \
        go build -o "$TLOGCHECK" "$WARDEN_SOURCE_DIR/tests/interop/tlogcheck/main.go" ||
        die "building tlogcheck failed"
}

# free_port: asks the kernel for a free TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http URL: waits up to 10 s for a server to answer.
wait_http() {
    local i
    for i in $(seq 1 100); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.1
    done
    die "server at $1 did not come up"
}
