#!/usr/bin/env bash
# In-memory end to end through the real binary, gate open: `raregen gen`
# makes a key, N UTXOs and N valid signed intents in a temporary directory
# (not timed), `raregen run --no-gate --change` pushes them through ingest ->
# sequence -> sign -> gate -> a file of transactions, and this prints the
# run's tx/s and per-stage busy time, then the raw-signing reference
# (raregen_chain_bench BM_RawEcdsaSign, one thread) measured right after.
#
#   perf/inmemory.sh [BUILD_DIR] [N]
#
# BUILD_DIR: argument, else env BUILD_DIR, else `build` (relative paths are
# taken from the repository root); it must hold tools/raregen/raregen and
# bench/engine/chain/raregen_chain_bench (a Release build with
# RAREGEN_BENCH=ON). N: argument, else env N, else 20000.
#
# The figure includes writing every transaction (EF hex) to a file in the
# temporary directory; bench/stages/pipeline (raregen_pipeline_bench)
# measures the same graph with a discarding sink, next to raw sign and verify.
# On a shared machine, note `uptime` with the numbers.
set -euo pipefail
fail() { echo "perf/inmemory.sh: $*" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-${BUILD_DIR:-build}}
n=${2:-${N:-20000}}
[[ $build = /* ]] || build=$root/$build
[[ $n =~ ^[1-9][0-9]*$ ]] || fail "N must be a positive whole number, got '$n'"
raregen=$build/tools/raregen/raregen
chain_bench=$build/bench/engine/chain/raregen_chain_bench
[[ -x $raregen ]] || fail "no $raregen: build it (cmake --build $build --target raregen) or pass the build directory"
[[ -x $chain_bench ]] || fail "no $chain_bench: build it (cmake --build $build --target raregen_chain_bench; needs RAREGEN_BENCH=ON)"
command -v python3 >/dev/null || fail "needs python3 to read the JSON summaries"

work=$(mktemp -d "${TMPDIR:-/tmp}/raregen_perf_inmemory.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

echo "perf/inmemory.sh: $n intents, build $build"
echo "load before: $(uptime)"
"$raregen" keys generate --testnet --out key.wif >/dev/null
"$raregen" gen utxos "$n" --key-file key.wif --out utxos.txt >/dev/null
"$raregen" gen intents "$n" --signers 8 --seed 1 --out intents.ndjson --registered registered.txt >/dev/null
"$raregen" run --memory --intents intents.ndjson --utxos utxos.txt --key-file key.wif \
  --registered registered.txt --out txs.ef --no-gate --change --progress 0 >summary.json
"$chain_bench" --benchmark_filter='^BM_RawEcdsaSign$' --benchmark_repetitions=3 \
  --benchmark_out=raw_sign.json --benchmark_out_format=json >raw_sign.log 2>&1 ||
  { cat raw_sign.log >&2; fail "raregen_chain_bench failed"; }
echo "load after:  $(uptime)"

python3 - "$n" summary.json raw_sign.json <<'PY'
import json, statistics, sys
n, summary_path, raw_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = json.load(open(summary_path))
raw = json.load(open(raw_path))
runs = [b["items_per_second"] for b in raw["benchmarks"]
        if b.get("run_type") == "iteration" and "items_per_second" in b]
if s["transactions"]["written"] != n:
    sys.exit(f"perf/inmemory.sh: only {s['transactions']['written']} of {n} transactions written "
             f"(rejected: {s['intents']['rejected_by_reason']})")
tx = s["tx_per_second"]
print(f"\nend to end: {n} intents in {s['seconds']:.3f} s = {tx:.0f} tx/s "
      f"({s['batches']} batches, gate open, 2 runner threads)")
print("stage busy time (wall time inside step()):")
for name, c in s["stages"].items():
    print(f"  {name:<9} {c['busy_ms']:9.1f} ms  {1000 * c['busy_ms'] / n:7.1f} us/job  "
          f"{100 * c['busy_ms'] / 1000 / s['seconds']:5.1f}% of the run")
if runs:
    sign = statistics.median(runs)
    print(f"raw secp256k1_ecdsa_sign, 1 thread: {sign:.0f} /s ({1e6 / sign:.1f} us), "
          f"median of {len(runs)}")
    print(f"tx/s per core over raw sign/s: {tx / 2 / sign:.3f} "
          f"(each job also costs an ECDSA verify at ingest; see raregen_pipeline_bench)")
PY
