"""Request hygiene (issue 2 item 9; dataplane-semantics.md §7.3): a header block over 128 KiB
(sum of name+value lengths) or over 1000 fields → 431; CL+TE, duplicate Content-Length, bad
chunk framing, obs-fold, bare CR, NUL → 400. Each closes that connection, never reaches the
upstream as a complete request, and leaves a parallel connection (with a request in flight)
unharmed."""

import re

import pytest

from lib.helpers import route
from lib.upstream import Delay

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
def witness(env):
    """A keep-alive connection that must keep working while bad requests come in elsewhere."""
    v, u = env
    c = v.conn(HOST)
    r = c.get("/witness/before")
    assert r.status == 200
    yield c
    c.close()


def complete_at_upstream(u, prefix):
    return [r.request_line for r in u.requests() if r.path.startswith(prefix) and r.complete]


def send_bad_and_check(v, u, witness, raw: bytes, want_status: int, path_prefix: str):
    # put a request in flight on the witness connection first
    witness.send(b"GET /witness-slow HTTP/1.1\r\nHost: " + v.authority(HOST).encode() + b"\r\n\r\n")
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
    inflight = witness.read_response(timeout=10)
    assert inflight.status == 200 and inflight.json()["target"] == "/witness-slow", inflight
    after = witness.get("/witness/after")
    assert after.status == 200 and after.json()["target"] == "/witness/after"
    assert complete_at_upstream(u, path_prefix) == [], "a rejected request reached the upstream"


@pytest.mark.parametrize("name", sorted(BAD_400))
def test_malformed_request_400_and_close(env, witness, name):
    v, u = env
    raw = BAD_400[name].replace(b"{H}", v.authority(HOST).encode())
    path = raw.split(b" ")[1].decode()
    send_bad_and_check(v, u, witness, raw, 400, path)


def head_with_total(v, path: str, total: int) -> bytes:
    """A GET whose header fields' name+value lengths sum to exactly `total`."""
    host_val = v.authority(HOST)
    used = len("Host") + len(host_val) + len("X-Big")
    val = "a" * (total - used)
    return f"GET {path} HTTP/1.1\r\nHost: {host_val}\r\nX-Big: {val}\r\n\r\n".encode()


def head_with_fields(v, path: str, fields: int) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {v.authority(HOST)}"]
    lines += [f"X-F{i}: v" for i in range(fields - 1)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_header_block_at_limit_passes(env):
    v, u = env
    with v.conn(HOST) as c:
        c.send(head_with_total(v, "/h/at-limit", LIMIT_BYTES))
        r = c.read_response()
    assert r.status == 200, r
    rec = [x for x in u.requests() if x.path == "/h/at-limit"][0]
    assert len(rec.header("x-big")) == LIMIT_BYTES - len("Host") - len(v.authority(HOST)) - len("X-Big")


def test_header_block_one_byte_over_limit_431(env, witness):
    v, u = env
    send_bad_and_check(v, u, witness, head_with_total(v, "/h/over-limit", LIMIT_BYTES + 1), 431, "/h/over-limit")


def test_huge_header_1mib_431(env, witness):
    v, u = env
    raw = f"GET /h/huge HTTP/1.1\r\nHost: {v.authority(HOST)}\r\nX-Huge: {'b' * (1 << 20)}\r\n\r\n".encode()
    send_bad_and_check(v, u, witness, raw, 431, "/h/huge")


def test_many_medium_headers_over_limit_431(env, witness):
    v, u = env
    lines = ["GET /h/many-medium HTTP/1.1", f"Host: {v.authority(HOST)}"]
    lines += [f"X-M{i:03d}: {'c' * 500}" for i in range(300)]  # ~150 KiB in 301 fields
    send_bad_and_check(v, u, witness, ("\r\n".join(lines) + "\r\n\r\n").encode(), 431, "/h/many-medium")


def test_1000_fields_pass(env):
    v, u = env
    with v.conn(HOST) as c:
        c.send(head_with_fields(v, "/h/1000-fields", LIMIT_FIELDS))
        r = c.read_response()
    assert r.status == 200, r
    rec = [x for x in u.requests() if x.path == "/h/1000-fields"][0]
    assert sum(1 for k, _ in rec.headers if re.fullmatch(r"X-F\d+", k)) == LIMIT_FIELDS - 1


def test_1001_fields_431(env, witness):
    v, u = env
    send_bad_and_check(v, u, witness, head_with_fields(v, "/h/1001-fields", LIMIT_FIELDS + 1), 431, "/h/1001-fields")


def test_40_headers_of_512_bytes_delivered_intact(env):
    """BR-25 (2): 20 KiB of custom headers pass byte-identical, in order."""
    v, u = env
    hdrs = [(f"X-Custom-{i:02d}", chr(ord("a") + i % 26) * 512) for i in range(40)]
    r = v.get("/h/br25", HOST, headers=hdrs)
    assert r.status == 200, r
    got = [(k, val) for k, val in r.json()["headers"] if k.startswith("X-Custom-")]
    assert got == hdrs
