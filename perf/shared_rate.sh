#!/usr/bin/env bash
# One rate limit shared by every engine on a database: 1, 2 and 3 `raregen
# run` engines on one PostgreSQL 15 (fsync on) sending to the local ARC
# network, the seed's gate (MAX_TX_PER_3S = 500 per 3 s) shared through the
# database, a backlog in each (TOTAL intents split evenly). For each count:
# the sustained rate after the first 500 (a free burst), its ratio to the
# seed's 166.67 tx/s, and the most publications the network accepted in any
# 3-second window (its own acceptance clock), which must not exceed 500.
#
#   perf/shared_rate.sh [BUILD_DIR] [TOTAL]
#   OPEN=1 perf/shared_rate.sh [BUILD_DIR] [TOTAL]
#
# OPEN=1: the gate open instead (no limit, nothing shared): the rate the
# engines and the one PostgreSQL reach together, first acceptance to last,
# which says where one database saturates on this machine.
#
# BUILD_DIR: argument, else env BUILD_DIR, else `build`; TOTAL: argument,
# else env TOTAL, else 3000. Run as root it starts PostgreSQL as the
# `postgres` user. On a shared machine, note `uptime` with the numbers.
set -euo pipefail
fail() { echo "perf/shared_rate.sh: $*" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-${BUILD_DIR:-build}}
total=${2:-${TOTAL:-3000}}
[[ $build = /* ]] || build=$root/$build
[[ $total =~ ^[1-9][0-9]*$ ]] || fail "TOTAL must be a positive whole number, got '$total'"
open=${OPEN:-0}
[[ $open = 0 || $open = 1 ]] || fail "OPEN must be 0 or 1, got '$open'"
gate_flags=(--rate 500 --period-ms 3000)
[[ $open = 1 ]] && gate_flags=(--no-gate)
raregen=$build/tools/raregen/raregen
[[ -x $raregen ]] || fail "no $raregen: build it (cmake --build $build --target raregen) or pass the build directory"
command -v python3 >/dev/null || fail "needs python3 to read the network's acceptance times"
pgbin=/usr/lib/postgresql/15/bin
[[ -x $pgbin/initdb ]] || fail "needs PostgreSQL 15's server binaries ($pgbin): apt-get install postgresql-15"

work=$(mktemp -d "${TMPDIR:-/tmp}/raregen_perf_shared.XXXXXX")
chmod 0755 "$work"
as_pg=()
[[ $(id -u) -eq 0 ]] && as_pg=(runuser -u postgres --)
net_pid=
cleanup() {
  [[ -n $net_pid ]] && kill -TERM "$net_pid" 2>/dev/null && wait "$net_pid" 2>/dev/null
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
unset DATABASE_URL ARC_URL ARC_API_KEY MAX_TX_PER_3S

# The server's own directories (data, socket) belong to whoever runs it.
mkdir pg sock
[[ ${#as_pg[@]} -gt 0 ]] && chown postgres pg sock
"${as_pg[@]}" "$pgbin/initdb" -D "$work/pg" -U raregen --auth=trust >pg_init.log 2>&1 ||
  { cat pg_init.log >&2; fail "initdb failed"; }
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg/server.log" -w \
  -o "-c listen_addresses='' -c unix_socket_directories='$work/sock' -c max_connections=200" \
  start >/dev/null || { cat pg/server.log >&2; fail "PostgreSQL did not start"; }

wait_port() {  # FILE PID
  for _ in $(seq 600); do
    [[ -s $1 ]] && { cat "$1"; return; }
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

"$raregen" keys generate --testnet --out key.wif >/dev/null
address=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["address"])' \
  < <("$raregen" keys address --wif-file key.wif))
if [[ $open = 1 ]]; then
  echo "perf/shared_rate.sh: $total intents over 1, 2 and 3 engines on one database, gate open, build $build"
else
  echo "perf/shared_rate.sh: $total intents over 1, 2 and 3 engines sharing 500 per 3 s, build $build"
fi
echo "load before: $(uptime)"
results=()
for engines in 1 2 3; do
  db="host=$work/sock dbname=rg$engines user=raregen"
  "$pgbin/createdb" -h "$work/sock" -U raregen "rg$engines"
  "$raregen" network serve --port-file "net$engines.port" >"net$engines.out" 2>"net$engines.err" &
  net_pid=$!
  net_url=http://127.0.0.1:$(wait_port "net$engines.port" "$net_pid") ||
    { cat "net$engines.err" >&2; fail "the network did not start"; }
  funding=$(python3 -c '
import json, sys
f = json.load(sys.stdin)
o = f["outputs"][0]
print("%s:%d:%d" % (f["txid"], o["vout"], o["satoshis"]))' \
    < <("$raregen" network fund --url "$net_url" --address "$address" --satoshis $(( (total + 100) * 110 + 100000 ))))
  DATABASE_URL=$db "$raregen" utxos split --from "$funding" --key-file key.wif --count $(( total + 100 )) \
    --out "utxos$engines.txt" --import --arc-url "$net_url" >/dev/null ||
    fail "splitting the publish UTXOs failed"
  "$raregen" gen intents "$total" --signers 8 --out "intents$engines.ndjson" \
    --registered "registered$engines.txt" --force >/dev/null
  python3 - "$engines" "intents$engines.ndjson" <<'PY'
import sys
k, path = int(sys.argv[1]), sys.argv[2]
outs = [open(f"{path}.{i}", "w") for i in range(k)]
for n, line in enumerate(open(path)):
    outs[n % k].write(line)
PY
  pids=()
  for ((i = 0; i < engines; i++)); do
    DATABASE_URL=$db "$raregen" run --intents "intents$engines.ndjson.$i" \
      --registered "registered$engines.txt" --key-file key.wif --arc-url "$net_url" \
      "${gate_flags[@]}" --window-ms 100 --no-replenish --progress 0 \
      --batch-prefix "k$engines-e$i" >"run$engines-$i.json" 2>"run$engines-$i.log" &
    pids+=($!)
  done
  for ((i = 0; i < engines; i++)); do
    wait "${pids[$i]}" || { tail -20 "run$engines-$i.log" >&2; fail "engine $i of $engines failed"; }
  done
  curl -sf "$net_url/admin/txs" >"txs$engines.json" || fail "reading the network's transactions failed"
  kill -TERM "$net_pid" && wait "$net_pid" 2>/dev/null || true
  net_pid=
  results+=("$(python3 - "$engines" "txs$engines.json" "$total" "$open" <<'PY'
import json, sys
k, path, total, open_gate = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
txs = json.load(open(path))["txs"]
pub = sorted(t["acceptedMs"] for t in txs if len(t["rawTx"]) < 1000)  # publications, not splits
if len(pub) != total:
    sys.exit(f"perf/shared_rate.sh: {k} engines: the network accepted {len(pub)} publications, not {total}")
best, j = 0, 0
for i in range(len(pub)):
    while pub[i] - pub[j] >= 3000:
        j += 1
    best = max(best, i - j + 1)
span = (pub[-1] - pub[0]) / 1000
if open_gate:
    print(f"{k} engine{'s' if k > 1 else ' '}: {total} published in {span:.2f} s = {total / span:7.1f} tx/s "
          f"together (gate open)")
    sys.exit(0)
sustained = (len(pub) - 500) / span if span and len(pub) > 500 else 0
print(f"{k} engine{'s' if k > 1 else ' '}: sustained {sustained:6.1f} tx/s = {sustained / (500 / 3):.3f} of 166.67; "
      f"most accepted in any 3 s window {best} (limit 500)")
if best > 500:
    sys.exit(f"perf/shared_rate.sh: {k} engines let {best} through in a 3-second window")
PY
)")
done
echo "load after:  $(uptime)"
echo
printf '%s\n' "${results[@]}"
