#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and benchmarking Hearth needs.
# Idempotent: packages already present are skipped by apt; `apt-get update` runs once per call,
# and only when something is missing. Must run as root (or under sudo).
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git clang-14 libclang-rt-14-dev
  # libraries
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libtomlplusplus-dev
  libboost-dev libboost-system-dev libpcre2-dev libsqlite3-dev libpq-dev libssl-dev libargon2-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3 curl postgresql
)

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: must run as root (try: sudo $0)" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps.sh: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
