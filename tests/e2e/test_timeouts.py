"""Global downstream timeouts (issue 2 item 4; spec pomerium-routes.md §2.6 and §6;
dataplane-semantics.md §4.1): `timeout_read` (the whole request must arrive in time; 408 when
it did not, never cutting a response that has started), `timeout_idle` (idle keep-alive
connections close), `timeout_write` (maximum stream duration)."""

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
