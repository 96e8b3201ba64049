"""Bodies stream both ways byte-exact (content-length and chunked), with backpressure;
keep-alive reuse downstream and upstream; Expect: 100-continue.

The tests taking `proto` run over HTTP/1.1 and HTTP/2 (lib/client.py) with the same expected
bytes; HTTP/2 has no chunked coding, so its form of a chunked upload is a body without
content-length, and its response framing is DATA frames (a content-length only when the
upstream gave one). Pipelining, HTTP/1.0, Connection: close and the duplex echo are HTTP/1
exchanges and run over h1 only."""

import socket
import time

import pytest

from lib.client import connect, get
from lib.helpers import route
from lib.http1 import ResponseParser, build_head
from lib.upstream import CloseAfterIdle, Download, EchoBody, Fixed, Raw, SlowBody, Stream, payload, sha256

MiB = 1 << 20
SIZE = 8 * MiB
CLOSE_DELIMITED = payload(100_000, 37)


@pytest.fixture(scope="module")
def env(module_vallum, module_upstream):
    u = module_upstream("stream")
    u.on("/down-cl", Download(SIZE, seed=21))
    u.on("/down-chunked", Download(SIZE, chunked=True, seed=22, piece=100_003))
    u.on("/echo", EchoBody())
    u.on("/slow-down", SlowBody(MiB, seconds=2.0, pieces=4))
    u.on("/upclose", Fixed(200, b"bye", [("Connection", "close")]))
    u.on("/idleclose", CloseAfterIdle(0.2))
    u.on("/close-delimited", Raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + CLOSE_DELIMITED))
    u.on("/no-content", Fixed(204))
    u.on("/not-modified", Fixed(304, headers=[("ETag", '"v1"')]))
    v = module_vallum(module_vallum.config([route("https://stream.example.test", u.url)]))
    return v, u


def conn(v, proto="h1", **kw):
    return connect(v, proto, "stream.example.test", **kw)


def last_record(u, path):
    recs = [r for r in u.requests() if r.path == path]
    assert recs, f"upstream never saw {path}"
    return recs[-1]


def test_upload_8mib_content_length(env, proto):
    v, u = env
    data = payload(SIZE, 31)
    with conn(v, proto) as c:
        r = c.request("POST", "/upload-cl", body=data, headers=[("Content-Type", "application/octet-stream")])
    assert r.status == 200, r
    d = r.json()
    assert (d["body_len"], d["body_sha256"]) == (SIZE, sha256(data))
    rec = last_record(u, "/upload-cl")
    assert rec.complete and rec.body_len == SIZE and rec.body_sha256 == sha256(data)
    assert rec.headers_all("content-length") == [str(SIZE)], rec.headers
    assert not u.errors, u.errors


def test_upload_8mib_chunked(env, proto):
    v, u = env
    data = payload(SIZE, 32)
    sizes = [1, 7, 65536, 3, 1 << 18, 100_000]
    pieces, i, k = [], 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        pieces.append(data[i:i + n])
        i += n
        k += 1
    with conn(v, proto) as c:
        if proto == "h1":
            r = c.request("PUT", "/upload-chunked", body=pieces, chunked=True)
        else:  # no content-length: the length is known at END_STREAM only (DATA frames as they come)
            r = c.request("PUT", "/upload-chunked", body=data, content_length=False)
    assert r.status == 200, r
    rec = last_record(u, "/upload-chunked")
    assert rec.complete and rec.body_len == SIZE and rec.body_sha256 == sha256(data)
    assert r.json()["body_sha256"] == sha256(data)
    assert not u.errors, u.errors  # e.g. Transfer-Encoding and Content-Length both forwarded


@pytest.mark.parametrize("path,framing", [("/down-cl", "content-length"), ("/down-chunked", "chunked")])
def test_download_8mib(env, proto, path, framing):
    v, u = env
    seed = 21 if framing == "content-length" else 22
    want = sha256(payload(SIZE, seed))
    with conn(v, proto) as c:
        r = c.get(path, store_body=False)
        assert r.status == 200 and r.complete, r
        assert (r.body_len, r.body_sha256) == (SIZE, want)
        assert r.header("x-body-sha256") == want
        if proto == "h2":
            assert r.headers_all("content-length") == ([str(SIZE)] if framing == "content-length" else []), r
        elif framing == "content-length":
            assert r.framing == "content-length" and r.header("content-length") == str(SIZE), r
        else:
            assert r.framing == "chunked", r
        # framing was right: the same connection carries the next exchange
        r2 = c.get("/after-download")
        assert r2.status == 200 and r2.json()["target"] == "/after-download"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_echo_8mib_both_directions_at_once(env, chunked):
    """The upstream streams the body back while the upload is still running: only a proxy that
    relays both directions concurrently (with backpressure) finishes this."""
    v, u = env
    data = payload(SIZE, 33 + chunked)
    hdrs = [("Host", v.authority("stream.example.test"))]
    hdrs.append(("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(SIZE)))
    with conn(v) as c:
        r = c.duplex(build_head("POST", "/echo", hdrs), (data[i:i + 65536] for i in range(0, SIZE, 65536)),
                     chunked=chunked, timeout=60)
    assert r.status == 200 and r.complete, r
    assert (r.body_len, r.body_sha256) == (SIZE, sha256(data))
    rec = last_record(u, "/echo")
    assert rec.body_sha256 == sha256(data)


def test_download_is_streamed_not_buffered(env):
    """First body bytes reach the client while the upstream is still sending (1 MiB in 4 pieces
    over 2 s)."""
    v, u = env
    with conn(v) as c:
        t0 = time.monotonic()
        c.send(build_head("GET", "/slow-down", [("Host", v.authority("stream.example.test"))]))
        p = ResponseParser("GET", store_body=False)
        first_body_at = None
        while not p.done and time.monotonic() - t0 < 15:
            d = c.recv_some(5)
            if not d:
                p.eof()
                break
            p.feed(d)
            if first_body_at is None and p.resp.body_len > 0:
                first_body_at = time.monotonic() - t0
        assert p.done and p.resp.complete and p.resp.body_len == MiB
        total = time.monotonic() - t0
    assert first_body_at is not None and first_body_at < 1.0, f"first body byte after {first_body_at}s (total {total}s)"
    assert total >= 1.4


def test_upload_is_streamed_not_buffered(env):
    """The upstream receives the first half of a Content-Length body before the client has sent
    the second half."""
    v, u = env
    data = payload(2 * MiB, 35)
    with conn(v) as c:
        c.send(build_head("POST", "/upload-streamed", [("Host", v.authority("stream.example.test")),
                                                       ("Content-Length", str(len(data)))]))
        c.send(data[:MiB])
        u.wait_for(lambda rs: any(r.path == "/upload-streamed" and r.body_len > 0 for r in rs), timeout=5,
                   what="first upload bytes at the upstream before the client finished")
        c.send(data[MiB:])
        r = c.read_response()
    assert r.status == 200 and r.json()["body_sha256"] == sha256(data)


def test_backpressure_bounds_buffering(vallum, upstream):
    """A client that stops reading stalls the upstream: the proxy does not slurp a 256 MiB
    response into memory. Then the client reads it all, byte-exact."""
    total = 256 * MiB
    s = Stream(total)
    u = upstream("bp")
    u.on("/big", s)
    v = vallum(vallum.config([route("https://bp.example.test", u.url)]))
    with v.conn("bp.example.test", timeout=60) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.send(build_head("GET", "/big", [("Host", v.authority("bp.example.test"))]))
        time.sleep(3.0)  # not reading
        stalled_at = s.sent
        assert stalled_at < 64 * MiB, f"proxy buffered {stalled_at >> 20} MiB for a client that reads nothing"
        r = c.read_response(store_body=False, timeout=60)
    assert r.status == 200 and r.complete and r.body_len == total
    assert r.body_sha256 == Stream.expected_sha256(total)


def test_keepalive_downstream_and_upstream_reuse(env, proto):
    v, u = env
    u.clear()
    with conn(v, proto) as c:
        for i in range(50):
            r = c.get(f"/ka/{i}")
            assert r.status == 200, (i, r)
            assert r.json()["target"] == f"/ka/{i}"
        assert not c.peer_closed(0.2), "proxy closed a keep-alive connection"
    recs = [r for r in u.requests() if r.path.startswith("/ka/")]
    assert len(recs) == 50
    conns = {r.conn_id for r in recs}
    assert len(conns) == 1, f"50 sequential requests on one downstream connection used {len(conns)} upstream connections"


def test_upstream_pool_reused_across_downstream_connections(env, proto):
    v, u = env
    u.clear()
    for i in range(20):
        r = get(v, proto, f"/newconn/{i}", "stream.example.test")
        assert r.status == 200
    recs = [r for r in u.requests() if r.path.startswith("/newconn/")]
    conns = {r.conn_id for r in recs}
    # --concurrency 2: at most one pooled upstream connection per worker is needed.
    assert len(recs) == 20 and len(conns) <= 2, f"20 sequential requests used {len(conns)} upstream connections"


def test_expect_100_continue_answered_by_proxy(env):
    v, u = env
    data = payload(300_000, 36)
    with conn(v) as c:
        r = c.request("PUT", "/expect", body=data, expect_continue=True)
        assert r.status == 200, r
        assert [x.status for x in r.informational] == [100], r.informational
        d = r.json()
        assert d["body_sha256"] == sha256(data)
        names = [k.lower() for k, _ in d["headers"]]
        assert "expect" not in names, d["headers"]
        assert c.get("/after-expect").status == 200


def test_h2_expect_100_continue_answered_by_proxy(env):
    """HTTP/2 form of the test above: the 100 is an interim HEADERS frame (RFC 9113 §8.1) sent
    before the body; the expect field is not forwarded."""
    v, u = env
    data = payload(300_000, 36)
    with conn(v, "h2") as c:
        sid = c.start("PUT", "/expect-h2", headers=[("expect", "100-continue"), ("content-length", str(len(data)))],
                      end_stream=False)
        head = c.wait_head(sid, timeout=10)
        assert [x.status for x in head.informational] == [100] and head.status == 0, head
        c.send_body(sid, data)
        r = c.finish(sid)
        assert r.status == 200 and r.complete, r
        d = r.json()
        assert d["body_sha256"] == sha256(data)
        names = [k.lower() for k, _ in d["headers"]]
        assert "expect" not in names, d["headers"]
        assert c.get("/after-expect").status == 200


def test_head_and_no_body_statuses_keep_framing(env, proto):
    v, u = env
    with conn(v, proto) as c:
        r = c.request("HEAD", "/down-cl")
        assert r.status == 200 and r.header("content-length") == str(SIZE) and r.body == b"", r
        r = c.get("/after-head")
        assert r.status == 200 and r.json()["target"] == "/after-head"


def test_pipelined_requests_answered_in_order(env):
    v, u = env
    host = v.authority("stream.example.test").encode()
    raw = b""
    for i in range(6):
        if i == 3:
            raw += b"POST /pipe/3 HTTP/1.1\r\nHost: " + host + b"\r\nContent-Length: 5\r\n\r\nhello"
        else:
            raw += b"GET /pipe/%d HTTP/1.1\r\nHost: " % i + host + b"\r\n\r\n"
    with conn(v) as c:
        c.send(raw)  # all six in one write
        got = [c.read_response().json()["target"] for _ in range(6)]
    assert got == [f"/pipe/{i}" for i in range(6)]


def test_http10_client_never_gets_chunked(env):
    """An HTTP/1.0 client cannot parse chunked framing: a chunked upstream response must reach it
    close-delimited (or with a Content-Length), byte-exact."""
    v, u = env
    with conn(v) as c:
        c.send(b"GET /down-chunked HTTP/1.0\r\nHost: " + v.authority("stream.example.test").encode() + b"\r\n\r\n")
        r = c.read_response(store_body=False, timeout=30)
        assert r.status == 200 and r.complete, r
        assert "chunked" not in ",".join(r.headers_all("transfer-encoding")).lower(), r.headers
        assert r.body_sha256 == sha256(payload(SIZE, 22))
        assert c.closed_by_peer or c.peer_closed(3.0) or r.framing == "content-length"


def test_client_connection_close_is_honoured(env):
    v, u = env
    with conn(v) as c:
        r = c.get("/cc", headers=[("Connection", "close")])
        assert r.status == 200, r
        assert "close" in (r.header("connection") or "").lower(), r.headers
        assert c.peer_closed(3.0)


def test_upstream_connection_close_is_not_reused(env, proto):
    v, u = env
    with conn(v, proto) as c:
        for i in range(5):
            r = c.get("/upclose")
            assert (r.status, r.body) == (200, b"bye"), (i, r)
            r = c.get(f"/after-upclose/{i}")
            assert r.status == 200 and r.json()["target"] == f"/after-upclose/{i}", (i, r)


def test_upstream_idle_close_between_requests(env, proto):
    """The upstream closes idle keep-alive connections after 0.2 s (a short server keep-alive
    timeout). A pooled connection the upstream already closed must not fail the next request."""
    v, u = env
    with conn(v, proto) as c:
        for i in range(5):
            r = c.get(f"/idleclose/{i}")
            assert r.status == 200 and r.json()["target"] == f"/idleclose/{i}", (i, r)
            time.sleep(0.6)


def test_close_delimited_upstream_response(env, proto):
    v, u = env
    with conn(v, proto) as c:
        r = c.get("/close-delimited")
        assert r.status == 200 and r.complete and r.body == CLOSE_DELIMITED, r
        if proto == "h2":  # the end of the upstream's bytes is END_STREAM; the connection serves on
            assert r.reset_code is None and c.get("/after-close-delimited").status == 200, r
        elif not (c.closed_by_peer or r.framing == "close"):
            assert c.get("/after-close-delimited").status == 200


def test_204_and_304_have_no_body(env, proto):
    v, u = env
    with conn(v, proto) as c:
        r = c.get("/no-content")
        assert r.status == 204 and r.body == b"", r
        r = c.get("/not-modified", headers=[("If-None-Match", '"v1"')])
        assert r.status == 304 and r.body == b"" and r.header("etag") == '"v1"', r
        r = c.get("/after-304")
        assert r.status == 200 and r.json()["target"] == "/after-304", r
