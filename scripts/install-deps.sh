#!/usr/bin/env bash
# Installs the Debian 12 packages Vallum needs.
#   scripts/install-deps.sh          everything: build, tests, fuzzing, benchmarks (scripts/test.sh)
#   scripts/install-deps.sh build    what building the binary needs (scripts/quickstart.sh)
# Idempotent: safe to run again; apt-get skips what is already installed.
# The libraries follow docs/architecture.md §7. Run as root (or with sudo available).
set -euo pipefail

profile=${1:-all}

build=(
  # toolchain
  build-essential g++ cmake ninja-build pkg-config git ca-certificates openssl curl
  # libraries (docs/architecture.md §7)
  libboost1.81-dev libboost-url1.81-dev node-llhttp libnghttp2-dev libssl-dev
  libre2-dev libxxhash-dev libyaml-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  prometheus-cpp-dev libcli11-dev
  # the CMake project configures its unit tests and micro-benchmarks too; the demo upstream
  libgtest-dev libgmock-dev libbenchmark-dev python3
)
rest=(
  # libraries planned for sign-in and the console (docs/architecture.md §7), not used yet
  libcjose-dev libsqlite3-dev libpq-dev
  # tests (nodejs runs the OpenID provider of the sign-in tests, installed by npm from
  # tests/e2e/tools/node/package-lock.json on first use; python3-grpcio is the gRPC client and
  # server of test_grpc.py)
  python3-pytest python3-httpx python3-h2 python3-websockets python3-grpcio python3-jwt
  python3-cryptography nghttp2-client nodejs
  # the TCP-route tests tunnel a real PostgreSQL session (initdb, pg_ctl, psql)
  postgresql-15
  # fuzzing (fuzz preset, scripts/fuzz.sh): clang 14 and its runtimes (libFuzzer, ASan, UBSan)
  clang-14 libclang-rt-14-dev
  # benchmarks: peers, load generator, instruction counts, CPU pinning
  wrk nginx-light haproxy valgrind util-linux procps
)

case "$profile" in
  all) packages=("${build[@]}" "${rest[@]}") ;;
  build) packages=("${build[@]}") ;;
  *)
    echo "usage: scripts/install-deps.sh [all|build]" >&2
    exit 2
    ;;
esac

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  SUDO="sudo"
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# nginx/haproxy packages start system services on install; benchmarks run their own instances.
for svc in nginx haproxy; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" || true
  fi
done
echo "install-deps: done"
