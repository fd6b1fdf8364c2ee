#!/usr/bin/env bash
# The old RareGen service's clients, unchanged, against raregen: intents
# signed with npm's @bsv/sdk the way its clients sign them (old_clients.mjs
# gen), pushed through `raregen run` (in memory, to a file), then every
# transaction read back with @bsv/sdk: each valid intent published once
# with the hash its client signed, each tampered one refused with its
# reason (old_clients.mjs check), and every transaction script-verified by
# the SDK's interpreter (crosscheck.mjs). Then the same intents again over
# HTTP, one POST /v1/publish each, to `raregen serve` (its own private
# PostgreSQL, to a file), stopped with SIGTERM, and the same checks.
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

# The same clients over HTTP, to the service.
mkdir -p serve
cp expected.json serve/
env -u DATABASE_URL "$raregen" serve --listen 127.0.0.1:0 --utxos utxos.txt --key-file key.wif \
  --registered registered.txt --out serve/txs.ef --no-gate --change --progress 0 \
  >serve/summary.json 2>serve/serve.err &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
port=
for _ in $(seq 1 600); do
  port=$(sed -n 's/.*API listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' serve/serve.err | head -n1)
  [[ -n $port ]] && break
  kill -0 $pid 2>/dev/null || { cat serve/serve.err >&2; fail "raregen serve exited"; }
  sleep 0.1
done
[[ -n $port ]] || { cat serve/serve.err >&2; fail "raregen serve did not start listening"; }
node "$here/old_clients.mjs" post --sdk "$sdk_dir" --url "http://127.0.0.1:$port" \
  --intents intents.ndjson --dir serve
# Everything accepted is published before the drain ends; then exit 0.
kill -TERM $pid
wait $pid || { cat serve/serve.err >&2; fail "raregen serve exited $? after SIGTERM"; }
trap - EXIT
node "$here/old_clients.mjs" check --sdk "$sdk_dir" --dir serve
node "$here/crosscheck.mjs" --sdk "$sdk_dir" --ef serve/txs.ef
