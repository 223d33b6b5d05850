#!/usr/bin/env bash
# README command 1: installs dependencies, builds warden, and runs its main job on the bundled
# example: the Cedar decisions for examples/texas/ (a readable table, then the JSON lines).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bash scripts/install-deps.sh
bash scripts/build.sh build
ex=examples/texas
echo "== warden authorize on $ex (table) =="
build/warden authorize --policies $ex/policies.cedar --entities $ex/entities.json \
  --links $ex/links.json --requests $ex/requests.jsonl --format table
echo
echo "== the same decisions as JSON lines =="
build/warden authorize --policies $ex/policies.cedar --entities $ex/entities.json \
  --links $ex/links.json --requests $ex/requests.jsonl
