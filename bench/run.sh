#!/usr/bin/env bash
# The benchmark harness: nginx, HAProxy and Vallum side by side. See bench/README.md,
# or run: bench/run.sh --help
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Debian's interpreter (docs/architecture.md §7); fall back to whatever python3 is on PATH.
py=/usr/bin/python3
[[ -x $py ]] || py="$(command -v python3)"
# The harness stops every process it started (by PID) on exit, including on Ctrl-C and
# SIGTERM; its children also get SIGTERM from the kernel if it dies abruptly (PDEATHSIG).
exec "$py" "$here/lib/harness.py" "$@"
