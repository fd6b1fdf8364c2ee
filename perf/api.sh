#!/usr/bin/env bash
# The HTTP API's cost, end to end through the real binary: `raregen run`
# over N intents from a file (gate open, durable, private PostgreSQL) as the
# reference, then `raregen serve` taking fresh intents from wrk (Debian's
# `wrk`, a Lua script posting each pre-signed intent once) at 64 and at
# 1,000 connections for D seconds each, every 202 durable before it is sent.
# Prints the file path's tx/s, the API's 202/s with wrk's p50/p99 latency at
# each connection count, and their ratio. Everything (engine, PostgreSQL,
# wrk) shares the machine's cores.
#
#   perf/api.sh [BUILD_DIR] [N] [D]
#
# BUILD_DIR: argument, else env BUILD_DIR, else `build`. N: intents for the
# reference and per API run (argument, env N, default 30000; more than the
# API takes in D seconds, so every request is a new intent). D: seconds of
# load per connection count (argument, env D, default 8). Installs wrk with
# apt-get if it is missing.
set -euo pipefail
fail() { echo "perf/api.sh: $*" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-${BUILD_DIR:-build}}
n=${2:-${N:-30000}}
d=${3:-${D:-8}}
[[ $build = /* ]] || build=$root/$build
[[ $n =~ ^[1-9][0-9]*$ ]] || fail "N must be a positive whole number, got '$n'"
[[ $d =~ ^[1-9][0-9]*$ ]] || fail "D must be a positive whole number of seconds, got '$d'"
raregen=$build/tools/raregen/raregen
[[ -x $raregen ]] || fail "no $raregen: build it (cmake --build $build --target raregen) or pass the build directory"
command -v python3 >/dev/null || fail "needs python3 to read the JSON summaries"
if ! command -v wrk >/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then apt-get install -y -qq wrk >/dev/null || fail "cannot install wrk"
  else sudo apt-get install -y -qq wrk >/dev/null || fail "needs wrk (apt-get install wrk)"; fi
fi
ulimit -n 65536 2>/dev/null || ulimit -n 4096 || true

work=$(mktemp -d "${TMPDIR:-/tmp}/raregen_perf_api.XXXXXX")
serve_pid=
cleanup() {
  [[ -n $serve_pid ]] && kill -TERM "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
unset DATABASE_URL  # always a private cluster: the figure is about this machine

echo "perf/api.sh: $n intents per run, ${d}s of load per connection count, build $build"
"$raregen" keys generate --testnet --out key.wif >/dev/null
"$raregen" gen utxos $((3 * n)) --key-file key.wif --out utxos.txt >/dev/null
for set in file c64 c1000; do
  "$raregen" gen intents "$n" --signers 8 --out "$set.ndjson" --registered "$set.registered" >/dev/null
done
echo "load before: $(uptime)"

"$raregen" run --intents file.ndjson --utxos utxos.txt --key-file key.wif \
  --registered file.registered --out file.ef --no-gate --change --progress 0 >file.json 2>file.log ||
  { cat file.log >&2; fail "the reference run failed"; }

# Each wrk thread posts its own stride of the intents, each once; a thread
# that has used its share stops.
cat >post.lua <<'LUA'
local intents = {}
for line in io.lines(os.getenv("INTENTS")) do intents[#intents + 1] = line end
local threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  thread:set("nthreads", tonumber(os.getenv("THREADS")))
  table.insert(threads, thread)
end
function init(args)
  next_index = id
  accepted, other = 0, 0
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  local i = next_index
  if i > #intents then wrk.thread:stop() i = #intents end
  next_index = next_index + nthreads
  return wrk.format("POST", "/v1/publish", nil, intents[i])
end
function response(status, headers, body)
  if status == 202 then accepted = accepted + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local a, o = 0, 0
  for _, t in ipairs(threads) do a = a + t:get("accepted") o = o + t:get("other") end
  io.write(string.format("RESULT accepted=%d other=%d p50_ms=%.2f p99_ms=%.2f seconds=%.3f\n",
    a, o, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.duration / 1e6))
end
LUA

for c in 64 1000; do
  set=c$c
  "$raregen" serve --listen 127.0.0.1:0 --utxos utxos.txt --key-file key.wif \
    --registered "$set.registered" --out "$set.ef" --no-gate --change --progress 0 \
    --http-threads $((c + 32)) --intake-capacity 4096 >"$set.json" 2>"$set.log" &
  serve_pid=$!
  port=
  for _ in $(seq 1 600); do
    port=$(sed -n 's/.*API listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$set.log" | head -n1)
    [[ -n $port ]] && break
    kill -0 "$serve_pid" 2>/dev/null || { cat "$set.log" >&2; fail "raregen serve exited"; }
    sleep 0.1
  done
  [[ -n $port ]] || fail "raregen serve did not start listening"
  INTENTS=$set.ndjson THREADS=2 wrk -t2 -c"$c" -d"${d}s" --timeout 30s -s post.lua \
    "http://127.0.0.1:$port" >"$set.wrk" 2>&1 || { cat "$set.wrk" >&2; fail "wrk failed"; }
  kill -TERM "$serve_pid"
  wait "$serve_pid" || { cat "$set.log" >&2; fail "raregen serve exited $? after SIGTERM"; }
  serve_pid=
done
echo "load after:  $(uptime)"

python3 - "$n" <<'PY'
import json, re, sys
n = int(sys.argv[1])
f = json.load(open("file.json"))
if f["transactions"]["written"] != n:
    sys.exit(f"perf/api.sh: the reference wrote {f['transactions']['written']} of {n}")
print(f"\nfile (raregen run, durable, gate open): {f['tx_per_second']:.0f} tx/s ({f['seconds']:.2f} s)")
for c in (64, 1000):
    text = open(f"c{c}.wrk").read()
    m = re.search(r"RESULT accepted=(\d+) other=(\d+) p50_ms=([\d.]+) p99_ms=([\d.]+) seconds=([\d.]+)", text)
    if not m:
        sys.exit(f"perf/api.sh: no result from wrk at {c} connections:\n{text}")
    accepted, other, p50, p99, secs = int(m[1]), int(m[2]), float(m[3]), float(m[4]), float(m[5])
    s = json.load(open(f"c{c}.json"))
    # Requests in flight when wrk stopped were answered after it stopped counting.
    if s["api"]["accepted"] < accepted:
        sys.exit(f"perf/api.sh: wrk counted {accepted} 202s, the server only {s['api']['accepted']}")
    if s["transactions"]["written"] != s["api"]["accepted"]:
        sys.exit(f"perf/api.sh: {s['api']['accepted']} accepted but {s['transactions']['written']} written")
    rate = accepted / secs
    print(f"API, {c:4d} connections: {rate:.0f} durable 202/s ({accepted} in {secs:.1f} s, "
          f"{other} other answers), 202 latency p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
          f"API / file {rate / f['tx_per_second']:.2f}")
PY
