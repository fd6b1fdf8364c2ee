#!/usr/bin/env bash
# End to end with the network in the loop, through `raregen demo`: engine,
# private PostgreSQL 15 (fsync on) and the local ARC-compatible network (which
# verifies every signature) all on this machine's cores. Two runs:
#   open  the gate open: transactions per second, intake->sent latency
#         p50/p99, ARC request latency, and where the CPU went per stage
#   gate  the seed's gate (MAX_TX_PER_3S=500 per 3 s): the sustained rate and
#         the most transactions the network accepted in any 3-second window
#         (from the network's own acceptance times), which must not exceed 500
# Each run must prove exactly-once (the demo exits non-zero otherwise).
#
#   perf/arc.sh [BUILD_DIR] [N_OPEN] [N_GATE]
#
# BUILD_DIR: argument, else env BUILD_DIR, else `build` (must hold
# tools/raregen/raregen). N_OPEN default 20000; N_GATE default 3000 (about
# 18 s at 166.67 tx/s). On a shared machine, note `uptime` with the numbers.
set -euo pipefail
fail() { echo "perf/arc.sh: $*" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-${BUILD_DIR:-build}}
n_open=${2:-20000}
n_gate=${3:-3000}
[[ $build = /* ]] || build=$root/$build
for n in "$n_open" "$n_gate"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || fail "counts must be positive whole numbers, got '$n'"
done
raregen=$build/tools/raregen/raregen
[[ -x $raregen ]] || fail "no $raregen: build it (cmake --build $build --target raregen) or pass the build directory"
command -v python3 >/dev/null || fail "needs python3 to read the JSON reports"

work=$(mktemp -d "${TMPDIR:-/tmp}/raregen_perf_arc.XXXXXX")
trap 'rm -rf "$work"' EXIT
unset DATABASE_URL ARC_URL ARC_API_KEY  # the embedded default: the figure is about this machine

echo "perf/arc.sh: open gate $n_open intents, seed gate $n_gate intents, build $build"
echo "load before: $(uptime)"
"$raregen" demo --intents "$n_open" --work-dir "$work/open" >"$work/open.json" 2>"$work/open.log" ||
  { tail -30 "$work/open.log" >&2; fail "the open-gate demo failed"; }
echo "load between: $(uptime)"
"$raregen" demo --intents "$n_gate" --gate --work-dir "$work/gate" >"$work/gate.json" 2>"$work/gate.log" ||
  { tail -30 "$work/gate.log" >&2; fail "the gated demo failed"; }
echo "load after:  $(uptime)"

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
def load(name):
    return json.load(open(f"{work}/{name}.json"))
o, g = load("open"), load("gate")
for name, r in (("open", o), ("gate", g)):
    if not r["proof"]["exactly_once"]:
        sys.exit(f"perf/arc.sh: {name}: the exactly-once proof failed")
print(f"\ngate open: {o['transactions']['sent']} sent in {o['seconds']:.2f} s = "
      f"{o['tx_per_second']:.0f} tx/s; intake->sent p50 {o['latency_ms']['intake_to_sent_p50']:.0f} ms, "
      f"p99 {o['latency_ms']['intake_to_sent_p99']:.0f} ms; ARC request p50 "
      f"{o['arc']['request_ms_p50']:.0f} ms, p99 {o['arc']['request_ms_p99']:.0f} ms "
      f"({o['arc']['requests']} requests)")
busy = {k: v["busy_ms"] for k, v in o["stages"].items()}
total = sum(busy.values())
print("  engine stage CPU (busy ms): " + ", ".join(f"{k} {v:.0f}" for k, v in busy.items()))
c = o.get("cpu", {})
if c:
    print(f"  CPU per transaction: engine {c.get('engine_us_per_tx', 0):.0f} us, local network "
          f"{c.get('network_us_per_tx', 0):.0f} us, PostgreSQL {c.get('database_us_per_tx', 0):.0f} us "
          f"(2 cores = 2,000,000 us of CPU per second)")
w = o["write_behind"]
print(f"  write-behind: {w['commits']} commits, {w['rows_per_flush']:.0f} facts per flush, "
      f"flush p50 {w['flush_ms_p50']:.0f} ms, p99 {w['flush_ms_p99']:.0f} ms")

# The seed gate: the most acceptances in any 3-second window, by the
# network's clock (a sliding window over every acceptance time).
txs = json.load(open(f"{work}/gate/network_txs.json"))["txs"]
pub = sorted(t["acceptedMs"] for t in txs if len(t["rawTx"]) < 1000)  # publications, not splits
best, j = 0, 0
for i in range(len(pub)):
    while pub[i] - pub[j] >= 3000:
        j += 1
    best = max(best, i - j + 1)
span = (pub[-1] - pub[0]) / 1000 if len(pub) > 1 else 0
# The first 500 are a free burst; the sustained rate is what follows it.
sustained = (len(pub) - 500) / span if span and len(pub) > 500 else 0
print(f"\nseed gate (500 per 3 s): {g['transactions']['sent']} sent in {g['seconds']:.2f} s "
      f"({g['tx_per_second']:.1f} tx/s overall, the first 500 a burst); sustained after the burst "
      f"{sustained:.1f} tx/s (the seed's 166.67 less the network's answer time per token cycle); "
      f"most accepted in any 3 s window: {best} (limit 500)")
if best > 500:
    sys.exit("perf/arc.sh: the gate let more than 500 through in a 3-second window")
PY
