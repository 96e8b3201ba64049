#!/usr/bin/env bash
# Quick start: installs the Debian packages, builds the release binary (build/vallum), starts
# the demo upstream on 127.0.0.1:8080 and serves examples/quickstart.yaml on
# https://localhost:8443 in the foreground. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
./scripts/build.sh release

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
