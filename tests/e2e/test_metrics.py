"""Prometheus metrics on metrics_address (Pomerium global option): scraped after
known traffic, the per-route counters carry the route's `name` (or
"route-<id>" for an unnamed route) and equal what was sent; the latency histogram counts every
upstream exchange in the right buckets; per-endpoint gauges follow health checks and in-flight
requests; connect failures are counted; other paths are 404."""

import re

import pytest

from lib.clusters import (OK, HangFor, Switch, free_port, health_re, hit, http_get_plain, metric, scrape, wait_log,
                          wait_metric)
from lib.helpers import route
from lib.upstream import Delay, Fixed, refused_port

BODY = b"x" * 100
ERR = b"e" * 7


@pytest.fixture(scope="module")
def env(module_vallum, module_upstream):
    m1, m2 = (module_upstream(n, default=Fixed(200, BODY)) for n in ("m1", "m2"))
    for u in (m1, m2):
        u.on("/fail", Fixed(500, ERR))
        u.on("/missing", Fixed(404, b""))
    lat = module_upstream("lat", default=OK).on("/slow", Delay(0.3, OK))
    h1 = module_upstream("h1", default=OK).on("/healthz", OK)
    sw = Switch(OK)
    h2 = module_upstream("h2", default=OK).on("/healthz", sw)
    hold = HangFor(30)
    held = module_upstream("held", default=OK).on("/hold", hold)
    anon = module_upstream("anon", default=OK)
    refused = refused_port()
    mport = free_port()
    routes = [
        route("https://app.example.test", [m1.url, m2.url], name="metrics-app"),
        route("https://anon.example.test", anon.url),  # unnamed: route-<hash id>
        route("https://withid.example.test", anon.url, id="metrics-id-7"),
        route("https://lat.example.test", lat.url, name="metrics-lat"),
        route("https://hc.example.test", [h1.url, h2.url], name="metrics-hc",
              health_checks=[{"timeout": "0.5s", "interval": "0.3s", "unhealthy_threshold": 2, "healthy_threshold": 1,
                              "http_health_check": {"path": "/healthz"}}]),
        route("https://hold.example.test", held.url, name="metrics-hold"),
        route("https://refused.example.test", f"http://127.0.0.1:{refused}", name="metrics-refused"),
    ]
    cfg = module_vallum.config(routes, metrics_address=f"127.0.0.1:{mport}")
    v = module_vallum(cfg)
    v.wait_stderr(r"metrics on http://127\.0\.0\.1:%d/metrics" % mport, 5)
    return dict(v=v, cfg=cfg, port=mport, m1=m1, m2=m2, h1=h1, h2=h2, sw=sw, hold=hold, held=held,
                refused=f"127.0.0.1:{refused}")


def responses(port, route_label):
    s = scrape(port)
    return {cls: metric(s, "vallum_route_responses_total", route=route_label, code_class=cls)
            for cls in ("none", "1xx", "2xx", "3xx", "4xx", "5xx")}


def test_route_counters_match_the_traffic(env):
    """37 x 200, 5 x 500 (from the upstream), 3 x 404, 4 POSTs of 1000 bytes: the named route's
    counters say exactly that, bytes included (response bodies 100 / 7 / 0 bytes)."""
    v, port = env["v"], env["port"]
    st = {}
    assert sum(hit(v, "app.example.test", 37, "/ok").values()) == 37
    for path, n in (("/fail", 5), ("/missing", 3)):
        with v.conn("app.example.test") as c:
            for _ in range(n):
                r = c.get(path)
                st[r.status] = st.get(r.status, 0) + 1
    with v.conn("app.example.test") as c:
        for _ in range(4):
            assert c.request("POST", "/post", body=b"p" * 1000).status == 200
    assert st == {500: 5, 404: 3}, st
    s = wait_metric(port, "vallum_route_responses_total", 41, route="metrics-app", code_class="2xx")
    assert responses(port, "metrics-app") == {"none": 0, "1xx": 0, "2xx": 41, "3xx": 0, "4xx": 3, "5xx": 5}
    assert metric(s, "vallum_route_response_bytes_total", route="metrics-app") == 41 * 100 + 5 * 7
    assert metric(s, "vallum_route_request_bytes_total", route="metrics-app") == 4 * 1000
    # the histogram counted every upstream exchange
    assert metric(s, "vallum_route_upstream_latency_seconds_count", route="metrics-app") == 49
    assert metric(s, "vallum_route_upstream_latency_seconds_bucket", route="metrics-app", le="+Inf") == 49
    assert metric(s, "vallum_route_upstream_latency_seconds_sum", route="metrics-app") > 0


def test_unnamed_route_label_is_route_id(env):
    """A route without `name` is labelled route-<id>: the explicit `id`, else the route's hash id."""
    v, port = env["v"], env["port"]
    hit(v, "anon.example.test", 6)
    hit(v, "withid.example.test", 4)
    s = wait_metric(port, "vallum_route_responses_total", 4, route="route-metrics-id-7", code_class="2xx")
    anon = [dict(k[1])["route"] for k, val in s.items()
            if k[0] == "vallum_route_responses_total" and dict(k[1]).get("code_class") == "2xx" and val == 6]
    assert len(anon) == 1 and re.fullmatch(r"route-[0-9a-f]{8,}", anon[0]), anon
    assert not [k for k in s if k[0] == "vallum_route_responses_total" and dict(k[1])["route"] in ("", "route-")]


def test_latency_histogram_buckets(env):
    """5 fast and 2 slow (300 ms) exchanges: le=0.25 holds the 5, le=0.5 all 7; buckets are
    cumulative and the sum reflects the slow ones."""
    v, port = env["v"], env["port"]
    hit(v, "lat.example.test", 5, "/fast")
    hit(v, "lat.example.test", 2, "/slow")
    s = wait_metric(port, "vallum_route_upstream_latency_seconds_count", 7, route="metrics-lat")
    b = {le: metric(s, "vallum_route_upstream_latency_seconds_bucket", route="metrics-lat", le=le)
         for le in ("0.1", "0.25", "0.5", "1", "+Inf")}
    assert b == {"0.1": 5, "0.25": 5, "0.5": 7, "1": 7, "+Inf": 7}, b
    buckets = sorted((float(dict(k[1])["le"]), val) for k, val in s.items()
                     if k[0] == "vallum_route_upstream_latency_seconds_bucket" and dict(k[1])["route"] == "metrics-lat")
    assert [x[1] for x in buckets] == sorted(x[1] for x in buckets), buckets
    total = metric(s, "vallum_route_upstream_latency_seconds_sum", route="metrics-lat")
    assert 0.6 <= total < 1.5, total


def test_endpoint_healthy_follows_health_checks(env):
    v, port, h1, h2 = env["v"], env["port"], env["h1"], env["h2"]
    wait_metric(port, "vallum_endpoint_healthy", 1, route="metrics-hc", endpoint=h1.addr)
    wait_metric(port, "vallum_endpoint_healthy", 1, route="metrics-hc", endpoint=h2.addr)
    off = len(v.stderr_text())
    env["sw"].to(Fixed(503))
    wait_log(v, health_re("metrics-hc", h2, "unhealthy"), 3, off)
    s = wait_metric(port, "vallum_endpoint_healthy", 0, route="metrics-hc", endpoint=h2.addr, timeout=1)
    assert metric(s, "vallum_endpoint_healthy", route="metrics-hc", endpoint=h1.addr) == 1
    off = len(v.stderr_text())
    env["sw"].to(OK)
    wait_log(v, health_re("metrics-hc", h2, "healthy"), 3, off)
    wait_metric(port, "vallum_endpoint_healthy", 1, route="metrics-hc", endpoint=h2.addr, timeout=1)


def test_endpoint_active_requests(env):
    v, port, held = env["v"], env["port"], env["held"]
    c = v.conn("hold.example.test")
    try:
        c.send(b"GET /hold HTTP/1.1\r\nHost: " + v.authority("hold.example.test").encode() + b"\r\n\r\n")
        held.wait_for(lambda rs: any(r.path == "/hold" for r in rs), 5)
        wait_metric(port, "vallum_endpoint_active_requests", 1, route="metrics-hold", endpoint=held.addr)
    finally:
        env["hold"].release.set()
        c.read_response(timeout=5)
        c.close()
    wait_metric(port, "vallum_endpoint_active_requests", 0, route="metrics-hold", endpoint=held.addr)


def test_connect_failures_counted(env):
    """Every refused connection counts once; each such request is a 5xx of the route."""
    v, port = env["v"], env["port"]
    for _ in range(3):
        assert v.get("/r", "refused.example.test").status == 503
    s = wait_metric(port, "vallum_endpoint_connect_failures_total", 3, route="metrics-refused", endpoint=env["refused"])
    assert metric(s, "vallum_route_responses_total", route="metrics-refused", code_class="5xx") == 3


@pytest.mark.parametrize("path", ["/", "/foo", "/metricsx", "/metrics/extra"])
def test_other_paths_are_404(env, path):
    status, _ = http_get_plain(env["port"], path)
    assert status == 404


def test_counters_survive_a_reload_and_reloads_are_counted(env):
    """A reload keeps the route's counters (same label, monotonic) and bumps
    vallum_config_reloads_total; a broken config bumps the failures counter too."""
    v, port = env["v"], env["port"]
    before = responses(port, "metrics-app")["2xx"]
    r0 = metric(scrape(port), "vallum_config_reloads_total")
    off = len(v.stderr_text())
    v.reload(env["cfg"])
    v.wait_stderr(r"config reloaded", 10, off)
    hit(v, "app.example.test", 3, "/ok")
    s = wait_metric(port, "vallum_route_responses_total", before + 3, route="metrics-app", code_class="2xx")
    assert metric(s, "vallum_config_reloads_total") == r0 + 1
    assert metric(s, "vallum_config_reload_failures_total") == 0
    off = len(v.stderr_text())
    v.reload("routes: [\n")
    v.wait_stderr(r"reload failed", 10, off)
    s = wait_metric(port, "vallum_config_reload_failures_total", 1)
    assert metric(s, "vallum_config_reloads_total") == r0 + 2
    assert v.get("/still", "app.example.test").status == 200
    v.reload(env["cfg"])


def test_vallum_metric_names_follow_conventions(env):
    """Every vallum_ family has HELP and TYPE; counters end in _total, the histogram's unit is
    seconds, gauges carry no _total."""
    _, text = http_get_plain(env["port"], "/metrics")
    types = dict(re.findall(r"^# TYPE (vallum_\S+) (\S+)$", text, re.M))
    helps = set(re.findall(r"^# HELP (vallum_\S+) ", text, re.M))
    assert set(types) == helps and len(types) >= 10, (types, helps)
    for name, kind in types.items():
        if kind == "counter":
            assert name.endswith("_total"), name
        elif kind == "histogram":
            assert name.endswith("_seconds"), name
        else:
            assert kind == "gauge" and not name.endswith("_total"), (name, kind)
