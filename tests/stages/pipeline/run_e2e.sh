#!/usr/bin/env bash
# End to end through the real binary: `raregen gen` makes a key, UTXOs and
# signed intents (10% invalid, of every kind); `raregen run` pushes them
# through the whole pipeline; then
#   - the summary must count every intent: accepted = valid, rejects by reason
#     = what the generator planted, transactions written = accepted;
#   - every transaction written must verify with npm's @bsv/sdk (parser and
#     script interpreter, EF source outputs), independently of our code;
#   - SIGTERM in the middle of a run fed from a pipe must drain: exit 0 and
#     every accepted intent written.
#
#   run_e2e.sh <raregen> <npm-scratch-root> <work-dir>
set -euo pipefail
fail() { echo "pipeline e2e: $*" >&2; exit 1; }
[[ $# -eq 3 ]] || fail "usage: $0 <raregen> <npm-scratch-root> <work-dir>"
raregen=$1
scratch_root=${RAREGEN_NPM_SCRATCH:-$2}
work=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../crosscheck/ensure_bsv_sdk.sh
source "$here/../../crosscheck/ensure_bsv_sdk.sh"
ensure_bsv_sdk "$scratch_root"

rm -rf "$work" && mkdir -p "$work" && cd "$work"
n=${RAREGEN_E2E_COUNT:-1500}

"$raregen" keys generate --testnet --out key.wif >/dev/null
"$raregen" gen utxos "$n" --key-file key.wif --out utxos.txt >/dev/null
"$raregen" gen intents "$n" --signers 3 --invalid-share 0.1 --seed 42 \
  --out intents.ndjson --registered registered.txt >gen.json
"$raregen" run --intents intents.ndjson --utxos utxos.txt --key-file key.wif \
  --registered registered.txt --out txs.ef --rejects rejects.jsonl --no-gate --change \
  --progress 0 >summary.json

node - gen.json summary.json txs.ef rejects.jsonl <<'JS'
const fs = require('fs');
const [genPath, sumPath, txPath, rejPath] = process.argv.slice(2);
const gen = JSON.parse(fs.readFileSync(genPath, 'utf8'));
const sum = JSON.parse(fs.readFileSync(sumPath, 'utf8'));
const lines = (p) => fs.readFileSync(p, 'utf8').split('\n').filter((l) => l.length > 0);
const problems = [];
const eq = (what, got, want) => { if (got !== want) problems.push(`${what}: got ${got}, want ${want}`); };
eq('intents read', sum.intents.read, gen.intents);
eq('accepted', sum.intents.accepted, gen.valid);
eq('rejected', sum.intents.rejected, gen.invalid);
for (const [reason, count] of Object.entries(gen.expected_rejects))
  eq(`rejected as ${reason}`, sum.intents.rejected_by_reason[reason] ?? 0, count);
eq('signed', sum.transactions.signed, gen.valid);
eq('written', sum.transactions.written, gen.valid);
eq('lines in txs.ef', lines(txPath).length, gen.valid);
eq('lines in rejects.jsonl', lines(rejPath).length, gen.invalid);
if (problems.length) { console.error(problems.join('\n')); process.exit(1); }
console.log(`pipeline e2e: summary consistent: ${gen.valid} accepted and written, ${gen.invalid} rejected by reason`);
JS

node "$here/../../crosscheck/crosscheck.mjs" --sdk "$sdk_dir" --ef txs.ef

# ---- SIGTERM drains --------------------------------------------------------
mkfifo feed
"$raregen" run --intents - --utxos utxos.txt --key-file key.wif --registered registered.txt \
  --out drained.ef --no-gate --progress 0 <feed >drained.json 2>drained.log &
pid=$!
exec 3>feed                       # keep the pipe open: intake never sees EOF
head -n 400 intents.ndjson >&3
for _ in $(seq 1 600); do          # until something is written (bounded)
  [[ -s drained.ef ]] && break
  sleep 0.1
done
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
exec 3>&-
[[ $status -eq 0 ]] || { cat drained.log >&2; fail "raregen run exited $status after SIGTERM (want 0)"; }
node - drained.json drained.ef <<'JS'
const fs = require('fs');
const sum = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const written = fs.readFileSync(process.argv[3], 'utf8').split('\n').filter((l) => l).length;
if (sum.stopped_by_signal !== 15) { console.error(`stopped_by_signal: ${sum.stopped_by_signal}`); process.exit(1); }
if (sum.intents.accepted === 0 || written !== sum.intents.accepted || sum.transactions.written !== written) {
  console.error(`after SIGTERM: accepted ${sum.intents.accepted}, written ${written}`); process.exit(1);
}
console.log(`pipeline e2e: SIGTERM drained: ${written} accepted, ${written} written`);
JS
echo "pipeline e2e: 2 passed, 0 failed"
