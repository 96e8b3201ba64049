"""TCP routes (Pomerium `from: tcp+https://host:port`, `to: tcp://…`): a client sends
`CONNECT host:port` over TLS, Vallum authorizes it like any route, answers `200` and tunnels raw
TCP to the upstream. `vallum tcp` is the client side (as `pomerium-cli tcp`): it listens locally
and opens one CONNECT tunnel per accepted connection.

Upstreams here are plain TCP servers on loopback (an echo, a banner server); the client is the
real `vallum tcp` binary, or a raw socket where the bytes on the wire are the point."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import threading
import time

import pytest

from lib.helpers import route, wait_until
from lib.upstream import refused_port
from lib.vallum import vallum_binary

DB = "db.example.test"


class TcpServer:
    """A loopback TCP server: sends `banner` on connect, then echoes every byte; passes the
    client's half-close back."""

    def __init__(self, banner: bytes = b""):
        self.banner = banner
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            if self.banner:
                c.sendall(self.banner)
            while True:
                d = c.recv(1 << 16)
                if not d:
                    break
                c.sendall(d)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.lsock.close()


@pytest.fixture
def tcp_servers():
    made = []

    def make(banner: bytes = b"") -> TcpServer:
        s = TcpServer(banner)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


class VallumTcp:
    """`vallum tcp` as a user runs it, stopped by PID."""

    def __init__(self, url: str, proxy_port: int, ca_file: str):
        self.proc = subprocess.Popen(
            [vallum_binary(), "tcp", "--listen", "127.0.0.1:0", "--ca-cert", ca_file,
             "--pomerium-url", f"https://127.0.0.1:{proxy_port}", url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on 127\.0\.0\.1:(\d+) for (\S+) via", line)
        assert m, line + self.proc.stderr.read()
        self.port = int(m.group(1))
        self.authority = m.group(2)

    def stop(self) -> str:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=5)
        return err


@pytest.fixture
def vallum_tcp(ca):
    started = []

    def start(url: str, v) -> VallumTcp:
        c = VallumTcp(url, v.port, ca.cert)
        started.append(c)
        return c

    yield start
    for c in started:
        c.stop()


def start(vallum, routes, **kw):
    return vallum(vallum.config(routes, **kw), concurrency=1)


def tcp_route(from_: str, to: str, **kw) -> dict:
    return route(from_, to, **kw)


def test_sixteen_mib_echo_through_vallum_tcp(vallum, tcp_servers, vallum_tcp):
    echo = tcp_servers()
    v = start(vallum, [tcp_route(f"tcp+https://{DB}:5432", f"tcp://127.0.0.1:{echo.port}")])
    client = vallum_tcp(f"tcp+https://{DB}:5432", v)
    assert client.authority == f"{DB}:5432"
    data = os.urandom(16 << 20)
    got = bytearray()
    s = socket.create_connection(("127.0.0.1", client.port))
    s.settimeout(20)

    def reader():
        while len(got) < len(data):
            d = s.recv(1 << 16)
            if not d:
                break
            got.extend(d)

    t = threading.Thread(target=reader)
    t.start()
    s.sendall(data)
    t.join(30)
    s.close()
    assert len(got) == len(data)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()
    wait_until(lambda: '"method":"CONNECT"' in v.stdout_text(), 5, what="the access log line")
    line = [json.loads(x) for x in v.stdout_text().splitlines() if '"method":"CONNECT"' in x][-1]
    assert line["status"] == 200 and line["authority"] == f"{DB}:5432", line
    assert line["bytes_in"] >= len(data) and line["bytes_out"] >= len(data), line


def test_two_ports_on_one_hostname_reach_two_upstreams(vallum, tcp_servers, vallum_tcp):
    a, b = tcp_servers(b"A-server\n"), tcp_servers(b"B-server\n")
    v = start(vallum, [tcp_route(f"tcp+https://{DB}:5432", f"tcp://127.0.0.1:{a.port}"),
                       tcp_route(f"tcp+https://{DB}:6379", f"tcp://127.0.0.1:{b.port}")])
    for port, banner in ((5432, b"A-server\n"), (6379, b"B-server\n")):
        client = vallum_tcp(f"tcp+https://{DB}:{port}", v)
        with socket.create_connection(("127.0.0.1", client.port), timeout=10) as s:
            got = b""
            while len(got) < len(banner):
                got += s.recv(100)
            assert got == banner


def test_path_form_names_the_connect_target(vallum, tcp_servers, vallum_tcp):
    """`tcp+https://proxy.example.test/db.internal:5432`: the CONNECT authority is the path."""
    echo = tcp_servers(b"internal\n")
    v = start(vallum, [tcp_route("tcp+https://proxy.example.test/db.internal:5432",
                                 f"tcp://127.0.0.1:{echo.port}")])
    client = vallum_tcp("tcp+https://proxy.example.test/db.internal:5432", v)
    assert client.authority == "db.internal:5432"
    with socket.create_connection(("127.0.0.1", client.port), timeout=10) as s:
        assert s.recv(100) == b"internal\n"


def raw_connect(v, target: str, host_header: str = None):
    c = v.conn(DB)
    c.sock.settimeout(10)
    c.sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {host_header or target}\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.sock.recv(4096)
        if not d:
            break
        buf += d
    return c, buf


def test_connect_answer_and_errors_on_the_wire(vallum, tcp_servers):
    echo = tcp_servers()
    dead = refused_port()
    v = start(vallum, [tcp_route(f"tcp+https://{DB}:5432", f"tcp://127.0.0.1:{echo.port}"),
                       tcp_route(f"tcp+https://{DB}:5433", f"tcp://127.0.0.1:{dead}"),
                       route(f"https://web.example.test", "http://127.0.0.1:9")])
    c, head = raw_connect(v, f"{DB}:5432")
    # RFC 9110 §9.3.6: a 2xx to CONNECT has no Content-Length or Transfer-Encoding.
    assert head == b"HTTP/1.1 200 OK\r\n\r\n", head
    c.sock.sendall(b"ping")
    assert c.sock.recv(10) == b"ping"
    c.close()

    c, head = raw_connect(v, f"{DB}:5999")  # no route for this port
    assert head.startswith(b"HTTP/1.1 404 "), head
    c.close()
    c, head = raw_connect(v, f"{DB}:5433")  # upstream refuses
    assert head.startswith(b"HTTP/1.1 503 "), head
    c.close()
    c, head = raw_connect(v, "no-port.example.test")
    assert head.startswith(b"HTTP/1.1 400 "), head
    c.close()
    # A tcp+https route answers CONNECT only: a GET for its host finds no route.
    with v.conn(DB) as plain:
        assert plain.get("/", host=f"{DB}:5432").status == 404
    assert echo.connections == 1


def test_connect_is_authorized_like_any_route(vallum, tcp_servers, vallum_tcp):
    echo = tcp_servers(b"hello\n")
    v = start(vallum, [
        tcp_route(f"tcp+https://{DB}:5432", f"tcp://127.0.0.1:{echo.port}",
                  allow_public_unauthenticated_access=False,
                  policy={"allow": {"and": [{"email": {"is": "dba@example.test"}}]}}),
        tcp_route(f"tcp+https://{DB}:5433", f"tcp://127.0.0.1:{echo.port}",
                  allow_public_unauthenticated_access=False,
                  policy={"allow": {"and": [{"source_ip": "127.0.0.1/32"}]}}),
    ])
    c, head = raw_connect(v, f"{DB}:5432")
    c.close()
    assert head.startswith(b"HTTP/1.1 401 "), head  # nobody can sign in here: not a tunnel
    assert echo.connections == 0
    denied = vallum_tcp(f"tcp+https://{DB}:5432", v)
    with socket.create_connection(("127.0.0.1", denied.port), timeout=10) as s:
        assert s.recv(100) == b""  # the local connection is closed
    err = denied.stop()
    assert "answered \"HTTP/1.1 401 Unauthorized\"" in err and "does not sign in yet" in err, err
    allowed = vallum_tcp(f"tcp+https://{DB}:5433", v)
    with socket.create_connection(("127.0.0.1", allowed.port), timeout=10) as s:
        assert s.recv(100) == b"hello\n"


def test_postgresql_through_vallum_tcp(vallum, vallum_tcp):
    """A real TCP protocol: psql talks to PostgreSQL 15 through `vallum tcp` and Vallum, with
    psql's SSLRequest, the startup, a query and a 100,000-row result."""
    from lib.postgres import Postgres, psql
    pg = Postgres()
    try:
        v = start(vallum, [tcp_route(f"tcp+https://{DB}:5432", f"tcp://127.0.0.1:{pg.port}")])
        client = vallum_tcp(f"tcp+https://{DB}:5432", v)
        r = psql(client.port, "select 40 + 2")
        assert r.returncode == 0 and r.stdout.strip() == "42", r
        r = psql(client.port, "select count(*), sum(i) from generate_series(1, 100000) as i")
        assert r.stdout.strip() == "100000|5000050000", r
        r = psql(client.port, "select string_agg(md5(i::text), '') from generate_series(1, 20000) i")
        assert len(r.stdout.strip()) == 20000 * 32, r.stderr
    finally:
        pg.stop()


def test_connect_over_http2(vallum, tcp_servers, ca):
    """RFC 9113 §8.5: CONNECT on an HTTP/2 stream (:method CONNECT and :authority only); the
    stream's DATA frames carry the tunnel both ways with flow control, END_STREAM ends each
    direction. 1 MiB crosses in each direction, beside an ordinary request on the same
    connection."""
    import time as _time
    from lib.h2client import H2Client, Resp, _Upload
    echo = tcp_servers()
    v = start(vallum, [tcp_route(f"tcp+https://{DB}:5432", f"tcp://127.0.0.1:{echo.port}"),
                       route("https://web.example.test", "http://127.0.0.1:9")])
    c = H2Client(v.port, sni=DB, ca_file=ca.cert)
    c.conn.config.validate_outbound_headers = False  # python3-h2 4.1 wants :path on CONNECT too
    data = os.urandom(1 << 20)
    sid = c.conn.get_next_available_stream_id()
    c.conn.send_headers(sid, [(":method", "CONNECT"), (":authority", f"{DB}:5432")])
    c.streams[sid] = Resp(sid, started_at=_time.monotonic(), granted=c.window)
    c.uploads[sid] = _Upload(memoryview(data), end=True)
    c.pump(lambda: c.streams[sid].ended or c.streams[sid].reset_code is not None, 30, "the echo")
    r = c.streams[sid]
    assert r.status == 200 and r.reset_code is None, r
    assert ("content-length" not in dict(r.headers)), r.headers
    assert bytes(r.body) == data
    # An unknown authority on the same connection: 404, the connection goes on.
    sid2 = c.conn.get_next_available_stream_id()
    c.conn.send_headers(sid2, [(":method", "CONNECT"), (":authority", f"{DB}:9999")], end_stream=True)
    c.streams[sid2] = Resp(sid2, started_at=_time.monotonic(), granted=c.window)
    c.wait([sid2])
    assert c.streams[sid2].status == 404
