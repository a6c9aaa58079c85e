#!/usr/bin/env bash
# Configures and builds Hearth into build/ (Release) or, with --sanitize, build-asan/ with
# AddressSanitizer + UndefinedBehaviorSanitizer. Uses ccache when present.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
extra=()
if [[ "${1:-}" == "--sanitize" ]]; then
  build_dir=build-asan
  extra=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DHEARTH_SANITIZE=ON -DHEARTH_BUILD_BENCH=OFF)
fi

# Let ccache hit across clones in different folders (CI builds a fresh clone elsewhere).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
jobs=$(nproc)
cmake -S . -B "$build_dir" -G Ninja "${extra[@]}" >/dev/null
cmake --build "$build_dir" -j "$jobs"
