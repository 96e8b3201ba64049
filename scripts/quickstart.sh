#!/usr/bin/env bash
# Quick start: installs the Debian packages, builds the release binary alone (build/vallum; no
# unit tests or benchmarks), starts the demo upstream on 127.0.0.1:8080 and serves
# examples/quickstart.yaml on https://localhost:8443 (127.0.0.1 only: the demo upstream echoes
# request headers) in the foreground. Ctrl-C stops both.
# Stops at once, before installing anything, when port 8080 or 8443 is taken: the demo would
# otherwise proxy to whatever listens there.
set -euo pipefail
cd "$(dirname "$0")/.."

# Before anything is installed (bash alone: a fresh machine may have no python3 yet). A port is
# taken when something accepts a connection on it, over IPv4 or IPv6 (localhost may be ::1).
busy=()
for port in 8080 8443; do
  for host in 127.0.0.1 ::1; do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
      busy+=("$port")
      break
    fi
  done
done
if ((${#busy[@]} > 0)); then
  echo "quickstart: port(s) already in use on localhost: ${busy[*]}" >&2
  echo "quickstart: the demo needs 8080 (demo upstream) and 8443 (Vallum); stop what listens there" >&2
  echo "            (ss -ltnp 'sport = :8080 or sport = :8443' shows it) and run this again." >&2
  exit 1
fi

./scripts/install-deps.sh build
./scripts/build.sh release vallum

/usr/bin/python3 examples/demo_upstream.py --port 8080 &
upstream_pid=$!
trap 'kill "$upstream_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  if /usr/bin/python3 -c 'import socket; socket.create_connection(("127.0.0.1", 8080), 0.2)' 2>/dev/null; then
    break
  fi
  sleep 0.1
done

cat <<'MSG'

Vallum serves https://localhost:8443 (self-signed certificate: curl needs -k). Try:

  curl -k https://localhost:8443/                      # forwarded to the demo upstream
  curl -k https://localhost:8443/api/hello             # the upstream sees /v1/hello
  curl -k https://localhost:8443/private/              # 403: the route has no policy
  curl -k https://localhost:8443/ping                  # OK, answered by Vallum itself
  curl -k -H 'Accept: application/json' --resolve nowhere.test:8443:127.0.0.1 \
       https://nowhere.test:8443/                       # 404 page as JSON
  ./build/vallum check --config examples/quickstart.yaml

Access log (one JSON line per request) below. Ctrl-C to stop.

MSG
./build/vallum --config examples/quickstart.yaml
