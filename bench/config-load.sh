#!/usr/bin/env bash
# Config-loading benchmark: `vallum check` on a generated 10,000-route config and on one
# mapping of 200,000 keys, and the time from SIGHUP to "config reloaded" for the 10,000-route
# config. See bench/README.md ("Config loading"), or run: bench/config-load.sh --help
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py=/usr/bin/python3
[[ -x $py ]] || py="$(command -v python3)"
exec "$py" "$here/lib/config_bench.py" "$@"
