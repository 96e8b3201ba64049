#!/usr/bin/env bash
# Websocket tunnels side by side (nginx, HAProxy, Vallum): bytes per idle tunnel and echo round
# trips per second. See bench/lib/tunnels.py, or run: bench/tunnels.sh --help
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py=/usr/bin/python3
[[ -x $py ]] || py="$(command -v python3)"
exec "$py" "$here/lib/tunnels.py" "$@"
