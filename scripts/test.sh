#!/usr/bin/env bash
# The README's test command: installs every dependency, builds, and runs every test — the
# Release build's full suite, then the unit tests again under ASan + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
# The platform store tests run against PostgreSQL as well as SQLite (under CI a missing DSN
# fails them). Two lines, so that a failing start-postgres.sh stops the script under set -e.
HEARTH_TEST_POSTGRES_DSN=$(./scripts/start-postgres.sh)
export HEARTH_TEST_POSTGRES_DSN
start=$(date +%s)

echo "== Release build"
./scripts/build.sh
echo "== Tests (Release)"
(cd build && ctest -j "$(nproc)" --output-on-failure --timeout 600)

echo "== ASan + UBSan build"
./scripts/build.sh --sanitize
echo "== Unit tests (ASan + UBSan)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest -j "$(nproc)" --output-on-failure --timeout 900 -L unit)

echo "== All tests passed in $(( $(date +%s) - start )) s"
