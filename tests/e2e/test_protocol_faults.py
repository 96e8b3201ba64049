"""The smaller protocol faults of the security review (item 8), through the real binary with raw
sockets and a recording upstream: absolute-form without Host, HTTP/2.0 and HTTP/0.9 request
lines, Max-Forwards on TRACE/OPTIONS, rewritten Hosts that are not hosts, IPv6 literal hosts,
accept under file-descriptor exhaustion, and memory held by huge partial heads."""

import os
import socket
import stat
import time

import pytest

from lib.helpers import route, wait_until

HOST = "pf.example.test"


@pytest.fixture(scope="module")
def env(module_vallum, module_upstream):
    u = module_upstream("pf")
    routes = [
        route(f"https://{HOST}", u.url),
        route("https://hdr.pf.example.test", u.url, host_rewrite_header="X-Target-Host"),
        route("https://re.pf.example.test", u.url, host_path_regex_rewrite_pattern="^/([^/]*)/.*$",
              host_path_regex_rewrite_substitution="\\1"),
        route("https://[::1]", u.url, name="ipv6-loopback"),
    ]
    v = module_vallum(module_vallum.config(routes))
    return v, u


def exchange(v, raw: bytes, host: str = HOST, timeout: float = 10, sni: str = "same"):
    with v.conn(host, sni=sni) as c:
        c.send(raw)
        return c.read_response(timeout=timeout)


def targets(u):
    return [r.target for r in u.requests()]


def test_absolute_form_without_host_is_400(env):
    v, u = env
    before = targets(u)
    r = exchange(v, f"GET https://{v.authority(HOST)}/abs HTTP/1.1\r\n\r\n".encode())
    assert r.status == 400, r
    assert targets(u) == before
    r = exchange(v, f"GET https://{v.authority(HOST)}/abs HTTP/1.1\r\nHost: other.test\r\n\r\n".encode())
    assert r.status == 200, r  # the target's authority is used, as RFC 9112 §3.2.2 says
    assert u.requests()[-1].target == "/abs"


def test_http2_request_line_is_505_and_never_forwarded(env):
    v, u = env
    before = targets(u)
    r = exchange(v, f"GET /h2line HTTP/2.0\r\nHost: {v.authority(HOST)}\r\n\r\n".encode())
    assert r.status == 505, r
    assert targets(u) == before


@pytest.mark.parametrize("raw", [b"GET /\r\n", b"GET /zero-nine\r\n\r\n"])
def test_http09_request_line_is_400_at_once(env, raw):
    v, u = env
    start = time.monotonic()
    r = exchange(v, raw, timeout=5)
    assert r.status == 400, r
    assert time.monotonic() - start < 5
    assert "/zero-nine" not in targets(u)


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS"])
def test_max_forwards_zero_is_answered_by_the_proxy(env, method):
    v, u = env
    before = targets(u)
    r = exchange(v, (f"{method} /mf HTTP/1.1\r\nHost: {v.authority(HOST)}\r\nMax-Forwards: 0\r\n"
                     "Cookie: session=secret\r\nX-Probe: yes\r\n\r\n").encode())
    assert r.status == 200, r
    assert targets(u) == before
    if method == "TRACE":
        assert r.header("content-type") == "message/http"
        assert b"X-Probe: yes" in r.body and b"secret" not in r.body
    else:
        assert "OPTIONS" in r.header("allow")


def test_max_forwards_is_decremented_when_forwarded(env):
    v, u = env
    r = exchange(v, f"OPTIONS /mf2 HTTP/1.1\r\nHost: {v.authority(HOST)}\r\nMax-Forwards: 5\r\n\r\n".encode())
    assert r.status == 200, r
    assert u.requests()[-1].header("max-forwards") == "4"
    r = exchange(v, f"GET /mf3 HTTP/1.1\r\nHost: {v.authority(HOST)}\r\nMax-Forwards: 0\r\n\r\n".encode())
    assert r.status == 200 and u.requests()[-1].header("max-forwards") == "0"  # only TRACE/OPTIONS


@pytest.mark.parametrize("value", ["a b/c@d", "x/y", "[::1", "user@host"])
def test_invalid_host_from_host_rewrite_header_is_400(env, value):
    v, u = env
    before = targets(u)
    host = "hdr.pf.example.test"
    r = exchange(v, f"GET /hr HTTP/1.1\r\nHost: {v.authority(host)}\r\nX-Target-Host: {value}\r\n\r\n".encode(),
                 host=host)
    assert r.status == 400, r
    assert targets(u) == before


def test_valid_host_from_host_rewrite_header_is_forwarded(env):
    v, u = env
    host = "hdr.pf.example.test"
    r = exchange(v, f"GET /ok HTTP/1.1\r\nHost: {v.authority(host)}\r\nX-Target-Host: internal.test:81\r\n\r\n".encode(),
                 host=host)
    assert r.status == 200, r
    assert u.requests()[-1].header("host") == "internal.test:81"


def test_empty_host_from_path_regex_is_400(env):
    v, u = env
    before = targets(u)
    host = "re.pf.example.test"
    r = exchange(v, f"GET //x HTTP/1.1\r\nHost: {v.authority(host)}\r\n\r\n".encode(), host=host)
    assert r.status == 400, r
    assert targets(u) == before
    r = exchange(v, f"GET /backend.test/x HTTP/1.1\r\nHost: {v.authority(host)}\r\n\r\n".encode(), host=host)
    assert r.status == 200 and u.requests()[-1].header("host") == "backend.test"


@pytest.mark.parametrize("authority", ["[::1]", "[0:0:0:0:0:0:0:1]", "[0::1]", "[::0:1]"])
def test_ipv6_literals_are_matched_canonically(env, authority):
    v, u = env
    r = exchange(v, f"GET /v6 HTTP/1.1\r\nHost: {authority}:{v.port}\r\n\r\n".encode(), host="localhost")
    assert r.status == 200, r
    assert u.requests()[-1].target == "/v6"


@pytest.mark.parametrize("authority", ["[:::1]", "[1::2::3]", "[fe80::1%25eth0]", "[v1.x]", "[::1"])
def test_malformed_ipv6_literals_are_400(env, authority):
    v, u = env
    before = targets(u)
    r = exchange(v, f"GET /v6bad HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode(), host="localhost")
    assert r.status == 400, r
    assert targets(u) == before


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_memory_of_huge_partial_heads_is_returned(vallum, upstream):
    """500 connections each holding a 127 KiB partial head (~64 MB): RSS grows while they are
    open and comes back once they close."""
    u = upstream("mem")
    v = vallum(vallum.config([route(f"http://{HOST}", u.url)], insecure=True, timeout_read="60s"),
               concurrency=1)
    base = rss_kb(v.pid)
    head = f"GET /mem HTTP/1.1\r\nHost: {v.authority(HOST)}\r\nX-Pad: ".encode() + b"p" * (127 * 1024)
    conns = []
    try:
        for _ in range(500):
            c = socket.create_connection(("127.0.0.1", v.port), timeout=10)
            c.sendall(head)
            conns.append(c)
        peak = wait_until(lambda: (lambda r: r if r - base > 40 * 1024 else None)(rss_kb(v.pid)), 30,
                          what="the partial heads to be held")
    finally:
        for c in conns:
            c.close()
    after = wait_until(lambda: (lambda r: r if r - base < 16 * 1024 else None)(rss_kb(v.pid)), 20,
                       what="memory to be returned after the connections closed")
    assert peak - base > 40 * 1024 and after - base < 16 * 1024, (base, peak, after)
    assert v.get("/still-serving", HOST).status == 200
    assert u.requests()[-1].target == "/still-serving"


def test_accept_under_fd_exhaustion_logs_once_per_interval(vallum, upstream, tmp_path):
    """With file descriptors used up, accept backs off and logs at most one line per 10 s
    instead of dozens per second; it serves again once descriptors free up."""
    u = upstream("fd")
    wrapper = tmp_path / "vallum-lowfd"
    binary = os.environ.get("VALLUM_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", "build", "vallum")
    wrapper.write_text(f"#!/bin/sh\nulimit -n 64\nexec {os.path.abspath(binary)} \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    v = vallum(vallum.config([route(f"http://{HOST}", u.url)], insecure=True), concurrency=1,
               binary=str(wrapper))
    held = []
    try:
        for _ in range(120):  # more than the process may hold
            held.append(socket.create_connection(("127.0.0.1", v.port), timeout=5))
        time.sleep(3.0)  # ~60 failed accepts at the old rate of one per 50 ms
        lines = [line for line in v.stderr_text().splitlines() if "accept failed" in line]
        assert 1 <= len(lines) <= 2, lines
    finally:
        for s in held:
            s.close()
    r = wait_until(lambda: (lambda r: r if r.status == 200 else None)(v.get("/after", HOST)), 15,
                   what="serving again after descriptors were freed")
    assert r.status == 200


def _frame(ftype: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + stream.to_bytes(4, "big") + payload


def test_h2_empty_data_flood_then_bad_frame_gets_goaway_and_the_process_lives(env):
    """Found by fuzz/http2_server (fuzz/RESULTS.md, B): 1001 empty DATA frames, then a PRIORITY
    frame of length 0, in one write. The codec used to end the session inside nghttp2's callback;
    the next connection error then failed an nghttp2 assertion and abort() ended the proxy."""
    import hpack

    v, u = env
    block = hpack.Encoder().encode([(":method", "POST"), (":scheme", "https"),
                                    (":authority", v.authority(HOST)), (":path", "/flood")])
    attack = (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + _frame(4, 0, 0) + _frame(1, 4, 1, block)
              + _frame(0, 0, 1) * 1001 + _frame(2, 0, 1))
    with v.conn(HOST, alpn=("h2",)) as c:
        assert c.sock.selected_alpn_protocol() == "h2"
        c.send(attack)
        got = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                d = c.recv_some(timeout=2)
            except socket.timeout:
                break
            if not d:
                break
            got += d
    codes = []
    pos = 0
    while pos + 9 <= len(got):
        n = int.from_bytes(got[pos:pos + 3], "big")
        if got[pos + 3] == 7 and n >= 8:  # GOAWAY: last stream id, error code
            codes.append(int.from_bytes(got[pos + 13:pos + 17], "big"))
        pos += 9 + n
    assert codes == [0xB], (codes, got[:200])  # ENHANCE_YOUR_CALM
    assert v.alive()
    r = v.get("/after-flood", HOST)
    assert r.status == 200, r
    assert u.requests()[-1].target == "/after-flood"
