"""Active health checks and the panic threshold through the real binary (Pomerium `health_checks`,
Envoy core.v3.HealthCheck and its panic threshold, cases BR-19).

Clocks are scaled down (interval/timeout 0.5 s); every bound is the health checker's timing
formula plus a
stated slack for scheduling on a loaded machine."""

import re
import time
from collections import Counter

import pytest

from lib.clusters import (OK, HangFor, PingPongUpstream, Sampler, Switch, health_re, hit, kill_upstream, log_lines,
                          revive_upstream, wait_log)
from lib.helpers import route
from lib.pages import ACCEPT_JSON, assert_html_page, assert_json_page
from lib.upstream import Delay, Fixed

SLACK = 0.4  # scheduling slack on top of the health checker's timing formulas (2 shared cores)


def hc(interval="0.5s", timeout="0.5s", unhealthy=3, healthy=2, **http):
    http.setdefault("path", "/healthz")
    return [{"timeout": timeout, "interval": interval, "unhealthy_threshold": unhealthy,
             "healthy_threshold": healthy, "http_health_check": http}]


def mono_to_wall(t: float) -> float:
    return t + (time.time() - time.monotonic())


def probes(u, path="/healthz", since: float = 0.0, until: float = float("inf")):
    """Health probes `u` received with monotonic arrival time in [since, until]."""
    return [r for r in u.requests(path) if since <= r.received_at <= until]


# ----------------------------------------------------------------------------- shared env


@pytest.fixture(scope="module")
def env(module_vallum, module_upstream):
    g1, g2 = (module_upstream(n, default=OK).on("/healthz", OK) for n in ("g1", "g2"))
    f1, f2, f3 = (module_upstream(n, default=OK).on("/healthz", Fixed(503, b"down")) for n in ("f1", "f2", "f3"))
    p_host, p_default = (module_upstream(n, default=OK) for n in ("p-host", "p-default"))
    p_local = module_upstream("p-local", default=OK)
    multi_sw = Switch(OK)
    multi = module_upstream("multi", default=OK).on("/hc1", OK).on("/hc2", multi_sw)
    fast = hc(healthy=1, unhealthy=1)
    routes = [
        route("https://panic.example.test", [g1.url, f1.url, f2.url, f3.url], name="panic-1of4", health_checks=fast),
        route("https://half.example.test", [g1.url, g2.url, f1.url, f2.url], name="half-2of4", health_checks=fast),
        route("https://thr20.example.test", [g1.url, f1.url, f2.url, f3.url], name="thr20-1of4", health_checks=fast,
              healthy_panic_threshold=20),
        route("https://allbad.example.test", [f1.url, f2.url, f3.url], name="allbad", health_checks=fast),
        route("https://thr0.example.test", [f1.url, f2.url, f3.url], name="thr0", health_checks=fast,
              healthy_panic_threshold=0),
        route("https://probe-host.example.test", p_host.url, name="probe-host",
              health_checks=hc(path="/hc-probe", host="probe.example.test")),
        route("https://probe-default.example.test", p_default.url, name="probe-default",
              health_checks=hc(path="/hc-default")),
        route("https://probe-local.example.test", f"http://localhost:{p_local.port}", name="probe-local",
              health_checks=hc(path="/hc-local")),
        route("https://multi.example.test", multi.url, name="multi",
              health_checks=hc(healthy=1, unhealthy=1, path="/hc1") + hc(healthy=1, unhealthy=1, path="/hc2")),
    ]
    v = module_vallum(module_vallum.config(routes))
    for name in ("panic-1of4", "half-2of4", "thr20-1of4"):
        wait_log(v, health_re(name, g1, "healthy"), 5)
    wait_log(v, health_re("half-2of4", g2, "healthy"), 5)
    return v, dict(g1=g1, g2=g2, f1=f1, f2=f2, f3=f3, p_host=p_host, p_default=p_default, p_local=p_local,
                   multi=multi, multi_sw=multi_sw)


def test_probe_path_and_host(env):
    """GET `path` with Host = `host` when configured, else the `to` authority (IP literal or
    localhost, with the port) — Vallum's documented difference from Envoy's cluster name."""
    v, s = env
    for u, path, host in ((s["p_host"], "/hc-probe", "probe.example.test"),
                          (s["p_default"], "/hc-default", f"127.0.0.1:{s['p_default'].port}"),
                          (s["p_local"], "/hc-local", f"localhost:{s['p_local'].port}")):
        rs = u.wait_for(lambda rs: any(r.path == path for r in rs), 5, f"a probe of {path}")
        r = [r for r in rs if r.path == path][0]
        assert r.request_line == f"GET {path} HTTP/1.1", r.request_line
        assert r.headers_all("host") == [host], r.headers
        assert r.header("user-agent"), r.headers
        assert r.body_len == 0


def test_several_health_checks_must_all_pass(env):
    """Two `health_checks` entries: the endpoint is healthy only while both pass; the log names
    the failing entry."""
    v, s = env
    m = s["multi"]
    wait_log(v, health_re("multi", m, "healthy"), 5)
    off = len(v.stderr_text())
    s["multi_sw"].to(Fixed(503))
    _, line = wait_log(v, health_re("multi", m, "unhealthy"), 3, off)
    assert line.endswith("(health_checks[1]: http status 503)"), line
    off = len(v.stderr_text())
    s["multi_sw"].to(OK)
    wait_log(v, health_re("multi", m, "healthy"), 3, off)


def test_panic_one_of_four_healthy_sends_to_all(env):
    """1 of 4 healthy = 25% < 50% (default threshold): panic, every host gets traffic."""
    v, s = env
    got = hit(v, "panic.example.test", 200)
    assert set(got) == {"g1", "f1", "f2", "f3"} and min(got.values()) >= 25, got


def test_two_of_four_healthy_is_not_panic(env):
    """2 of 4 = 50% is not below the threshold: only the healthy two are used."""
    v, s = env
    got = hit(v, "half.example.test", 100)
    assert got == Counter({"g1": 50, "g2": 50}), got


def test_lower_panic_threshold_keeps_unhealthy_out(env):
    """healthy_panic_threshold: 20 → 25% healthy is not panic: all traffic to the healthy one."""
    v, s = env
    got = hit(v, "thr20.example.test", 60)
    assert got == Counter({"g1": 60}), got


def test_all_unhealthy_default_threshold_still_serves(env):
    """No healthy host at all: panic sends to all of them (Envoy), requests succeed."""
    v, s = env
    got = hit(v, "allbad.example.test", 60)
    assert got == Counter({"f1": 20, "f2": 20, "f3": 20}), got


def test_panic_threshold_zero_and_none_healthy_is_503_no_healthy_upstream(env):
    """healthy_panic_threshold: 0 disables panic: with every host unhealthy the answer is an
    immediate 503 "no healthy upstream" page (HTML and JSON), never a hang, and no upstream sees
    the request."""
    v, s = env
    before = sum(len([r for r in s[n].requests() if r.path == "/nh"]) for n in ("f1", "f2", "f3"))
    for _ in range(3):
        t = time.monotonic()
        r = v.get("/nh", "thr0.example.test", timeout=5)
        assert time.monotonic() - t < 2.0
        assert_html_page(r, 503)
        assert "no healthy upstream" in r.text, r.text[:800]
    assert_json_page(v.get("/nh", "thr0.example.test", headers=ACCEPT_JSON, timeout=5), 503)
    after = sum(len([r for r in s[n].requests() if r.path == "/nh"]) for n in ("f1", "f2", "f3"))
    assert after == before


# ----------------------------------------------------------------------------- start-up


def test_hosts_start_unhealthy_and_panic_carries_traffic_until_first_pass(vallum, upstream):
    """Endpoints start unhealthy; until the first probe answers (1.5 s here) the panic threshold
    sends traffic to all three; after a and b pass, c (whose probe fails) gets nothing."""
    a, b, c = (upstream(n, default=OK) for n in "abc")
    a.on("/healthz", Delay(1.5, OK))
    b.on("/healthz", Delay(1.5, OK))
    c.on("/healthz", Fixed(503))
    v = vallum(vallum.config([route("https://su.example.test", [a.url, b.url, c.url], name="startup",
                                    health_checks=hc(interval="0.5s", timeout="3s"))]))
    t_start = time.time()
    early = hit(v, "su.example.test", 30)
    assert time.time() - t_start < 1.2, "the early requests were too slow to observe the start-up phase"
    assert early == Counter({"a": 10, "b": 10, "c": 10}), early
    assert not log_lines(v, r"is healthy"), v.stderr_text()
    ta, _ = wait_log(v, health_re("startup", a, "healthy"), 5)
    tb, line = wait_log(v, health_re("startup", b, "healthy"), 5)
    assert "first check passed" in line, line
    assert min(ta, tb) - t_start >= 1.3, "healthy before the first probe could have answered"
    later = hit(v, "su.example.test", 40)
    assert later == Counter({"a": 20, "b": 20}), later
    assert not log_lines(v, re.escape(c.addr) + " is healthy")


# ----------------------------------------------------------------------------- killed endpoint


def test_killed_endpoint_unhealthy_within_bound_then_returns(vallum, upstream):
    """An endpoint killed mid-run is marked unhealthy within interval x unhealthy_threshold
    (+ one timeout) — and not before unhealthy_threshold refused connects — then gets no more
    requests; brought back, it returns after healthy_threshold passes and serves again."""
    interval, timeout, unhealthy, healthy = 0.5, 0.5, 3, 2
    a, b, c = (upstream(n, default=OK).on("/healthz", OK) for n in "abc")
    v = vallum(vallum.config([route("https://kill.example.test", [a.url, b.url, c.url], name="kill",
                                    health_checks=hc(f"{interval}s", f"{timeout}s", unhealthy, healthy))]))
    for u in (a, b, c):
        wait_log(v, health_re("kill", u, "healthy"), 5)
    assert hit(v, "kill.example.test", 30) == Counter({"a": 10, "b": 10, "c": 10})
    revived = None
    try:
        with Sampler(v, "kill.example.test", every=0.02) as sampler:
            time.sleep(0.2)
            off = len(v.stderr_text())
            t_kill = time.time()
            kill_upstream(b)
            t_down, line = wait_log(v, health_re("kill", b, "unhealthy"), interval * unhealthy + timeout + 3, off)
            took = t_down - t_kill
            assert (unhealthy - 1) * interval - 0.1 <= took <= interval * unhealthy + timeout + SLACK, \
                f"unhealthy after {took:.3f}s: {line}"
            assert "connect refused" in line and f"{unhealthy} consecutive failures" in line, line
            time.sleep(0.3)
            got = hit(v, "kill.example.test", 60)
            # The sampler's requests interleave with ours on the same worker's round robin, so
            # the split is near, not exactly, even; what matters is that b gets none.
            assert set(got) == {"a", "c"} and sum(got.values()) == 60 and abs(got["a"] - got["c"]) <= 4, got
            # Revive on the same port: back after `healthy` consecutive passes.
            off = len(v.stderr_text())
            t_rev = time.time()
            revived = revive_upstream(b)
            t_up, line = wait_log(v, health_re("kill", b, "healthy"), healthy * interval + timeout + 3, off)
            took = t_up - t_rev
            assert (healthy - 1) * interval - 0.1 <= took <= healthy * interval + timeout + SLACK, \
                f"healthy after {took:.3f}s: {line}"
            assert f"{healthy} consecutive successes" in line, line
            time.sleep(0.2)
        after_down = sampler.between(t_down + 0.05, t_up - 0.05)
        assert len(after_down) >= 10, sampler.samples
        bad = [s for s in after_down if s[1] != 200 or s[2] not in ("a", "c")]
        assert not bad, f"requests failed or reached b while it was marked unhealthy: {bad[:5]}"
        assert not [r for r in revived.requests() if r.path != "/healthz" and mono_to_wall(r.received_at) < t_up - 0.05]
        got = hit(v, "kill.example.test", 60)
        assert got == Counter({"a": 20, "b": 20, "c": 20}), got
    finally:
        if revived is not None:
            kill_upstream(revived)


def test_no_traffic_interval_until_the_route_carries_traffic(vallum, upstream):
    """no_traffic_interval, when set, is honoured (Envoy
    HealthCheck.no_traffic_interval): while a route has never carried traffic its endpoints are
    probed every no_traffic_interval (1.5 s here); once it has carried traffic, every `interval`
    (0.2 s) — whether or not the route also has outlier detection."""
    a = upstream("nt-a", default=OK).on("/healthz", OK)
    b = upstream("nt-b", default=OK).on("/healthz", OK)
    checks = [{"timeout": "0.5s", "interval": "0.2s", "no_traffic_interval": "1.5s", "unhealthy_threshold": 2,
               "healthy_threshold": 1, "http_health_check": {"path": "/healthz"}}]
    v = vallum(vallum.config([
        route("https://nt.example.test", a.url, name="nt", health_checks=checks),
        route("https://nt-od.example.test", b.url, name="nt-od", health_checks=checks, outlier_detection={}),
    ]))
    time.sleep(1.0)
    idle = {u.name: len(u.requests("/healthz")) for u in (a, b)}
    assert idle == {"nt-a": 1, "nt-b": 1}, f"idle routes must be probed once per no_traffic_interval: {idle}"
    assert hit(v, "nt.example.test", 10) == Counter({"nt-a": 10})
    assert hit(v, "nt-od.example.test", 10) == Counter({"nt-b": 10})
    time.sleep(1.7)  # the probe that was sleeping its no-traffic interval has run by now
    before = {u.name: len(u.requests("/healthz")) for u in (a, b)}
    time.sleep(1.0)
    busy = {u.name: len(u.requests("/healthz")) - before[u.name] for u in (a, b)}
    assert busy["nt-b"] >= 3, busy
    assert busy["nt-a"] >= 3, f"after traffic the route without outlier_detection is still probed at no_traffic_interval: {busy}"


# ----------------------------------------------------------------------------- BR-19


def test_br19_threshold_semantics_scaled(vallum, upstream):
    """BR-19 with interval = timeout = 0.5 s (the case uses 1 s): probes are GET /healthz with
    Host probe.example.test; a 404 removes echo-b after that single probe; 2 good probes bring
    it back; hanging probes remove it only after the 3rd consecutive timeout, i.e.
    3 x timeout + 2 x interval after the first hanging probe starts (2.5–3.0 s after the switch);
    a 299 keeps it, a 300 removes it (range end exclusive); requests never fail meanwhile."""
    i = t = 0.5
    a = upstream("echo-a", default=OK).on("/healthz", OK)
    sw = Switch(OK)
    b = upstream("echo-b", default=OK).on("/healthz", sw)
    checks = [{"timeout": "0.5s", "interval": "0.5s", "unhealthy_threshold": 3, "healthy_threshold": 2,
               "http_health_check": {"path": "/healthz", "host": "probe.example.test",
                                     "expected_statuses": [{"start": 200, "end": 300}]}}]
    v = vallum(vallum.config([route("https://hc.example.test", [a.url, b.url], name="hc", lb_policy="ROUND_ROBIN",
                                    health_checks=checks)]))
    wait_log(v, health_re("hc", a, "healthy"), 5)
    wait_log(v, health_re("hc", b, "healthy"), 5)
    for u in (a, b):
        r = u.requests("/healthz")[0]
        assert r.request_line == "GET /healthz HTTP/1.1" and r.headers_all("host") == ["probe.example.test"], r.headers
    assert hit(v, "hc.example.test", 20) == Counter({"echo-a": 10, "echo-b": 10})

    # (b) 404: out after that single probe.
    off = len(v.stderr_text())
    m0 = time.monotonic()
    t0 = time.time()
    sw.to(Fixed(404, b"nope"))
    t_down, line = wait_log(v, health_re("hc", b, "unhealthy"), i + t + 3, off)
    assert t_down - t0 <= i + t + SLACK, f"{t_down - t0:.3f}s: {line}"
    assert line.endswith("is unhealthy (http status 404)"), line
    before_flip = probes(b, since=m0, until=m0 + (t_down - t0) + 0.05)
    assert len(before_flip) == 1, f"expected exactly one 404 probe before the flip, got {len(before_flip)}"
    time.sleep(i)
    assert hit(v, "hc.example.test", 20) == Counter({"echo-a": 20})

    # (c) back after 2 consecutive good probes.
    off = len(v.stderr_text())
    t1 = time.time()
    sw.to(OK)
    t_up, line = wait_log(v, health_re("hc", b, "healthy"), 2 * i + t + 3, off)
    assert i - 0.1 <= t_up - t1 <= 2 * i + SLACK, f"{t_up - t1:.3f}s: {line}"
    assert "2 consecutive successes" in line, line
    assert hit(v, "hc.example.test", 20) == Counter({"echo-a": 10, "echo-b": 10})

    # (d) hanging probes: out only after the 3rd consecutive timeout.
    hang = HangFor(30)
    with Sampler(v, "hc.example.test", every=0.1) as sampler:
        off = len(v.stderr_text())
        t2 = time.time()
        sw.to(hang)
        t_down, line = wait_log(v, health_re("hc", b, "unhealthy"), 3 * (i + t) + 3, off)
        took = t_down - t2
        assert 3 * t + 2 * i - 0.15 <= took <= 3 * t + 3 * i + SLACK, f"unhealthy {took:.3f}s after the hang: {line}"
        assert "timeout" in line and "3 consecutive failures" in line, line
        time.sleep(0.5)
    during = sampler.between(t2)
    assert during and all(s[1] == 200 for s in during), [s for s in during if s[1] != 200]
    assert all(s[2] == "echo-a" for s in sampler.between(t_down + 0.05)), sampler.between(t_down)
    hang.release.set()
    off = len(v.stderr_text())
    sw.to(OK)
    wait_log(v, health_re("hc", b, "healthy"), 2 * i + t + 3, off)

    # (e) 299 is in [200, 300): stays healthy; 300 is not: out after one probe.
    off = len(v.stderr_text())
    m3 = time.monotonic()
    sw.to(Fixed(299, b"fine"))
    b.wait_for(lambda rs: len([r for r in rs if r.path == "/healthz" and r.received_at > m3]) >= 3, 5,
               "three probes answered 299")
    assert not log_lines(v, health_re("hc", b, "unhealthy"), off), v.stderr_text()[off:]
    t3 = time.time()
    sw.to(Fixed(300, b"multiple"))
    t_down, line = wait_log(v, health_re("hc", b, "unhealthy"), i + t + 3, off)
    assert t_down - t3 <= i + t + SLACK and line.endswith("(http status 300)"), line
    assert hit(v, "hc.example.test", 20) == Counter({"echo-a": 20})


# ----------------------------------------------------------------------------- TCP


def test_tcp_health_check_hex_payloads(vallum):
    """tcp_health_check as in the route docs (send 50494E47 "PING", receive 504F4E47 "PONG"),
    scaled down: real TCP servers that answer PONG pass (on a reused connection), one answering
    PANG never passes and gets no traffic, a server switched to PANG is removed after
    unhealthy_threshold timeouts and comes back when it answers PONG again. Receive blocks
    match in order, not necessarily adjacent."""
    servers = []
    try:
        a = PingPongUpstream("tcp-a", default=OK)
        b = PingPongUpstream("tcp-b", default=OK)
        c = PingPongUpstream("tcp-c", default=OK, reply=b"PANG")
        d = PingPongUpstream("tcp-d", default=OK, reply=b"xPOyyNGz")
        e = PingPongUpstream("tcp-e", default=OK)
        servers = [a, b, c, d, e]
        tcp = {"timeout": "0.5s", "interval": "0.5s", "unhealthy_threshold": 2, "healthy_threshold": 1,
               "tcp_health_check": {"send": {"text": "50494E47"}, "receive": [{"text": "504F4E47"}]}}
        split = {"timeout": "0.5s", "interval": "0.5s", "unhealthy_threshold": 2, "healthy_threshold": 1,
                 "tcp_health_check": {"send": {"text": "50494e47"}, "receive": [{"text": "504F"}, {"text": "4E47"}]}}
        v = vallum(vallum.config([
            route("https://tcp.example.test", [a.url, b.url, c.url, e.url], name="tcp", health_checks=[tcp]),
            route("https://split.example.test", [d.url, a.url], name="split", health_checks=[split]),
            route("https://tcp-connect.example.test", [a.url, e.url], name="tcp-connect",
                  health_checks=[dict(tcp, tcp_health_check={})]),
        ]))
        wait_log(v, health_re("tcp", a, "healthy"), 5)
        wait_log(v, health_re("tcp", b, "healthy"), 5)
        wait_log(v, health_re("tcp", e, "healthy"), 5)
        wait_log(v, health_re("split", d, "healthy"), 5)
        time.sleep(1.2)  # a few more rounds
        assert not log_lines(v, re.escape(c.addr) + " is healthy")
        assert c.probe_count() >= 2
        for u in (a, b):
            conns = [cid for _, cid in u.probes]
            assert len(conns) >= 3, u.probes
            assert len(set(conns)) < len(conns), f"{u.name}: the probe connection was never reused: {conns}"
        assert hit(v, "tcp.example.test", 30) == Counter({"tcp-a": 10, "tcp-b": 10, "tcp-e": 10})
        assert hit(v, "split.example.test", 20) == Counter({"tcp-d": 10, "tcp-a": 10})

        off = len(v.stderr_text())
        t0 = time.time()
        b.reply = b"PANG"
        t_down, line = wait_log(v, health_re("tcp", b, "unhealthy"), 6, off)
        # each failing check waits `timeout` for the PONG, the next starts `interval` later
        assert 2 * 0.5 + 0.5 - 0.15 <= t_down - t0 <= 2 * 0.5 + 2 * 0.5 + SLACK, f"{t_down - t0:.3f}s: {line}"
        assert "timeout" in line and "2 consecutive failures" in line, line
        time.sleep(0.1)
        # 2 of 4 healthy is not panic: c (never healthy) and b get nothing
        assert hit(v, "tcp.example.test", 30) == Counter({"tcp-a": 15, "tcp-e": 15})

        off = len(v.stderr_text())
        b.reply = b"PONG"
        wait_log(v, health_re("tcp", b, "healthy"), 3, off)
        assert hit(v, "tcp.example.test", 30) == Counter({"tcp-a": 10, "tcp-b": 10, "tcp-e": 10})

        # connect-only check (no send, no receive): passes while the port accepts
        wait_log(v, health_re("tcp-connect", e, "healthy"), 3)
        off = len(v.stderr_text())
        kill_upstream(e)
        _, line = wait_log(v, health_re("tcp-connect", e, "unhealthy"), 3, off)
        assert "connect refused" in line, line
    finally:
        for u in servers:
            kill_upstream(u)
