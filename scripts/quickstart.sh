#!/usr/bin/env bash
# The README's first command: installs dependencies, builds Hearth and starts the platform with
# its embedded defaults (127.0.0.1:8080, data in ~/.hearth). Extra arguments go to `hearth serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
exec ./build/hearth serve "$@"
