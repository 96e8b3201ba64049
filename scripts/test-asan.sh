#!/usr/bin/env bash
# The whole suite against the AddressSanitizer + UndefinedBehaviorSanitizer build
# (build/asan/): unit tests, then the end-to-end tests with the sanitized binary. Slower than
# scripts/test.sh; run it before landing data-path changes.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
./scripts/build.sh asan

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "== unit tests (asan)"
ctest --preset asan -L unit --output-on-failure -j"$(nproc)"

echo "== end-to-end tests (asan)"
VALLUM_BIN="$PWD/build/asan/src/server/vallum" VALLUM_E2E_TEST_TIMEOUT=300 \
  /usr/bin/python3 -m pytest tests/e2e -q -p no:cacheprovider
