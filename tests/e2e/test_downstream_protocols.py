"""Which protocol a downstream connection speaks (global `codec_type`: auto | http1 | http2;
RFC 7301 ALPN, RFC 9113 §3.2 / §3.3): over TLS Vallum offers h2 then http/1.1 (auto), or one of
them alone; the server's preference wins; a client offering none of them gets no ALPN answer.
A cleartext (`insecure_server`) listener speaks HTTP/2 to a client that opens with the
preface (prior knowledge) and HTTP/1.1 to the others, unless codec_type says one (http1:
HTTP/1.1 only; http2: HTTP/2 only, as Envoy's HTTP2 codec: an HTTP/1.1 client gets the
server's SETTINGS and a GOAWAY, never an HTTP/1.1 answer). Every
connection then carries a request the upstream receives. (The end-to-end tables that run
over both protocols are listed in README.md.)"""

import pytest

from lib.client import H2Conn
from lib.helpers import base_config, route
from lib.http1 import Conn

HOST = "proto.example.test"


@pytest.fixture(scope="module")
def env(module_vallum, module_upstream):
    u = module_upstream("proto")
    tls = {c: module_vallum(module_vallum.config([route(f"https://{HOST}", u.url)], codec_type=c))
           for c in ("auto", "http1", "http2")}
    plain = {c: module_vallum(base_config(insecure=True, routes=[route(f"http://{HOST}", u.url)], codec_type=c))
             for c in ("auto", "http1", "http2")}
    return tls, plain, u


def served(u, target):
    return [r.request_line for r in u.requests() if r.target == target]


@pytest.mark.parametrize("codec,offer,want", [
    ("auto", ["h2", "http/1.1"], "h2"),
    ("auto", ["http/1.1", "h2"], "h2"),  # the server's preference wins
    ("auto", ["http/1.1"], "http/1.1"),
    ("auto", [], None),  # no ALPN: HTTP/1.1
    ("auto", ["spdy/3"], None),
    ("http1", ["h2", "http/1.1"], "http/1.1"),
    ("http1", ["h2"], None),
    ("http2", ["h2", "http/1.1"], "h2"),
    ("http2", ["h2"], "h2"),
])
def test_alpn_by_codec_type(env, codec, offer, want):
    tls, plain, u = env
    v = tls[codec]
    target = f"/alpn/{codec}/{'-'.join(offer) or 'none'}"
    if want == "h2":
        with H2Conn(v.port, sni=HOST, ca_file=v.ca_file, default_host=v.authority(HOST), alpn=offer) as c:
            r = c.get(target)
    else:
        with Conn(v.port, sni=HOST, ca_file=v.ca_file, default_host=v.authority(HOST), alpn=offer) as c:
            assert c.sock.selected_alpn_protocol() == want
            r = c.get(target)
            assert r.version == "HTTP/1.1", r
    assert r.status == 200 and r.json()["target"] == target, r
    assert served(u, target) == [f"GET {target} HTTP/1.1"]


def test_cleartext_prior_knowledge_and_http1_on_one_listener(env):
    tls, plain, u = env
    v = plain["auto"]
    with H2Conn(v.port, tls=False, default_host=v.authority(HOST)) as c:
        r1 = c.get("/plain/h2/1")
        r2 = c.get("/plain/h2/2")  # the same connection
    with Conn(v.port, tls=False, default_host=v.authority(HOST)) as c:
        r3 = c.get("/plain/h1")
    for r, target in ((r1, "/plain/h2/1"), (r2, "/plain/h2/2"), (r3, "/plain/h1")):
        assert r.status == 200 and r.json()["target"] == target, r
    assert r3.version == "HTTP/1.1"


def test_cleartext_http1_codec_does_not_speak_h2(env):
    """codec_type http1 on a cleartext listener: the HTTP/2 preface is an HTTP/1.1 request
    line of version 2.0 — answered 400 as HTTP/1.1 and closed, never a SETTINGS frame."""
    tls, plain, u = env
    v = plain["http1"]
    with Conn(v.port, tls=False) as c:
        c.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        r = c.read_response(timeout=5)
        assert (r.version, r.status, r.complete) == ("HTTP/1.1", 400, True), r
        assert c.peer_closed(3.0)
    with Conn(v.port, tls=False, default_host=v.authority(HOST)) as c:
        r = c.get("/plain/http1-codec")
    assert r.status == 200 and r.json()["target"] == "/plain/http1-codec", r


def read_until_closed(c, limit: float = 5.0) -> bytes:
    raw = b""
    while not c.peer_closed(limit):
        raw += c.recv_some(limit)
    return raw + c.pending


def frames(raw: bytes):
    """(type, payload) of the HTTP/2 frames in `raw` (a server's frames: no preface)."""
    out, i = [], 0
    while i + 9 <= len(raw):
        length = int.from_bytes(raw[i:i + 3], "big")
        out.append((raw[i + 3], raw[i + 9:i + 9 + length]))
        i += 9 + length
    return out


@pytest.mark.parametrize("tls_", [True, False], ids=["tls-no-alpn-h2", "cleartext"])
def test_http2_codec_does_not_speak_http1(env, tls_):
    """codec_type http2 is HTTP/2 only: over TLS a client that did not negotiate h2 (offering
    http/1.1 only: no ALPN answer) and on cleartext a client without the preface get the
    server's SETTINGS then a GOAWAY (PROTOCOL_ERROR) and the connection closes; nothing reaches
    the upstream. HTTP/2 itself works on both."""
    tls, plain, u = env
    v = tls["http2"] if tls_ else plain["http2"]
    target = f"/http2-codec/h1/{'tls' if tls_ else 'plain'}"
    with Conn(v.port, tls=tls_, sni=HOST, ca_file=v.ca_file, alpn=["http/1.1"]) as c:
        if tls_:
            assert c.sock.selected_alpn_protocol() is None
        c.send(f"GET {target} HTTP/1.1\r\nHost: {v.authority(HOST)}\r\n\r\n".encode())
        raw = read_until_closed(c)
    assert not raw.startswith(b"HTTP/"), raw[:200]
    got = frames(raw)
    goaways = [payload for t, payload in got if t == 0x7]
    assert got[0][0] == 0x4 and goaways, (got, raw[:200])  # SETTINGS first, then a GOAWAY
    assert int.from_bytes(goaways[0][4:8], "big") == 1, goaways  # error code PROTOCOL_ERROR
    assert served(u, target) == []
    target = f"/http2-codec/h2/{'tls' if tls_ else 'plain'}"
    with H2Conn(v.port, tls=tls_, sni=HOST, ca_file=v.ca_file, default_host=v.authority(HOST)) as c:
        r = c.get(target)
    assert r.status == 200 and r.json()["target"] == target, r
