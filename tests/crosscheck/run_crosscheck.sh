#!/usr/bin/env bash
# Cross-checks raregen_chain's publication transactions with npm's @bsv/sdk
# (its parser and its script interpreter; see crosscheck.mjs).
#
#   run_crosscheck.sh [--self-test] <raregen_crosscheck_gen> <npm-scratch-root> <work-dir>
#
# Normal run: generates RAREGEN_CROSSCHECK_COUNT (default 1200) transactions
# with seed RAREGEN_CROSSCHECK_SEED (default 20260101), then checks them twice:
# the generator's JSON lines (mode 1: txids, raw and EF round trips, payloads,
# change, fee, interpreter) and the bare EF lines (mode 2, the one for files
# the pipeline writes).
#
# --self-test: proves the check can fail. A small batch is generated several
# times, each time with one transaction damaged after signing (a signature
# bit, a payload bit, the spent value, the txid, the fee rate); the check must
# reject exactly that transaction, for the expected reason, in each mode that
# can see the damage.
#
# @bsv/sdk@1 is installed into $RAREGEN_NPM_SCRATCH/bsv-sdk if that variable
# is set (CI sets it so the folder can be cached), else into
# <npm-scratch-root>/bsv-sdk; never into the repository. An existing install
# of major version 1 is reused, so only the first run needs the npm registry.
set -euo pipefail

fail() { echo "crosscheck: $*" >&2; exit 1; }

self_test=0
if [[ ${1:-} == --self-test ]]; then
  self_test=1
  shift
fi
[[ $# -eq 3 ]] || fail "usage: $0 [--self-test] <raregen_crosscheck_gen> <npm-scratch-root> <work-dir>"
gen=$1
scratch_root=${RAREGEN_NPM_SCRATCH:-$2}
work=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
script="$here/crosscheck.mjs"
count=${RAREGEN_CROSSCHECK_COUNT:-1200}
seed=${RAREGEN_CROSSCHECK_SEED:-20260101}

[[ -x "$gen" ]] || fail "generator '$gen' is missing: build target raregen_crosscheck_gen"
# shellcheck source=ensure_bsv_sdk.sh
source "$here/ensure_bsv_sdk.sh"
ensure_bsv_sdk "$scratch_root"

mkdir -p "$work"
started=$(date +%s)

if [[ $self_test -eq 0 ]]; then
  "$gen" --count "$count" --seed "$seed" --out "$work/txs.jsonl" --ef-out "$work/txs.ef"
  echo "crosscheck: mode 1, generator lines"
  node "$script" --sdk "$sdk_dir" --jsonl "$work/txs.jsonl" --expect "$count"
  echo "crosscheck: mode 2, EF lines"
  # The generator also uses fee rates under 100/1000 (mode 1 checks each
  # against its own rate), so here only the 1-sat floor applies.
  node "$script" --sdk "$sdk_dir" --ef "$work/txs.ef" --min-fee-rate 0/1000
  echo "crosscheck: done in $(( $(date +%s) - started )) s"
  rm -f "$work/txs.jsonl" "$work/txs.ef"  # ~25 MB; regenerated from the seed
  exit 0
fi

# ---- self-test ---------------------------------------------------------------
# Each case: corruption kind, the mode-1 failure tag, the mode-2 failure tag
# ("-" where the EF alone cannot show the damage). Index 50 is past the fixed
# edge cases, among the random ones.
small=80
cases=(
  "sig interpreter interpreter"
  "payload interpreter interpreter"
  "prev_value interpreter interpreter"
  "txid txid-raw -"
  "fee fee -"
)
problems=0
expect_rejected() {  # <log> <tag> <what>
  local log=$1 tag=$2 what=$3
  if ! grep -q "^crosscheck: $((small - 1)) passed, 1 failed$" "$log"; then
    echo "self-test: $what: the check did not reject exactly one of $small transactions:" >&2
    cat "$log" >&2
    problems=$((problems + 1))
  elif ! grep -q "^FAIL \[$tag\]" "$log"; then
    echo "self-test: $what: rejected, but not by the [$tag] check:" >&2
    cat "$log" >&2
    problems=$((problems + 1))
  else
    echo "self-test: $what: rejected by [$tag] as expected"
  fi
}
for c in "${cases[@]}"; do
  read -r kind tag1 tag2 <<<"$c"
  "$gen" --count "$small" --seed "$seed" --corrupt "$kind" --corrupt-index 50 \
    --out "$work/bad.jsonl" --ef-out "$work/bad.ef" 2>"$work/gen.log" ||
    { cat "$work/gen.log" >&2; fail "generator failed for --corrupt $kind"; }
  status=0
  node "$script" --sdk "$sdk_dir" --jsonl "$work/bad.jsonl" --expect "$small" >"$work/check.log" 2>&1 || status=$?
  if [[ $status -ne 1 ]]; then
    echo "self-test: $kind, mode 1: expected exit status 1, got $status" >&2
    cat "$work/check.log" >&2
    problems=$((problems + 1))
  else
    expect_rejected "$work/check.log" "$tag1" "$kind, mode 1"
  fi
  if [[ $tag2 != - ]]; then
    status=0
    node "$script" --sdk "$sdk_dir" --ef "$work/bad.ef" --min-fee-rate 0/1000 >"$work/check.log" 2>&1 || status=$?
    if [[ $status -ne 1 ]]; then
      echo "self-test: $kind, mode 2: expected exit status 1, got $status" >&2
      cat "$work/check.log" >&2
      problems=$((problems + 1))
    else
      expect_rejected "$work/check.log" "$tag2" "$kind, mode 2"
    fi
  fi
done
rm -f "$work/bad.jsonl" "$work/bad.ef"
[[ $problems -eq 0 ]] || fail "self-test: $problems corruption(s) were not caught as expected (see above)"
echo "self-test: every corruption was caught ($(( $(date +%s) - started )) s)"
