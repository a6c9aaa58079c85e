#!/usr/bin/env bash
# Configures and builds Hearth into build/ (Release) or, with --sanitize, build-asan/ with
# AddressSanitizer + UndefinedBehaviorSanitizer. Uses ccache when present.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
extra=()
if [[ "${1:-}" == "--sanitize" ]]; then
  build_dir=build-asan
  # -O1 without debug info: the sanitizers' recommended level, and half the compile time of -O2 -g.
  extra=(-DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O1" "-DCMAKE_C_FLAGS_RELEASE=-O1"
         -DHEARTH_SANITIZE=ON -DHEARTH_BUILD_BENCH=OFF)
fi

# Let ccache hit across clones in different folders (CI builds a fresh clone elsewhere).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
jobs=$(nproc)
cmake -S . -B "$build_dir" -G Ninja "${extra[@]}" >/dev/null
cmake --build "$build_dir" -j "$jobs"
