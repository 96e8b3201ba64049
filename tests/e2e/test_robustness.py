"""Concurrency and abort paths: many clients at once stay byte-exact; a client that goes away
mid-download or mid-upload must not poison the upstream connection pool; an upstream's
unsolicited 1xx is not mistaken for the final response."""

import random
import socket
import struct
import threading
import time

import pytest

from lib.helpers import route
from lib.http1 import build_head
from lib.upstream import Download, Raw, payload, sha256

MiB = 1 << 20


@pytest.fixture(scope="module")
def env(module_vallum, module_upstream):
    u = module_upstream("rob")
    u.on("/big", Download(8 * MiB, seed=61))
    u.on("/small", Download(10_000, seed=62))
    u.on("/early-100", Raw(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close=False))
    u.on("/early-103", Raw(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                           b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close=False))
    # A 1xx has no content whatever its fields say (RFC 9110 §15.2): found by fuzz/http1_response.
    u.on("/1xx-content-length", Raw(b"HTTP/1.1 100 Continue\r\nContent-Length: 2\r\n\r\n"
                                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close=False))
    u.on("/1xx-chunked", Raw(b"HTTP/1.1 103 Early Hints\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close=False))
    v = module_vallum(module_vallum.config([route("https://rob.example.test", u.url)]))
    return v, u


def test_concurrent_clients_byte_exact(env):
    v, u = env
    errors = []
    lock = threading.Lock()
    done = [0]

    def client(n):
        rnd = random.Random(n)
        try:
            with v.conn("rob.example.test", timeout=30) as c:
                for i in range(15):
                    size = rnd.choice([0, 1, 100, 4096, 65537, 300_000])
                    data = payload(size, 1000 + size % 97) if size else b""
                    if rnd.random() < 0.5:
                        r = c.request("POST", f"/c{n}/{i}", body=data, chunked=rnd.random() < 0.5)
                        d = r.json()
                        ok = r.status == 200 and d["body_sha256"] == sha256(data) and d["target"] == f"/c{n}/{i}"
                    else:
                        r = c.get("/small", store_body=False)
                        ok = r.status == 200 and r.body_sha256 == sha256(payload(10_000, 62))
                    if not ok:
                        raise AssertionError(f"client {n} request {i}: {r!r}")
                    with lock:
                        done[0] += 1
        except Exception as e:  # noqa: BLE001 - collected and reported
            with lock:
                errors.append(f"client {n}: {e!r}")

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert errors == [], errors[:5]
    assert done[0] == 24 * 15


def _abort(sock):
    """Close with RST (no orderly FIN)."""
    raw = sock.sock if hasattr(sock, "sock") else sock
    try:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_client_gone_mid_download_does_not_poison_pool(env, how):
    v, u = env
    for round_ in range(4):
        c = v.conn("rob.example.test")
        c.send(build_head("GET", "/big", [("Host", v.authority("rob.example.test"))]))
        got = 0
        while got < 200_000:
            d = c.recv_some(5)
            assert d, "connection closed early"
            got += len(d)
        if how == "rst":
            _abort(c)
        else:
            c.close()
        # whatever worker and pooled upstream connection comes next must answer correctly
        for i in range(3):
            r = v.get(f"/after-abort/{round_}/{i}", "rob.example.test")
            assert r.status == 200 and r.json()["target"] == f"/after-abort/{round_}/{i}", r
            r = v.get("/small", "rob.example.test", store_body=False)
            assert r.status == 200 and r.body_sha256 == sha256(payload(10_000, 62)), r


def test_client_gone_mid_upload(env):
    v, u = env
    c = v.conn("rob.example.test")
    c.send(build_head("POST", "/partial-upload", [("Host", v.authority("rob.example.test")),
                                                  ("Content-Length", str(4 * MiB))]))
    c.send(payload(MiB, 63))
    u.wait_for(lambda rs: any(r.path == "/partial-upload" and r.body_len > 0 for r in rs), 5, "partial upload")
    _abort(c)
    time.sleep(0.3)
    rec = [r for r in u.requests() if r.path == "/partial-upload"][0]
    assert not rec.complete, "the upstream saw a complete request although the client sent a quarter of it"
    for i in range(4):
        r = v.get(f"/after-upload-abort/{i}", "rob.example.test")
        assert r.status == 200 and r.json()["target"] == f"/after-upload-abort/{i}", r


@pytest.mark.parametrize("path", ["/early-100", "/early-103", "/1xx-content-length", "/1xx-chunked"])
def test_upstream_informational_then_final(env, path):
    v, u = env
    with v.conn("rob.example.test") as c:
        r = c.get(path)
        assert (r.status, r.body) == (200, b"ok"), r
        assert all(100 <= x.status < 200 for x in r.informational)
        r = c.get("/after-1xx")
        assert r.status == 200 and r.json()["target"] == "/after-1xx", r
