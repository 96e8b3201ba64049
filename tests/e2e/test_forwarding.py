"""What the upstream receives: Host (the `to` URL's host[:port], BR-05), X-Forwarded-For /
-Proto / -Host, hop-by-hop headers removed both ways, the `to` path applied as a prefix rewrite
(Pomerium's `to` trailing-slash rule, BR-01), and weighted round robin across `to` entries.

The tables run over HTTP/1.1 and HTTP/2 (the `proto` fixture, lib/client.py) with the same
expected values. Hop-by-hop request fields are HTTP/1-only: over HTTP/2 a connection-specific
field makes the request malformed (a stream error, test_hygiene.py
test_h2_malformed_request_is_a_stream_error)."""

from collections import Counter

import pytest

from lib.client import connect, get, h2_names
from lib.helpers import route
from lib.upstream import Fixed

HOP_REQ = [
    ("Connection", "keep-alive, X-Hop-Custom"),
    ("X-Hop-Custom", "must-not-pass"),
    ("Keep-Alive", "timeout=5, max=100"),
    ("Proxy-Connection", "keep-alive"),
    ("TE", "gzip"),
    ("Upgrade", "something/1.0"),
    ("X-End-To-End", "kept"),
]


BIG_RESP_HEADERS = [(f"X-Resp-{i:02d}", chr(ord("A") + i % 26) * 512) for i in range(30)]


@pytest.fixture(scope="module")
def env(module_vallum, module_upstream):
    u = module_upstream("fwd")
    u2 = module_upstream("fwd2")
    u.on("/resp-hop", Fixed(200, b"ok", [("Connection", "X-Resp-Hop"), ("X-Resp-Hop", "1"),
                                         ("Keep-Alive", "timeout=99"), ("Proxy-Connection", "keep-alive"),
                                         ("X-Resp-E2E", "kept")]))
    u.on("/bigresp", Fixed(200, b"big", BIG_RESP_HEADERS))
    routes = [
        route("https://fwd.example.test", u.url),
        route("https://named.example.test", f"http://localhost:{u.port}"),
        route("https://r1.example.test", u.url + "/api/"),
        route("https://r2.example.test", u.url + "/api"),
        route("https://r3.example.test", u.url + "/"),
        route("https://r4.example.test", u.url + "/", prefix="/admin/"),
        route("https://r5.example.test", u.url + "/", prefix="/admin"),
        route("https://r6.example.test", u.url + "/target", path="/exact"),
        route("https://r7.example.test", u.url + "/rx/", regex="/re/[0-9]+"),
        route("https://r8.example.test", u.url + "/anything"),
        route("https://r9.example.test", [u.url + "/first/", u2.url + "/second/"]),
        route("https://r10.example.test", u.url + "/", prefix="/tool/"),
    ]
    v = module_vallum(module_vallum.config(routes))
    return v, u, u2


def echo(v, host, target, headers=None, proto="h1"):
    r = get(v, proto, target, host, headers=headers)
    assert r.status == 200, r
    return r.json()


def values(d, name):
    return [val for k, val in d["headers"] if k.lower() == name.lower()]


def test_host_is_the_to_url_authority(env, proto):
    v, u, _ = env
    d = echo(v, "fwd.example.test", "/h", proto=proto)
    assert values(d, "host") == [f"127.0.0.1:{u.port}"]
    d = echo(v, "named.example.test", "/h", proto=proto)
    assert values(d, "host") == [f"localhost:{u.port}"]


def test_x_forwarded_headers_set(env, proto):
    v, u, _ = env
    d = echo(v, "fwd.example.test", "/xf", proto=proto)
    assert ", ".join(values(d, "x-forwarded-for")) == "127.0.0.1"
    assert values(d, "x-forwarded-proto") == ["https"]
    assert ", ".join(values(d, "x-forwarded-host")) == v.authority("fwd.example.test")


def test_x_forwarded_headers_appended_and_proto_overwritten(env, proto):
    v, u, _ = env
    d = echo(v, "fwd.example.test", "/xf2", headers=[("X-Forwarded-For", "203.0.113.9"),
                                                     ("X-Forwarded-Proto", "http"),
                                                     ("X-Forwarded-Host", "orig.example.net")], proto=proto)
    assert ", ".join(values(d, "x-forwarded-for")) == "203.0.113.9, 127.0.0.1"
    assert values(d, "x-forwarded-proto") == ["https"]
    assert ", ".join(values(d, "x-forwarded-host")) == f"orig.example.net, {v.authority('fwd.example.test')}"


# HTTP/1-only: Connection and the fields it names have no HTTP/2 form (see the module docstring).
def test_hop_by_hop_request_headers_removed(env):
    v, u, _ = env
    d = echo(v, "fwd.example.test", "/hop", headers=HOP_REQ)
    names = [k.lower() for k, _ in d["headers"]]
    for gone in ("x-hop-custom", "keep-alive", "proxy-connection", "te", "upgrade"):
        assert gone not in names, f"{gone} reached the upstream: {d['headers']}"
    for val in values(d, "connection"):  # the proxy may speak for its own upstream connection only
        assert val.lower() in ("keep-alive", "close"), f"client's Connection leaked: {d['headers']}"
    assert values(d, "x-end-to-end") == ["kept"]


def test_te_trailers_is_forwarded(env, proto):
    v, u, _ = env
    d = echo(v, "fwd.example.test", "/te", headers=[("TE", "trailers")], proto=proto)
    assert values(d, "te") == ["trailers"]


def test_hop_by_hop_response_headers_removed(env, proto):
    v, u, _ = env
    with connect(v, proto, "fwd.example.test") as c:
        r = c.get("/resp-hop")
        assert r.status == 200 and r.body == b"ok", r
        for gone in ("x-resp-hop", "keep-alive", "proxy-connection"):
            assert not r.has_header(gone), f"{gone} reached the client: {r.headers}"
        for val in r.headers_all("connection"):
            assert "x-resp-hop" not in val.lower(), r.headers
        assert r.header("x-resp-e2e") == "kept"
        assert c.get("/after").status == 200  # still keep-alive


@pytest.mark.parametrize("host,target,expected", [
    ("r1.example.test", "/foo?x=1", "/api/foo?x=1"),
    ("r2.example.test", "/foo", "/apifoo"),            # the classic missing-slash gotcha, kept faithfully
    ("r3.example.test", "/foo/bar", "/foo/bar"),
    ("r4.example.test", "/admin/x", "/x"),
    ("r4.example.test", "/admin/", "/"),
    ("r5.example.test", "/admin/x", "//x"),             # prefix "/admin" swapped for "/": literal swap
    ("r6.example.test", "/exact?q=1", "/target?q=1"),   # path match: the whole path is replaced
    ("r7.example.test", "/re/5", "/rx/"),               # regex match: the whole path is replaced
    ("r8.example.test", "//foo", "/anything/foo"),      # the route docs' double-slash tip
    ("r10.example.test", "/tool/a/b?x=1&y=%2F", "/a/b?x=1&y=%2F"),  # BR-01: query byte-for-byte
])
def test_to_path_prefix_rewrite(env, proto, host, target, expected):
    v, u, _ = env
    assert echo(v, host, target, proto=proto)["target"] == expected


def test_only_first_to_path_is_used(env, proto):
    v, u, u2 = env
    seen = Counter()
    with connect(v, proto, "r9.example.test") as c:
        for i in range(4):
            r = c.get(f"/p{i}")
            assert r.status == 200, r
            d = r.json()
            seen[d["server"]] += 1
            assert d["target"] == f"/first/p{i}", d
    assert seen == Counter({"fwd": 2, "fwd2": 2})


def test_weighted_round_robin(vallum, upstream):
    a, b, c = upstream("a"), upstream("b"), upstream("c")
    v = vallum(vallum.config([
        route("https://w.example.test", [f"{a.url},3", f"{b.url},1"]),
        route("https://eq.example.test", [a.url, b.url, c.url]),
    ]))
    with v.conn("w.example.test") as conn:
        got = Counter(conn.get(f"/w{i}").json()["server"] for i in range(80))
    assert abs(got["a"] - 60) <= 2 and abs(got["b"] - 20) <= 2, got
    with v.conn("eq.example.test") as conn:
        got = Counter(conn.get(f"/e{i}").json()["server"] for i in range(60))
    assert all(abs(got[n] - 20) <= 1 for n in "abc"), got
    # across fresh connections (any worker), the split still follows the weights
    got = Counter(v.get(f"/n{i}", "w.example.test").json()["server"] for i in range(80))
    assert abs(got["a"] - 60) <= 6 and got["a"] + got["b"] == 80, got


def test_large_response_headers_delivered_intact(env, proto):
    """BR-25 (4): 30 response headers of 512 bytes reach the client unchanged, in order."""
    v, u, _ = env
    r = get(v, proto, "/bigresp", "fwd.example.test")
    assert r.status == 200 and r.body == b"big", r
    # HTTP/2 carries field names lower case (RFC 9113 §8.2.1)
    assert [(k, val) for k, val in r.headers if k.lower().startswith("x-resp-")] == h2_names(proto, BIG_RESP_HEADERS)
