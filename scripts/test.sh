#!/usr/bin/env bash
# Runs every test from a clean clone: installs the Debian packages, builds the release preset,
# runs the unit tests (ctest -L unit) and the end-to-end suite (real vallum binary, real TLS,
# real upstreams on loopback, the HTTP/1 desync probe).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
./scripts/build.sh release

echo "== unit tests"
ctest --preset release -L unit --output-on-failure -j"$(nproc)"

echo "== end-to-end tests"
VALLUM_BIN="$PWD/build/vallum" /usr/bin/python3 -m pytest tests/e2e -q -p no:cacheprovider
