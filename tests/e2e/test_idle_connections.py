"""Lean idle connections: an HTTP/1.1 keep-alive connection idle for a second gives
its connection manager back (read buffer, codec, stream, coroutine frames) and waits in the
worker's IdlePark as a socket, its TLS state and the client's address. The gauges
`vallum_downstream_connections{state=active|parked}` and
`vallum_downstream_spare_connection_managers` show it: after 1,000 idle connections no manager
is held by them and the spare list stays at its cap (64 per worker); past 64 idle managers a
worker parks a connection as soon as it goes idle. Parked connections come back for their next
request, notice hang-ups, close at `timeout_idle` and on drain. HTTP/2 connections park too,
with their session (HPACK tables, settings, windows): the next request may name table entries
an earlier one added; the idle clock starts when the last stream ends, a frame without a stream
(a PING) does not restart it, and a parked session says GOAWAY when it closes."""

import signal
import socket
import time

import pytest

from lib.client import connect
from lib.clusters import free_port, metric, scrape
from lib.helpers import route, wait_until
from lib.http1 import Conn
from lib.upstream import Fixed

BODY = b"idle-body-42"
SPARE_CAP = 64  # Worker::kMaxSpareConnections, per worker
WORKERS = 2     # the e2e Vallum runs --concurrency 2


def gauges(port):
    s = scrape(port)
    return (metric(s, "vallum_downstream_connections", state="active"),
            metric(s, "vallum_downstream_connections", state="parked"),
            metric(s, "vallum_downstream_spare_connection_managers"))


def wait_gauges(port, active, parked, timeout=8.0):
    last = [None]

    def check():
        last[0] = gauges(port)
        return last[0][0] == active and last[0][1] == parked

    try:
        wait_until(check, timeout, 0.1)
    except AssertionError:
        raise AssertionError(f"(active, parked, spare) = {last[0]}, expected active={active} parked={parked}")
    return last[0]


def start(module_vallum, module_upstream, insecure, **globals_):
    u = module_upstream("idle-up", default=Fixed(200, BODY))
    mport = free_port()
    cfg = module_vallum.config([route("https://idle.example.test", u.url, name="idle")],
                               metrics_address=f"127.0.0.1:{mport}", **globals_)
    if insecure:
        cfg.pop("certificates", None)
        cfg["insecure_server"] = True
    v = module_vallum(cfg)
    v.wait_stderr(r"metrics on http://127\.0\.0\.1:%d/metrics" % mport, 5)
    v.idle_upstream = u
    return v, mport


def drain_at_once(v):
    """SIGTERM: Vallum exits 0 within 3 s (parked connections have no request to finish)."""
    t0 = time.monotonic()
    v.signal(signal.SIGTERM)
    assert v.wait_exit(10) == 0
    assert time.monotonic() - t0 < 3


def open_idle(v, n, mport=None):
    """n connections, one request each, left open. With `mport`, the active gauge is sampled
    every 50 connections; returns (connections, highest active count seen)."""
    conns = []
    highest = 0
    for i in range(n):
        c = v.conn("idle.example.test")
        r = c.get("/first")
        assert r.status == 200 and r.body == BODY, r
        conns.append(c)
        if mport is not None and i % 50 == 49:
            highest = max(highest, gauges(mport)[0])
    return conns, highest


@pytest.mark.parametrize("tls,n", [(False, 1000), (True, 300)], ids=["plain", "tls"])
def test_idle_connections_park_and_come_back(module_vallum, module_upstream, tls, n):
    """n connections, one request each, then idle: all parked, none active, the spare list at
    most its cap; each then serves a second request (resumed) and parks again; the ones the
    client closes leave the park."""
    v, mport = start(module_vallum, module_upstream, insecure=not tls)
    conns, highest = open_idle(v, n, mport)
    # Past 64 idle managers per worker a connection parks as soon as it is idle: opening 1,000
    # in a row never holds more managers than that (plus the one being served).
    assert highest <= SPARE_CAP * WORKERS + 2, highest
    try:
        active, parked, spare = wait_gauges(mport, 0, n)
        assert spare <= SPARE_CAP * WORKERS, spare
        for i, c in enumerate(conns):
            r = c.get(f"/second/{i}")
            assert r.status == 200 and r.body == BODY, (i, r)
        wait_gauges(mport, 0, n)
        for c in conns[: n // 2]:
            c.close()
        conns = conns[n // 2:]
        wait_gauges(mport, 0, n - n // 2)
        # Pipelined requests on a parked connection: both answered, in order.
        c = conns[0]
        c.sock.sendall(b"GET /p1 HTTP/1.1\r\nHost: idle.example.test\r\n\r\n"
                       b"GET /p2 HTTP/1.1\r\nHost: idle.example.test\r\n\r\n")
        r1, r2 = c.read_response(), c.read_response()
        assert (r1.status, r1.body, r2.status, r2.body) == (200, BODY, 200, BODY)
    finally:
        for c in conns:
            c.close()
    wait_gauges(mport, 0, 0)


def test_parked_connections_close_at_timeout_idle(module_vallum, module_upstream):
    """timeout_idle 2s: a connection parked after 1 s is closed by the server at ~2 s (the
    client reads EOF), as an unparked one would be."""
    v, mport = start(module_vallum, module_upstream, insecure=True, timeout_idle="2s")
    conns, _ = open_idle(v, 20)
    try:
        wait_gauges(mport, 0, 20, timeout=1.9)
        t0 = time.monotonic()
        for c in conns:
            c.sock.settimeout(6)
            assert c.sock.recv(1) == b""
        assert time.monotonic() - t0 < 4
        wait_gauges(mport, 0, 0)
    finally:
        for c in conns:
            c.close()


def test_drain_closes_parked_connections_at_once(module_vallum, module_upstream):
    """SIGTERM with 200 parked connections: every one is closed and Vallum exits 0 promptly
    (a parked connection has no request to finish)."""
    v, mport = start(module_vallum, module_upstream, insecure=True)
    conns, _ = open_idle(v, 200)
    try:
        wait_gauges(mport, 0, 200)
        drain_at_once(v)
        for c in conns:
            c.sock.settimeout(3)
            try:
                assert c.sock.recv(1) == b""
            except ConnectionResetError:
                pass
    finally:
        for c in conns:
            c.close()


def test_http2_idle_clock_starts_when_the_last_stream_ends(module_vallum, module_upstream):
    """HTTP/2, timeout_idle 2s (Envoy's idle_timeout: no open stream): a connection whose stream
    ended is closed ~2 s later although the client keeps sending PINGs (frames without a stream
    do not restart the clock); a request after 1.5 s idle — its buffers given back after 1 s —
    is served normally and restarts the clock."""
    from lib.h2client import RawH2
    from lib.h2frames import ping_frame

    v, mport = start(module_vallum, module_upstream, insecure=False, timeout_idle="2s")
    c = RawH2(v.port, tls=True, sni="idle.example.test", ca_file=v.ca_file,
              authority=v.authority("idle.example.test"))
    try:
        assert c.wait_response(c.request("/h2-first")) == 200
        time.sleep(1.5)
        sid = c.request("/h2-after-idle")
        assert c.wait_response(sid) == 200 and bytes(c.bodies[sid]) == BODY
        ended = time.monotonic()
        while not (c.goaway or c.eof) and time.monotonic() - ended < 6:
            c.send(ping_frame())
            time.sleep(0.4)
        closed_after = time.monotonic() - ended
        assert c.goaway is not None or c.eof, "still open 6 s after the last stream, PINGs or not"
        assert 1.5 < closed_after < 3.5, closed_after
        c.wait_eof(3)
        assert c.goaway is not None and c.goaway[1] == 0, c.goaway  # GOAWAY NO_ERROR first
    finally:
        c.close()


def test_http2_connections_park_with_their_session(module_vallum, module_upstream):
    """100 HTTP/2 connections (TLS, ALPN h2), one request each carrying a header the client's
    HPACK encoder adds to the dynamic table: after a second all are parked (no manager held).
    The second request on each names that table entry by index: the upstream sees the right
    value, so the server's HPACK decoder survived parking; the client decodes the response heads
    with its own table, so the server's encoder state did too."""
    v, mport = start(module_vallum, module_upstream, insecure=False)
    conns = []
    try:
        firsts = []
        for i in range(100):
            c = connect(v, "h2", "idle.example.test")
            r = c.request("GET", f"/h2-first/{i}", headers=[("x-idle-token", f"token-{i:03d}-" + "t" * 40)])
            assert r.status == 200 and r.body == BODY, r
            firsts.append(r)
            conns.append(c)
        wait_gauges(mport, 0, 100)
        for i, c in enumerate(conns):
            r = c.request("GET", f"/h2-second/{i}", headers=[("x-idle-token", f"token-{i:03d}-" + "t" * 40)])
            assert r.status == 200 and r.body == BODY, r
            same = {"content-length", "x-frame-options", "x-xss-protection", "strict-transport-security"}
            assert {k: v_ for k, v_ in r.headers if k in same} == {k: v_ for k, v_ in firsts[i].headers if k in same}
        u = v.idle_upstream
        seen = {rec.path: rec.headers_all("x-idle-token") for rec in u.requests() if rec.path.startswith("/h2-second/")}
        assert seen == {f"/h2-second/{i}": [f"token-{i:03d}-" + "t" * 40] for i in range(100)}, seen
        wait_gauges(mport, 0, 100)  # parked again after their second request
    finally:
        for c in conns:
            c.close()
    wait_gauges(mport, 0, 0)


def test_parked_http2_connections_say_goaway_at_drain_and_at_timeout_idle(module_vallum, module_upstream):
    """A parked HTTP/2 connection is closed with GOAWAY NO_ERROR first: at timeout_idle (2 s
    here, parked after 1 s) and when the worker drains (SIGTERM), where Vallum exits at once."""
    from lib.h2client import RawH2
    from lib.h2frames import ping_frame

    def open_raw(v, n):
        out = []
        for _ in range(n):
            c = RawH2(v.port, tls=True, sni="idle.example.test", ca_file=v.ca_file,
                      authority=v.authority("idle.example.test"))
            assert c.wait_response(c.request("/h2-raw")) == 200
            out.append(c)
        return out

    v, mport = start(module_vallum, module_upstream, insecure=False, timeout_idle="2s")
    # Awake at the timeout: a PING at 1.5 s wakes the parked session, which would park again at
    # 2.5 s; timeout_idle (2 s, not restarted by the PING) ends it first — with GOAWAY too.
    awake = open_raw(v, 1)[0]
    try:
        time.sleep(1.5)
        awake.send(ping_frame())
        awake.wait_eof(3)
        assert awake.goaway is not None and awake.goaway[1] == 0, awake.goaway
        assert awake.goaway_at <= awake.eof_at
    finally:
        awake.close()
    conns = open_raw(v, 10)
    try:
        ended = time.monotonic()
        wait_gauges(mport, 0, 10, timeout=1.9)
        for c in conns:
            c.wait_eof(5)  # raises if a parked connection outlived timeout_idle
            assert c.goaway is not None and c.goaway[1] == 0, c.goaway
            assert c.goaway_at <= c.eof_at
        assert time.monotonic() - ended < 3.5
    finally:
        for c in conns:
            c.close()

    v, mport = start(module_vallum, module_upstream, insecure=False)
    conns = open_raw(v, 20)
    try:
        wait_gauges(mport, 0, 20)
        drain_at_once(v)
        for c in conns:
            c.wait_eof(5)
            assert c.goaway is not None and c.goaway[1] == 0, c.goaway
    finally:
        for c in conns:
            c.close()
