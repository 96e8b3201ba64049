"""Request hygiene (Pomerium's request header limits): a header block over 128 KiB
(sum of name+value lengths) or over 1000 fields → 431; CL+TE, duplicate Content-Length, bad
chunk framing, obs-fold, bare CR, NUL → 400. Each closes that connection, never reaches the
upstream as a complete request, and leaves a parallel connection (with a request in flight)
unharmed.

The limit tests run over HTTP/1.1 and HTTP/2 (the `proto` fixture, lib/client.py) with the same
limits and the same 431: on HTTP/2 the stream is answered 431 and, the fault being the
stream's, the connection goes on serving (HTTP/1.1 closes it). A header block too big for
HTTP/2's own framing (more CONTINUATION frames than Vallum allows) is a connection error there
(GOAWAY). The framing faults (CL/TE, chunks, obs-fold, bare CR, NUL sent as raw bytes) are
HTTP/1-only syntax and run over HTTP/1.1 only; HTTP/2's answer to its own malformed requests
(connection-specific fields, upper-case names, NUL/CR/LF in a value, a content-length the DATA
contradicts) is a stream PROTOCOL_ERROR (RFC 9113 §8.1.1, §8.2.1, §8.2.2) in
test_h2_malformed_request_is_a_stream_error."""

import re

import pytest

from lib.client import connect, h2_names
from lib.http1 import Conn, build_head
from lib.helpers import route
from lib.upstream import Delay

PROTOCOL_ERROR = 1

LIMIT_BYTES = 128 * 1024
LIMIT_FIELDS = 1000
HOST = "hyg.example.test"

BAD_400 = {
    "cl-and-te": b"POST /h/cl-and-te HTTP/1.1\r\nHost: {H}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-and-cl": b"POST /h/te-and-cl HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
    "duplicate-cl-differing": b"POST /h/dup-cl HTTP/1.1\r\nHost: {H}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "duplicate-cl-same": b"POST /h/dup-cl-same HTTP/1.1\r\nHost: {H}\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    "chunk-size-not-hex": b"POST /h/chunk-bad HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: chunked\r\n\r\n5g\r\nhello\r\n0\r\n\r\n",
    "chunk-missing-crlf": b"POST /h/chunk-crlf HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXY0\r\n\r\n",
    "chunk-size-overflow": b"POST /h/chunk-ovf HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff1\r\nA\r\n0\r\n\r\n",
    "obs-fold": b"GET /h/obs-fold HTTP/1.1\r\nHost: {H}\r\nX-A: a\r\n b\r\n\r\n",
    "bare-cr-in-value": b"GET /h/bare-cr HTTP/1.1\r\nHost: {H}\r\nX-A: a\rb\r\n\r\n",
    "nul-in-value": b"GET /h/nul HTTP/1.1\r\nHost: {H}\r\nX-A: a\x00b\r\n\r\n",
    "nul-in-name": b"GET /h/nul-name HTTP/1.1\r\nHost: {H}\r\nX-\x00A: b\r\n\r\n",
}


@pytest.fixture(scope="module")
def env(module_vallum, module_upstream):
    u = module_upstream("hyg")
    u.on("/witness-slow", Delay(0.7))
    v = module_vallum(module_vallum.config([route(f"https://{HOST}", u.url)]))
    return v, u


@pytest.fixture
def witness(env, proto):
    """A keep-alive connection (same protocol as the test) that must keep working while bad
    requests come in elsewhere."""
    v, u = env
    c = connect(v, proto, HOST)
    r = c.get("/witness/before")
    assert r.status == 200
    yield c
    c.close()


def complete_at_upstream(u, prefix):
    return [r.request_line for r in u.requests() if r.path.startswith(prefix) and r.complete]


def witness_start(v, witness):
    """Puts a request in flight on the witness connection."""
    if isinstance(witness, Conn):
        witness.send(b"GET /witness-slow HTTP/1.1\r\nHost: " + v.authority(HOST).encode() + b"\r\n\r\n")
        return None
    return witness.start("GET", "/witness-slow")


def witness_check(witness, sid):
    """The in-flight request completes and the next one is served."""
    inflight = witness.read_response(timeout=10) if sid is None else witness.finish(sid, timeout=10)
    assert inflight.status == 200 and inflight.json()["target"] == "/witness-slow", inflight
    after = witness.get("/witness/after")
    assert after.status == 200 and after.json()["target"] == "/witness/after"


def send_bad_and_check(v, u, witness, raw: bytes, want_status: int, path_prefix: str):
    """HTTP/1.1: the raw request gets `want_status` and its connection closes; the witness
    (another connection, a request in flight) is unharmed; nothing reaches the upstream."""
    sid = witness_start(v, witness)
    with v.conn(HOST) as c:
        send_error = None
        try:
            c.send(raw)
        except OSError as e:  # the proxy may stop reading an oversized head; its answer must still arrive
            send_error = e
        r = c.read_response(timeout=10)
        assert r.status == want_status, (f"expected {want_status}, got {r!r}"
                                         + (f" (client send failed: {send_error!r})" if send_error else ""))
        assert c.closed_by_peer or c.peer_closed(3.0), "connection not closed after a rejected request"
    witness_check(witness, sid)
    assert complete_at_upstream(u, path_prefix) == [], "a rejected request reached the upstream"


def send_bad_h2_and_check(v, u, witness, path: str, fields, *, want_status=None, want_reset=None,
                          want_goaway=False, raw_names=False, method="GET", body=None):
    """HTTP/2: the request on its own connection gets `want_status` (the connection then serves
    the next request: the fault was the stream's), or RST_STREAM `want_reset` (same), or a
    GOAWAY (want_goaway: a connection error); the witness connection is unharmed; nothing
    reaches the upstream."""
    sid = witness_start(v, witness)
    with connect(v, "h2", HOST) as c:
        r = c.request(method, path, headers=fields, raw_names=raw_names, body=body, timeout=10)
        if want_goaway:
            # GOAWAY, or the connection closed while the client was still sending (the
            # GOAWAY then lost to the reset)
            assert r.status == 0 and not r.complete and r.reset_code is None, r
            assert r.goaway_code is not None or c.closed_by_peer, r
            assert c.peer_closed(3.0), "connection not closed after a connection error"
        else:
            if want_status is not None:
                assert (r.status, r.complete, r.reset_code) == (want_status, True, None), r
            else:
                assert (r.status, r.reset_code, r.goaway_code) == (0, want_reset, None), r
            after = c.get("/h/after-bad-h2")
            assert after.status == 200 and after.json()["target"] == "/h/after-bad-h2", after
    witness_check(witness, sid)
    assert complete_at_upstream(u, path) == [], "a rejected request reached the upstream"


def send_fields_and_check(v, u, witness, proto, path: str, fields, want_status: int):
    """The same request (Host / :authority + `fields`) over either protocol, answered `want_status`."""
    if proto == "h1":
        send_bad_and_check(v, u, witness, build_head("GET", path, [("Host", v.authority(HOST))] + fields),
                           want_status, path)
    else:
        send_bad_h2_and_check(v, u, witness, path, fields, want_status=want_status)


# HTTP/1-only: raw framing / field syntax bytes with no HTTP/2 form (HTTP/2 frames its body and
# has no obs-fold, chunked coding or bare CR); the HTTP/2 faults are in the next test.
@pytest.mark.parametrize("proto", ["h1"])
@pytest.mark.parametrize("name", sorted(BAD_400))
def test_malformed_request_400_and_close(env, witness, proto, name):
    v, u = env
    raw = BAD_400[name].replace(b"{H}", v.authority(HOST).encode())
    path = raw.split(b" ")[1].decode()
    send_bad_and_check(v, u, witness, raw, 400, path)


BAD_H2 = {
    # connection-specific fields are malformed in HTTP/2 (RFC 9113 §8.2.2)
    "connection": [("connection", "close")],
    "keep-alive": [("keep-alive", "timeout=5")],
    "proxy-connection": [("proxy-connection", "keep-alive")],
    "transfer-encoding": [("transfer-encoding", "chunked")],
    "upgrade": [("upgrade", "websocket")],
    "te-not-trailers": [("te", "gzip")],
    # field names must be lower case (§8.2.1) and values free of NUL, CR, LF (§8.2.1)
    "upper-case-name": [("X-Upper", "1")],
    "nul-in-value": [("x-a", "a\x00b")],
    "cr-in-value": [("x-a", "a\rb")],
    "lf-in-value": [("x-a", "a\nb")],
    "space-in-name": [("x a", "1")],
}


@pytest.mark.parametrize("proto", ["h2"])
@pytest.mark.parametrize("name", sorted(BAD_H2))
def test_h2_malformed_request_is_a_stream_error(env, witness, proto, name):
    """HTTP/2's own malformed requests: a stream error of type PROTOCOL_ERROR (RFC 9113 §8.1.1),
    never forwarded; the connection and a parallel one keep working."""
    v, u = env
    send_bad_h2_and_check(v, u, witness, f"/h2/{name}", BAD_H2[name], want_reset=PROTOCOL_ERROR, raw_names=True)


@pytest.mark.parametrize("proto", ["h2"])
def test_h2_content_length_contradicted_by_data(env, witness, proto):
    """A content-length the DATA frames do not add up to is malformed (RFC 9113 §8.1.1)."""
    v, u = env
    send_bad_h2_and_check(v, u, witness, "/h2/cl-mismatch", [("content-length", "10")], want_reset=PROTOCOL_ERROR,
                          method="POST", body=b"12345")


@pytest.mark.parametrize("proto", ["h2"])
def test_h2_te_trailers_is_allowed(env, proto):
    """`te: trailers` is the one TE value HTTP/2 allows (RFC 9113 §8.2.2)."""
    v, u = env
    with connect(v, "h2", HOST) as c:
        r = c.get("/h2/te-trailers", headers=[("te", "trailers")])
    assert r.status == 200 and r.json()["target"] == "/h2/te-trailers", r


def fields_with_total(v, total: int, proto: str = "h1"):
    """Fields that with Host: <authority> make name+value lengths sum to exactly `total`: one
    X-Big field over HTTP/1.1; over HTTP/2 the same bytes in X-Big fields of at most 60000
    (nghttp2's HPACK decoder takes no single field over 64 KiB: a connection error, see
    test_h2_single_field_over_64k_is_a_connection_error)."""
    used = len("Host") + len(v.authority(HOST))
    if proto == "h1":
        return [("X-Big", "a" * (total - used - len("X-Big")))]
    fields, left = [], total - used
    while left:
        name = f"X-Big{len(fields)}"
        n = min(60000, left - len(name))
        fields.append((name, "a" * n))
        left -= len(name) + n
    return fields


def fields_with_count(fields: int):
    """Fields that with Host make `fields` field lines."""
    return [(f"X-F{i}", "v") for i in range(fields - 1)]


def send_ok(v, proto, path, fields):
    if proto == "h1":
        with v.conn(HOST) as c:
            c.send(build_head("GET", path, [("Host", v.authority(HOST))] + fields))
            return c.read_response()
    with connect(v, "h2", HOST) as c:
        return c.request("GET", path, headers=fields)


def test_header_block_at_limit_passes(env, proto):
    v, u = env
    fields = fields_with_total(v, LIMIT_BYTES, proto)
    r = send_ok(v, proto, f"/h/at-limit-{proto}", fields)
    assert r.status == 200, r
    rec = [x for x in u.requests() if x.path == f"/h/at-limit-{proto}"][0]
    got = [(k, val) for k, val in rec.headers if k.lower().startswith("x-big")]
    assert got == h2_names(proto, fields)
    assert sum(len(k) + len(val) for k, val in got) == LIMIT_BYTES - len("Host") - len(v.authority(HOST))


def test_header_block_one_byte_over_limit_431(env, witness, proto):
    v, u = env
    send_fields_and_check(v, u, witness, proto, "/h/over-limit", fields_with_total(v, LIMIT_BYTES + 1, proto), 431)


@pytest.mark.parametrize("proto", ["h2"])
def test_h2_single_field_over_64k_is_a_connection_error(env, witness, proto):
    """HTTP/2 only: nghttp2's HPACK decoder refuses one encoded field over 64 KiB
    (NGHTTP2_HD_MAX_NV) with a COMPRESSION_ERROR, a connection error, before Vallum counts
    anything; the same field passes over HTTP/1.1 (test_header_block_at_limit_passes[h1]).
    Nothing is forwarded and other connections are unharmed."""
    v, u = env
    send_bad_h2_and_check(v, u, witness, "/h/h2-70k-field", [("X-Big", "a" * 70000)], want_goaway=True)


def test_huge_header_1mib_431(env, witness, proto):
    v, u = env
    fields = [("X-Huge", "b" * (1 << 20))]
    if proto == "h1":
        send_fields_and_check(v, u, witness, proto, "/h/huge", fields, 431)
    else:
        # HTTP/2: one field that big is more than nghttp2's HPACK decoder takes (64 KiB; the
        # block also needs more CONTINUATION frames than Vallum accepts): a connection error,
        # before any limit is counted.
        send_bad_h2_and_check(v, u, witness, "/h/huge", fields, want_goaway=True)


def test_many_medium_headers_over_limit_431(env, witness, proto):
    v, u = env
    fields = [(f"X-M{i:03d}", "c" * 500) for i in range(300)]  # ~150 KiB in 301 fields
    send_fields_and_check(v, u, witness, proto, "/h/many-medium", fields, 431)


def test_1000_fields_pass(env, proto):
    v, u = env
    r = send_ok(v, proto, f"/h/1000-fields-{proto}", fields_with_count(LIMIT_FIELDS))
    assert r.status == 200, r
    rec = [x for x in u.requests() if x.path == f"/h/1000-fields-{proto}"][0]
    pattern = r"X-F\d+" if proto == "h1" else r"x-f\d+"  # HTTP/2 names are lower case (RFC 9113 §8.2.1)
    assert sum(1 for k, _ in rec.headers if re.fullmatch(pattern, k)) == LIMIT_FIELDS - 1


def test_1001_fields_431(env, witness, proto):
    v, u = env
    send_fields_and_check(v, u, witness, proto, "/h/1001-fields", fields_with_count(LIMIT_FIELDS + 1), 431)


def test_40_headers_of_512_bytes_delivered_intact(env, proto):
    """BR-25 (2): 20 KiB of custom headers pass byte-identical, in order (names lower case over
    HTTP/2, RFC 9113 §8.2.1)."""
    v, u = env
    hdrs = [(f"X-Custom-{i:02d}", chr(ord("a") + i % 26) * 512) for i in range(40)]
    with connect(v, proto, HOST) as c:
        r = c.get("/h/br25", headers=hdrs)
    assert r.status == 200, r
    got = [(k, val) for k, val in r.json()["headers"] if k.lower().startswith("x-custom-")]
    assert got == h2_names(proto, hdrs)
