"""Real-world failure cases about request shaping (labelled BR-nn), one test per
case, each asserting the case's right values exactly: BR-01, BR-03, BR-05, BR-11 (the
prefix_rewrite + escaped-slash part, default and KEEP_UNCHANGED settings), BR-13, BR-15, BR-17.

The cases name fixed ports (echo-a :9001, echo-b :9002, echo-c :9003, the proxy :8443); as the
conventions allow, the tests pick free ports, so expected values that contain a port use the
real one. Every test runs over HTTP/1.1 and HTTP/2 (the `proto` fixture, lib/client.py; BR-05's
`curl --http2` repeat is its h2 run) with the same expected values."""

from __future__ import annotations

import socket

import pytest

from lib.client import connect, get, request
from lib.helpers import route, wait_until
from lib.listeners import ConnectionCatcher, PortUnavailable, can_bind_privileged, close_listener, listen_also
from lib.pages import assert_html_page
from lib.upstream import Fixed


def values(rec, name):
    return rec.headers_all(name)


def only_request(ups):
    """The single request recorded across `ups` (dict name -> EchoUpstream) since the last clear."""
    recs = [(n, r) for n, u in ups.items() for r in u.requests()]
    assert len(recs) == 1, f"want exactly one upstream request, got {[(n, r.request_line) for n, r in recs]}"
    return recs[0]


def clear(ups):
    for u in ups.values():
        u.clear()


def assert_route_not_found(r):
    assert_html_page(r, 404)
    assert "route not found" in r.text, r.text[-600:]


# --------------------------------------------------------------------------------------------
def test_br01_prefix_rewrite_to_slash(vallum, upstream, proto):
    """BR-01: `prefix: /tool/` + `prefix_rewrite: /` strips the prefix without a double slash;
    `/tool` matches neither route; `/v1` -> `/api/v2` is a literal swap of the matched prefix."""
    ups = {"echo-a": upstream("echo-a"), "echo-b": upstream("echo-b")}
    v = vallum(vallum.config([
        route("https://app.example.test", ups["echo-a"].url, prefix="/tool/", prefix_rewrite="/"),
        route("https://app.example.test", ups["echo-b"].url, prefix="/v1", prefix_rewrite="/api/v2"),
    ]))
    table = [
        ("/tool/health", "echo-a", "GET /health HTTP/1.1"),
        ("/tool/", "echo-a", "GET / HTTP/1.1"),
        ("/tool/a/b?x=1&y=%2F", "echo-a", "GET /a/b?x=1&y=%2F HTTP/1.1"),
        ("/v1/users", "echo-b", "GET /api/v2/users HTTP/1.1"),
        ("/v1", "echo-b", "GET /api/v2 HTTP/1.1"),
    ]
    for target, server, line in table:
        clear(ups)
        r = get(v, proto, target, "app.example.test")
        assert r.status == 200, (target, r)
        name, rec = only_request(ups)
        assert (name, rec.request_line) == (server, line), target
    clear(ups)
    r = get(v, proto, "/tool", "app.example.test")
    assert_route_not_found(r)
    assert all(u.requests() == [] for u in ups.values())


# --------------------------------------------------------------------------------------------
def test_br03_regex_rewrite_substitution(vallum, upstream, proto):
    """BR-03: RE2 substitution: `\\1` references groups, `$1` is literal, every match is
    replaced, the query string is not regex input and is re-appended unchanged."""
    ups = {n: upstream(n) for n in ("echo-a", "echo-b", "echo-c")}
    v = vallum(vallum.config([
        route("https://rw.example.test", ups["echo-a"].url, prefix="/service/",
              regex_rewrite_pattern=r"^/service/([^/]+)(/.*)$", regex_rewrite_substitution=r"\2/instance/\1"),
        route("https://rw.example.test", ups["echo-b"].url, prefix="/bookings/",
              regex_rewrite_pattern=r"^/bookings/([^/]+)/sometask$", regex_rewrite_substitution="/orders/$1/sometask"),
        route("https://rw.example.test", ups["echo-c"].url, prefix="/xxx/",
              regex_rewrite_pattern="one", regex_rewrite_substitution="two"),
    ]))
    for target, server, want in [
        ("/service/foo/v1/api?x=1", "echo-a", "/v1/api/instance/foo?x=1"),
        ("/bookings/1234/sometask", "echo-b", "/orders/$1/sometask"),
        ("/xxx/one/yyy/one/zzz", "echo-c", "/xxx/two/yyy/two/zzz"),
    ]:
        clear(ups)
        r = get(v, proto, target, "rw.example.test")
        assert r.status == 200, (target, r)
        name, rec = only_request(ups)
        assert (name, rec.target) == (server, want), target


# --------------------------------------------------------------------------------------------
def test_br05_default_host_is_the_upstream_authority(vallum, upstream, proto):
    """BR-05: the upstream sees `Host: <to host[:port]>` for IP and named upstreams, the default
    port omitted when the URL has none; never the `from` host, never two Host fields.
    The h2 run is the case's `curl --http2` repeat: `:authority` in, the same Host out."""
    a, b, c = upstream("echo-a"), upstream("echo-b"), upstream("echo-c")
    reason = can_bind_privileged()
    port80 = None
    if reason is None:
        try:
            port80 = listen_also(c, 80)  # echo-c also answers on :80 for `to: http://localhost`
        except PortUnavailable as e:
            pytest.fail(f"BR-05 needs 127.0.0.1:80 for `to: http://localhost`: {e}")
    try:
        routes = [route("https://nas.example.test", a.url),
                  route("https://named.example.test", f"http://localhost:{b.port}")]
        if port80 is not None:
            routes.append(route("https://plain.example.test", "http://localhost"))
        v = vallum(vallum.config(routes))
        checks = [("nas.example.test", "/headers", a, f"127.0.0.1:{a.port}"),
                  ("named.example.test", "/", b, f"localhost:{b.port}")]
        if port80 is not None:
            checks.append(("plain.example.test", "/", c, "localhost"))
        for host, target, u, want in checks:
            u.clear()
            r = get(v, proto, target, host)
            assert r.status == 200, (host, r)
            (rec,) = u.requests()
            assert values(rec, "host") == [want], (host, rec.headers)
            assert not any(host in h for h in values(rec, "host"))
    finally:
        if port80 is not None:
            close_listener(port80)
    if port80 is None:
        pytest.skip(f"BR-05 `to: http://localhost` (port 80) part not run: {reason}")


# --------------------------------------------------------------------------------------------
def BR11_ROUTES(a, b, c):
    return [route("https://enc.example.test", a.url, prefix="/mq/", prefix_rewrite="/"),
            route("https://enc.example.test", b.url, path="/a/b"),
            route("https://enc.example.test", c.url)]


def test_br11_escaped_slash_default_rejected(vallum, upstream, proto):
    """BR-11 (d), default settings: `%2F`/`%2f` in the path -> 400 before routing, no upstream
    connection, the connection's other requests unharmed; the query is not inspected; adjacent
    slashes kept (and merged with `merge_slashes: true`)."""
    ups = {n: upstream(n) for n in ("echo-a", "echo-b", "echo-c")}
    v = vallum(vallum.config(BR11_ROUTES(ups["echo-a"], ups["echo-b"], ups["echo-c"])))
    r = request(v, proto, "PUT", "/mq/api/permissions/%2F/guest", "enc.example.test",
                  body=b'{"configure":".*","write":".*","read":".*"}',
                  headers=[("Content-Type", "application/json")])
    assert_html_page(r, 400)
    with connect(v, proto, "enc.example.test") as conn:
        for target in ("/mq/api/queues/%2f/q1?x=%2F", "/a%2Fb"):
            r = conn.get(target)
            assert_html_page(r, 400)
        assert [u.connections for u in ups.values()] == [0, 0, 0], "a rejected request reached an upstream"
        for target, server, want in [("/mq/api/queues/q1?x=%2F", "echo-a", "/api/queues/q1?x=%2F"),
                                     ("/a/b", "echo-b", "/a/b"),
                                     ("/x//y", "echo-c", "/x//y")]:
            clear(ups)
            r = conn.get(target)  # same connection as the 400s
            assert r.status == 200, (target, r)
            name, rec = only_request(ups)
            assert (name, rec.target) == (server, want), target
    # The case's parenthesis: with merge_slashes: true, /x//y reaches echo-c as /x/y.
    clear(ups)
    v2 = vallum(vallum.config(BR11_ROUTES(ups["echo-a"], ups["echo-b"], ups["echo-c"]), merge_slashes=True))
    r = get(v2, proto, "/x//y", "enc.example.test")
    assert r.status == 200, r
    assert only_request(ups)[1].target == "/x/y"


def test_br11_escaped_slash_keep_unchanged(vallum, upstream, proto):
    """BR-11 (e), `path_with_escaped_slashes_action: KEEP_UNCHANGED`, `merge_slashes: false`:
    the escape is forwarded as written through prefix_rewrite (hex case kept, method kept, no
    extra or missing slashes); `%2F` is no separator for matching."""
    ups = {n: upstream(n) for n in ("echo-a", "echo-b", "echo-c")}
    v = vallum(vallum.config(BR11_ROUTES(ups["echo-a"], ups["echo-b"], ups["echo-c"]),
                             path_with_escaped_slashes_action="KEEP_UNCHANGED", merge_slashes=False))
    body = b'{"configure":".*","write":".*","read":".*"}'
    with connect(v, proto, "enc.example.test") as conn:
        for method, target, server, line in [
            ("PUT", "/mq/api/permissions/%2F/guest", "echo-a", "PUT /api/permissions/%2F/guest HTTP/1.1"),
            ("GET", "/mq/api/queues/%2f/q1?x=%2F", "echo-a", "GET /api/queues/%2f/q1?x=%2F HTTP/1.1"),
            ("GET", "/a%2Fb", "echo-c", "GET /a%2Fb HTTP/1.1"),
            ("GET", "/a/b", "echo-b", "GET /a/b HTTP/1.1"),
            ("GET", "/x//y", "echo-c", "GET /x//y HTTP/1.1"),
        ]:
            clear(ups)
            r = conn.request(method, target, body=body if method == "PUT" else None)
            assert r.status == 200, (target, r)
            name, rec = only_request(ups)
            assert (name, rec.request_line) == (server, line), target
            if method == "PUT":
                assert rec.body_len == len(body) and rec.complete


# --------------------------------------------------------------------------------------------
def test_br13_redirect_only_route_redirects(vallum, proto):
    """BR-13: a route with only `redirect:` answers the redirect (never 503), composes Location
    from the request (scheme kept; host, path replaced; query kept unless strip_query; the
    request's port dropped with host_redirect, kept otherwise) and contacts no upstream: TCP
    listeners on the case's ports and on random ports see no connection."""
    catcher = ConnectionCatcher(ports=(9001, 9002, 9003, 80, 443, 8080, 8443), random_ports=3)
    try:
        # The catcher works: a probe connection to each port is seen (then forgotten).
        for p in catcher.ports:
            socket.create_connection(("127.0.0.1", p), timeout=2).close()
        wait_until(lambda: len(catcher.hits) == len(catcher.ports), 5, what="catcher self-check")
        catcher.hits.clear()
        v = vallum(vallum.config([
            {"from": "https://go.example.test",
             "redirect": {"host_redirect": "docs.example.net", "path_redirect": "/guide/start"},
             "allow_public_unauthenticated_access": True},
            {"from": "https://go2.example.test",
             "redirect": {"host_redirect": "docs.example.net", "path_redirect": "/guide/start", "strip_query": True,
                          "response_code": 302},
             "allow_public_unauthenticated_access": True},
            {"from": "https://go3.example.test", "redirect": {"prefix_rewrite": "/v2/"}, "prefix": "/v1/",
             "allow_public_unauthenticated_access": True},
        ]))
        cases = [
            ("GET", "go.example.test", "/anything?q=1", None, 301, "https://docs.example.net/guide/start?q=1"),
            ("GET", "go2.example.test", "/anything?q=1", None, 302, "https://docs.example.net/guide/start"),
            ("GET", "go3.example.test", "/v1/items?id=3", None, 301, f"https://go3.example.test:{v.port}/v2/items?id=3"),
            ("POST", "go.example.test", "/anything?q=1", b"a=1&b=" + b"x" * 5000, 301,
             "https://docs.example.net/guide/start?q=1"),
        ]
        for method, host, target, body, status, location in cases:
            r = request(v, proto, method, target, host, body=body,
                          headers=[("Content-Type", "application/x-www-form-urlencoded")] if body else None)
            assert (r.status, r.headers_all("location")) == (status, [location]), (method, host, target, r)
            assert r.body == b"" and r.header("content-length") == "0", r
        log = wait_until(lambda: len(v.access_log()) >= 4 and v.access_log(), 5, what="4 access-log lines")
        assert len(log) == 4 and all(e["status"] in (301, 302) and e["upstream"] == "" for e in log), log
    finally:
        catcher.close()
    assert catcher.hits == [], f"the proxy connected somewhere: {catcher.hits}"
    assert len(catcher.ports) >= 3, catcher.unavailable


# --------------------------------------------------------------------------------------------
def test_br15_rewrite_response_headers(vallum, upstream, proto):
    """BR-15: rewrite_response_headers replaces a prefix at the start of the value only; header
    names match case-insensitively; status and body untouched; the upstream request carries
    X-Forwarded-Proto: https."""
    a = upstream("echo-a")
    internal = f"http://127.0.0.1:{a.port}/"
    a.on("/login", Fixed(302, b"Redirecting to the dashboard", [("Location", f"{internal}dashboard?x=1")]))
    a.on("/ext", Fixed(302, b"ext", [("Location", "https://other.example.net/x")]))
    a.on("/trick", Fixed(302, b"trick", [("Location", f"https://other.example.net/?next={internal}")]))
    a.on("/hdr", Fixed(200, b"hdr body", [("x-backend-url", f"{internal}two/some/path/")]))
    v = vallum(vallum.config([route("https://app.example.test", a.url, rewrite_response_headers=[
        {"header": "Location", "prefix": internal, "value": "https://app.example.test:8443/"},
        {"header": "X-Backend-Url", "prefix": f"{internal}two/", "value": "https://app.example.test:8443/one/"},
    ])]))
    for target, status, body, name, want in [
        ("/login", 302, b"Redirecting to the dashboard", "location", "https://app.example.test:8443/dashboard?x=1"),
        ("/ext", 302, b"ext", "location", "https://other.example.net/x"),
        ("/trick", 302, b"trick", "location", f"https://other.example.net/?next={internal}"),
        ("/hdr", 200, b"hdr body", "x-backend-url", "https://app.example.test:8443/one/some/path/"),
    ]:
        a.clear()
        r = get(v, proto, target, "app.example.test")
        assert (r.status, r.body) == (status, body), (target, r)
        assert r.headers_all(name) == [want], (target, r.headers)
        (rec,) = a.requests()
        assert values(rec, "x-forwarded-proto") == ["https"], rec.headers


# --------------------------------------------------------------------------------------------
def test_br17_path_is_exact(vallum, upstream, proto):
    """BR-17: `path:` is an exact, case-sensitive match of the path (the query is not part of
    it); `prefix: /radarr/` does not match `/radarr`."""
    ups = {"echo-a": upstream("echo-a"), "echo-b": upstream("echo-b")}
    v = vallum(vallum.config([
        route("https://media.example.test", ups["echo-a"].url, path="/sonarr"),
        route("https://media.example.test", ups["echo-b"].url, prefix="/radarr/"),
    ]))
    for target, server in [("/sonarr", "echo-a"), ("/sonarr?page=2", "echo-a"), ("/radarr/", "echo-b"),
                           ("/radarr/api", "echo-b")]:
        clear(ups)
        r = get(v, proto, target, "media.example.test")
        assert r.status == 200, (target, r)
        name, rec = only_request(ups)
        assert (name, rec.target) == (server, target), target
    clear(ups)
    for target in ("/sonarr/", "/sonarr/api/v3/queue", "/SONARR", "/radarr"):
        assert_route_not_found(get(v, proto, target, "media.example.test"))
    assert all(u.requests() == [] for u in ups.values())
