#!/usr/bin/env bash
# Installs everything warden builds and tests with, from Debian's archive and npm only.
# Run as root from anywhere; idempotent. CI calls this too, on a machine with nothing installed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev   # toolchain; clang for libFuzzer
  libssl-dev        # OpenSSL 3 libcrypto: SHA-256, Ed25519, AES-GCM, RNG
  libjansson-dev    # JSON parsing and canonical output
  liblmdb-dev       # record store (keyd)
  libmicrohttpd-dev # HTTP server (log serving, gateway)
  libcurl4-openssl-dev # HTTP client for verifying a log by URL
  libcmocka-dev     # unit tests
  libpq-dev postgresql # legacy source of 'warden migrate' (libpq); a real server in tests
  libp11-kit-dev softhsm2 # PKCS#11 header; a real software token for the KEK tests
  golang-go golang-golang-x-mod-dev  # independent log verifier (sumdb/tlog, sumdb/note)
  curl              # real HTTP client in tests
  python3           # small helpers in script tests (free ports)
  nginx-light       # reference HTTP server for benchmarks
  wrk               # HTTP load generator (bench/gateway.sh)
  chromium          # headless browser: renders the HTML reports in tests
  ca-certificates
)

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${PKGS[@]}" >/dev/null

# Node.js + npm run the official Cedar implementation (cedar-wasm) as our test oracle.
# A machine may already have a Node.js from elsewhere whose npm conflicts with Debian's
# npm package; use what is there when it works.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt-get install -y -qq nodejs npm >/dev/null
fi

if [ -f "$ROOT/tests/diff/package.json" ]; then
  npm ci --prefix "$ROOT/tests/diff" --no-audit --no-fund --loglevel=error >/dev/null
fi
