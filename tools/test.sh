#!/usr/bin/env bash
# The README's test command: installs what is missing (Debian 12, root or
# sudo), builds raregen in Release and runs every test with ctest.
#
#   bash tools/test.sh                 # everything
#   bash tools/test.sh -L unit         # extra arguments go to ctest
#
# Environment: BUILD_DIR (default build), CMAKE_ARGS (extra configure
# arguments), JOBS (default: number of cores).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup/install-deps.sh

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" "$@"
