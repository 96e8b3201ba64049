"""Local replies: 403 (safe default), 404, 502, 503, 504 with Pomerium-style pages (HTML by
default, JSON with "status" as a string for JSON clients), and an upstream reset mid-body
aborting the client connection (Envoy's local replies).

Every test runs over HTTP/1.1 and HTTP/2 (the `proto` fixture, lib/client.py) with the same
expected statuses and pages. Where HTTP/2 aborts differently (a cut response is an
RST_STREAM on that stream, the connection carries on) the h2 expectation says so."""

import time

import pytest

from lib.client import connect, get
from lib.helpers import route
from lib.pages import ACCEPT_JSON, assert_html_page, assert_json_page
from lib.upstream import CloseBeforeHead, Delay, Raw, ResetMidBody, SlowBody, payload, refused_port

MALFORMED = {
    "/bad-status": b"HTTP/1.1 2x0 Nope\r\nContent-Length: 0\r\n\r\n",
    "/garbage": b"THIS IS NOT HTTP\r\n\r\n",
    "/no-colon": b"HTTP/1.1 200 OK\r\nBroken header line\r\nContent-Length: 2\r\n\r\nok",
    "/two-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\nok",
    "/bad-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
    "/huge-head": b"HTTP/1.1 200 OK\r\nX-Huge: " + b"h" * (1 << 20) + b"\r\nContent-Length: 2\r\n\r\nok",
    "/bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
}


@pytest.fixture(scope="module")
def env(module_vallum, module_upstream):
    u = module_upstream("err")
    for path, raw in MALFORMED.items():
        u.on(path, Raw(raw))
    u.on("/cl-and-te", Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"2\r\nok\r\n0\r\n\r\n", close=False))
    u.on("/close-before-head", CloseBeforeHead())
    u.on("/rst-before-head", CloseBeforeHead(rst=True))
    u.on("/slow", Delay(3.0))
    u.on("/medium", Delay(1.0))
    u.on("/unlimited", Delay(1.0))
    u.on("/sse", SlowBody(5000, seconds=3.0, pieces=5, chunked=True))
    u.on("/reset-cl", ResetMidBody(1 << 20, 200_000))
    u.on("/reset-chunked", ResetMidBody(1 << 20, 200_000, chunked=True))
    u.on("/fin-cl", ResetMidBody(1 << 20, 200_000, rst=False))
    u.on("/fin-chunked", ResetMidBody(1 << 20, 200_000, chunked=True, rst=False))
    dead = refused_port()
    routes = [
        {"from": "https://private.example.test", "to": u.url},  # no policy, not public: 403
        route("https://refused.example.test", f"http://127.0.0.1:{dead}"),
        route("https://err.example.test", u.url, prefix="/slow", timeout="500ms"),
        route("https://err.example.test", u.url, prefix="/medium", timeout="3s"),
        route("https://err.example.test", u.url, prefix="/unlimited", timeout="0s"),
        route("https://err.example.test", u.url, prefix="/sse", timeout="1s"),
        route("https://err.example.test", u.url),
        route("https://deftimeout.example.test", u.url),
    ]
    v = module_vallum(module_vallum.config(routes, default_upstream_timeout="700ms"))
    return v, u


def test_403_for_route_without_policy(env, proto):
    v, u = env
    assert_html_page(get(v, proto, "/x", "private.example.test"), 403)
    assert_json_page(get(v, proto, "/x", "private.example.test", headers=ACCEPT_JSON), 403)
    assert [r for r in u.requests() if r.path == "/x"] == [], "a non-public route was forwarded"


def test_404_html_and_json(env, proto):
    v, u = env
    assert_html_page(get(v, proto, "/", "unknown.example.test"), 404)
    d = assert_json_page(get(v, proto, "/", "unknown.example.test", headers=ACCEPT_JSON), 404)
    d2 = assert_json_page(get(v, proto, "/", "unknown.example.test", headers=ACCEPT_JSON), 404)
    assert d["requestId"] != d2["requestId"], "request ids must differ per request"


@pytest.mark.parametrize("accept,kind", [
    ("application/json", "json"),
    ("application/json, text/html;q=0.5", "json"),
    ("text/html, application/json;q=0.9", "html"),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "html"),  # a browser
    ("*/*", "html"),
    (None, "html"),
])
def test_error_page_format_follows_accept(env, proto, accept, kind):
    v, u = env
    r = get(v, proto, "/", "unknown.example.test", headers=[("Accept", accept)] if accept else [])
    (assert_json_page if kind == "json" else assert_html_page)(r, 404)


def test_local_reply_keeps_connection_usable(env, proto):
    v, u = env
    with connect(v, proto, "err.example.test") as c:
        assert c.get("/", host=v.authority("unknown.example.test")).status == 404
        r = c.get("/after-404")
        assert r.status == 200 and r.json()["target"] == "/after-404"


def test_503_connection_refused(env, proto):
    v, u = env
    assert_html_page(get(v, proto, "/", "refused.example.test"), 503)
    assert_json_page(get(v, proto, "/", "refused.example.test", headers=ACCEPT_JSON), 503)


@pytest.mark.parametrize("path", ["/close-before-head", "/rst-before-head"])
def test_503_upstream_closed_before_head(env, proto, path):
    v, u = env
    assert_html_page(get(v, proto, path, "err.example.test"), 503)
    assert_json_page(get(v, proto, path, "err.example.test", headers=ACCEPT_JSON), 503)


@pytest.mark.parametrize("path", sorted(MALFORMED))
def test_502_malformed_upstream_response(env, proto, path):
    v, u = env
    assert_json_page(get(v, proto, path, "err.example.test", headers=ACCEPT_JSON), 502)
    assert_html_page(get(v, proto, path, "err.example.test"), 502)


def test_upstream_response_with_cl_and_te(env, proto):
    """RFC 9112 §6.3: an upstream response with both Transfer-Encoding and Content-Length is
    either refused (502) or forwarded without the Content-Length; never both to the client."""
    v, u = env
    with connect(v, proto, "err.example.test") as c:
        r = c.get("/cl-and-te")
        if r.status == 502:
            return
        assert r.status == 200 and r.body == b"ok", r
        assert not (r.has_header("content-length") and r.has_header("transfer-encoding")), r.headers
        assert c.get("/after-cl-te").status == 200


def test_504_route_timeout(env, proto):
    v, u = env
    t0 = time.monotonic()
    r = get(v, proto, "/slow", "err.example.test", headers=ACCEPT_JSON)
    took = time.monotonic() - t0
    assert_json_page(r, 504)
    assert 0.4 <= took < 2.5, f"route timeout 500ms answered after {took:.2f}s"


def test_504_default_upstream_timeout(env, proto):
    v, u = env
    t0 = time.monotonic()
    r = get(v, proto, "/slow", "deftimeout.example.test")
    took = time.monotonic() - t0
    assert_html_page(r, 504)
    assert 0.6 <= took < 2.5, f"default_upstream_timeout 700ms answered after {took:.2f}s"


def test_route_timeout_overrides_default(env, proto):
    v, u = env
    r = get(v, proto, "/medium", "err.example.test")  # upstream takes 1 s; route timeout 3s > default 700ms
    assert r.status == 200, r


def test_timeout_zero_is_unlimited(env, proto):
    v, u = env
    r = get(v, proto, "/unlimited", "err.example.test")  # 1 s upstream, default_upstream_timeout 700ms, route 0s
    assert r.status == 200, r


def test_route_timeout_covers_the_whole_response(env, proto):
    """BR-09: the route timeout (1s) runs until the end of the upstream response (Envoy
    semantics), not to the first byte: a 3 s stream is cut, and the client must not get it all."""
    v, u = env
    t0 = time.monotonic()
    with connect(v, proto, "err.example.test") as c:
        r = c.get("/sse", timeout=10)
        took = time.monotonic() - t0
        assert r.status == 200, r
        assert not r.complete and r.body_len < 5000, f"stream not cut by the 1s route timeout: {r!r}"
        if proto == "h1":
            assert c.closed_by_peer or c.peer_closed(2.0)
        else:  # HTTP/2: that stream is reset; the connection serves the next request
            assert r.reset_code is not None, r
            assert c.get("/after-sse").status == 200
    assert 0.8 <= took < 2.5, f"cut after {took:.2f}s"


@pytest.mark.parametrize("path,framing", [
    ("/reset-cl", "content-length"), ("/reset-chunked", "chunked"),
    ("/fin-cl", "content-length"), ("/fin-chunked", "chunked"),
])
def test_upstream_abort_mid_body_aborts_client(env, proto, path, framing):
    """After the head went out, an upstream that dies mid-body must not produce a response that
    looks complete: the client gets fewer bytes than announced, or no terminating chunk, and
    the connection closes."""
    v, u = env
    with connect(v, proto, "err.example.test") as c:
        r = c.get(path, timeout=20)
        assert r.status == 200, r
        assert not r.complete, f"a truncated upstream body reached the client as a complete response: {r!r}"
        assert r.body_len <= 200_000
        if r.framing == "content-length":
            assert r.header("content-length") == str(1 << 20)
        if proto == "h1":
            assert r.framing in ("content-length", "chunked"), r  # never close-delimited: that looks complete
            assert c.closed_by_peer or c.peer_closed(3.0)
        else:  # HTTP/2: RST_STREAM on that stream (never END_STREAM); the connection carries on
            if framing == "content-length":
                assert r.header("content-length") == str(1 << 20), r
            assert r.reset_code is not None and r.goaway_code is None, r
            after = c.get("/after-abort")
            assert after.status == 200 and after.json()["target"] == "/after-abort", after
    assert r.body == payload(1 << 20, 3)[: r.body_len], "the bytes that did arrive are not the upstream's"
