"""Downstream HTTP/2 end to end: real clients (h2load, curl --http2, python3-h2 via
lib/h2client.py) against the real binary over real TLS (ALPN h2) or cleartext prior knowledge,
HTTP/1.1 upstreams on loopback (lib/upstream.py).

Multiplexing (100 streams on one connection to a slow origin), 8 MiB both ways with a small
client window, per-stream failures that leave sibling streams alone (timeout 504, connect
refused 503, an upstream reset mid-body → RST_STREAM), GOAWAY on SIGTERM with in-flight streams
finishing, 421 for an :authority the certificate does not cover, ALPN and prior knowledge with
curl, codec_type http1."""

import hashlib
import re
import socket
import ssl
import subprocess
import threading
import time

import pytest

from lib.h2client import H2Client, connect, rss_kib
from lib.helpers import base_config, route
from lib.upstream import Delay, Download, Echo, EchoBody, Fixed, Hold, ResetMidBody, SlowBody, payload, \
    refused_port, sha256

MiB = 1 << 20
HOST = "app.example.test"


def h2(v, ca, **kw) -> H2Client:
    return H2Client(v.port, tls=v.tls, ca_file=ca.cert, **kw)


def curl(*args, timeout=30):
    return subprocess.run(["curl", "-sS", "--max-time", "20"] + list(args), capture_output=True, text=True,
                          timeout=timeout)


# ----------------------------------------------------------------------------- 1. multiplexing


def test_100_concurrent_streams_on_one_connection_h2load(vallum, upstream):
    """h2load -n100 -c1 -m100: one TLS connection, 100 streams at once, each to an origin that
    waits 1 s: all 200, the whole run takes about one delay, the origin saw 100 requests."""
    u = upstream("slow", default=Delay(1.0, Fixed(200, b"slow-ok")))
    v = vallum(vallum.config([route(f"https://{HOST}", u.url)]))
    t0 = time.monotonic()
    out = subprocess.run(["h2load", "-n100", "-c1", "-m100", "-t1", f"--connect-to=127.0.0.1:{v.port}",
                          f"https://{HOST}:{v.port}/slow"], capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - t0
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "Application protocol: h2" in text, text
    assert re.search(r"requests: 100 total, 100 started, 100 done, 100 succeeded, 0 failed, 0 errored", text), text
    assert re.search(r"status codes: 100 2xx, 0 3xx, 0 4xx, 0 5xx", text), text
    m = re.search(r"finished in ([\d.]+)(ms|s)", text)
    took = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
    assert 1.0 <= took < 3.0, f"100 streams of 1 s each took {took}s (serialized would be 100 s)\n{text}"
    assert elapsed < 10, elapsed
    recs = u.wait_requests(100, timeout=5)
    assert len([r for r in recs if r.path == "/slow"]) == 100
    # All 100 were at the origin at the same time (they arrived within one delay).
    arrivals = sorted(r.received_at for r in recs)
    assert arrivals[-1] - arrivals[0] < 1.0, arrivals[-1] - arrivals[0]
    assert {r.header("host") for r in recs} == {u.addr}  # Host rewritten to the upstream (Pomerium)


def test_server_settings(vallum, upstream, ca):
    """Vallum advertises SETTINGS_MAX_CONCURRENT_STREAMS 100 and a 64 KiB stream window (a client
    over the stream limit: test_h2_hostile.py::test_stream_limit_exceeded)."""
    u = upstream("lim")
    v = vallum(vallum.config([route(f"https://{HOST}", u.url)]))
    with h2(v, ca) as c:
        assert c.remote_settings.get(3) == 100, c.remote_settings  # MAX_CONCURRENT_STREAMS
        assert c.remote_settings.get(4) == 64 * 1024, c.remote_settings  # INITIAL_WINDOW_SIZE


# ----------------------------------------------------------------------------- 2. big bodies, small window


@pytest.fixture
def big_env(vallum, upstream):
    u = upstream("big")
    u.on("/download", Download(8 * MiB, seed=5))
    u.on("/echo", EchoBody())
    u.default = Echo()
    v = vallum(vallum.config([route(f"https://{HOST}", u.url, timeout="60s")]))
    return v, u


def test_upload_8mib_with_small_windows(big_env, ca):
    v, u = big_env
    body = payload(8 * MiB, 6)
    with h2(v, ca, window=16 * 1024) as c:
        sid = c.request("POST", "/upload", body=body, headers=[("content-type", "application/octet-stream")])
        (r,) = c.wait([sid], 60)
    assert r.ended and r.status == 200, (r.status, r.reset_code, bytes(r.body[:300]))
    rec = u.wait_requests(1, timeout=10)[0]
    assert rec.path == "/upload" and rec.complete
    assert rec.body_len == 8 * MiB
    assert rec.body_sha256 == sha256(body)
    assert r.max_over_window <= 0, r.max_over_window


def test_download_8mib_with_16k_client_window(big_env, ca):
    """The client's stream window is 16 KiB and its connection window 64 KiB: Vallum never sends
    beyond what was granted (counted on every DATA frame) and the body arrives intact."""
    v, u = big_env
    with h2(v, ca, window=16 * 1024) as c:
        r = c.get("/download", timeout=60)
    assert r.ended and r.status == 200, (r.status, r.reset_code)
    assert len(r.body) == 8 * MiB
    assert r.sha256 == sha256(payload(8 * MiB, 5)) == r.header("x-body-sha256")
    assert r.max_over_window <= 0, f"Vallum sent {r.max_over_window} bytes beyond the stream window"


def test_echo_8mib_both_ways_at_once(big_env, ca):
    """Full duplex on one stream: the origin streams the body back while it arrives; the client's
    window is 16 KiB, so the upload only goes on as the client reads."""
    v, u = big_env
    body = payload(8 * MiB, 7)
    with h2(v, ca, window=16 * 1024) as c:
        sid = c.request("PUT", "/echo", body=body, headers=[("content-length", str(len(body)))])
        (r,) = c.wait([sid], 60)
    assert r.ended and r.status == 200, (r.status, r.reset_code)
    assert len(r.body) == len(body) and r.sha256 == sha256(body)
    assert r.max_over_window <= 0
    rec = u.wait_requests(1, timeout=10)[0]
    assert rec.body_len == len(body) and rec.body_sha256 == sha256(body)


def test_stalled_upload_holds_only_its_own_window(vallum, upstream, ca):
    """An origin that never reads its request body: that stream's upload stops (its 64 KiB
    window is reopened only as the body is passed on), while a sibling upload of 4 MiB on the
    same connection completes, and Vallum's memory does not grow with the stalled body."""
    release = threading.Event()

    def never_read(ctx):
        release.wait(15)
        return False

    u = upstream("stall")
    u.on("/stall", never_read)
    v = vallum(vallum.config([route(f"https://{HOST}", u.url, timeout="30s")]))
    rss0 = rss_kib(v.pid)
    stalled_body = b"s" * (64 * MiB)
    sibling_body = payload(4 * MiB, 9)
    try:
        with h2(v, ca) as c:
            stalled = c.request("POST", "/stall", body=stalled_body)
            u.wait_for(lambda rs: any(r.path == "/stall" for r in rs), 5, "the stalled request")
            sib = c.request("POST", "/sibling", body=sibling_body)
            (r,) = c.wait([sib], 30)
            assert r.status == 200 and r.ended, r
            # Let the stalled stream push whatever it still can, then look at how far it got:
            # socket buffers on both sides of Vallum plus one 64 KiB window (about 4 MiB here).
            c.run_for(1.0)
            accepted = c.sent(stalled)
            assert 64 * 1024 <= accepted < 16 * MiB, f"{accepted} bytes of a stalled upload were accepted"
            assert c.conn.local_flow_control_window(stalled) == 0
            assert rss_kib(v.pid) - rss0 < 48 * 1024, (rss0, rss_kib(v.pid))
            c.reset(stalled)
    finally:
        release.set()
    rec = [x for x in u.requests() if x.path == "/sibling"][0]
    assert rec.complete and rec.body_len == 4 * MiB and rec.body_sha256 == sha256(sibling_body)


# ----------------------------------------------------------------------------- 3. per-stream failures


def test_per_stream_failures_leave_siblings_alone(vallum, upstream, ca):
    """One connection, five streams at once: a route timeout (504), a refused upstream (503), an
    upstream reset after the head (RST_STREAM, never END_STREAM), and two healthy siblings that
    finish with their full bodies."""
    u = upstream("mixed")
    u.on("/hold", Hold(max_seconds=8))
    u.on("/reset", ResetMidBody(total=1 * MiB, sent=256 * 1024))
    u.on("/big", Download(2 * MiB, seed=8))
    u.on("/slowbig", SlowBody(512 * 1024, seconds=1.5, pieces=6))
    dead = f"http://127.0.0.1:{refused_port()}"
    v = vallum(vallum.config([
        route(f"https://timeout.example.test", u.url, timeout="1s"),
        route(f"https://refused.example.test", dead),
        route(f"https://{HOST}", u.url, timeout="20s"),
    ]))
    with h2(v, ca) as c:
        t0 = time.monotonic()
        s_timeout = c.request("GET", "/hold", authority=f"timeout.example.test:{v.port}")
        s_refused = c.request("GET", "/x", authority=f"refused.example.test:{v.port}")
        s_reset = c.request("GET", "/reset")
        s_big = c.request("GET", "/big")
        s_slow = c.request("GET", "/slowbig")
        c.wait([s_timeout, s_refused, s_reset, s_big, s_slow], 20)
        r = c.streams
        assert r[s_timeout].status == 504 and r[s_timeout].ended, r[s_timeout]
        assert 0.9 <= r[s_timeout].ended_at - t0 < 3.0, r[s_timeout].ended_at - t0
        assert r[s_refused].status == 503 and r[s_refused].ended, r[s_refused]
        # The reset stream: head relayed, part of the body, then RST_STREAM (not a clean end).
        assert r[s_reset].reset_code is not None and not r[s_reset].ended, r[s_reset]
        assert r[s_reset].status in (200, None)
        assert len(r[s_reset].body) < 1 * MiB
        for sid, size, seed in ((s_big, 2 * MiB, 8), (s_slow, 512 * 1024, 2)):
            assert r[sid].status == 200 and r[sid].ended and r[sid].reset_code is None, r[sid]
            assert len(r[sid].body) == size and r[sid].sha256 == sha256(payload(size, seed))
        # The connection is still usable afterwards.
        after = c.get("/big", timeout=10)
        assert after.status == 200 and len(after.body) == 2 * MiB
        assert c.goaway is None


# ----------------------------------------------------------------------------- 4. SIGTERM


def test_sigterm_goaway_lets_streams_finish(vallum, upstream, ca):
    """nghttp (the nghttp2 client) holds five streams to an origin that takes 2 s to send each
    body; SIGTERM arrives once every head is out: the client gets GOAWAY NO_ERROR naming the
    last stream, every stream still ends cleanly with its full body, the listener refuses new
    connections, and vallum exits 0 once they are done."""
    u = upstream("drain", default=SlowBody(256 * 1024, seconds=2.0, pieces=8))
    v = vallum(vallum.config([route(f"https://{HOST}", u.url, timeout="20s")]))
    uris = [f"https://127.0.0.1:{v.port}/inflight/{i}" for i in range(5)]
    p = subprocess.Popen(["nghttp", "-nv", "-t", "20", "-H", f":authority: {HOST}:{v.port}"] + uris,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        u.wait_requests(5, timeout=10)
        time.sleep(0.3)  # the heads are on their way back
        t_term = time.monotonic()
        v.signal(15)
        time.sleep(0.3)
        # No new connection once draining (the listener is closed).
        with pytest.raises(OSError):
            s = connect(v.port, tls=True, sni=HOST, ca_file=ca.cert, timeout=2)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            got = s.recv(100)
            s.close()
            if not got:
                raise ConnectionResetError("closed without an answer")
        out, err = p.communicate(timeout=20)
        t_done = time.monotonic()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, out[-3000:] + err
    goaways = re.findall(r"recv GOAWAY frame <[^>]*>\s*\(last_stream_id=(\d+), error_code=(\w+)", out)
    assert goaways, out[-3000:]
    sids = sorted({int(x) for x in re.findall(r"send HEADERS frame <[^>]*stream_id=(\d+)>", out)})
    assert len(sids) == 5, sids
    assert goaways[0][1] == "NO_ERROR" and int(goaways[0][0]) >= max(sids), goaways
    assert out.index("recv GOAWAY") < out.rindex("recv DATA"), "GOAWAY came only after the bodies"
    got = {s: 0 for s in sids}
    ended = set()
    for length, flags, sid in re.findall(r"recv DATA frame <length=(\d+), flags=0x([0-9a-f]+), stream_id=(\d+)>", out):
        got[int(sid)] += int(length)
        if int(flags, 16) & 1:
            ended.add(int(sid))
    assert got == {s: 256 * 1024 for s in sids} and ended == set(sids), (got, ended)
    assert len(re.findall(r":status: 200", out)) == 5
    assert "RST_STREAM" not in out
    assert t_done - t_term > 0.5  # they really were in flight
    assert v.wait_exit(10) == 0, v.stderr_text()[-2000:]


# ----------------------------------------------------------------------------- 5. 421


def test_misdirected_authority_gets_421(vallum, upstream, ca):
    """The certificate covers a.example only; b.example is routed too. On a connection made for
    a.example, a request for b.example is misdirected (RFC 9110 §15.5.20); a.example is served."""
    u = upstream("misdirected")
    a = ca.leaf(["a.example"])
    v = vallum(base_config(a, routes=[route("https://a.example", u.url), route("https://b.example", u.url)]))
    with h2(v, ca, sni="a.example") as c:
        bad = c.get("/other", authority=f"b.example:{v.port}")
        good = c.get("/mine", authority=f"a.example:{v.port}")
        bad_again = c.get("/other2", authority="b.example")
    assert bad.status == 421 and bad.ended, bad
    assert bad_again.status == 421
    assert good.status == 200 and good.ended
    recs = u.requests()
    assert [r.path for r in recs] == ["/mine"], [r.request_line for r in recs]
    assert recs[0].header("host") == u.addr


# ----------------------------------------------------------------------------- 6. curl, ALPN, prior knowledge


def curl_get(v, ca, version_flag, path, scheme="https", extra=()):
    args = [version_flag, "-D", "-", "-w", "\n%{http_version}", "--resolve", f"{HOST}:{v.port}:127.0.0.1"]
    if scheme == "https":
        args += ["--cacert", ca.cert]
    out = curl(*args, *extra, f"{scheme}://{HOST}:{v.port}{path}")
    assert out.returncode == 0, out.stderr
    head, _, rest = out.stdout.partition("\n\n")  # text mode: CRLF reads as LF
    body, _, version = rest.rpartition("\n")
    return head, body, version


def test_curl_http2_matches_http11(vallum, upstream, ca):
    u = upstream("curl2")
    u.on("/fixed", Fixed(200, b"the same bytes either way\n", [("X-Fixed", "yes"), ("Content-Type", "text/plain")]))
    v = vallum(vallum.config([route(f"https://{HOST}", u.url)]))
    h2_head, h2_body, h2_ver = curl_get(v, ca, "--http2", "/fixed")
    h1_head, h1_body, h1_ver = curl_get(v, ca, "--http1.1", "/fixed")
    assert h2_ver == "2" and h1_ver == "1.1", (h2_ver, h1_ver)
    assert h2_head.startswith("HTTP/2 200") and h1_head.startswith("HTTP/1.1 200"), (h2_head, h1_head)
    assert h2_body == h1_body == "the same bytes either way\n"
    for head in (h2_head, h1_head):
        assert re.search(r"(?im)^x-fixed: yes$", head) and re.search(r"(?im)^content-type: text/plain$", head), head
        assert re.search(r"(?im)^content-length: 26$", head), head
    # What the origin saw is the same request either way (HTTP/1.1 upstream).
    _, e2, _ = curl_get(v, ca, "--http2", "/echo?q=1", extra=("-H", "X-Probe: 7"))
    _, e1, _ = curl_get(v, ca, "--http1.1", "/echo?q=1", extra=("-H", "X-Probe: 7"))
    recs = [r for r in u.requests() if r.path == "/echo"]
    assert len(recs) == 2
    for r in recs:
        assert r.request_line == "GET /echo?q=1 HTTP/1.1"
        assert r.header("x-probe") == "7" and r.header("host") == u.addr
        assert r.header("x-forwarded-proto") == "https"


def test_codec_type_http1_offers_only_http11(vallum, upstream, ca):
    u = upstream("h1only")
    v = vallum(vallum.config([route(f"https://{HOST}", u.url)], codec_type="http1"))
    head, body, ver = curl_get(v, ca, "--http2", "/h1")
    assert ver == "1.1" and head.startswith("HTTP/1.1 200"), (ver, head)
    s = connect(v.port, tls=True, sni=HOST, ca_file=ca.cert, alpn=("h2", "http/1.1"))
    assert s.selected_alpn_protocol() == "http/1.1"
    s.close()
    try:
        s = connect(v.port, tls=True, sni=HOST, ca_file=ca.cert, alpn=("h2",))
        assert s.selected_alpn_protocol() is None  # no h2: the client falls back (RFC 7301 §3.2)
        s.close()
    except ssl.SSLError as e:  # or a no_application_protocol alert
        assert "NO_APPLICATION_PROTOCOL" in str(e).upper() or "ALERT" in str(e).upper(), e
    # ...and auto (the default) prefers h2.
    v2 = vallum(vallum.config([route(f"https://{HOST}", u.url)]))
    s = connect(v2.port, tls=True, sni=HOST, ca_file=ca.cert, alpn=("http/1.1", "h2"))
    assert s.selected_alpn_protocol() == "h2"
    s.close()


def test_prior_knowledge_on_insecure_listener(vallum, upstream, ca):
    u = upstream("pk")
    v = vallum(base_config(insecure=True, routes=[route(f"http://{HOST}", u.url)]))
    assert v.scheme == "http"
    head, body, ver = curl_get(v, ca, "--http2-prior-knowledge", "/pk?x=1", scheme="http")
    assert ver == "2" and head.startswith("HTTP/2 200"), (ver, head)
    assert '"target": "/pk?x=1"' in body
    # HTTP/1.1 still works on the same listener, and python3-h2 by prior knowledge too.
    head1, _, ver1 = curl_get(v, ca, "--http1.1", "/pk1", scheme="http")
    assert ver1 == "1.1" and head1.startswith("HTTP/1.1 200")
    with H2Client(v.port, tls=False, authority=f"{HOST}:{v.port}") as c:
        r = c.get("/pk2")
        assert r.status == 200 and b'"/pk2"' in r.body
    assert [r.path for r in u.requests()] == ["/pk", "/pk1", "/pk2"]
