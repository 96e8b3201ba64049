"""Trailers are never header fields, and Transfer-Encoding is read strictly (security review,
items 3 and 4). Each case runs with the bytes split several ways across TCP writes, and checks
what the upstream received (head, body, trailers) and what the client got.

RFC 9110 §6.5.1: a trailer section travels on as trailers where the next hop can carry one (a
chunked HTTP/1.1 body, an HTTP/2 stream) and is dropped otherwise; fields that would change
framing, routing, authentication or identity are never relayed."""

import time

import pytest

from lib.client import connect
from lib.h2upstream import h2upstream  # noqa: F401  (fixture)
from lib.helpers import route
from lib.http1 import parse_responses
from lib.upstream import Raw

HOST = "tr.example.test"
H2HOST = "tr2.example.test"

REQUEST_TRAILERS = (b"X-Forwarded-For: 6.6.6.6\r\nConnection: close\r\nX-Target-Host: evil.test\r\n"
                    b"Host: evil.test\r\nContent-Length: 99\r\nX-Checksum: abc123\r\n"
                    b"X-Pomerium-Claim-Email: admin@example.com\r\n\r\n")


def chunked_request(v, path: str, host: str = HOST) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {v.authority(host)}\r\nTransfer-Encoding: chunked\r\n"
            "X-Real: 1\r\n\r\n").encode() + b"5\r\nhello\r\n0\r\n" + REQUEST_TRAILERS


def send_split(c, raw: bytes, cuts):
    """Writes `raw` in pieces cut at `cuts`, with a pause so each piece is its own read."""
    pos = 0
    for cut in list(cuts) + [len(raw)]:
        if cut > pos:
            c.send(raw[pos:cut])
            time.sleep(0.05)
            pos = cut


def split_points(raw: bytes):
    head_end = raw.index(b"\r\n\r\n") + 4
    trailer_start = raw.index(b"0\r\n", head_end) + 3
    return {"one-write": [], "after-head": [head_end], "before-trailers": [trailer_start],
            "inside-trailers": [trailer_start + 10, trailer_start + 40],
            "every-part": [head_end - 3, head_end + 2, trailer_start - 1, trailer_start + 25, len(raw) - 1]}


@pytest.fixture(scope="module")
def env(module_vallum, module_upstream):
    u = module_upstream("tr")
    u.on("/resp-trailers", Raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Head: 1\r\n\r\n"
                               b"3\r\nabc\r\n0\r\nSet-Cookie: evil=1\r\nX-Checksum: abc123\r\n"
                               b"Content-Type: text/evil\r\n\r\n", close=False))
    # Coded bodies: "zqx" cannot appear in the 502 page (its request id is hex).
    u.on("/resp-gzip-chunked", Raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                                   b"3\r\nzqx\r\n0\r\n\r\n"))
    u.on("/resp-gzip", Raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzqx"))
    u.on("/resp-empty-te", Raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\nContent-Length: 3\r\n\r\nzqx"))
    v = module_vallum(module_vallum.config([route(f"https://{HOST}", u.url, host_rewrite_header="X-Target-Host")]))
    return v, u


@pytest.mark.parametrize("split", ["one-write", "after-head", "before-trailers", "inside-trailers", "every-part"])
def test_request_trailers_stay_trailers(env, split):
    v, u = env
    path = f"/req-trailers/{split}"
    raw = chunked_request(v, path)
    with v.conn(HOST) as c:
        send_split(c, raw, split_points(raw)[split])
        r = c.read_response(timeout=10)
        assert r.status == 200, r
        # the connection survives: the trailer's "Connection: close" meant nothing
        again = c.get("/after-trailers")
        assert again.status == 200, again
    rec = [x for x in u.requests() if x.path == path][0]
    assert rec.header("host") == v.authority(HOST)  # not evil.test, not rewritten by a trailer
    assert rec.headers_all("x-forwarded-for") == ["127.0.0.1"]
    assert not rec.has_header("x-checksum") and not rec.has_header("x-pomerium-claim-email")
    assert rec.header("x-real") == "1"
    assert rec.body_len == 5 and rec.complete
    # relayable trailers travel on as trailers (the host_rewrite_header name too: as a trailer it
    # decides nothing); framing, routing and identity fields are dropped
    assert rec.trailers == [("X-Target-Host", "evil.test"), ("X-Checksum", "abc123")], rec.trailers


def test_response_trailers_stay_trailers(env):
    v, u = env
    with v.conn(HOST) as c:
        r = c.get("/resp-trailers")
    assert r.status == 200, r
    assert not r.has_header("set-cookie") and r.header("x-head") == "1"
    assert r.header("content-type") is None
    assert r.body == b"abc"
    assert r.trailers == [("X-Checksum", "abc123")], r.trailers


def test_h2_request_trailers_stay_trailers(env):
    """HTTP/2 form of test_request_trailers_stay_trailers: a trailing HEADERS frame (the body
    without content-length, so the HTTP/1.1 upstream gets it chunked and can carry trailers);
    the same fields are dropped and relayed (RFC 9113 §8.1: names lower case)."""
    v, u = env
    path = "/req-trailers/h2"
    with connect(v, "h2", HOST) as c:
        sid = c.start("POST", path, headers=[("x-real", "1")], body=b"hello", end_stream=False, content_length=False)
        # (a trailer content-length other than the body's is a stream PROTOCOL_ERROR in nghttp2)
        c.send_trailers(sid, [("x-forwarded-for", "6.6.6.6"), ("x-target-host", "evil.test"), ("host", "evil.test"),
                              ("content-length", "5"), ("x-checksum", "abc123"),
                              ("x-pomerium-claim-email", "admin@example.com")])
        r = c.finish(sid, timeout=10)
        assert r.status == 200, r
        assert c.get("/after-trailers").status == 200
    rec = [x for x in u.requests() if x.path == path][0]
    assert rec.header("host") == v.authority(HOST)
    assert rec.headers_all("x-forwarded-for") == ["127.0.0.1"]
    assert not rec.has_header("x-checksum") and not rec.has_header("x-pomerium-claim-email")
    assert rec.header("x-real") == "1"
    assert rec.body_len == 5 and rec.complete
    assert rec.trailers == [("x-target-host", "evil.test"), ("x-checksum", "abc123")], rec.trailers


def test_h2_response_trailers_stay_trailers(env):
    v, u = env
    with connect(v, "h2", HOST) as c:
        r = c.get("/resp-trailers")
    assert r.status == 200 and r.complete, r
    assert not r.has_header("set-cookie") and r.header("x-head") == "1"
    assert r.header("content-type") is None
    assert r.body == b"abc"
    assert r.trailers == [("x-checksum", "abc123")], r.trailers


def test_response_trailers_are_dropped_for_an_http10_client(env):
    v, u = env
    with v.conn(HOST) as c:
        c.send(f"GET /resp-trailers HTTP/1.0\r\nHost: {v.authority(HOST)}\r\n\r\n".encode())
        raw = b""
        while not c.peer_closed(0.01):
            raw += c.recv_some(5)
    text = raw.decode("latin-1")
    assert text.startswith("HTTP/1.1 200"), text
    assert text.endswith("\r\n\r\nabc"), text  # close-delimited: no trailer section
    assert "evil" not in text and "abc123" not in text


@pytest.mark.parametrize("path", ["/resp-gzip-chunked", "/resp-gzip", "/resp-empty-te"])
def test_response_with_another_transfer_coding_is_502(env, path):
    v, u = env
    r = v.get(path, HOST)
    assert r.status == 502, r
    assert b"zqx" not in r.body, r.body


SMUGGLE = b"GET /smuggled HTTP/1.1\r\nHost: tr.example.test\r\n\r\n"


@pytest.mark.parametrize("te", [b"Transfer-Encoding: \r\n", b"Transfer-Encoding:\r\n", b"Transfer-Encoding: ,\r\n",
                                b"Transfer-Encoding: gzip\r\n", b"Transfer-Encoding: identity\r\n",
                                b"Transfer-Encoding: chunked, gzip\r\n", b"Transfer-Encoding: chunked, chunked\r\n",
                                b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                                b"Transfer-Encoding: xchunked\r\n"])
@pytest.mark.parametrize("split", ["one-write", "after-te", "after-head"])
def test_bad_transfer_encoding_is_400_and_close(env, te, split):
    v, u = env
    body = b"0\r\n\r\n" + SMUGGLE
    raw = (f"POST /te-probe HTTP/1.1\r\nHost: {v.authority(HOST)}\r\n".encode() + te
           + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    cuts = {"one-write": [], "after-te": [raw.index(te) + len(te) - 1], "after-head": [raw.index(b"\r\n\r\n") + 4]}
    with v.conn(HOST) as c:
        send_split(c, raw, cuts[split])
        r = c.read_response(timeout=10)
        assert r.status == 400, r
        assert c.closed_by_peer or c.peer_closed(3.0)
    seen = [x.path for x in u.requests()]
    assert "/te-probe" not in seen and "/smuggled" not in seen


def test_unsupported_coding_before_chunked_is_501(env):
    v, u = env
    with v.conn(HOST) as c:
        c.send(f"POST /te-gzip HTTP/1.1\r\nHost: {v.authority(HOST)}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
               "0\r\n\r\n".encode())
        r = c.read_response(timeout=10)
    assert r.status == 501, r
    assert "/te-gzip" not in [x.path for x in u.requests()]


# ---- HTTP/2 upstreams (h2c): trailers travel as a trailing HEADERS frame both ways ----


@pytest.fixture
def h2env(vallum, h2upstream):  # noqa: F811
    u = h2upstream("tr-h2")

    def with_trailers(ctx):
        ctx.send_head(200, [("x-head", "1")])
        ctx.send_body(b"abc", end_stream=False)
        ctx.conn.call(lambda c: c.send_headers(ctx.sid, [("grpc-status", "0"), ("set-cookie", "evil=1")],
                                               end_stream=True), ctx.sid)

    u.on("/h2-resp-trailers", with_trailers)
    v = vallum(vallum.config([route(f"https://{H2HOST}", u.url)]))
    return v, u


def test_request_trailers_reach_an_h2c_upstream_as_trailers(h2env):
    v, u = h2env
    raw = chunked_request(v, "/h2-req-trailers", H2HOST)
    with v.conn(H2HOST) as c:
        send_split(c, raw, split_points(raw)["every-part"])
        r = c.read_response(timeout=10)
    assert r.status == 200, r
    rec = u.requests("/h2-req-trailers")[0]
    assert rec.trailers == [("x-target-host", "evil.test"), ("x-checksum", "abc123")], rec.trailers
    assert not any(k == "x-checksum" for k, _ in rec.headers)
    assert rec.p(":authority") == u.addr
    assert rec.body == bytearray(b"hello")


def test_response_trailers_from_an_h2c_upstream_reach_the_client(h2env):
    v, u = h2env
    with v.conn(H2HOST) as c:
        r = c.get("/h2-resp-trailers")
    assert r.status == 200, r
    assert r.body == b"abc" and r.header("x-head") == "1" and not r.has_header("set-cookie")
    assert r.trailers == [("grpc-status", "0")], r.trailers


def test_parse_responses_helper_sees_trailers():
    # the client parser used above reports trailers separately (a harness self-check)
    rs = parse_responses(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: 1\r\n\r\n")
    assert rs[0].trailers == [("X-T", "1")] and rs[0].body == b"a"
