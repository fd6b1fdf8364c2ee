# Sourced by the cross-check drivers: checks for Node.js and npm, and installs
# npm's @bsv/sdk@1 once into <scratch-root>/bsv-sdk (never into the tree).
#
#   source ensure_bsv_sdk.sh; ensure_bsv_sdk <scratch-root>   # sets sdk_dir
#
# The caller defines fail() (print and exit 1).
ensure_bsv_sdk() {
  local scratch_root=$1
  command -v node >/dev/null 2>&1 ||
    fail "needs Node.js 18+ and npm, and node was not found: apt-get install nodejs npm (or bash tools/setup/install-deps.sh)"
  command -v npm >/dev/null 2>&1 ||
    fail "needs Node.js 18+ and npm, and npm was not found: apt-get install npm (or bash tools/setup/install-deps.sh)"
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
    fail "needs Node.js 18+, found $(node --version): install a newer nodejs"

  # ---- @bsv/sdk, installed once into the scratch folder ------------------------
  sdk_dir="$scratch_root/bsv-sdk"
  local installed="$sdk_dir/node_modules/@bsv/sdk/package.json"
  mkdir -p "$sdk_dir"
  if [[ ! -f "$installed" ]] || ! grep -q '"version": *"1\.10\.4"' "$installed"; then
    # A package.json of its own keeps npm from walking up into the repository.
    [[ -f "$sdk_dir/package.json" ]] || echo '{"private": true}' >"$sdk_dir/package.json"
    echo "crosscheck: installing @bsv/sdk@1.10.4 into $sdk_dir"
    (cd "$sdk_dir" && npm install --no-audit --no-fund --silent @bsv/sdk@1.10.4) ||
      fail "npm install @bsv/sdk@1.10.4 failed in $sdk_dir: it needs the npm registry (or a warm npm cache); check the network or npm proxy settings"
  fi
  [[ -f "$installed" ]] || fail "npm reported success but $installed is missing: delete $sdk_dir and run again"

}
