#!/usr/bin/env bash
# The README's main command: the main job end to end on this machine.
#
# Installs what is missing, builds raregen, and runs `raregen demo`: a
# private PostgreSQL (or DATABASE_URL), the local ARC-compatible network (or
# ARC_URL + ARC_API_KEY), a key funded on it, 100-satoshi UTXOs split on it,
# N signed intents, and the whole pipeline (ingest -> sequence -> sign ->
# gate -> send to ARC), then a report: throughput, latency p50/p99 from
# intake to sent, per-stage counters, and the proof that every job's
# transaction was accepted by the network exactly once.
#
#   bash tools/demo.sh [N]            # N intents, default 10000
#
# Environment: BUILD_DIR (default build), WORK_DIR (default: a new temp
# dir), GATE=1 to run with the seed's rate gate (500 per 3 s) instead of
# open, DATABASE_URL / ARC_URL / ARC_API_KEY for real services (with ARC_URL,
# pass --key-file and --from after N: a real network cannot be funded here).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
shift || true

bash tools/setup/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" --target raregen -j "$(nproc)"
raregen=$PWD/$BUILD_DIR/tools/raregen/raregen

args=(demo --intents "$n")
[[ -n ${WORK_DIR:-} ]] && args+=(--work-dir "$WORK_DIR")
[[ ${GATE:-0} == 1 ]] && args+=(--gate)
exec "$raregen" "${args[@]}" "$@"
