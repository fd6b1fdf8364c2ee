#!/usr/bin/env bash
# The replenisher end to end through the real binary: `raregen serve` on the
# embedded default (a private PostgreSQL 15, fsync on) sending to the local
# ARC network, with one funding output (--funding) and an empty pool.
#   1. How long the replenisher takes to split BATCH publish UTXOs (default
#      100,000, the seed's SPLIT_BATCH_SIZE) from that one output: a chain of
#      --split-per-tx 1000 transactions, each recorded, sent, accepted, its
#      outputs inserted.
#   2. The pool's depth over time while N intents are posted to the API
#      (raregen load, 64 connections, gate open): the pool drains under
#      MIN (default 60% of BATCH) and the replenisher refills it in flight.
# Prints both, writes replenish_depth.csv and .svg (the plot) to OUT_DIR (default
# perf/out), and fails if any intent was not published.
#
#   perf/replenish.sh [BUILD_DIR] [N]
#
# BUILD_DIR: argument, else env BUILD_DIR, else `build`; N: argument, else
# env N, else 60000. Env BATCH, MIN, OUT_DIR. On a shared machine, note
# `uptime` with the numbers.
set -euo pipefail
fail() { echo "perf/replenish.sh: $*" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-${BUILD_DIR:-build}}
n=${2:-${N:-60000}}
batch=${BATCH:-100000}
min=${MIN:-$((batch * 6 / 10))}
out_dir=${OUT_DIR:-$root/perf/out}
[[ $build = /* ]] || build=$root/$build
[[ $n =~ ^[1-9][0-9]*$ ]] || fail "N must be a positive whole number, got '$n'"
[[ $batch =~ ^[1-9][0-9]*$ ]] || fail "BATCH must be a positive whole number, got '$batch'"
[[ $min =~ ^[0-9]+$ ]] || fail "MIN must be a whole number, got '$min'"
raregen=$build/tools/raregen/raregen
[[ -x $raregen ]] || fail "no $raregen: build it (cmake --build $build --target raregen) or pass the build directory"
command -v python3 >/dev/null || fail "needs python3 to sample /health and draw the plot"
[[ $out_dir = /* ]] || out_dir=$PWD/$out_dir
mkdir -p "$out_dir"

work=$(mktemp -d "${TMPDIR:-/tmp}/raregen_perf_replenish.XXXXXX")
net_pid= serve_pid= sampler_pid=
cleanup() {
  [[ -n $sampler_pid ]] && kill "$sampler_pid" 2>/dev/null
  [[ -n $serve_pid ]] && kill -TERM "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  [[ -n $net_pid ]] && kill -TERM "$net_pid" 2>/dev/null && wait "$net_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
unset DATABASE_URL ARC_URL ARC_API_KEY  # the embedded default: the figure is about this machine

wait_port() {  # FILE PID
  for _ in $(seq 600); do
    [[ -s $1 ]] && { cat "$1"; return; }
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

echo "perf/replenish.sh: split $batch, then $n intents with the pool floor at $min, build $build"
"$raregen" network serve --port-file net.port >net.out 2>net.err &
net_pid=$!
net_url=http://127.0.0.1:$(wait_port net.port "$net_pid") || { cat net.err >&2; fail "the network did not start"; }
"$raregen" keys generate --testnet --out key.wif >/dev/null
address=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["address"])' \
  < <("$raregen" keys address --wif-file key.wif))
sats=$(( (2 * batch + n) * 110 + 1000000 ))  # two splits of BATCH and spare
funding=$(python3 -c '
import json, sys
f = json.load(sys.stdin)
o = f["outputs"][0]
print("%s:%d:%d" % (f["txid"], o["vout"], o["satoshis"]))' \
  < <("$raregen" network fund --url "$net_url" --address "$address" --satoshis "$sats"))
"$raregen" gen intents "$n" --signers 8 --out intents.ndjson --registered registered.txt >/dev/null
echo "load before: $(uptime)"

t0=$(date +%s.%N)
"$raregen" serve --port-file api.port --key-file key.wif --registered registered.txt \
  --arc-url "$net_url" --funding "$funding" --no-gate --progress 0 \
  --min-pool-size "$min" --split-batch-size "$batch" --split-per-tx 1000 \
  --pool-check-interval-ms 2000 --split-cooldown-ms 5000 >serve.json 2>serve.log &
serve_pid=$!
api=http://127.0.0.1:$(wait_port api.port "$serve_pid") || { cat serve.log >&2; fail "raregen serve did not start"; }

# /health every 250 ms: seconds, depth (available + in the ring), splits, outputs.
python3 - "$api" "$t0" >depth.csv <<'PY' &
import json, sys, time, urllib.request
api, t0 = sys.argv[1], float(sys.argv[2])
print("seconds,depth,available,in_ring,splits,outputs", flush=True)
while True:
    try:
        h = json.load(urllib.request.urlopen(api + "/health", timeout=5))
        p, r = h["pool"], h.get("replenisher") or {}
        print(f"{time.time() - t0:.2f},{(p['available'] or 0) + p['inRing']},{p['available']},"
              f"{p['inRing']},{r.get('splits', 0)},{r.get('outputs', 0)}", flush=True)
    except Exception:
        pass
    time.sleep(0.25)
PY
sampler_pid=$!

# 1. The first split: from the start of serve until BATCH outputs are made.
split_s=
for _ in $(seq 6000); do
  outputs=$(tail -n 1 depth.csv | cut -d, -f6)
  if [[ $outputs =~ ^[0-9]+$ ]] && (( outputs >= batch )); then
    split_s=$(python3 -c "import time; print(f'{time.time() - $t0:.1f}')")
    break
  fi
  kill -0 "$serve_pid" 2>/dev/null || { cat serve.log >&2; fail "raregen serve stopped"; }
  sleep 0.1
done
[[ -n $split_s ]] || fail "the replenisher did not make $batch outputs in 10 minutes (serve.log: $(tail -3 serve.log))"
load_t=$(python3 -c "import time; print(f'{time.time() - $t0:.2f}')")

# 2. Drain and refill: post every intent, then stop (the drain publishes
# everything accepted) and let the sampler see the end.
"$raregen" load --url "$api" --intents intents.ndjson -c 64 -q >load.json 2>load.err ||
  { cat load.err >&2; fail "raregen load did not get a verdict for every intent"; }
sleep 3
kill -TERM "$serve_pid"
wait "$serve_pid" || { tail -20 serve.log >&2; fail "raregen serve did not exit 0"; }
serve_pid=
kill "$sampler_pid" 2>/dev/null; wait "$sampler_pid" 2>/dev/null || true
sampler_pid=
echo "load after:  $(uptime)"
cp depth.csv "$out_dir/replenish_depth.csv"

python3 - "$n" "$batch" "$min" "$split_s" "$load_t" serve.json load.json depth.csv "$out_dir/replenish_depth.svg" <<'PY'
import csv, json, sys
n, batch, floor = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
split_s, load_t = float(sys.argv[4]), float(sys.argv[5])
s, load = json.load(open(sys.argv[6])), json.load(open(sys.argv[7]))
rows = [r for r in csv.DictReader(open(sys.argv[8]))]
sent = s["transactions"]["sent"]
if sent != n:
    sys.exit(f"perf/replenish.sh: {sent} of {n} intents published")
rep = s.get("replenisher", {})
print(f"\nsplit {batch} outputs from one funding output: {split_s:.1f} s from the start of "
      f"raregen serve ({batch / split_s:.0f} outputs/s; {batch // 1000} transactions of 1000)")
after = [r for r in rows if float(r["seconds"]) >= load_t]
low = min(int(r["depth"]) for r in after) if after else 0
print(f"drain and refill: {n} intents at {load.get('answered_per_second', 0):.0f}/s posted; "
      f"pool lowest {low} (floor {floor}); replenisher {rep.get('splits')} split transactions, "
      f"{rep.get('outputs')} outputs in all, state {rep.get('state')}; every intent published")
# The plot: depth over time, the floor, the start of the load.
w, h, m = 800, 360, 50
t_max = max(float(r["seconds"]) for r in rows) or 1
d_max = max(max(int(r["depth"]) for r in rows), floor, 1) * 1.1
x = lambda t: m + (w - 2 * m) * t / t_max
y = lambda d: h - m - (h - 2 * m) * d / d_max
pts = " ".join(f"{x(float(r['seconds'])):.1f},{y(int(r['depth'])):.1f}" for r in rows)
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
       f'<rect width="{w}" height="{h}" fill="white"/>',
       f'<text x="{m}" y="20">raregen serve: publish UTXO pool depth (available + in the ring), '
       f'{n} intents, split batch {batch}</text>',
       f'<line x1="{m}" y1="{h - m}" x2="{w - m}" y2="{h - m}" stroke="black"/>',
       f'<line x1="{m}" y1="{m}" x2="{m}" y2="{h - m}" stroke="black"/>',
       f'<line x1="{m}" y1="{y(floor):.1f}" x2="{w - m}" y2="{y(floor):.1f}" stroke="#c00" stroke-dasharray="4"/>',
       f'<text x="{w - m - 140}" y="{y(floor) - 4:.1f}" fill="#c00">MIN_POOL_SIZE {floor}</text>',
       f'<line x1="{x(load_t):.1f}" y1="{m}" x2="{x(load_t):.1f}" y2="{h - m}" stroke="#888" stroke-dasharray="2"/>',
       f'<text x="{x(load_t) + 4:.1f}" y="{m + 12}" fill="#555">load starts</text>',
       f'<polyline fill="none" stroke="#070" stroke-width="1.5" points="{pts}"/>',
       f'<text x="{w / 2 - 20}" y="{h - 15}">seconds</text>',
       f'<text x="{w - m - 10}" y="{h - m + 15}">{t_max:.0f}</text>',
       f'<text x="5" y="{m + 4}">{int(d_max)}</text>', '</svg>']
open(sys.argv[9], "w").write("\n".join(svg) + "\n")
print(f"plot: {sys.argv[9]}")
PY
