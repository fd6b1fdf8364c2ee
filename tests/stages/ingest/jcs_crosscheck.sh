#!/usr/bin/env bash
# Cross-checks raregen's RFC 8785 canonicalization against npm `canonicalize`.
#
#   jcs_crosscheck.sh <crosscheck-tool> <npm-scratch-dir> <jcs_crosscheck.mjs>
#
# Environment: JCS_CROSSCHECK_COUNT (default 10000 records),
#              JCS_CROSSCHECK_SEED  (default 8785).
# Installs canonicalize@2 into <npm-scratch-dir> (inside the build tree, never
# committed) on first use and reuses it afterwards; that first run needs
# access to the npm registry or a warm npm cache.
set -euo pipefail

fail() { echo "jcs_crosscheck: $*" >&2; exit 1; }

[[ $# -eq 3 ]] || fail "usage: $0 <crosscheck-tool> <npm-scratch-dir> <jcs_crosscheck.mjs>"
tool=$1
scratch=$2
script=$3
count=${JCS_CROSSCHECK_COUNT:-10000}
seed=${JCS_CROSSCHECK_SEED:-8785}

[[ -x "$tool" ]] || fail "generator '$tool' is missing: build target raregen_ingest_jcs_crosscheck"
command -v node >/dev/null 2>&1 ||
  fail "node not found: install Node.js 18 or newer (Debian: apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 ||
  fail "npm not found: install npm (Debian: apt-get install npm)"

mkdir -p "$scratch"
installed="$scratch/node_modules/canonicalize/package.json"
if [[ ! -f "$installed" ]] || ! grep -q '"version": *"2\.' "$installed"; then
  # A package.json of its own keeps npm from walking up into the repository.
  [[ -f "$scratch/package.json" ]] || echo '{"private": true}' >"$scratch/package.json"
  (cd "$scratch" && npm install --no-audit --no-fund --silent canonicalize@2.1.0) ||
    fail "npm install canonicalize@2.1.0 failed in $scratch: it needs the npm registry (or a warm npm cache); check the network or npm proxy settings"
fi

work="$scratch/run"
mkdir -p "$work"
"$tool" "$count" "$seed" "$work/input.jsonl" "$work/ours.jsonl"
node "$script" "$scratch" "$work/input.jsonl" "$work/ours.jsonl"
