"""Reloads that cannot stall the process: a large config is parsed and compiled off the control
thread, so active health checks keep probing, SIGTERM still drains and exits within
--drain-timeout, and a SIGHUP that arrives during a reload schedules one more after it.

The slow reload is a real large config (tens of thousands of generated routes, a dozen
megabytes), not a test hook. Assertions are bounded behaviour (a probe arrived during the reload,
no gap of more than about two intervals, no "config reloaded" before the exit), never speed."""

import re
import signal
import time

from lib.helpers import route, wait_until
from lib.yamlgen import dump

INTERVAL = 0.1  # health-check interval (s)


def bulk_routes(n: int, tag: str) -> str:
    """`n` realistic routes (distinct hosts and prefixes, loopback upstreams that are never
    contacted), as YAML list items to append under `routes:`."""
    out = []
    for i in range(n):
        out.append(f"  - from: https://s{i}.{tag}.bulk.example.test\n"
                   f"    to: http://127.0.{(i // 250) % 250}.{1 + i % 250}:{8000 + i % 1000}/\n"
                   f"    prefix: /app{i % 50}/\n"
                   f"    timeout: {10 + i % 50}s\n"
                   f"    name: bulk-{tag}-{i}\n"
                   "    allow_public_unauthenticated_access: true\n")
    return "".join(out)


def big_config(vallum, routes, n, tag="a") -> str:
    """The config of `routes` (a list of route dicts, first) followed by `n` bulk routes."""
    text = dump(vallum.config(routes))
    assert text.rstrip().splitlines()[-1].startswith(" "), "routes: must be the last key"
    return text + bulk_routes(n, tag)


def hc_route(u):
    return route("https://hc.example.test", u.url, name="hc",
                 health_checks=[{"timeout": "1s", "interval": f"{INTERVAL}s", "unhealthy_threshold": 2,
                                 "healthy_threshold": 1, "http_health_check": {"path": "/healthz"}}])


def probe_times(u):
    return sorted(r.received_at for r in u.requests("/healthz"))


def test_health_checks_keep_running_during_a_slow_reload(vallum, upstream):
    u = upstream("hc")
    v = vallum(vallum.config([hc_route(u)]))
    u.wait_for(lambda rs: len([r for r in rs if r.path == "/healthz"]) >= 3, 10, "steady probing")

    # The health-checked route is unchanged (same id and checks): its checker keeps running.
    v.write_config(big_config(vallum, [hc_route(u)], 75000))
    mark = len(v.stderr_text())
    t_hup = time.monotonic()
    v.signal(signal.SIGHUP)
    v.wait_stderr(r"config reloaded \(generation 2, 75001 routes", 120, after=mark)
    t_done = time.monotonic()
    time.sleep(3 * INTERVAL)  # the probe after the window

    window = t_done - t_hup
    assert window >= 3 * INTERVAL, (f"the reload took {window:.2f}s, too short to show anything; "
                                    "make the generated config larger")
    times = probe_times(u)
    inside = [t for t in times if t_hup <= t <= t_done]
    assert inside, f"no health probe during the {window:.2f}s reload"
    # Probes around and inside the window: consecutive ones at most ~2 intervals apart.
    around = [t for t in times if t_hup - 2 * INTERVAL <= t <= t_done + 2 * INTERVAL]
    gaps = [b - a for a, b in zip(around, around[1:])]
    assert gaps and max(gaps) <= 2 * INTERVAL + 0.3, \
        f"probes stalled during the reload: largest gap {max(gaps):.2f}s in {window:.2f}s ({len(inside)} probes)"
    assert v.get("/x", "hc.example.test").status == 200


def test_sigterm_during_a_slow_reload_exits_within_the_drain_timeout(vallum, upstream):
    u = upstream("term")
    drain = 2
    v = vallum(vallum.config([route("https://t.example.test", u.url)]), args=["--drain-timeout", str(drain)])
    v.write_config(big_config(vallum, [route("https://t.example.test", u.url)], 75000))
    mark = len(v.stderr_text())
    v.signal(signal.SIGHUP)
    v.wait_stderr(r"SIGHUP: reloading", 10, after=mark)
    time.sleep(0.1)  # the loader is parsing now
    t0 = time.monotonic()
    v.signal(signal.SIGTERM)
    rc = v.wait_exit(drain + 10)
    took = time.monotonic() - t0
    log = v.stderr_text()[mark:]
    assert rc == 0, f"exit code {rc} (None = still running {drain + 10}s after SIGTERM)\n{log[-3000:]}"
    # SIGTERM was handled while the reload was in progress, not after it.
    assert "config reloaded" not in log, log[-3000:]
    assert "draining" in log and "stopped" in log, log[-3000:]
    assert took <= drain + 3, f"took {took:.1f}s to exit with --drain-timeout {drain}"


def test_sighup_during_a_reload_schedules_one_more(vallum, upstream):
    u = upstream("again")
    v = vallum(vallum.config([route("https://first.example.test", u.url)]))
    v.write_config(big_config(vallum, [route("https://first.example.test", u.url)], 75000))
    mark = len(v.stderr_text())
    v.signal(signal.SIGHUP)
    v.wait_stderr(r"SIGHUP: reloading", 10, after=mark)
    # While the big config loads: a new file and two more SIGHUPs make one more reload.
    v.write_config(vallum.config([route("https://first.example.test", u.url),
                                  route("https://second.example.test", u.url)]))
    v.signal(signal.SIGHUP)
    v.signal(signal.SIGHUP)
    v.wait_stderr(r"a reload is in progress; reloading again when it finishes", 10, after=mark)
    v.wait_stderr(r"config reloaded \(generation 2, 75001 routes", 120, after=mark)
    v.wait_stderr(r"config reloaded \(generation 3, 2 routes", 30, after=mark)
    wait_until(lambda: v.get("/", "second.example.test").status == 200, 10, 0.1, "the second reload")
    log = v.stderr_text()[mark:]
    assert len(re.findall(r"config reloaded", log)) == 2, log[-3000:]
