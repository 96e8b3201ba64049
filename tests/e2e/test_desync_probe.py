"""tools/http1-desync-probe.py (39 raw HTTP/1.1 framing / request-smuggling probes) against
Vallum in front of the probe's recording backend, over plain HTTP (insecure_server) and over
TLS, both at once. Every probe must pass: the backend never handles more requests
than the client got responses for, and no request RFC 9112 says must be rejected gets a 2xx."""

import os
import re
import subprocess
import sys
import time

from lib.helpers import base_config, route

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.path.join(HERE, "tools", "http1-desync-probe.py")
PYTHON = sys.executable or "/usr/bin/python3"
N_PROBES = 39


def start_backend(tmp_path, name):
    record = tmp_path / f"{name}.jsonl"
    p = subprocess.Popen([PYTHON, PROBE, "backend", "--record", str(record)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    port = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        m = re.match(r"BACKEND_PORT=(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    if port is None:
        p.kill()
        p.wait(5)
        raise AssertionError(f"desync backend {name} did not start")
    return p, port, str(record)


def test_desync_probe_plain_and_tls(tmp_path, vallum, server_cert):
    backends = []
    try:
        runs = {}
        for name, insecure in (("plain", True), ("tls", False)):
            bp, bport, record = start_backend(tmp_path, name)
            backends.append(bp)
            cfg = base_config(server_cert, insecure=insecure,
                              routes=[route("https://desync.example.test", f"http://127.0.0.1:{bport}")])
            v = vallum(cfg)
            assert v.scheme == ("http" if insecure else "https")
            args = [PYTHON, PROBE, "probe", "127.0.0.1", str(v.port), "--host-header",
                    f"desync.example.test:{v.port}", "--backend-record", record]
            if not insecure:
                args.append("--tls")
            runs[name] = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        outputs = {}
        for name, p in runs.items():
            try:
                out, _ = p.communicate(timeout=140)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate(timeout=5)
                out += "\n(probe killed after 140 s)"
            outputs[name] = (p.returncode, out)
        report = "\n\n".join(f"=== {n} (exit {rc}) ===\n{out}" for n, (rc, out) in outputs.items())
        for name, (rc, out) in outputs.items():
            m = re.search(r"desync-probe: (\d+) passed, (\d+) failed", out)
            assert m, f"{name}: no summary line\n{report}"
            assert (int(m.group(1)), int(m.group(2))) == (N_PROBES, 0), f"{name}: probes failed\n{report}"
            assert rc == 0, report
        print(report)
    finally:
        for bp in backends:
            bp.kill()
            bp.wait(5)
