"""Global downstream timeouts (Pomerium global options; Envoy's HCM
timeouts): `timeout_read` (the whole request must arrive in time; 408 when
it did not, never cutting a response that has started), `timeout_idle` (idle keep-alive
connections close), `timeout_write` (maximum stream duration)."""

import socket
import threading
import time

import pytest

from lib.helpers import route
from lib.http1 import build_head
from lib.upstream import Delay, SlowBody


@pytest.fixture(scope="module")
def env(module_vallum, module_upstream):
    u = module_upstream("to")
    u.on("/slow-body", SlowBody(100_000, seconds=2.5, pieces=5))
    u.on("/slow-head", Delay(2.5))
    read_idle = module_vallum(module_vallum.config([route("https://t.example.test", u.url, timeout="10s")],
                                                   timeout_read="1s", timeout_idle="1s"))
    write = module_vallum(module_vallum.config([route("https://t.example.test", u.url, timeout="10s")],
                                               timeout_write="1s"))
    return read_idle, write, u


def test_timeout_read_body_never_completes_408(env):
    v, _, u = env
    with v.conn("t.example.test") as c:
        t0 = time.monotonic()
        c.send(build_head("POST", "/stalled", [("Host", v.authority("t.example.test")), ("Content-Length", "10")]) + b"abc")
        r = c.read_response(timeout=10)
        took = time.monotonic() - t0
        assert r.status == 408, r
        assert 0.8 <= took < 3.0, f"408 after {took:.2f}s with timeout_read 1s"
        assert c.closed_by_peer or c.peer_closed(3.0)
    assert [x for x in u.requests() if x.path == "/stalled" and x.complete] == []


def test_timeout_read_incomplete_head(env):
    v, _, u = env
    with v.conn("t.example.test") as c:
        t0 = time.monotonic()
        c.send(b"GET /slowloris HTTP/1.1\r\nHost: " + v.authority("t.example.test").encode() + b"\r\nX-A: 1\r\n")
        r = c.read_response(timeout=10)
        took = time.monotonic() - t0
        assert r.status in (408, 0), r  # a 408, or just a close, for a head that never completed
        assert c.closed_by_peer or c.peer_closed(3.0)
        assert took < 3.5, f"connection with an unfinished head kept {took:.2f}s (timeout_read 1s)"


def test_timeout_read_does_not_cut_a_slow_response(env):
    v, _, u = env
    r = v.get("/slow-body", "t.example.test", store_body=False)
    assert r.status == 200 and r.complete and r.body_len == 100_000, r
    r = v.get("/slow-head", "t.example.test")
    assert r.status == 200, r


def test_timeout_idle_closes_idle_keepalive(env):
    v, _, u = env
    with v.conn("t.example.test") as c:
        assert c.get("/i").status == 200
        t0 = time.monotonic()
        assert c.peer_closed(4.0), "idle keep-alive connection still open 4 s after its last response (timeout_idle 1s)"
        took = time.monotonic() - t0
    assert 0.7 <= took < 4.0, took


def test_timeout_idle_spares_active_streams(env):
    v, _, u = env
    with v.conn("t.example.test") as c:
        r = c.get("/slow-body", store_body=False)  # 2.5 s of body: the connection is not idle
        assert r.status == 200 and r.complete, r


def test_timeout_write_limits_stream_duration(env):
    _, w, u = env
    with w.conn("t.example.test") as c:
        t0 = time.monotonic()
        r = c.get("/slow-body", store_body=False, timeout=10)
        took = time.monotonic() - t0
        assert r.status == 200 and not r.complete, f"timeout_write 1s did not end a 2.5 s stream: {r!r}"
        assert c.closed_by_peer or c.peer_closed(2.0)
    assert 0.8 <= took < 2.3, took
    t0 = time.monotonic()
    r = w.get("/slow-head", "t.example.test")
    took = time.monotonic() - t0
    assert r.status == 504 and 0.8 <= took < 2.3, (r, took)  # whole request received → 504


class _WatchVallumClose:
    """Holds the response and records when Vallum closes the upstream connection."""

    def __init__(self, hold: float = 5.0):
        self.hold = hold
        self.closed_after = None
        self.done = threading.Event()

    def __call__(self, ctx) -> bool:
        ctx.read_body()
        t0 = time.monotonic()
        ctx.sock.settimeout(0.05)
        try:
            while time.monotonic() - t0 < self.hold:
                try:
                    if ctx.sock.recv(1, socket.MSG_PEEK) == b"":
                        self.closed_after = time.monotonic() - t0
                        return False
                except socket.timeout:
                    continue
                except OSError:
                    self.closed_after = time.monotonic() - t0
                    return False
            return False
        finally:
            self.done.set()


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
def test_client_hang_up_before_the_response_frees_the_upstream(module_vallum, module_upstream, tls):
    """A client that goes away while its (complete) request waits for the upstream ends the
    exchange at once, as Envoy does (a downstream disconnect resets the upstream request):
    Vallum closes the upstream connection within a moment instead of holding it until the
    response or the route timeout (10 s here), and the access log shows no upstream status."""
    u = module_upstream("hangup")
    watch = _WatchVallumClose(hold=5.0)
    u.on("/wait", watch)
    kw = {} if tls else {"insecure_server": True}
    v = module_vallum(module_vallum.config([route("https://h.example.test", u.url, timeout="10s")], **kw))
    with v.conn("h.example.test") as c:
        c.send(build_head("GET", "/wait", [("Host", v.authority("h.example.test"))]))
        deadline = time.monotonic() + 3
        while not u.requests() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert u.requests(), "the request never reached the upstream"
        time.sleep(0.2)
    assert watch.done.wait(6)
    assert watch.closed_after is not None and watch.closed_after < 1.5, \
        f"upstream connection closed after {watch.closed_after}s (held 5 s when nobody noticed)"
    # Vallum still serves.
    r = v.get("/after", "h.example.test")
    assert r.status == 200, r


# ----------------------------------------------------------------------------- route idle_timeout


def test_route_idle_timeout_without_timeout_lets_a_long_response_stream(vallum, upstream, proto):
    """Pomerium's route docs: with `idle_timeout` set and `timeout` not, the route timeout is
    unlimited. With default_upstream_timeout 1s, a response that takes 4 s (a piece every
    0.5 s) arrives whole: nothing idles for 3 s."""
    from lib.client import get
    from lib.upstream import sha256
    u = upstream("long")
    u.on("/long", SlowBody(80_000, seconds=4, pieces=8))
    v = vallum(vallum.config([route("https://t.example.test", u.url, idle_timeout="3s")],
                             default_upstream_timeout="1s"))
    t0 = time.monotonic()
    r = get(v, proto, "/long", "t.example.test", timeout=15)
    assert r.status == 200, r
    assert len(r.body) == 80_000 and sha256(r.body) == r.header("x-body-sha256")
    assert time.monotonic() - t0 >= 3.5


def test_route_idle_timeout_ends_a_stalled_response(vallum, upstream):
    """`idle_timeout` is Envoy's per-route stream idle timeout: a response that stalls longer
    than it is cut (its head already went: the connection closes mid-body)."""
    u = upstream("stall")
    u.on("/stall", SlowBody(20_000, seconds=5, pieces=2))  # half now, the rest 2.5 s later
    v = vallum(vallum.config([route("https://t.example.test", u.url, idle_timeout="1s")]))
    with v.conn("t.example.test") as c:
        t0 = time.monotonic()
        r = c.get("/stall", store_body=False, timeout=10)
        took = time.monotonic() - t0
        assert r.status == 200 and not r.complete, r
        assert c.closed_by_peer or c.peer_closed(2.0)
    assert 0.8 <= took < 2.4, took
