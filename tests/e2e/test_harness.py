"""Self-tests of the e2e harness (no vallum involved): the echo upstream records exactly what a
raw client sent, the client sees framing faults, and the test PKI serves what it claims. If
these fail, every other result in this folder is suspect."""

import socket
import ssl
import threading

from lib.certs import TestCA, subject_cn
from lib.http1 import Conn, build_head
from lib.upstream import (CloseBeforeHead, Delay, Download, EchoBody, Raw, ResetMidBody, payload, refused_port,
                          sha256)


def test_echo_records_request_exactly(upstream):
    u = upstream("h")
    with Conn(u.port, tls=False, default_host="h.example.test") as c:
        r = c.request("POST", "/p/a?x=%2F&y", headers=[("X-Dup", "1"), ("x-MiXed", "v"), ("X-Dup", "2")], body=b"hello")
        assert r.status == 200 and r.complete
        d = r.json()
        assert d["request_line"] == "POST /p/a?x=%2F&y HTTP/1.1"
        assert d["headers"] == [["Host", "h.example.test"], ["X-Dup", "1"], ["x-MiXed", "v"], ["X-Dup", "2"],
                                ["Content-Length", "5"]]
        assert d["body_len"] == 5 and d["body_sha256"] == sha256(b"hello")
        r2 = c.request("GET", "/second")
        assert r2.json()["conn"] == d["conn"] and r2.json()["seq"] == 2
    recs = u.requests()
    assert [r.target for r in recs] == ["/p/a?x=%2F&y", "/second"]
    assert recs[0].complete and recs[0].body_sample == b"hello"


def test_chunked_upload_and_downloads(upstream):
    u = upstream("d")
    data = payload(1 << 20, 7)
    u.on("/cl", Download(1 << 20, seed=7)).on("/ch", Download(1 << 20, chunked=True, seed=7))
    with Conn(u.port, tls=False, default_host="d") as c:
        r = c.request("PUT", "/up", body=[data[i:i + 10000] for i in range(0, len(data), 10000)], chunked=True)
        assert r.json()["body_sha256"] == sha256(data) and r.json()["body_framing"] == "chunked"
        r = c.request("GET", "/cl", store_body=False)
        assert (r.framing, r.complete, r.body_len, r.body_sha256) == ("content-length", True, len(data), sha256(data))
        r = c.request("GET", "/ch", store_body=False)
        assert (r.framing, r.complete, r.body_len, r.body_sha256) == ("chunked", True, len(data), sha256(data))


def test_duplex_echo(upstream):
    u = upstream("e", default=EchoBody())
    data = payload(4 << 20, 9)
    with Conn(u.port, tls=False) as c:
        head = build_head("POST", "/", [("Host", "e"), ("Transfer-Encoding", "chunked")])
        r = c.duplex(head, (data[i:i + 65536] for i in range(0, len(data), 65536)), chunked=True)
    assert r.status == 200 and r.complete and r.body_sha256 == sha256(data)


def test_fault_behaviours_are_visible_to_client(upstream):
    u = upstream("f")
    u.on("/reset-cl", ResetMidBody(100000, 30000))
    u.on("/reset-ch", ResetMidBody(100000, 30000, chunked=True))
    u.on("/close", CloseBeforeHead())
    u.on("/bad", Raw(b"HTTP/1.1 2x0 Nope\r\n\r\n"))
    u.on("/slow", Delay(0.3))
    for path, framing in (("/reset-cl", "content-length"), ("/reset-ch", "chunked")):
        with Conn(u.port, tls=False, default_host="f") as c:
            r = c.get(path, store_body=False)
            assert r.status == 200 and r.framing == framing and not r.complete and r.body_len == 30000
    with Conn(u.port, tls=False, default_host="f") as c:
        r = c.get("/close")
        assert r.status == 0 and not r.complete
    with Conn(u.port, tls=False, default_host="f") as c:
        c.send(b"GET /bad HTTP/1.1\r\nHost: f\r\n\r\n")
        assert c.recv_some(5) == b"HTTP/1.1 2x0 Nope\r\n\r\n"
    with Conn(u.port, tls=False, default_host="f") as c:
        assert c.get("/slow").status == 200
    p = refused_port()
    try:
        socket.create_connection(("127.0.0.1", p), timeout=2).close()
        raise AssertionError("refused_port() is listening")
    except ConnectionRefusedError:
        pass


def test_pki_and_tls_client(tmp_path):
    ca = TestCA(str(tmp_path))
    cert, key = ca.leaf(["*.wild.example.test", "x.example.test"])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)

    def serve():
        s, _ = ls.accept()
        with ctx.wrap_socket(s, server_side=True) as t:
            t.recv(100)
            t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    with Conn(ls.getsockname()[1], sni="a.wild.example.test", ca_file=ca.cert, default_host="a") as c:
        assert subject_cn(c.peer_cert) == "*.wild.example.test"
        assert ("DNS", "x.example.test") in c.peer_cert["subjectAltName"]
        assert c.get("/").body == b"ok"
    th.join(5)
    ls.close()


def test_h2_client_keepalive_body_and_flow_control():
    """lib/client.py's H2Conn (cleartext prior knowledge) against the real h2 origin: several
    requests on one connection, a body bigger than the default 64 KiB stream window (so it has
    to wait for WINDOW_UPDATEs), names sent lower case, a response body bigger than the window."""
    from lib.client import H2Conn
    from lib.h2upstream import Download as H2Download, EchoBody as H2EchoBody, H2Upstream

    u = H2Upstream("selftest")
    u.on("/echo", H2EchoBody()).on("/dl", H2Download(300_000, seed=3))
    try:
        with H2Conn(u.port, tls=False, default_host="h.example.test") as c:
            r = c.request("GET", "/json?x=1", headers=[("X-MiXed", "v"), ("X-Dup", "1"), ("x-dup", "2")])
            assert (r.status, r.complete, r.reset_code) == (200, True, None), r
            d = r.json()
            assert d["pseudo"] == [[":method", "GET"], [":scheme", "http"], [":authority", "h.example.test"],
                                   [":path", "/json?x=1"]]
            assert d["headers"] == [["x-mixed", "v"], ["x-dup", "1"], ["x-dup", "2"]]
            data = payload(200_000, 5)
            r = c.request("POST", "/echo", body=data)
            assert (r.status, r.complete, r.body == data) == (200, True, True), r
            r = c.get("/dl", store_body=False)
            assert (r.body_len, r.body_sha256) == (300_000, sha256(payload(300_000, 3))), r
            assert c.ping()
        conns = u.connections()
        assert len(conns) == 1 and conns[0].protocol == "h2" and conns[0].streams == 3, conns
        assert u.errors == []
    finally:
        u.close()
