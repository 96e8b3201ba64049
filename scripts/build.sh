#!/usr/bin/env bash
# Configures and builds one CMake preset (default: release, which leaves build/vallum).
#   scripts/build.sh [debug|release|asan] [TARGET...]
# With targets, builds only those (scripts/quickstart.sh builds just `vallum`: no unit tests,
# no benchmarks).
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
shift || true
targets=()
for t in "$@"; do
  targets+=(--target "$t")
done
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" "${targets[@]}" -- -j"$(nproc)"
