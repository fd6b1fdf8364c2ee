#!/usr/bin/env bash
# The old RareGen service's clients, unchanged, against raregen: intents
# signed with npm's @bsv/sdk the way its clients sign them (old_clients.mjs
# gen), pushed through `raregen run` (in memory, to a file), then every
# transaction read back with @bsv/sdk: each valid intent published once
# with the hash its client signed, each tampered one refused with its
# reason (old_clients.mjs check), and every transaction script-verified by
# the SDK's interpreter (crosscheck.mjs).
#
#   run_old_clients.sh <raregen> <npm-scratch-root> <work-dir>
set -euo pipefail
fail() { echo "old clients: $*" >&2; exit 1; }
[[ $# -eq 3 ]] || fail "usage: $0 <raregen> <npm-scratch-root> <work-dir>"
raregen=$1
scratch_root=${RAREGEN_NPM_SCRATCH:-$2}
work=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ensure_bsv_sdk.sh
source "$here/ensure_bsv_sdk.sh"
ensure_bsv_sdk "$scratch_root"

rm -rf "$work" && mkdir -p "$work" && cd "$work"
n=${RAREGEN_OLD_CLIENTS_COUNT:-280}
node "$here/old_clients.mjs" gen --sdk "$sdk_dir" --out . --count "$n"
"$raregen" keys generate --testnet --out key.wif >/dev/null
"$raregen" gen utxos "$n" --key-file key.wif --out utxos.txt >/dev/null
"$raregen" run --memory --intents intents.ndjson --utxos utxos.txt --key-file key.wif \
  --registered registered.txt --out txs.ef --rejects rejects.jsonl --no-gate --change \
  --progress 0 >summary.json
node "$here/old_clients.mjs" check --sdk "$sdk_dir" --dir .
node "$here/crosscheck.mjs" --sdk "$sdk_dir" --ef txs.ef
