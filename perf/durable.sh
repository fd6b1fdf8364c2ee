#!/usr/bin/env bash
# The cost of durability, end to end through the real binary: the same N
# intents (gate open) run twice, `raregen run --memory` and `raregen run`
# with the write-behind, fence, UTXO leases and all against a private
# PostgreSQL 15 started for the run (fsync and synchronous commit on, as in
# production; the engine, Postgres and this script share the machine's
# cores). Prints both tx/s, their ratio (the write-behind's cost), and the
# write-behind's own figures: facts per flush, flush latency p50/p99.
#
#   perf/durable.sh [BUILD_DIR] [N]
#
# BUILD_DIR: argument, else env BUILD_DIR, else `build`; it must hold
# tools/raregen/raregen. N: argument, else env N, else 20000. The database
# side alone (no ECDSA): build/bench/storage/writebehind/raregen_writebehind_bench.
# On a shared machine, note `uptime` with the numbers.
set -euo pipefail
fail() { echo "perf/durable.sh: $*" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-${BUILD_DIR:-build}}
n=${2:-${N:-20000}}
[[ $build = /* ]] || build=$root/$build
[[ $n =~ ^[1-9][0-9]*$ ]] || fail "N must be a positive whole number, got '$n'"
raregen=$build/tools/raregen/raregen
[[ -x $raregen ]] || fail "no $raregen: build it (cmake --build $build --target raregen) or pass the build directory"
command -v python3 >/dev/null || fail "needs python3 to read the JSON summaries"

work=$(mktemp -d "${TMPDIR:-/tmp}/raregen_perf_durable.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
unset DATABASE_URL  # always the private cluster: the figure is about this machine

echo "perf/durable.sh: $n intents, build $build"
"$raregen" keys generate --testnet --out key.wif >/dev/null
"$raregen" gen utxos "$n" --key-file key.wif --out utxos.txt >/dev/null
"$raregen" gen intents "$n" --signers 8 --seed 1 --out intents.ndjson --registered registered.txt >/dev/null
echo "load before: $(uptime)"
"$raregen" run --memory --intents intents.ndjson --utxos utxos.txt --key-file key.wif \
  --registered registered.txt --out mem.ef --no-gate --change --progress 0 >memory.json
"$raregen" run --intents intents.ndjson --utxos utxos.txt --key-file key.wif \
  --registered registered.txt --out db.ef --no-gate --change --progress 0 >durable.json 2>durable.log ||
  { cat durable.log >&2; fail "the durable run failed"; }
echo "load after:  $(uptime)"

python3 - "$n" memory.json durable.json <<'PY'
import json, sys
n = int(sys.argv[1])
m, d = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
for name, s in (("memory", m), ("durable", d)):
    if s["transactions"]["written"] != n:
        sys.exit(f"perf/durable.sh: {name}: only {s['transactions']['written']} of {n} written")
w = d["write_behind"]
print(f"\nin memory: {m['tx_per_second']:.0f} tx/s ({m['seconds']:.2f} s)")
print(f"durable:   {d['tx_per_second']:.0f} tx/s ({d['seconds']:.2f} s; private PostgreSQL, fsync on)")
print(f"durable / in memory: {d['tx_per_second'] / m['tx_per_second']:.3f} "
      f"(write-behind cost {100 * (1 - d['tx_per_second'] / m['tx_per_second']):.0f}%)")
print(f"write-behind: {w['facts']} facts in {w['commits']} transactions "
      f"({w['rows_per_flush']:.0f} facts per flush), flush p50 {w['flush_ms_p50']:.1f} ms, "
      f"p99 {w['flush_ms_p99']:.1f} ms; {w['facts'] / d['seconds']:.0f} facts/s committed")
PY
