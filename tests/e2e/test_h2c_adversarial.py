"""Adversarial probes of the `h2c://` upstream path: a hostile or buggy HTTP/2 origin
(lib/h2hostile.py, frames written by hand) and hostile clients (slow readers, early
disconnects, slow uploads), plus reload and connection-count bounds against the real python3-h2
origin (lib/h2upstream.py).

Every probe is bounded (route timeouts of 1-5 s, client timeouts < 10 s), runs one vallum
worker (--concurrency 1), and after each probe checks that vallum is alive, logged no crash
and still serves a healthy h2c route (`ok.example.test`)."""

import os
import re
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from lib import h2hostile as hh
from lib.h2hostile import HostileH2
from lib.h2upstream import Delay, Download, EchoJson, Fixed, h2upstream  # noqa: F401
from lib.helpers import route, wait_until
from lib.http1 import build_head
from lib.pages import ACCEPT_JSON
from lib.upstream import sha256

MiB = 1 << 20
HOST = "bad.example.test"
OK_HOST = "ok.example.test"
BAD_STDERR = re.compile(r"Assertion|assert|terminate called|Segmentation|AddressSanitizer|runtime error|"
                        r"std::|failed:|fatal", re.I)


@pytest.fixture
def hostile():
    made = []

    def make(name="hostile", **kw):
        h = HostileH2(name, **kw)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def start(vallum, h2upstream, bad_url, timeout="3s"):
    """One worker; HOST → the origin under test, OK_HOST → a well-behaved h2c origin."""
    good = h2upstream("good")
    v = vallum(vallum.config([route(f"https://{HOST}", bad_url, timeout=timeout),
                              route(f"https://{OK_HOST}", good.url, timeout="5s")]), concurrency=1)
    return v, good


def still_serves(v, stderr_ok=()):
    """vallum is alive, logged nothing alarming, and a healthy h2c route answers 200."""
    assert v.alive(), "vallum died:\n" + v.stderr_text()[-3000:]
    r = v.get("/health-after", OK_HOST, timeout=5)
    assert r.status == 200, r
    bad = [ln for ln in v.stderr_text().splitlines()
           if BAD_STDERR.search(ln) and not any(s in ln for s in stderr_ok)]
    assert not bad, f"vallum stderr: {bad[-10:]}"


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    raise AssertionError("no VmRSS")


def bg(fn):
    box = {}

    def run():
        try:
            box["v"] = fn()
        except BaseException as e:  # re-raised in result()
            box["e"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()

    class H:
        def result(self, timeout=10.0):
            t.join(timeout)
            assert not t.is_alive(), f"background request still running after {timeout}s"
            if "e" in box:
                raise box["e"]
            return box["v"]

    return H()


def timed_get(v, path, host=HOST, timeout=8.0, headers=None):
    t0 = time.monotonic()
    r = v.get(path, host, timeout=timeout, headers=headers)
    return r, time.monotonic() - t0


def slow_ok(delay):
    def b(conn, r):
        time.sleep(delay)
        hh.ok_response(conn, r, b"slow-ok")
    return b


def hold(conn, r):
    """Never answers (the stream stays open until vallum resets it or the connection ends)."""
    while not conn.dead and r.reset_code is None and not conn.srv.closed_flag:
        time.sleep(0.05)


# ============================================================================ SETTINGS limits


def test_max_concurrent_streams_1_five_concurrent_requests(vallum, h2upstream, hostile):
    """Origin SETTINGS_MAX_CONCURRENT_STREAMS=1 (enforced: a stream over it gets RST_STREAM
    REFUSED_STREAM, RFC 9113 §5.1.2), five concurrent requests of 0.3 s each after a first
    request taught vallum the limit: all five get 200 (queued behind the limit, or on more
    connections) well before the 5 s route timeout, and no connection is sent more streams
    than the origin allows (also not a fresh one, whose SETTINGS vallum could have waited for
    or remembered)."""
    h = hostile("mcs1", settings=((hh.S_MAX_CONCURRENT_STREAMS, 1),), default=slow_ok(0.3),
                enforce_max_streams=True)
    v, _ = start(vallum, h2upstream, h.url, timeout="5s")
    assert v.get("/warm", HOST).status == 200  # the connection exists and SETTINGS are known
    t0 = time.monotonic()
    with ThreadPoolExecutor(5) as ex:
        rs = list(ex.map(lambda i: v.get(f"/c/{i}", HOST, timeout=9), range(5)))
    took = time.monotonic() - t0
    statuses = [r.status for r in rs]
    detail = f"statuses {statuses}; per connection (streams accepted, refused, most open): " \
             f"{[(c.id, c.streams, c.refused, c.max_open) for c in h.conns]}"
    print(detail)
    assert all(s in (200, 503) for s in statuses) and took < 4.5, (detail, took)
    over = [c.id for c in h.conns if c.max_open > 1]
    assert not over, f"vallum opened more streams than MAX_CONCURRENT_STREAMS=1 allows: {detail}"
    assert statuses == [200] * 5, detail
    still_serves(v)


def test_max_concurrent_streams_0_requests_end(vallum, h2upstream, hostile):
    """Origin SETTINGS_MAX_CONCURRENT_STREAMS=0 (accepts no stream at all): every request ends
    (503, or 504 at the 1.5 s route timeout), none hangs, and vallum does not open an unbounded
    number of connections to it."""
    h = hostile("mcs0", settings=((hh.S_MAX_CONCURRENT_STREAMS, 0),), default=hold)
    v, _ = start(vallum, h2upstream, h.url, timeout="1.5s")
    t0 = time.monotonic()
    with ThreadPoolExecutor(5) as ex:
        rs = list(ex.map(lambda i: v.get(f"/z/{i}", HOST, timeout=9, headers=ACCEPT_JSON), range(5)))
    took = time.monotonic() - t0
    assert all(r.status in (503, 504) for r in rs), [(r.status, r.text[-200:]) for r in rs]
    assert took < 4.0, f"took {took:.2f}s"
    # A second wave: still bounded.
    rs2 = [v.get(f"/z2/{i}", HOST, timeout=9, headers=ACCEPT_JSON) for i in range(3)]
    assert all(r.status in (503, 504) for r in rs2), rs2
    assert len(h.conns) <= 8, f"{len(h.conns)} connections opened for 8 requests: {h.conns}"
    still_serves(v)


# ============================================================================ silent / dead origins


def test_origin_sends_nothing_after_accept(vallum, h2upstream, hostile):
    """The origin accepts and reads but never sends a byte (no SETTINGS): three concurrent
    requests end at the 1 s route timeout with 504, not later; a later request also ends."""
    def silent(conn):
        while conn.read_frame() is not None:
            pass
    h = hostile("silent", script=silent)
    v, _ = start(vallum, h2upstream, h.url, timeout="1s")
    t0 = time.monotonic()
    with ThreadPoolExecutor(3) as ex:
        rs = list(ex.map(lambda i: v.get(f"/s/{i}", HOST, timeout=9, headers=ACCEPT_JSON), range(3)))
    took = time.monotonic() - t0
    assert [r.status for r in rs] == [504] * 3, [(r.status, r.text[-200:]) for r in rs]
    assert took < 2.5, f"took {took:.2f}s"
    r, t = timed_get(v, "/s/again", headers=ACCEPT_JSON)
    assert r.status == 504 and t < 2.5, (r, t)
    assert len(h.conns) >= 1 and h.conns[0].preface_ok
    still_serves(v)


def test_origin_closes_right_after_accept(vallum, h2upstream, hostile):
    """The origin reads the preface and closes: 503 quickly (connection termination)."""
    h = hostile("closer", script=lambda conn: None)
    v, _ = start(vallum, h2upstream, h.url, timeout="3s")
    for i in range(3):
        r, t = timed_get(v, f"/x/{i}", headers=ACCEPT_JSON)
        assert r.status == 503 and t < 2.0, (r.status, t, r.text[-300:])
    still_serves(v)


# ============================================================================ malformed response heads


def endless_1xx(conn, r):
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline and r.reset_code is None and not conn.dead:
        conn.headers(r.sid, [(":status", "100")])
        time.sleep(0.01)


def test_endless_1xx_heads_end_at_route_timeout(vallum, h2upstream, hostile):
    """The origin sends a 100 head every 10 ms and never a final one: 504 at the 1 s route
    timeout, the stream is reset at the origin."""
    h = hostile("1xx", default=endless_1xx)
    v, _ = start(vallum, h2upstream, h.url, timeout="1s")
    r, t = timed_get(v, "/inf", headers=ACCEPT_JSON)
    assert r.status == 504 and 0.8 < t < 2.5, (r.status, t)
    h.wait(lambda: h.reqs("/inf")[0].reset_code is not None, 3, "RST_STREAM for the 1xx stream")
    still_serves(v)


def hpack_bomb(conn, r):
    """One 4000-byte header inserted in the dynamic table, then 3000 one-byte references to it:
    a 12 KiB block that decodes to ~12 MB of response headers."""
    big = "a" * 4000
    blk = hh.lit(":status", "200") + hh.lit_indexed_insert("x-big", big) + hh.indexed(62) * 3000
    conn.headers(r.sid, [], end_stream=True, encoded=blk)
    conn.stream_done(r.sid)


def many_headers(conn, r):
    conn.headers(r.sid, [(":status", "200")] + [(f"x-h{i}", "v") for i in range(2000)], end_stream=True)
    conn.stream_done(r.sid)


def huge_header_values(conn, r):
    conn.headers(r.sid, [(":status", "200")] + [(f"x-big{i}", "b" * 16000) for i in range(12)], end_stream=True)
    conn.stream_done(r.sid)


@pytest.mark.parametrize("behaviour", [hpack_bomb, many_headers, huge_header_values],
                         ids=["hpack-amplified-12MB", "2000-headers", "192KiB-of-values"])
def test_oversized_response_head_is_502(vallum, h2upstream, hostile, behaviour):
    """A response head over the limits HTTP/1.1 origins get (128 KiB of names + values, 1000
    fields, src/http/http1_parser.h) must be a 502, never forwarded; vallum's memory must not
    balloon. The HPACK variant: a 12 KiB block that decodes to 12 MB."""
    h = hostile("bighead", default=behaviour)
    v, _ = start(vallum, h2upstream, h.url)
    rss0 = rss_kib(v.pid)
    with v.conn(HOST, timeout=8) as c:
        c.send(build_head("GET", "/big", [("Host", v.authority(HOST))]))
        got = bytearray()
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and b"\r\n\r\n" not in got and len(got) < (1 << 20):
            try:
                d = c.recv_some(1.0)
            except socket.timeout:
                continue
            if not d:
                break
            got += d
    rss1 = rss_kib(v.pid)
    status_line = bytes(got[:40]).split(b"\r\n")[0]
    head_len = got.find(b"\r\n\r\n")
    assert status_line.startswith(b"HTTP/1.1 502"), \
        f"got {status_line!r}, head of {head_len if head_len >= 0 else '>' + str(len(got))} bytes " \
        f"(RSS {rss0} -> {rss1} KiB)"
    print(f"oversized head: {status_line!r}, RSS {rss0} -> {rss1} KiB")
    assert rss1 - rss0 < 32 * 1024, f"RSS grew {rss0} -> {rss1} KiB"
    still_serves(v)


BAD_HEADS = {
    "status-abc": [(":status", "abc")],
    "status-099": [(":status", "099")],
    "status-000": [(":status", "000")],
    "status-2000": [(":status", "2000")],
    "status-101": [(":status", "101")],
    "no-status": [("x-a", "b")],
    "uppercase-name": [(":status", "200"), ("X-Upper", "1")],
    "connection-keep-alive": [(":status", "200"), ("connection", "keep-alive")],
    "transfer-encoding": [(":status", "200"), ("transfer-encoding", "chunked")],
    "pseudo-after-regular": [("x-a", "b"), (":status", "200")],
    "request-pseudo": [(":status", "200"), (":path", "/")],
    "crlf-in-value": [(":status", "200"), ("x-a", "v\r\nx-injected: 1")],
}


@pytest.mark.parametrize("name", list(BAD_HEADS))
def test_malformed_response_head_is_502_and_only_that_stream(vallum, h2upstream, hostile, name):
    """A malformed response head (invalid :status, upper-case or connection-specific field,
    misplaced pseudo-header, CR/LF in a value) is a 502 (protocol error) for that stream only:
    a slow request on the same upstream connection gets its 200, and the next request reuses or
    replaces the connection and succeeds. Nothing of the bad head reaches the client."""
    hs = BAD_HEADS[name]

    def bad(conn, r):
        conn.headers(r.sid, hs, end_stream=False)
        conn.data(r.sid, b"bad-body", end_stream=True)
        conn.stream_done(r.sid)

    h = hostile("badhead", default=hh.ok_response).on("/bad", bad).on("/slow", slow_ok(0.8))
    v, _ = start(vallum, h2upstream, h.url)
    slow = bg(lambda: v.get("/slow", HOST, timeout=8))
    h.wait(lambda: h.reqs("/slow"), 3, "the slow request")
    r, t = timed_get(v, "/bad")
    assert r.status == 502, (name, r.status, re.findall(r"upstream connect error[^<]*", r.text)[:1])
    assert "x-injected" not in r.text and b"bad-body" not in r.body, r
    assert t < 2.0
    rs = slow.result()
    assert rs.status == 200 and rs.body == b"slow-ok", rs
    assert rs.header("x-conn") == str(h.reqs("/bad")[0].conn_id), "the slow request was not on the same connection"
    after = v.get("/after", HOST)
    assert after.status == 200, after
    still_serves(v)


# ============================================================================ bodies that lie


def test_fewer_data_bytes_than_content_length_aborts_client(vallum, h2upstream, hostile):
    """content-length 1000 but 500 bytes then END_STREAM: the client must not see a complete
    response (the connection closes short of the declared length)."""
    def short(conn, r):
        conn.headers(r.sid, [(":status", "200"), ("content-length", "1000")])
        conn.data(r.sid, b"s" * 500, end_stream=True)
        conn.stream_done(r.sid)
    h = hostile("short", default=short)
    v, _ = start(vallum, h2upstream, h.url)
    with v.conn(HOST, timeout=8) as c:
        r = c.get("/short")
        assert r.status in (200, 502), r
        if r.status == 200:
            assert not r.complete and r.body_len <= 500, r
            assert c.closed_by_peer or c.peer_closed(3)
    still_serves(v)


def test_more_data_bytes_than_content_length(vallum, h2upstream, hostile):
    """content-length 5 but 5000 bytes: the client never gets more than 5 body bytes nor bytes
    past the declared length that would desync its connection; the next request on a fresh
    client connection succeeds."""
    def long(conn, r):
        conn.headers(r.sid, [(":status", "200"), ("content-length", "5")])
        conn.data(r.sid, b"12345" + b"X" * 4995, end_stream=True)
        conn.stream_done(r.sid)
    h = hostile("long", default=long).on("/fine", hh.ok_response)
    v, _ = start(vallum, h2upstream, h.url)
    with v.conn(HOST, timeout=8) as c:
        r = c.get("/long")
        assert r.status in (200, 502), r
        assert r.body_len <= 5 and b"X" not in r.body, r
        if r.status == 200 and r.complete:
            # Kept open: the next response must be a real one, not the extra bytes.
            if not c.peer_closed(0.5):
                r2 = c.get("/fine")
                assert r2.status == 200 and r2.body == b"ok", r2
    assert v.get("/fine", HOST).status == 200
    still_serves(v)


def test_data_before_headers(vallum, h2upstream, hostile):
    """DATA on a stream before any response HEADERS: a protocol error → 502 (or 503 reset), fast."""
    def data_first(conn, r):
        conn.data(r.sid, b"junk", end_stream=False)
        time.sleep(0.1)
        conn.respond(r.sid, 200, [], b"late")
        conn.stream_done(r.sid)
    h = hostile("datafirst", default=data_first)
    v, _ = start(vallum, h2upstream, h.url)
    r, t = timed_get(v, "/d")
    assert r.status in (502, 503) and t < 2.0, (r.status, t, r.body[:100])
    assert b"junk" not in r.body and b"late" not in r.body
    still_serves(v)


# ============================================================================ connection-level abuse


def _inflight_then(action):
    """Behaviour for /victim: hold; for /trigger: run `action(conn, r)`; else ok."""
    def trig(conn, r):
        action(conn, r)
    return trig


@pytest.mark.parametrize("kind", ["rst-idle-stream", "window-update-overflow-conn", "headers-on-even-stream",
                                  "settings-bad-window", "push-promise", "data-on-stream-0", "unknown-frame-type"])
def test_connection_error_fails_streams_cleanly_then_recovers(vallum, h2upstream, hostile, kind):
    """A connection-level protocol violation by the origin (RST_STREAM on a stream never opened,
    a connection WINDOW_UPDATE past 2^31-1, HEADERS on a server-initiated even stream never
    promised, SETTINGS_INITIAL_WINDOW_SIZE > 2^31-1) fails every stream on that connection
    cleanly (502/503, promptly) and the next request works on a new connection. An unknown
    frame type must be ignored (RFC 9113 §4.1): nothing fails."""
    def action(conn, r):
        if kind == "rst-idle-stream":
            conn.rst(r.sid + 100, hh.CANCEL)
        elif kind == "window-update-overflow-conn":
            conn.window_update(0, 0x7FFFFFFF)
            conn.window_update(0, 0x7FFFFFFF)
        elif kind == "headers-on-even-stream":
            conn.headers(2, [(":status", "200")], end_stream=True)
        elif kind == "settings-bad-window":
            conn.settings([(hh.S_INITIAL_WINDOW_SIZE, 0x80000000)])
        elif kind == "push-promise":  # vallum sent SETTINGS_ENABLE_PUSH=0
            conn.frame(hh.PUSH_PROMISE, hh.END_HEADERS, r.sid, struct.pack(">I", 2) + hh.block(
                [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/pushed")]))
        elif kind == "data-on-stream-0":
            conn.frame(hh.DATA, 0, 0, b"zero")
        elif kind == "unknown-frame-type":
            conn.frame(0xEE, 0, 0, b"whatever")
            conn.frame(0xEE, 0, r.sid, b"whatever")
        time.sleep(0.3)
        hh.ok_response(conn, r, b"trigger-ok")

    h = hostile("connerr", default=hh.ok_response).on("/victim", slow_ok(0.6)).on("/trigger", action)
    v, _ = start(vallum, h2upstream, h.url)
    first = v.get("/first", HOST)
    assert first.status == 200, first
    victim = bg(lambda: v.get("/victim", HOST, timeout=8))
    h.wait(lambda: h.reqs("/victim"), 3, "victim request")
    tr, t = timed_get(v, "/trigger")
    vr = victim.result()
    if kind == "unknown-frame-type":
        assert (tr.status, tr.body, vr.status) == (200, b"trigger-ok", 200), (tr, vr)
        assert len(h.conns) == 1
    else:
        assert tr.status in (502, 503) and t < 2.0, (tr.status, t)
        assert vr.status in (502, 503), vr
        h.wait(lambda: h.conns[0].closed or h.conns[0].goaways, 2, "vallum to drop the violated connection")
        c0 = h.conns[0]
        print(f"{kind}: trigger {tr.status} victim {vr.status}; vallum GOAWAYs {c0.goaways}, RSTs {c0.rsts}")
    after = v.get("/after", HOST)
    assert after.status == 200, after
    if kind != "unknown-frame-type":
        assert after.header("x-conn") != "1", "the next request reused the broken connection"
    still_serves(v)


def test_stream_window_update_overflow_is_stream_error(vallum, h2upstream, hostile):
    """A WINDOW_UPDATE that pushes one stream's send window past 2^31-1 is a stream error: that
    stream fails (502/503), a concurrent stream on the same connection still gets its 200."""
    def action(conn, r):
        conn.window_update(r.sid, 0x7FFFFFFF)
        time.sleep(0.3)
        hh.ok_response(conn, r)
    h = hostile("swu", default=hh.ok_response).on("/victim", slow_ok(0.6)).on("/trigger", action)
    v, _ = start(vallum, h2upstream, h.url)
    victim = bg(lambda: v.get("/victim", HOST, timeout=8))
    h.wait(lambda: h.reqs("/victim"), 3, "victim request")
    tr = v.get("/trigger", HOST)
    vr = victim.result()
    assert tr.status in (502, 503), tr
    assert vr.status == 200 and vr.body == b"slow-ok", vr
    assert any(code == hh.FLOW_CONTROL_ERROR for _, code in h.conns[0].rsts), h.conns[0].rsts
    still_serves(v)


@pytest.mark.parametrize("flood", ["ping", "settings"])
def test_control_frame_flood(vallum, h2upstream, hostile, flood):
    """5000 PINGs (or 2000 empty SETTINGS) in one burst while a request is open: vallum either
    answers them and serves the request, or treats it as a flood (nghttp2's 1000 queued-ACK
    limit) and fails the connection cleanly (503); either way it stays healthy and bounded."""
    def action(conn, r):
        if flood == "ping":
            blob = b"".join(struct.pack(">I", 8)[1:] + struct.pack(">BBI", hh.PING, 0, 0) + b"%08d" % i
                            for i in range(5000))
        else:
            blob = (struct.pack(">I", 0)[1:] + struct.pack(">BBI", hh.SETTINGS, 0, 0)) * 2000
        conn.raw(blob)
        time.sleep(0.3)
        hh.ok_response(conn, r, b"after-flood")
    h = hostile("flood", default=hh.ok_response).on("/flood", action)
    v, _ = start(vallum, h2upstream, h.url)
    rss0 = rss_kib(v.pid)
    r, t = timed_get(v, "/flood")
    assert r.status in (200, 503) and t < 3, (r.status, t)
    if r.status == 200:
        assert r.body == b"after-flood"
    c0 = h.conns[0]
    print(f"{flood} flood: status {r.status}; acks seen by origin: pings {c0.pings_acked}, settings "
          f"{c0.settings_acked}; vallum GOAWAYs {c0.goaways}; closed {c0.closed}")
    assert rss_kib(v.pid) - rss0 < 16 * 1024
    assert v.get("/again", HOST).status == 200
    still_serves(v)


# ============================================================================ GOAWAY games


def test_goaway_lower_last_stream_id_with_streams_in_flight(vallum, h2upstream, hostile):
    """Three streams in flight; the origin sends GOAWAY(last-stream-id = the first) and answers
    only the first. The first gets 200; the other two end promptly (503 refused, or retried on
    a new connection → 200), long before the 5 s route timeout; the next request uses a new
    connection."""
    state = {"sids": []}

    def gate(conn, r):
        if conn.rec.id != 1:
            hh.ok_response(conn, r, b"second-conn")
            return
        conn.srv.wait(lambda: len([q for q in conn.srv.requests if q.conn_id == 1]) >= 3, 5, "3 streams")
        sids = sorted(q.sid for q in conn.srv.requests if q.conn_id == 1)
        if r.sid != sids[0]:
            hold(conn, r)
            return
        state["sids"] = sids
        conn.goaway(sids[0], hh.NO_ERROR)
        time.sleep(0.1)
        hh.ok_response(conn, r, b"first")

    h = hostile("goaway-low", default=gate)
    v, _ = start(vallum, h2upstream, h.url, timeout="5s")
    t0 = time.monotonic()
    with ThreadPoolExecutor(3) as ex:
        rs = list(ex.map(lambda i: v.get(f"/g/{i}", HOST, timeout=9), range(3)))
    took = time.monotonic() - t0
    st = sorted(r.status for r in rs)
    assert st.count(200) >= 1 and all(s in (200, 503) for s in st), [(r.status, r.body[:80]) for r in rs]
    assert took < 3.0, f"refused streams took {took:.2f}s (route timeout 5 s)"
    print(f"goaway-low: statuses {[(r.status, r.body[:20]) for r in rs]}")
    after = v.get("/after", HOST)
    assert after.status == 200 and after.body == b"second-conn", after
    still_serves(v)


def test_goaway_then_silence(vallum, h2upstream, hostile):
    """The origin sends GOAWAY (last = highest stream, NO_ERROR) and then never answers nor
    closes: the two streams end at the 1 s route timeout (504); new requests go to a new
    connection; vallum closes the dead connection once its streams are gone."""
    def b(conn, r):
        if conn.rec.id != 1:
            hh.ok_response(conn, r, b"fresh")
            return
        conn.srv.wait(lambda: len([q for q in conn.srv.requests if q.conn_id == 1]) >= 2, 5, "2 streams")
        sids = sorted(q.sid for q in conn.srv.requests if q.conn_id == 1)
        if r.sid == sids[-1]:
            conn.goaway(sids[-1], hh.NO_ERROR)
        hold(conn, r)

    h = hostile("goaway-silent", default=b)
    v, _ = start(vallum, h2upstream, h.url, timeout="1s")
    t0 = time.monotonic()
    with ThreadPoolExecutor(2) as ex:
        rs = list(ex.map(lambda i: v.get(f"/h/{i}", HOST, timeout=9, headers=ACCEPT_JSON), range(2)))
    assert [r.status for r in rs] == [504, 504] and time.monotonic() - t0 < 2.5, rs
    after = v.get("/after", HOST)
    assert after.status == 200 and after.body == b"fresh", after
    h.wait(lambda: h.conns[0].closed, 3, "vallum to close the GOAWAY'd connection")
    still_serves(v)


# ============================================================================ flow control


def test_origin_ignores_stream_window(vallum, h2upstream, hostile):
    """The origin sends 512 KiB of DATA on one stream at once, ignoring vallum's 64 KiB stream
    window: a flow-control error (RST_STREAM FLOW_CONTROL_ERROR or GOAWAY), the client's
    response is aborted (never complete), vallum's memory stays bounded."""
    def flood(conn, r):
        conn.headers(r.sid, [(":status", "200"), ("content-length", str(512 * 1024))])
        conn.data(r.sid, b"F" * (512 * 1024), end_stream=True)
        conn.stream_done(r.sid)
    h = hostile("nofc", default=hh.ok_response, auto_window=False).on("/flood", flood)
    v, _ = start(vallum, h2upstream, h.url)
    assert v.get("/warm", HOST).status == 200  # SETTINGS exchanged: the 64 KiB window applies
    rss0 = rss_kib(v.pid)
    with v.conn(HOST, timeout=8) as c:
        c.send(build_head("GET", "/flood", [("Host", v.authority(HOST))]))
        time.sleep(1.0)  # do not read: vallum must not buffer what it never granted
        rss1 = rss_kib(v.pid)
        r = c.read_response(timeout=5)
    assert r.status in (200, 502, 503), r
    assert not (r.status == 200 and r.complete), \
        f"a response that overran the 64 KiB window was delivered complete ({r.body_len} bytes)"
    c0 = h.conns[0]
    assert any(code == hh.FLOW_CONTROL_ERROR for _, code in c0.rsts + c0.goaways) or c0.closed, c0
    print(f"nofc: status {r.status} body {r.body_len}; RSTs {c0.rsts} GOAWAYs {c0.goaways} closed {c0.closed}")
    assert rss1 - rss0 < 8 * 1024, f"RSS {rss0} -> {rss1} KiB"
    still_serves(v)


def test_slow_reader_20mib_bounded_memory_and_other_stream_proceeds(vallum, h2upstream):
    """A client that requests 20 MiB and reads nothing for 3 s: vallum's RSS stays bounded
    (backpressure through the 64 KiB stream window), a second client's request on the SAME
    upstream connection is answered meanwhile, and the slow client finally gets all 20 MiB
    intact."""
    dl = Download(20 * MiB)
    u = h2upstream("big")
    u.on("/big", dl).on("/fast", Fixed(200, b"fast"))
    v = vallum(vallum.config([route(f"https://{HOST}", u.url, timeout="0s")]), concurrency=1)
    assert v.get("/fast", HOST).status == 200
    rss0 = rss_kib(v.pid)
    with v.conn(HOST, timeout=30) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        c.send(build_head("GET", "/big", [("Host", v.authority(HOST))]))
        time.sleep(1.5)
        t0 = time.monotonic()
        f = v.get("/fast", HOST, timeout=5)
        took = time.monotonic() - t0
        time.sleep(1.5)
        rss1 = rss_kib(v.pid)
        assert f.status == 200 and f.body == b"fast" and took < 1.0, (f, took)
        assert f.header("x-h2-conn") == u.requests("/big")[0].conn_id.__str__(), "not the same connection"
        r = c.read_response(timeout=30, store_body=False)
    assert r.status == 200 and r.complete and r.body_len == 20 * MiB and r.body_sha256 == sha256(dl.data()), r
    print(f"slow reader: RSS {rss0} -> {rss1} KiB while the client did not read; /fast took {took:.3f}s")
    assert rss1 - rss0 < 12 * 1024, f"RSS {rss0} -> {rss1} KiB while the client did not read"
    assert len(u.connections()) == 1
    still = v.get("/fast", HOST)
    assert still.status == 200


# ============================================================================ client aborts


def test_client_disconnect_mid_response_resets_stream_and_reuses_connection(vallum, h2upstream):
    """The client reads 100 KB of an 8 MiB response and closes: the origin sees RST_STREAM
    CANCEL (8) for that stream, and the next request reuses the same upstream connection."""
    u = h2upstream("abort")
    u.on("/big", Download(8 * MiB))
    v = vallum(vallum.config([route(f"https://{HOST}", u.url)]), concurrency=1)
    c = v.conn(HOST, timeout=8)
    c.send(build_head("GET", "/big", [("Host", v.authority(HOST))]))
    got = 0
    while got < 100_000:
        d = c.recv_some(5)
        assert d, "closed early"
        got += len(d)
    c.close()
    u.wait_requests(1, path="/big")
    rec = u.requests("/big")[0]
    u.wait_for(lambda: rec.reset_by_peer is not None, 3, "RST_STREAM for the abandoned stream")
    assert rec.reset_by_peer == 8, rec.reset_by_peer
    r = v.get("/next", HOST)
    assert r.status == 200 and int(r.header("x-h2-conn")) == rec.conn_id, r
    assert len(u.connections()) == 1


def test_client_disconnect_before_response_head_resets_stream(vallum, h2upstream):
    """The client sends a GET to a 4 s origin and disconnects after 0.3 s (route timeout 8 s):
    vallum notices the downstream close and resets the upstream stream (CANCEL) promptly,
    instead of holding the stream until the origin answers."""
    u = h2upstream("abort2")
    u.on("/slow", Delay(4.0))
    v = vallum(vallum.config([route(f"https://{HOST}", u.url, timeout="8s")]), concurrency=1)
    c = v.conn(HOST, timeout=8)
    c.send(build_head("GET", "/slow", [("Host", v.authority(HOST))]))
    u.wait_requests(1, path="/slow")
    time.sleep(0.3)
    c.close()
    t0 = time.monotonic()
    rec = u.requests("/slow")[0]
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and rec.reset_by_peer is None:
        time.sleep(0.05)
    assert rec.reset_by_peer == 8, \
        f"no RST_STREAM CANCEL within {time.monotonic() - t0:.1f}s of the client's disconnect " \
        f"(reset_by_peer={rec.reset_by_peer})"


def duplex_tolerant(c, head, pieces, timeout):
    """Like Conn.duplex (chunked upload while reading the response), but a send failing because
    vallum closed the connection after its answer (TLS EOF included) just ends the upload."""
    import select
    import ssl
    from lib.http1 import ResponseParser, chunk
    deadline = time.monotonic() + timeout
    it = iter(pieces)
    out = bytearray(head)
    done = False
    p = ResponseParser("POST", True)
    c.sock.setblocking(False)
    try:
        while not p.done:
            assert time.monotonic() < deadline, f"no response within {timeout}s (got {p.resp.status})"
            if not out and not done:
                try:
                    out += chunk(next(it))
                except StopIteration:
                    out += b"0\r\n\r\n"
                    done = True
            r, w, _ = select.select([c.sock], [c.sock] if out else [], [], 0.2)
            if r or c.sock.pending():
                while True:
                    try:
                        d = c.sock.recv(65536)
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                        break
                    except (ConnectionResetError, ssl.SSLError, OSError):
                        d = b""
                    if not d:
                        p.eof()
                        break
                    p.feed(d)
                    if p.done:
                        break
            if w and out:
                try:
                    n = c.sock.send(bytes(out[:65536]))
                    del out[:n]
                except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                    pass
                except (OSError, ssl.SSLError):
                    out, done = bytearray(), True
                    it = iter(())
    finally:
        try:
            c.sock.setblocking(True)
        except OSError:
            pass
    return p.resp


def test_early_413_during_slow_chunked_upload(vallum, h2upstream, hostile):
    """The client uploads 5 MiB chunked, slowly (64 KiB every 20 ms); the origin answers 413 as
    soon as the request HEADERS arrive (END_STREAM, then RST_STREAM NO_ERROR, RFC 9113 §8.1):
    the client gets the 413 quickly and nothing hangs."""
    def early(conn, r):
        conn.respond(r.sid, 413, [("x-early", "1")], b"too big")
        conn.rst(r.sid, hh.NO_ERROR)
        conn.stream_done(r.sid)
    h = hostile("early413", on_headers=True, default=early)
    v, _ = start(vallum, h2upstream, h.url, timeout="5s")

    def pieces():
        for _ in range(80):
            time.sleep(0.02)
            yield os.urandom(64 * 1024)

    t0 = time.monotonic()
    with v.conn(HOST, timeout=8) as c:
        head = build_head("POST", "/upload", [("Host", v.authority(HOST)), ("Transfer-Encoding", "chunked")])
        r = duplex_tolerant(c, head, pieces(), timeout=8)
    took = time.monotonic() - t0
    assert r.status == 413 and r.body == b"too big" and r.header("x-early") == "1", r
    assert took < 5, took
    got = h.reqs("/upload")[0]
    assert len(got.body) < 5 * MiB, "the origin got the whole body after answering"
    still_serves(v)


# ============================================================================ volume, reload


def test_2000_requests_over_50_connections_bounded_h2_connections(vallum, h2upstream):
    """2000 requests over 50 keep-alive client connections (40 each, 50 at a time): all 200,
    the origin sees 1 h2 connection (one worker, never more than 100 concurrent streams), and
    no stream left open at the end."""
    u = h2upstream("vol", default=Fixed(200, b"v"))
    v = vallum(vallum.config([route(f"https://{HOST}", u.url)]), concurrency=1)

    def client(i):
        out = []
        with v.conn(HOST, timeout=10) as c:
            for j in range(40):
                out.append(c.get(f"/v/{i}/{j}").status)
        return out

    with ThreadPoolExecutor(50) as ex:
        st = [s for lst in ex.map(client, range(50)) for s in lst]
    assert st == [200] * 2000, {s: st.count(s) for s in set(st)}
    conns = u.connections()
    assert len(conns) == 1 and conns[0].streams == 2000, conns
    wait_until(lambda: all(c.open == 0 for c in u.connections()), 3, what="open streams back to 0")
    assert len(u.requests()) == 2000 and all(r.ended for r in u.requests())


def test_sighup_reload_with_h2c_requests_in_flight(vallum, h2upstream):
    """20 requests to a 1 s h2c origin in flight while the config is rewritten (same routes)
    and SIGHUP'd: all 20 get 200, and requests after the reload succeed too."""
    u = h2upstream("reload", default=Delay(1.0))
    cfg = vallum.config([route(f"https://{HOST}", u.url, timeout="5s")])
    v = vallum(cfg, concurrency=1)
    with ThreadPoolExecutor(20) as ex:
        futs = [ex.submit(v.get, f"/r/{i}", HOST, timeout=9) for i in range(20)]
        u.wait_requests(20, ended=False, timeout=5)
        mark = len(v.stderr_text())
        v.reload(vallum.config([route(f"https://{HOST}", u.url, timeout="5s")]))
        v.wait_stderr(r"reload", timeout=5, after=mark)
        rs = [f.result() for f in futs]
    assert [r.status for r in rs] == [200] * 20, [(r.status, r.text[-200:]) for r in rs if r.status != 200]
    after = [v.get(f"/after/{i}", HOST, timeout=5) for i in range(3)]
    assert [r.status for r in after] == [200] * 3
    assert v.alive()


class Endless:
    """200 + content-length `total`, sent in 64 KiB DATA pieces inside the flow-control windows
    (light on the origin's memory, unlike Download)."""

    def __init__(self, total: int):
        self.total = total

    def __call__(self, ctx) -> None:
        ctx.send_head(200, [("content-length", str(self.total))])
        block = b"e" * 65536
        sent = 0
        while sent < self.total:
            n = min(len(block), self.total - sent)
            sent += n
            ctx.send_body(block[:n], end_stream=sent >= self.total)


@pytest.mark.parametrize("stalled", [10, 17])
def test_stalled_readers_do_not_starve_other_clients_on_the_connection(vallum, h2upstream, stalled):
    """`stalled` (10: under, 17: over the threshold) clients download 8 MiB each and stop reading (17 × 64 KiB stream windows > the 1 MiB
    connection window once their socket buffers are full); meanwhile another client's 256 KiB
    download on the same upstream HTTP/2 connection must still complete within 4 s. If vallum
    leaves the stalled streams' bytes counted against the connection window, every other
    client of that origin stalls behind them (head-of-line blocking across clients)."""
    u = h2upstream("hol")
    u.on("/stall", Endless(8 * MiB)).on("/small", Download(256 * 1024))
    v = vallum(vallum.config([route(f"https://{HOST}", u.url, timeout="0s")]), concurrency=1)
    assert v.get("/small", HOST).status == 200
    slow = []
    try:
        for i in range(stalled):
            c = v.conn(HOST, timeout=10)
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
            c.send(build_head("GET", f"/stall/{i}", [("Host", v.authority(HOST))]))
            slow.append(c)
        u.wait_requests(stalled + 1, timeout=5)
        time.sleep(3.0)  # kernel buffers fill, then the stream windows stop reopening
        t0 = time.monotonic()
        try:
            r = v.get("/small", HOST, timeout=4)
            took = time.monotonic() - t0
        except TimeoutError as e:
            r, took = None, time.monotonic() - t0
            err = str(e)
        conn_ids = {rec.conn_id for rec in u.requests()}
        assert r is not None and r.status == 200 and r.complete and r.body_len == 256 * 1024, \
            f"a 256 KiB download behind {stalled} stalled readers on the same h2 connection (conns {conn_ids}) " \
            f"did not complete in {took:.1f}s: {r if r is not None else err}"
        print(f"HOL: small download took {took:.2f}s over conns {conn_ids}")
    finally:
        for c in slow:
            c.close()
    assert v.get("/small", HOST, timeout=8).status == 200
    assert v.alive()
