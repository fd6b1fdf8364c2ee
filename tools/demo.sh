#!/usr/bin/env bash
# The README's main command: the main job end to end on this machine.
#
# Today that is the pipeline with its durable storage (the local ARC network
# comes with its issue): installs what is missing, builds raregen, makes a
# key, UTXOs and N signed intents (a few invalid on purpose), and runs
# ingest -> sequence -> sign -> gate -> send into a file of signed EF
# transactions, durable in DATABASE_URL or, with none, in a private
# PostgreSQL started for the run, printing progress and a summary.
#
#   bash tools/demo.sh [N]            # N intents, default 10000
#
# Environment: BUILD_DIR (default build), WORK_DIR (default: a new temp dir),
# GATE=1 to run with the seed's rate gate (500 per 3 s) instead of open,
# DATABASE_URL to use an existing database.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}

bash tools/setup/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" --target raregen -j "$(nproc)"
raregen=$PWD/$BUILD_DIR/tools/raregen/raregen

work=${WORK_DIR:-$(mktemp -d -t raregen-demo.XXXXXX)}
mkdir -p "$work"
cd "$work"
echo "demo: working in $work" >&2
[[ -f key.wif ]] || "$raregen" keys generate --testnet --out key.wif >/dev/null
"$raregen" gen utxos "$n" --key-file key.wif --out utxos.txt --force >/dev/null
"$raregen" gen intents "$n" --signers 8 --invalid-share 0.02 \
  --out intents.ndjson --registered registered.txt --force >/dev/null
gate=(--no-gate)
[[ ${GATE:-0} == 1 ]] && gate=()
rm -f transactions.ef  # run appends (a resumed run adds to what a killed one wrote)
"$raregen" run --intents intents.ndjson --utxos utxos.txt --key-file key.wif \
  --registered registered.txt --out transactions.ef --rejects rejects.jsonl --change "${gate[@]}"
echo "demo: $(wc -l <transactions.ef) signed transactions (EF hex, one per line) in $work/transactions.ef" >&2
