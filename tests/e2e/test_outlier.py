"""Outlier detection through the real binary (Pomerium `outlier_detection`; Envoy
cluster.v3.OutlierDetection): consecutive 5xx ejects an endpoint, which then gets no traffic and
returns after base_ejection_time (twice as long after a second ejection); the max_ejection_percent
gate (Envoy's rule: the route docs' `outlier_detection: {}` on two endpoints ejects nothing) and
always_eject_one_host; consecutive gateway failures detected but not enforced by default;
connect failures count as 5xx; 4xx are successes. Short clocks: interval 0.5 s, base 1 s."""

import re
import time
from collections import Counter

import pytest

from lib.clusters import OK, free_port, hit, log_lines, metric, outlier_re, scrape, served_by, wait_log
from lib.helpers import route
from lib.upstream import Fixed, refused_port

INTERVAL, BASE = 0.5, 1.0
SLACK = 0.4


def od(**kw):
    d = {"interval": f"{INTERVAL}s", "base_ejection_time": f"{BASE}s"}
    d.update(kw)
    return d


@pytest.fixture(scope="module")
def env(module_vallum, module_upstream):
    g = module_upstream("good", default=OK)
    servers = {n: module_upstream(n, default=Fixed(code, b"err"))
               for n, code in (("bad", 500), ("bad2", 500), ("bad3", 500), ("gw", 503), ("gw2", 503), ("nf", 404))}
    refused = f"http://127.0.0.1:{refused_port()}"
    mport = free_port()
    routes = [
        route("https://od50.example.test", [g.url, servers["bad"].url], name="od50",
              outlier_detection=od(consecutive_5xx=3, max_ejection_percent=50)),
        route("https://one.example.test", [g.url, servers["bad2"].url], name="one-host",
              outlier_detection=od(consecutive_5xx=3, always_eject_one_host=True)),
        route("https://defaults.example.test", [g.url, servers["bad3"].url], name="defaults", outlier_detection={}),
        route("https://gw.example.test", [g.url, servers["gw"].url], name="gw-default",
              outlier_detection=od(consecutive_5xx=100, consecutive_gateway_failure=3, max_ejection_percent=50)),
        route("https://gw2.example.test", [g.url, servers["gw2"].url], name="gw-enforced",
              outlier_detection=od(consecutive_5xx=100, consecutive_gateway_failure=3, max_ejection_percent=50,
                                   enforcing_consecutive_gateway_failure=100)),
        route("https://refused.example.test", [g.url, refused], name="refused",
              outlier_detection=od(consecutive_5xx=3, max_ejection_percent=50)),
        route("https://nf.example.test", [g.url, servers["nf"].url], name="not-found",
              outlier_detection=od(consecutive_5xx=3, max_ejection_percent=50)),
    ]
    v = module_vallum(module_vallum.config(routes, metrics_address=f"127.0.0.1:{mport}"))
    v.wait_stderr(r"metrics on http://127\.0\.0\.1:%d/metrics" % mport, 5)
    return v, g, servers, refused, mport


def drive_until_ejected(v, host, route_name, u_addr, max_requests=40):
    """Requests on one connection until the log says the endpoint was ejected; returns
    (time of the ejection line, line, statuses seen)."""
    pattern = rf"route {re.escape(route_name)}: endpoint {re.escape(u_addr)} ejected \("
    off = len(v.stderr_text())
    statuses = Counter()
    with v.conn(host) as c:
        for _ in range(max_requests):
            statuses[c.get("/x").status] += 1
            got = log_lines(v, pattern, off)
            if got:
                return got[0][0], got[0][1], statuses
    t, line = wait_log(v, pattern, 2, off)
    return t, line, statuses


def test_consecutive_5xx_ejects_then_returns_after_base_time(env):
    v, g, s, _, mport = env
    bad = s["bad"]
    t_ej, line, statuses = drive_until_ejected(v, "od50.example.test", "od50", bad.addr)
    assert line.endswith("ejected (consecutive_5xx)"), line
    assert 3 <= statuses[500] <= 4, statuses  # the 3rd consecutive 500 ejects (±1 in flight)
    time.sleep(0.05)
    samples = scrape(mport)
    assert metric(samples, "vallum_endpoint_ejected", route="od50", endpoint=bad.addr) == 1
    assert metric(samples, "vallum_endpoint_ejected", route="od50", endpoint=g.addr) == 0
    n_bad = len(bad.requests())
    got = hit(v, "od50.example.test", 40, "/while-ejected")
    assert got == Counter({"good": 40}), got
    assert len(bad.requests()) == n_bad, "the ejected endpoint got requests"
    t_ret, line = wait_log(v, outlier_re("od50", bad, "returned"), BASE + INTERVAL + 3)
    assert BASE - 0.05 <= t_ret - t_ej <= BASE + INTERVAL + SLACK, f"returned after {t_ret - t_ej:.3f}s: {line}"
    assert metric(scrape(mport), "vallum_endpoint_ejected", route="od50", endpoint=bad.addr) == 0
    # Back in rotation at once — and ejected again, now for 2 x base (multiplier 2).
    off = len(v.stderr_text())
    with v.conn("od50.example.test") as c:
        served = [served_by(c.get("/back")) for _ in range(2)]
    assert sorted(served) == ["bad", "good"], served
    t_ej2, line = drive_until_ejected(v, "od50.example.test", "od50", bad.addr)[:2]
    t_ret2, line = wait_log(v, outlier_re("od50", bad, "returned"), 2 * BASE + INTERVAL + 3, off)
    assert 2 * BASE - 0.05 <= t_ret2 - t_ej2 <= 2 * BASE + INTERVAL + SLACK, \
        f"second ejection lasted {t_ret2 - t_ej2:.3f}s, expected 2 x base_ejection_time"


def test_always_eject_one_host_overrides_the_percent_gate(env):
    """Default max_ejection_percent (10) on two endpoints, always_eject_one_host: true → the first
    ejection is allowed."""
    v, g, s, _, _ = env
    t_ej, line, _ = drive_until_ejected(v, "one.example.test", "one-host", s["bad2"].addr)
    assert line.endswith("(consecutive_5xx)"), line
    time.sleep(0.05)
    assert hit(v, "one.example.test", 20) == Counter({"good": 20})


def test_empty_outlier_detection_on_two_endpoints_ejects_nothing(env):
    """The route docs' `outlier_detection: {}` (all defaults) on two endpoints: 20 consecutive
    500s from one of them, but 100 x 1 / 2 > 10%: no ejection, traffic keeps alternating
    (Envoy's DetectorImpl::ejectHost)."""
    v, g, s, _, _ = env
    got = hit(v, "defaults.example.test", 40)
    time.sleep(0.2)
    got.update(hit(v, "defaults.example.test", 20))
    assert got == Counter({"good": 30, "bad3": 30}), got
    assert not log_lines(v, r"route defaults: endpoint .* ejected"), v.stderr_text()[-2000:]


def test_consecutive_gateway_failure_detected_but_not_enforced_by_default(env):
    """consecutive_gateway_failure: 3 with the default enforcing_consecutive_gateway_failure (0):
    15 consecutive 503s eject nothing (consecutive_5xx is 100 here); with enforcing 100 the third
    503 ejects, reason consecutive_gateway_failure."""
    v, g, s, _, _ = env
    got = hit(v, "gw.example.test", 30)
    time.sleep(0.1)
    assert got == Counter({"good": 15, "gw": 15}), got
    assert hit(v, "gw.example.test", 10) == Counter({"good": 5, "gw": 5})
    assert not log_lines(v, r"route gw-default: endpoint .* ejected")
    _, line, statuses = drive_until_ejected(v, "gw2.example.test", "gw-enforced", s["gw2"].addr)
    assert line.endswith("ejected (consecutive_gateway_failure)"), line
    assert 3 <= statuses[503] <= 4, statuses


def test_connect_failures_count_as_5xx(env):
    """A refused connection is a local-origin failure mapped to 503 (split off): three of them
    eject the endpoint (consecutive_5xx), and the clients see only those few 503s."""
    v, g, s, refused, mport = env
    addr = refused.split("//", 1)[1]
    _, line, statuses = drive_until_ejected(v, "refused.example.test", "refused", addr)
    assert line.endswith("ejected (consecutive_5xx)"), line
    assert 3 <= statuses[503] <= 4, statuses
    time.sleep(0.05)
    st = Counter()
    assert hit(v, "refused.example.test", 30, statuses=st) == Counter({"good": 30}) and st == Counter({200: 30})
    failures = metric(scrape(mport), "vallum_endpoint_connect_failures_total", route="refused", endpoint=addr)
    assert failures == statuses[503], (failures, statuses)


def test_4xx_are_successes(env):
    """404s are successes for outlier detection: nothing is ejected."""
    v, g, s, _, _ = env
    st = Counter()
    got = hit(v, "nf.example.test", 30, statuses=st)
    time.sleep(0.1)
    assert got == Counter({"good": 15, "nf": 15}) and st == Counter({200: 15, 404: 15}), (got, st)
    assert not log_lines(v, r"route not-found: endpoint .* ejected")


def test_successful_active_health_check_unejects(vallum, upstream):
    """successful_active_health_check_uneject_host (Envoy OutlierDetection, default true: a
    successful active check un-ejects an outlier-ejected host; Envoy runs this on every
    passing check of a host that is not failing active HC): an endpoint whose /healthz passes
    is back within about one check interval of its ejection, long before base_ejection_time
    (10 s); with the option false it stays out."""
    g = upstream("hc-good", default=OK).on("/healthz", OK)
    x = upstream("hc-5xx", default=Fixed(500)).on("/healthz", OK)
    y = upstream("hc-5xx-keep", default=Fixed(500)).on("/healthz", OK)
    checks = [{"timeout": "0.5s", "interval": "0.3s", "unhealthy_threshold": 2, "healthy_threshold": 1,
               "http_health_check": {"path": "/healthz"}}]
    v = vallum(vallum.config([
        route("https://hcu.example.test", [g.url, x.url], name="hc-uneject", health_checks=checks,
              outlier_detection=od(consecutive_5xx=2, base_ejection_time="10s", max_ejection_percent=50)),
        route("https://hck.example.test", [g.url, y.url], name="hc-keep", health_checks=checks,
              outlier_detection=od(consecutive_5xx=2, base_ejection_time="10s", max_ejection_percent=50,
                                   successful_active_health_check_uneject_host=False)),
    ]))
    for name, u in (("hc-uneject", x), ("hc-keep", y)):
        wait_log(v, rf"route {name}: endpoint {re.escape(u.addr)} is healthy", 5)
    drive_until_ejected(v, "hck.example.test", "hc-keep", y.addr)
    t_ej = drive_until_ejected(v, "hcu.example.test", "hc-uneject", x.addr)[0]
    time.sleep(1.5)
    assert not log_lines(v, outlier_re("hc-keep", y, "returned")), "un-ejected although the option is false"
    assert hit(v, "hck.example.test", 10) == Counter({"hc-good": 10})
    got = log_lines(v, outlier_re("hc-uneject", x, "returned"))
    assert got, ("an ejected endpoint that keeps passing its active health check (every 0.3 s) was not "
                 f"un-ejected within {time.time() - t_ej:.1f}s:\n{v.stderr_text()[-1500:]}")
    assert got[0][0] - t_ej <= 0.3 + 0.5 + SLACK and "active_health_check" in got[0][1], got


def test_success_rate_and_failure_percentage_ejections(vallum, upstream):
    """With five endpoints and enough volume per interval: failure_percentage (enforcing 100)
    ejects the endpoint failing 100%; success_rate ejects the one at 50% when the others are at
    100% (threshold mean - 1.9 x stdev)."""
    import itertools

    class Alternate:
        def __init__(self):
            self.n = itertools.count()

        def __call__(self, ctx):
            return (Fixed(500, b"e") if next(self.n) % 2 else OK)(ctx)

    fp = [upstream(f"fp{i}", default=OK) for i in range(4)] + [upstream("fp-bad", default=Fixed(500, b"e"))]
    sr = [upstream(f"sr{i}", default=OK) for i in range(4)] + [upstream("sr-half", default=Alternate())]
    common = dict(interval="0.5s", base_ejection_time="5s", max_ejection_percent=50, consecutive_5xx=1000)
    v = vallum(vallum.config([
        route("https://fp.example.test", [u.url for u in fp], name="fp", outlier_detection=dict(
            # Success rate runs first (as in Envoy) and, at 100+ requests per host per interval,
            # would eject fp-bad itself; enforcing 0 leaves the verdict to failure_percentage.
            common, enforcing_success_rate=0, enforcing_failure_percentage=100,
            failure_percentage_request_volume=10, failure_percentage_minimum_hosts=5)),
        route("https://sr.example.test", [u.url for u in sr], name="sr", outlier_detection=dict(
            common, success_rate_request_volume=20, success_rate_minimum_hosts=5)),
    ]))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not (log_lines(v, r"route fp: .* ejected") and log_lines(v, r"route sr: .* ejected")):
        hit(v, "fp.example.test", 60)
        hit(v, "sr.example.test", 120)
    fp_lines = [ln for _, ln in log_lines(v, r"route fp: .* ejected")]
    sr_lines = [ln for _, ln in log_lines(v, r"route sr: .* ejected")]
    assert len(fp_lines) == 1 and fp_lines[0].endswith(f"route fp: endpoint {fp[4].addr} ejected (failure_percentage)"), \
        v.stderr_text()[-1500:]
    assert len(sr_lines) == 1 and sr_lines[0].endswith(f"route sr: endpoint {sr[4].addr} ejected (success_rate)"), \
        v.stderr_text()[-1500:]
    assert hit(v, "fp.example.test", 40) == Counter({f"fp{i}": 10 for i in range(4)})
