#!/usr/bin/env python3
"""Config-loading benchmark (bench/config-load.sh): how long `vallum check` takes on large
generated configs, and how long a reload of a 10,000-route config takes from SIGHUP to the
"config reloaded" log line.

Configs come from gen_config.py: N realistic routes (distinct hosts and prefixes, some with
headers, rewrites and load-balancing settings) and one route whose set_request_headers mapping
has N keys. Each figure is the median of --repeat runs: wall time, and for `check` also the
CPU time (user + system, steadier than wall time on a busy machine). The reload time is the
difference of the server's own log timestamps (millisecond resolution) of "SIGHUP: reloading"
and "config reloaded", so the harness's polling does not count. Every process started here is
stopped by PID.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})")


def generate(kind: str, n: int, path: Path) -> Path:
    with open(path, "w") as f:
        subprocess.run([sys.executable, str(HERE / "gen_config.py"), kind, str(n)], stdout=f, check=True)
    return path


CHECK_TIMEOUT = 120.0  # a check slower than this is reported as "> 120 s"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_check(binary: str, config: Path, repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of `vallum check`."""
    times, cpu = [], []
    for _ in range(repeat):
        c0 = children_cpu()
        t0 = time.perf_counter()
        try:
            res = subprocess.run([binary, "check", "--config", str(config)], capture_output=True, text=True,
                                 timeout=CHECK_TIMEOUT)
        except subprocess.TimeoutExpired:  # the child is killed by subprocess.run
            return float("inf"), float("inf")
        times.append(time.perf_counter() - t0)
        cpu.append(children_cpu() - c0)
        if res.returncode != 0:
            raise SystemExit(f"check failed on {config}: {res.stdout[-2000:]}{res.stderr[-2000:]}")
    return statistics.median(times), statistics.median(cpu)


def log_time(line: str) -> float:
    m = STAMP.match(line)
    assert m, line
    return datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp()


def time_reload(binary: str, config: Path, repeat: int, workdir: Path) -> tuple[float, float, float]:
    """Medians of SIGHUP → "config reloaded" (server log timestamps), of "loaded in" (the loader
    thread's part) and of "compiling" (its compile step), the last two nan when the binary does
    not log them."""
    err_path = workdir / "reload.stderr"
    with open(err_path, "wb") as err:
        p = subprocess.Popen([binary, "--config", str(config), "--concurrency", "1"], stdout=subprocess.DEVNULL,
                             stderr=err, stdin=subprocess.DEVNULL)
    try:
        def text() -> str:
            return err_path.read_text(errors="replace")

        deadline = time.monotonic() + 120
        while "listening on" not in text():
            if p.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"vallum did not start:\n{text()[-3000:]}")
            time.sleep(0.02)
        time.sleep(1.0)  # the signal handlers are installed after the listening line
        totals, loads, compiles = [], [], []
        for _ in range(repeat):
            mark = len(text())
            p.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 120
            while not re.search(r"config reloaded|reload failed", text()[mark:]):
                if time.monotonic() > deadline:
                    raise SystemExit(f"no reload line:\n{text()[mark:][-3000:]}")
                time.sleep(0.01)
            lines = text()[mark:].splitlines()
            start = next(ln for ln in lines if "SIGHUP: reloading" in ln)
            done = next(ln for ln in lines if "config reloaded" in ln or "reload failed" in ln)
            if "reload failed" in done:
                raise SystemExit(f"reload failed:\n{text()[mark:][-3000:]}")
            totals.append(log_time(done) - log_time(start))
            m = re.search(r"loaded in (\d+) ms", done)
            loads.append(int(m.group(1)) / 1000 if m else float("nan"))
            m = re.search(r"compiling (\d+) ms", done)
            compiles.append(int(m.group(1)) / 1000 if m else float("nan"))
            time.sleep(0.5)
        return statistics.median(totals), statistics.median(loads), statistics.median(compiles)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)


def ms(seconds: float) -> str:
    if seconds != seconds:
        return "n/a"
    if seconds == float("inf"):
        return f"> {CHECK_TIMEOUT:.0f} s"
    return f"{seconds * 1000:.0f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vallum", default=str(REPO / "build" / "vallum"), help="binary to measure")
    ap.add_argument("--baseline", help="a second binary (e.g. the previous release) measured the same way")
    ap.add_argument("--routes", type=int, default=10000, help="routes in the large config (default 10000)")
    ap.add_argument("--map-keys", type=int, default=200000, help="keys in the wide mapping (default 200000)")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()

    binaries = [("vallum", a.vallum)] + ([("baseline", a.baseline)] if a.baseline else [])
    with tempfile.TemporaryDirectory(prefix="vallum-config-bench-") as tmp:
        work = Path(tmp)
        routes = generate("routes", a.routes, work / f"routes-{a.routes}.yaml")
        wide = generate("map-keys", a.map_keys, work / f"map-{a.map_keys}.yaml")
        print(f"configs: {routes.name} {routes.stat().st_size / 2**20:.1f} MiB, "
              f"{wide.name} {wide.stat().st_size / 2**20:.1f} MiB; median of {a.repeat}; "
              f"load average {os.getloadavg()[0]:.2f}")
        print()
        print("| binary | check, %d routes (CPU) | check, %d-key mapping (CPU) | reload, %d routes "
              "(SIGHUP → reloaded) | of which loading (loader thread) | of which compiling |"
              % (a.routes, a.map_keys, a.routes))
        print("|---|---:|---:|---:|---:|---:|")
        for label, binary in binaries:
            check_routes, check_routes_cpu = time_check(binary, routes, a.repeat)
            check_wide, check_wide_cpu = time_check(binary, wide, max(1, min(a.repeat, 3)))
            reload_total, reload_load, reload_compile = time_reload(binary, routes, a.repeat, work)
            print(f"| {label} | {ms(check_routes)} ({ms(check_routes_cpu)}) | {ms(check_wide)} "
                  f"({ms(check_wide_cpu)}) | {ms(reload_total)} | {ms(reload_load)} | {ms(reload_compile)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
