"""Upgrades through the real binary (Pomerium `allow_websockets`, `allow_spdy`,
`allow_upgrades`; Envoy's upgrade handling): the request goes upstream with its `Connection:
upgrade` and `Upgrade`, a `101` turns both connections into one byte tunnel, an upgrade the
route does not allow gets 403 and reaches nobody.

Peers: the npm `ws` echo server (lib/ws_peer.py) behind Vallum, and two real clients — the
`ws` package's own client suite and Debian's python3-websockets. Raw sockets check the
handshake variants byte by byte. WebSockets are an HTTP/1.1 mechanism here (RFC 6455);
HTTP/2 clients would need RFC 8441 extended CONNECT, which Vallum does not offer."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import struct
import time

import pytest
import websockets

from lib.helpers import route, wait_until
from lib.upstream import Ctx, Echo
from lib.ws_peer import WsEcho, ws_check

WS = "ws.example.test"
PLAIN = "plain.example.test"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3's example pair


@pytest.fixture(scope="module")
def ws_echo(tmp_path_factory):
    peer = WsEcho(str(tmp_path_factory.mktemp("ws")))
    yield peer
    peer.stop()


# ----------------------------------------------------------------------------- raw frames


def client_frame(payload: bytes, opcode: int = 1) -> bytes:
    """A masked client frame (RFC 6455 §5.2), FIN set."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_exact(sock, n: int, pending: bytearray) -> bytes:
    while len(pending) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"closed with {len(pending)}/{n} bytes")
        pending += chunk
    out = bytes(pending[:n])
    del pending[:n]
    return out


def server_frame(sock, pending: bytearray):
    """(opcode, payload) of one unmasked server frame."""
    b0, b1 = read_exact(sock, 2, pending)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(sock, 2, pending))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(sock, 8, pending))[0]
    return b0 & 0x0F, read_exact(sock, n, pending)


def handshake(v, host: str, *, connection: str = "Upgrade", upgrade: str = "websocket",
              path: str = "/raw", extra: bytes = b""):
    """Opens a client connection, sends an upgrade request (and `extra` in the same write) and
    returns (socket, status, head text, bytes read past the head)."""
    c = v.conn(host)
    sock = c.sock
    sock.settimeout(10)
    req = (f"GET {path} HTTP/1.1\r\nHost: {v.authority(host)}\r\nConnection: {connection}\r\n"
           f"Upgrade: {upgrade}\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
    sock.sendall(req + extra)
    buf = bytearray()
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    text = head.decode("latin-1")
    status = int(text.split(" ", 2)[1]) if text else 0
    return c, status, text, bytearray(rest)


def header(head: str, name: str):
    for line in head.split("\r\n")[1:]:
        k, _, val = line.partition(":")
        if k.strip().lower() == name.lower():
            return val.strip()
    return None


def start(vallum, routes, **globals_):
    return vallum(vallum.config(routes, **globals_), concurrency=1)


# ----------------------------------------------------------------------------- real clients


@pytest.mark.parametrize("tls", [True, False], ids=["wss", "ws"])
def test_ws_client_suite_through_vallum(vallum, ws_echo, ca, tls):
    """The npm `ws` client's whole suite: handshake with permessage-deflate, text and binary
    echo, a fragmented message, 1 MiB, 500 messages in order, ping/pong, a server-initiated
    close with its code and reason, a client-initiated close."""
    if tls:
        v = start(vallum, [route(f"https://{WS}", ws_echo.url, allow_websockets=True)])
        url, env = f"wss://127.0.0.1:{v.port}/suite", {"NODE_EXTRA_CA_CERTS": ca.cert}
    else:
        v = vallum(vallum.config([route(f"https://{WS}", ws_echo.url, allow_websockets=True)],
                                 insecure_server=True, certificates=[]), concurrency=1)
        url, env = f"ws://127.0.0.1:{v.port}/suite", {}
    code, out = ws_check(url, [f"Host: {WS}"], env)
    assert code == 0, out
    assert "ws-check: 9 passed, 0 failed" in out, out
    assert "extensions: permessage-deflate" in out, out


def python_client(v, ca, path="/py", **kw):
    ctx = ssl.create_default_context(cafile=ca.cert)
    return websockets.connect(f"wss://{WS}:{v.port}{path}", host="127.0.0.1", port=v.port, ssl=ctx,
                              server_hostname=WS, max_size=None, **kw)


def test_python_websockets_client(vallum, ws_echo, ca):
    """Debian's python3-websockets: frames both ways, 1 MiB, permessage-deflate negotiated end
    to end (Vallum passes the extension headers and the compressed frames untouched), and the
    server's close code."""
    v = start(vallum, [route(f"https://{WS}", ws_echo.url, allow_websockets=True)])

    async def run():
        async with python_client(v, ca, "/headers") as ws:
            seen = json.loads(await ws.recv())  # the upgrade request as the backend saw it
            assert seen["upgrade"] == "websocket" and seen["connection"].lower() == "upgrade", seen
            assert "permessage-deflate" in seen["sec-websocket-extensions"], seen
            assert seen["host"] == f"127.0.0.1:{ws_echo.port}", seen  # Host is the `to` (Pomerium's default)
            assert [e.name for e in ws.extensions] == ["permessage-deflate"]
            await ws.send("hello")
            assert await ws.recv() == "hello"
            blob = os.urandom(1 << 20)
            await ws.send(blob)
            assert await ws.recv() == blob
            text = "x" * 200_000  # compresses well: deflated frames cross the tunnel
            await ws.send(text)
            assert await ws.recv() == text
            await ws.send("close:4001:bye-from-server")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.code == 4001 and closed.value.reason == "bye-from-server"

    asyncio.run(asyncio.wait_for(run(), 30))
    wait_until(lambda: '"status":101' in v.stdout_text(), 5, what="the access log line")
    line = [json.loads(x) for x in v.stdout_text().splitlines() if '"status":101' in x][-1]
    assert line["bytes_in"] > 1 << 20 and line["bytes_out"] > 1 << 20, line


# ----------------------------------------------------------------------------- handshake rules


@pytest.mark.parametrize("connection", ["Upgrade", "upgrade", "keep-alive, Upgrade", "UPGRADE,keep-alive",
                                        "foo,  upgrade , bar"])
def test_connection_token_variants(vallum, ws_echo, connection):
    v = start(vallum, [route(f"https://{WS}", ws_echo.url, allow_websockets=True)])
    c, status, head, pending = handshake(v, WS, connection=connection, upgrade="WebSocket")
    try:
        assert status == 101, head
        assert header(head, "upgrade").lower() == "websocket", head
        assert header(head, "connection").lower() == "upgrade", head
        assert header(head, "sec-websocket-accept") == ACCEPT, head
        assert header(head, "content-length") is None and header(head, "transfer-encoding") is None, head
        c.sock.sendall(client_frame(b"variant"))
        assert server_frame(c.sock, pending) == (1, b"variant")
    finally:
        c.close()


def test_first_frame_in_the_same_write_as_the_handshake(vallum, ws_echo):
    """Bytes the client sends right behind its request head belong to the tunnel."""
    v = start(vallum, [route(f"https://{WS}", ws_echo.url, allow_websockets=True)])
    c, status, head, pending = handshake(v, WS, extra=client_frame(b"eager"))
    try:
        assert status == 101, head
        assert server_frame(c.sock, pending) == (1, b"eager")
    finally:
        c.close()


def test_upgrade_refused_on_a_route_without_it(vallum, upstream):
    u = upstream("no-ws")
    private = route(f"https://private.example.test", u.url, allow_public_unauthenticated_access=False,
                    policy={"allow": {"and": [{"email": {"is": "a@example.test"}}]}})
    v = start(vallum, [route(f"https://{PLAIN}", u.url), private])
    for host in (PLAIN, "private.example.test"):
        c, status, head, _ = handshake(v, host)
        c.close()
        # 403 before authentication: no sign-in redirect, not even for the anonymous client.
        assert status == 403, head
    time.sleep(0.2)
    assert u.requests() == []  # nothing reached the upstream
    # An ordinary request on the same route is served.
    with v.conn(PLAIN) as c:
        assert c.get("/").status == 200


class Switch:
    """An upstream that answers an upgrade with 101 for `token` and then echoes bytes upper-cased."""

    def __init__(self, token: str):
        self.token = token

    def __call__(self, ctx: Ctx) -> bool:
        ctx.read_body()
        if (ctx.record.header("upgrade") or "").lower() != self.token.lower():
            ctx.reply(400, b"wrong upgrade\n")
            return False
        ctx.send(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: {self.token}\r\nConnection: Upgrade\r\n\r\n".encode())
        while True:
            data = ctx.sock.recv(65536)
            if not data:
                break
            ctx.sock.sendall(data.upper())
        ctx.sock.shutdown(socket.SHUT_WR)
        return False


@pytest.mark.parametrize("token,keys", [("SPDY/3.1", {"allow_spdy": True}),
                                        ("custom-proto", {"allow_upgrades": ["Custom-Proto"]})])
def test_spdy_and_other_upgrade_tokens(vallum, upstream, token, keys):
    u = upstream("switch").on("/", Switch(token))
    v = start(vallum, [route(f"https://{PLAIN}", u.url, **keys)])
    c, status, head, pending = handshake(v, PLAIN, upgrade=token)
    try:
        assert status == 101, head
        assert header(head, "upgrade") == token, head
        c.sock.sendall(b"bytes, not frames")
        while len(pending) < len(b"BYTES, NOT FRAMES"):
            pending += c.sock.recv(100)
        assert bytes(pending) == b"BYTES, NOT FRAMES"
        # The end travels through both ways: the client's close_notify reaches the upstream as
        # EOF, the upstream's EOF comes back as Vallum's close_notify (unwrap() waits for it).
        c.sock.unwrap()
    finally:
        c.close()
    rec = u.requests()[-1]
    assert rec.header("upgrade") == token and rec.header("connection").lower() == "upgrade", rec.headers


def test_global_allow_upgrades(vallum, upstream):
    u = upstream("switch").on("/", Switch("global-proto"))
    v = start(vallum, [route(f"https://{PLAIN}", u.url)], allow_upgrades=["global-proto"])
    c, status, head, _ = handshake(v, PLAIN, upgrade="Global-Proto")
    c.close()
    assert status == 101, head


def test_a_non_101_answer_is_an_ordinary_response(vallum, upstream):
    u = upstream("refuses").on("/", Echo(status=426, headers=[("X-Why", "no websockets here")]))
    v = start(vallum, [route(f"https://{WS}", u.url, allow_websockets=True)])
    c, status, head, _ = handshake(v, WS)
    c.close()
    assert status == 426, head
    assert header(head, "x-why") == "no websockets here", head
    assert header(head, "upgrade") is None, head
    assert u.requests()[-1].header("upgrade") == "websocket"


# ----------------------------------------------------------------------------- timeouts


def test_idle_websocket_outlives_the_route_timeout(vallum, ws_echo, ca):
    """default_upstream_timeout does not apply to websocket routes (Pomerium: long-lived)."""
    v = start(vallum, [route(f"https://{WS}", ws_echo.url, allow_websockets=True)],
              default_upstream_timeout="1s")

    async def run():
        async with python_client(v, ca, ping_interval=None) as ws:
            await asyncio.sleep(2.5)
            await ws.send("still here")
            assert await ws.recv() == "still here"

    asyncio.run(asyncio.wait_for(run(), 20))


def test_idle_timeout_closes_an_idle_tunnel_but_not_an_active_one(vallum, ws_echo, ca):
    v = start(vallum, [route(f"https://{WS}", ws_echo.url, allow_websockets=True, idle_timeout="2s")])

    async def idle():
        async with python_client(v, ca, "/idle", ping_interval=None) as ws:
            started = time.monotonic()
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            return time.monotonic() - started

    async def active():
        async with python_client(v, ca, "/active", ping_interval=None) as ws:
            for i in range(9):  # 4.5 s of traffic every 0.5 s
                await ws.send(f"m{i}")
                assert await ws.recv() == f"m{i}"
                await asyncio.sleep(0.5)

    async def both():
        return await asyncio.gather(idle(), active())

    idle_for, _ = asyncio.run(asyncio.wait_for(both(), 30))
    assert 1.8 <= idle_for <= 4.0, idle_for
    wait_until(lambda: "idle_timeout (2000 ms without traffic)" in v.stderr_text(), 5, what="the log line")


def test_timeout_write_ends_tunnels_too(vallum, ws_echo, ca):
    """timeout_write is Envoy's max_stream_duration: it ends every stream, tunnels included."""
    v = start(vallum, [route(f"https://{WS}", ws_echo.url, allow_websockets=True)], timeout_write="2s")

    async def run():
        async with python_client(v, ca, ping_interval=None) as ws:
            started = time.monotonic()
            with pytest.raises(websockets.ConnectionClosed):
                for i in range(40):
                    await ws.send(f"m{i}")
                    await ws.recv()
                    await asyncio.sleep(0.25)
            return time.monotonic() - started

    lasted = asyncio.run(asyncio.wait_for(run(), 30))
    assert 1.5 <= lasted <= 4.5, lasted
