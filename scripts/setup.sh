#!/usr/bin/env bash
# README command 1: installs dependencies, builds warden, and runs its main job: `warden demo`,
# the Project Texas story end to end (three regions on 127.0.0.1, real HTTP, verified logs;
# docs/demo.md). Before it, the Cedar decisions for examples/texas/ as a short table.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bash scripts/install-deps.sh
bash scripts/build.sh build
ex=examples/texas
echo "== warden authorize on $ex: who may read what, decided by Cedar =="
build/warden authorize --policies $ex/policies.cedar --entities $ex/entities.json \
  --links $ex/links.json --requests $ex/requests.jsonl --format table
echo
echo "== warden demo: the whole arrangement, run for real =="
build/warden demo
