#!/usr/bin/env bash
# The local network's accepted transactions, cross-checked by npm's @bsv/sdk:
# `raregen demo` publishes RAREGEN_NETWORK_INTENTS (default 300) intents end
# to end (a private PostgreSQL, the local ARC-compatible network, a funded
# key, split UTXOs, the pipeline sending to the network) and saves the
# network's accepted set (GET /admin/txs) as network_txs.json; then
# network_accepted.mjs checks every publication in it (parse, txid, payload,
# the interpreter on input 0 against the parent split transaction's output)
# and the split transactions themselves. Then once more with one signature
# corrupted on purpose, which must be the one and only failure: the check
# can fail.
#
#   run_network_accepted.sh <raregen> <npm-scratch-root> <work-dir>
#
# @bsv/sdk comes from ensure_bsv_sdk.sh (see run_crosscheck.sh). The demo
# runs with DATABASE_URL, ARC_URL and ARC_API_KEY removed from its
# environment, so it always uses its own database and network.
set -euo pipefail

fail() { echo "network_accepted: $*" >&2; exit 1; }
[[ $# -eq 3 ]] || fail "usage: $0 <raregen> <npm-scratch-root> <work-dir>"
raregen=$1
scratch_root=${RAREGEN_NPM_SCRATCH:-$2}
work=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
script="$here/network_accepted.mjs"
intents=${RAREGEN_NETWORK_INTENTS:-300}

[[ -x "$raregen" ]] || fail "'$raregen' is missing: build target raregen"
# shellcheck source=ensure_bsv_sdk.sh
source "$here/ensure_bsv_sdk.sh"
ensure_bsv_sdk "$scratch_root"

rm -rf "$work" && mkdir -p "$work"
started=$(date +%s)
demo="$work/demo"
env -u DATABASE_URL -u ARC_URL -u ARC_API_KEY \
  "$raregen" demo --intents "$intents" --work-dir "$demo" >"$work/report.json" 2>"$work/demo.log" ||
  { cat "$work/demo.log" >&2; fail "raregen demo failed (its log is above)"; }
[[ -s "$demo/network_txs.json" ]] || fail "the demo saved no $demo/network_txs.json"
echo "network_accepted: demo of $intents intents done in $(( $(date +%s) - started )) s"

node "$script" --sdk "$sdk_dir" --txs "$demo/network_txs.json" --sample 0 --expect "$intents"

# ---- the check can fail ------------------------------------------------------
status=0
node "$script" --sdk "$sdk_dir" --txs "$demo/network_txs.json" --sample 0 --expect "$intents" \
  --corrupt-signature >"$work/corrupt.log" 2>&1 || status=$?
if [[ $status -ne 1 ]] ||
   ! grep -q '^network_accepted: [0-9]* passed, 1 failed$' "$work/corrupt.log" ||
   ! grep -q '^FAIL \[interpreter\] publication' "$work/corrupt.log"; then
  cat "$work/corrupt.log" >&2
  fail "self-test: a corrupted signature was not the one failure, rejected by [interpreter] (exit status $status)"
fi
echo "network_accepted: self-test: the corrupted signature was rejected by [interpreter]"
echo "network_accepted: done in $(( $(date +%s) - started )) s"
