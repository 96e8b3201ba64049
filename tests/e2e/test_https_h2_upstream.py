"""`https://` upstreams and ALPN (as in Pomerium): when every endpoint of a route is
`https://`, Vallum offers "h2, http/1.1" and speaks what the upstream chooses — HTTP/2 on one
multiplexed connection per worker per endpoint, or HTTP/1.1; a route that mixes `https://` with
other schemes offers http/1.1 alone. The upstream is a real TLS origin (lib/h2upstream.py with
a certificate from the test CA) that records the ALPN answer and the protocol each request came
over. Vallum runs with --concurrency 1, so "per worker" is one connection."""

from concurrent.futures import ThreadPoolExecutor

from lib.h2upstream import EchoBody, Fixed, h2upstream  # noqa: F401
from lib.helpers import route
from lib.upstream import payload, sha256

HOST = "tls-h2.example.test"


def tls_origin(h2upstream, ca, name, alpn):
    cert, key = ca.leaf(["localhost"])
    u = h2upstream(name, tls=(cert, key), alpn=alpn)
    u.on("/fixed", Fixed(200, b"served", [("content-type", "text/plain")]))
    u.on("/echo", EchoBody())
    return u


def start(vallum, routes):
    return vallum(vallum.config(routes), concurrency=1)


def test_upstream_that_chooses_h2_gets_every_request_over_one_http2_connection(vallum, h2upstream, ca):
    """The first request connects with ALPN "h2, http/1.1"; the upstream picks h2, so that very
    request (a POST with a 300 KiB body sent after `100 Continue`, nothing of it sent upstream
    yet) goes over HTTP/2, and every
    later one — 10 in a row, then 20 at once — reuses the same multiplexed connection."""
    u = tls_origin(h2upstream, ca, "tls-h2", ("h2", "http/1.1"))
    v = start(vallum, [route(f"https://{HOST}", f"https://localhost:{u.port}", tls_custom_ca_file=ca.cert)])

    body = payload(300 * 1024)
    r = v.request("POST", "/echo", HOST, body=body, expect_continue=True)
    assert (r.status, len(r.body), sha256(r.body)) == (200, len(body), sha256(body)), r
    # The switch to HTTP/2 after the handshake does not answer `Expect: 100-continue` twice.
    assert [i.status for i in r.informational] == [100], r.informational
    for i in range(10):
        r = v.get(f"/fixed?n={i}", HOST)
        assert (r.status, r.body) == (200, b"served"), r
    with ThreadPoolExecutor(20) as ex:
        rs = list(ex.map(lambda i: v.get(f"/fixed?c={i}", HOST), range(20)))
    assert [(r.status, r.body) for r in rs] == [(200, b"served")] * 20

    recs = u.requests()
    assert len(recs) == 31
    assert {r.protocol for r in recs} == {"h2"}, [(r.protocol, r.path) for r in recs]
    assert [(c.alpn, c.protocol) for c in u.connections()] == [("h2", "h2")]
    first = u.requests("/echo")[0]
    assert first.p(":authority") == f"localhost:{u.port}" and first.p(":scheme") == "https", first.pseudo
    assert bytes(first.body) == body


def test_upstream_that_chooses_http11_or_answers_no_alpn_gets_http11(vallum, h2upstream, ca):
    """ALPN answered "http/1.1", or not answered at all: HTTP/1.1, with keep-alive reuse."""
    picks_h1 = tls_origin(h2upstream, ca, "tls-h1", ("http/1.1",))
    no_alpn = tls_origin(h2upstream, ca, "tls-none", ())
    v = start(vallum, [
        route(f"https://{HOST}", f"https://localhost:{picks_h1.port}", prefix="/a/", prefix_rewrite="/",
              tls_custom_ca_file=ca.cert),
        route(f"https://{HOST}", f"https://localhost:{no_alpn.port}", prefix="/b/", prefix_rewrite="/",
              tls_custom_ca_file=ca.cert),
    ])
    for p in ("/a/fixed", "/a/fixed", "/b/fixed", "/b/fixed"):
        r = v.get(p, HOST)
        assert (r.status, r.body) == (200, b"served"), (p, r)
    assert [r.protocol for r in picks_h1.requests()] == ["h1", "h1"]
    assert [(c.alpn, c.protocol) for c in picks_h1.connections()] == [("http/1.1", "h1")]
    assert [r.protocol for r in no_alpn.requests()] == ["h1", "h1"]
    assert [(c.alpn, c.protocol) for c in no_alpn.connections()] == [(None, "h1")]


def test_route_mixing_https_with_http_offers_http11_only(vallum, h2upstream, upstream, ca):
    """Pomerium's upstream protocol rule: only an all-TLS cluster negotiates ALPN; with an `http://`
    endpoint beside it, the TLS endpoint is offered http/1.1 alone, so even an h2-preferring origin
    answers HTTP/1.1."""
    u = tls_origin(h2upstream, ca, "tls-mixed", ("h2", "http/1.1"))
    plain = upstream("plain")
    v = start(vallum, [route(f"https://{HOST}", [f"https://localhost:{u.port}", plain.url],
                             tls_custom_ca_file=ca.cert)])
    statuses = [v.get("/fixed", HOST).status for _ in range(6)]
    assert statuses == [200] * 6
    assert len(u.requests()) == 3 and len(plain.requests()) == 3  # round robin
    assert {r.protocol for r in u.requests()} == {"h1"}
    assert {c.alpn for c in u.connections()} == {"http/1.1"}
