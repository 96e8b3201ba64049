"""H2Upstream: a real cleartext HTTP/2 origin (h2c, prior knowledge) on 127.0.0.1:0, built on
Debian's python3-h2 (the `h2` protocol library, no mock), that records every connection and
every request exactly as it arrived and answers with scriptable behaviours.

One thread per TCP connection reads and feeds the h2 state machine; one writer thread per
connection sends the bytes h2 produces, in order; every request stream gets its own handler
thread once its request has ended (END_STREAM), so a slow stream never holds up the others on
the same connection. All h2 state is touched under one lock per connection.

A connection whose first bytes are not the HTTP/2 preface (`PRI * HTTP/2.0`) is served as
HTTP/1.1 instead, with the same behaviours, and recorded with protocol "h1".

Records:
  .conns       ConnRecord per TCP connection: protocol "h2"/"h1", streams (requests carried),
               max_open (most request streams open at once), goaway_from_peer, closed
  .records     H2Request per request: pseudo-headers and headers in order as received (names
               and values exactly as on the wire), body bytes, whether it ended, whether the
               peer reset it, its connection and stream id

Behaviours are picked per path prefix (`on("/slow", Delay(1))`) or for the whole server
(`default=...`). A behaviour is a callable(ctx: StreamCtx). The default is EchoJson (200 +
a JSON description of the request). Every response carries x-h2-server, x-h2-conn,
x-h2-stream and x-h2-protocol so a client can tell where it was served.

Flow control is honoured: DATA goes out only inside the peer's stream and connection windows
(a sender waits for WINDOW_UPDATE), and received DATA is acknowledged
(acknowledge_received_data) as soon as it is recorded.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import queue
import select
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

import pytest

from .upstream import payload, sha256

Headers = List[Tuple[str, str]]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
IO_TIMEOUT = 30.0
DEFAULT_MAX_STREAMS = 1000  # more than Vallum's own cap (100), so its cap is what a test sees


class StreamGone(Exception):
    """The stream (or the whole connection) went away while a behaviour was answering."""


def _s(b) -> str:
    return b.decode("latin-1") if isinstance(b, (bytes, bytearray)) else str(b)


# ----------------------------------------------------------------------------- records


@dataclass
class ConnRecord:
    id: int
    peer: Tuple[str, int]
    protocol: str = "?"  # "h2" | "h1"
    alpn: Optional[str] = None  # TLS: the protocol ALPN chose (None: none, or cleartext)
    streams: int = 0  # requests carried
    open: int = 0  # request streams open right now (h2: h2's open_inbound_streams)
    max_open: int = 0
    opened_at: float = 0.0
    closed: bool = False
    goaway_from_peer: Optional[int] = None  # error code of a GOAWAY the client sent
    resets_from_peer: List[Tuple[int, int]] = field(default_factory=list)  # (stream id, error code)


@dataclass
class H2Request:
    server: str
    conn_id: int
    stream_id: int  # 0 for HTTP/1.1
    index: int  # 1-based over the whole server
    protocol: str
    pseudo: Headers  # (":method", "GET"), ... in order as received (h1: synthesized)
    headers: Headers  # regular fields in order, names and values exactly as received
    raw: Headers = field(default_factory=list)  # every field (pseudo included) in wire order
    body: bytearray = field(default_factory=bytearray)
    trailers: Headers = field(default_factory=list)
    ended: bool = False  # END_STREAM / end of the HTTP/1.1 body seen
    reset_by_peer: Optional[int] = None  # RST_STREAM error code from the client
    received_at: float = 0.0
    ended_at: float = 0.0
    data_frames: int = 0

    def p(self, name: str) -> Optional[str]:
        for k, v in self.pseudo:
            if k == name:
                return v
        return None

    @property
    def method(self) -> str:
        return self.p(":method") or ""

    @property
    def path(self) -> str:
        return (self.p(":path") or "").split("?", 1)[0]

    @property
    def target(self) -> str:
        return self.p(":path") or ""

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def headers_all(self, name: str) -> List[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def names(self) -> List[str]:
        return [k for k, _ in self.headers]

    @property
    def body_sha256(self) -> str:
        return hashlib.sha256(bytes(self.body)).hexdigest()

    def describe(self) -> dict:
        return {"protocol": self.protocol, "conn": self.conn_id, "stream": self.stream_id,
                "pseudo": [[k, v] for k, v in self.pseudo], "headers": [[k, v] for k, v in self.headers],
                "body_len": len(self.body), "body_sha256": self.body_sha256}


# ----------------------------------------------------------------------------- stream contexts


class StreamCtx:
    """What a behaviour gets for one HTTP/2 request stream (its request has ended)."""

    def __init__(self, server: "H2Upstream", conn: "_H2Conn", rec: H2Request):
        self.server, self.conn, self.record = server, conn, rec
        self.sid = rec.stream_id

    def tag_headers(self) -> Headers:
        return [("x-h2-server", self.server.name), ("x-h2-conn", str(self.record.conn_id)),
                ("x-h2-stream", str(self.sid)), ("x-h2-protocol", "h2")]

    def send_head(self, status: int, headers: Headers = (), end_stream: bool = False) -> None:
        hs = [(":status", str(status))] + self.tag_headers() + [(k.lower(), v) for k, v in headers]
        self.conn.call(lambda c: c.send_headers(self.sid, hs, end_stream=end_stream), self.sid)

    def send_body(self, data: bytes, end_stream: bool = True) -> None:
        self.conn.send_data(self.sid, data, end_stream)

    def reset(self, error_code: int = h2.errors.ErrorCodes.INTERNAL_ERROR) -> None:
        self.conn.call(lambda c: c.reset_stream(self.sid, error_code), self.sid)

    def goaway_and_close(self) -> None:
        """GOAWAY (NO_ERROR, last stream = the highest seen) and close the connection."""
        self.conn.goaway_and_close()


class H1Ctx:
    """The same interface over an HTTP/1.1 connection (a client that did not speak h2c)."""

    def __init__(self, server: "H2Upstream", sock: socket.socket, rec: H2Request):
        self.server, self.sock, self.record = server, sock, rec
        self.sid = 0
        self.chunked = False
        self.close_after = False
        self.no_body = False

    def tag_headers(self) -> Headers:
        return [("x-h2-server", self.server.name), ("x-h2-conn", str(self.record.conn_id)),
                ("x-h2-stream", "0"), ("x-h2-protocol", "h1")]

    def send_head(self, status: int, headers: Headers = (), end_stream: bool = False) -> None:
        hs = self.tag_headers() + list(headers)
        names = {k.lower() for k, _ in hs}
        self.no_body = self.record.method == "HEAD" or status in (204, 304) or 100 <= status < 200
        if not self.no_body and "content-length" not in names:
            if end_stream:
                hs.append(("content-length", "0"))
            else:
                hs.append(("transfer-encoding", "chunked"))
                self.chunked = True
        out = [f"HTTP/1.1 {status} X\r\n".encode()] + [f"{k}: {v}\r\n".encode("latin-1") for k, v in hs]
        self.sock.sendall(b"".join(out) + b"\r\n")

    def send_body(self, data: bytes, end_stream: bool = True) -> None:
        if self.no_body:
            return
        if self.chunked:
            out = (b"%x\r\n" % len(data) + data + b"\r\n") if data else b""
            self.sock.sendall(out + (b"0\r\n\r\n" if end_stream else b""))
        elif data:
            self.sock.sendall(data)

    def reset(self, error_code: int = 0) -> None:
        self.close_after = True
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        raise StreamGone("h1 reset")

    def goaway_and_close(self) -> None:
        self.close_after = True


# ----------------------------------------------------------------------------- behaviours


def _head_only(ctx) -> bool:
    return ctx.record.method == "HEAD"


class Fixed:
    """status + body + headers; content-length unless content_length=False (204/304 and HEAD
    answers carry no DATA)."""

    def __init__(self, status: int = 200, body: bytes = b"", headers: Headers = (), content_length: bool = True):
        self.status, self.body, self.headers, self.content_length = status, body, list(headers), content_length

    def __call__(self, ctx) -> None:
        hs = list(self.headers)
        no_body = self.status in (204, 304)
        if self.content_length and not no_body:
            hs.append(("content-length", str(len(self.body))))
        if no_body or _head_only(ctx) or not self.body:
            ctx.send_head(self.status, hs, end_stream=True)
            return
        ctx.send_head(self.status, hs)
        ctx.send_body(self.body, end_stream=True)


class EchoJson:
    """200 + JSON describing the request (pseudo-headers, headers, body length and sha256)."""

    def __call__(self, ctx) -> None:
        Fixed(200, json.dumps(ctx.record.describe()).encode(), [("content-type", "application/json")])(ctx)


class EchoBody:
    """200 with the request body sent back (after the request ended), with content-length
    unless content_length=False."""

    def __init__(self, content_length: bool = True):
        self.content_length = content_length

    def __call__(self, ctx) -> None:
        body = bytes(ctx.record.body)
        hs = [("content-type", "application/octet-stream"), ("x-request-body-sha256", sha256(body))]
        if self.content_length:
            hs.append(("content-length", str(len(body))))
        if not body:
            ctx.send_head(200, hs, end_stream=True)
            return
        ctx.send_head(200, hs)
        ctx.send_body(body, end_stream=True)


class Download:
    """200 + `size` deterministic bytes (upstream.payload(size, seed)), with or without
    content-length; x-body-sha256 names their hash."""

    def __init__(self, size: int, content_length: bool = True, seed: int = 7):
        self.size, self.content_length, self.seed = size, content_length, seed

    def data(self) -> bytes:
        return payload(self.size, self.seed)

    def __call__(self, ctx) -> None:
        data = self.data()
        hs = [("x-body-sha256", sha256(data))]
        if self.content_length:
            hs.append(("content-length", str(len(data))))
        if _head_only(ctx):
            ctx.send_head(200, hs, end_stream=True)
            return
        ctx.send_head(200, hs)
        ctx.send_body(data, end_stream=True)


class Delay:
    """Waits `seconds` before the response head, then runs `then` (default EchoJson)."""

    def __init__(self, seconds: float, then: Optional[Callable] = None):
        self.seconds, self.then = seconds, then or EchoJson()

    def __call__(self, ctx) -> None:
        time.sleep(self.seconds)
        self.then(ctx)


class Gate:
    """Holds every request until the server has received `n` requests in all (or `max_wait`
    seconds passed), then runs `then`: keeps n streams open at the same time."""

    def __init__(self, n: int, max_wait: float = 5.0, then: Optional[Callable] = None):
        self.n, self.max_wait, self.then = n, max_wait, then or EchoJson()

    def __call__(self, ctx) -> None:
        ctx.server.wait_requests(self.n, timeout=self.max_wait, ended=False, raise_on_timeout=False)
        self.then(ctx)


class ResetBeforeHead:
    """RST_STREAM (`error_code`, default INTERNAL_ERROR) instead of any response."""

    def __init__(self, error_code: int = h2.errors.ErrorCodes.INTERNAL_ERROR):
        self.error_code = error_code

    def __call__(self, ctx) -> None:
        ctx.reset(self.error_code)


class ResetMidBody:
    """Head announcing `total` bytes (content-length, or none), `sent` of them, then
    RST_STREAM (INTERNAL_ERROR)."""

    def __init__(self, total: int, sent: int, content_length: bool = True, seed: int = 9):
        self.total, self.sent, self.content_length, self.seed = total, sent, content_length, seed

    def __call__(self, ctx) -> None:
        hs = [("content-length", str(self.total))] if self.content_length else []
        ctx.send_head(200, hs)
        ctx.send_body(payload(self.total, self.seed)[: self.sent], end_stream=False)
        time.sleep(0.1)  # the DATA leaves (and is forwarded) before the reset
        ctx.reset(h2.errors.ErrorCodes.INTERNAL_ERROR)


class GoawayAfter:
    """Runs `then` (default EchoJson), then GOAWAY (NO_ERROR) and closes the connection."""

    def __init__(self, then: Optional[Callable] = None):
        self.then = then or EchoJson()

    def __call__(self, ctx) -> None:
        self.then(ctx)
        ctx.goaway_and_close()


# ----------------------------------------------------------------------------- one h2 connection


class _H2Conn:
    def __init__(self, server: "H2Upstream", sock: socket.socket, rec: ConnRecord, first: bytes):
        self.server, self.sock, self.rec, self.first = server, sock, rec, first
        cfg = h2.config.H2Configuration(client_side=False, header_encoding=None,
                                        validate_inbound_headers=False, normalize_inbound_headers=False)
        self.h2 = h2.connection.H2Connection(config=cfg)
        self.h2.local_settings = h2.settings.Settings(client=False, initial_values={
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: server.max_concurrent_streams,
            h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 1 << 20,
        })
        self.cv = threading.Condition()  # guards self.h2 and the stream table
        self.out: "queue.Queue[Optional[bytes]]" = queue.Queue()
        self.requests: Dict[int, H2Request] = {}
        self.dead = False  # socket failed or closed
        self.closing = False  # GOAWAY sent: no more frames are processed
        self.writer = threading.Thread(target=self._write_loop, name=f"{server.name}-w{rec.id}", daemon=True)

    # -- output (always called with self.cv held, so frames go out in h2's order)
    def _flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.out.put(data)

    def _write_loop(self) -> None:
        while True:
            d = self.out.get()
            if d is None:
                break
            try:
                self.sock.sendall(d)
            except OSError:
                with self.cv:
                    self.dead = True
                    self.cv.notify_all()
                break

    def call(self, fn, sid: int) -> None:
        """fn(h2conn) under the lock, then flush; StreamGone when the stream or connection is gone."""
        with self.cv:
            self._check(sid)
            try:
                fn(self.h2)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError) as e:
                raise StreamGone(f"stream {sid}: {type(e).__name__}: {e}")
            self._flush()
            self._update_open()

    def _check(self, sid: int) -> None:
        if self.dead or self.closing:
            raise StreamGone("connection closed")
        r = self.requests.get(sid)
        if r is not None and r.reset_by_peer is not None:
            raise StreamGone(f"stream {sid} reset by peer ({r.reset_by_peer})")

    def send_data(self, sid: int, data: bytes, end_stream: bool) -> None:
        """Sends DATA inside the flow-control windows, waiting for WINDOW_UPDATEs."""
        mv = memoryview(data)
        pos = 0
        deadline = time.monotonic() + IO_TIMEOUT
        while True:
            with self.cv:
                while True:
                    self._check(sid)
                    try:
                        window = min(self.h2.local_flow_control_window(sid), self.h2.max_outbound_frame_size)
                    except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError) as e:
                        raise StreamGone(f"stream {sid}: {e}")
                    if window > 0 or pos == len(mv):
                        break
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise StreamGone(f"stream {sid}: no WINDOW_UPDATE within {IO_TIMEOUT}s")
                    self.cv.wait(min(left, 0.5))
                n = min(window, len(mv) - pos)
                last = pos + n == len(mv)
                try:
                    self.h2.send_data(sid, bytes(mv[pos : pos + n]), end_stream=end_stream and last)
                except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError) as e:
                    raise StreamGone(f"stream {sid}: {e}")
                pos += n
                self._flush()
                self._update_open()
                if last:
                    return

    def goaway_and_close(self) -> None:
        with self.cv:
            if self.dead or self.closing:
                return
            self.h2.close_connection(error_code=h2.errors.ErrorCodes.NO_ERROR,
                                     last_stream_id=self.h2.highest_inbound_stream_id)
            self._flush()
            self.closing = True
            self.cv.notify_all()
        self.out.put(None)
        self.writer.join(5)
        try:
            self.sock.shutdown(socket.SHUT_WR)  # FIN after the GOAWAY; the reader drains to EOF
        except OSError:
            pass

    def _update_open(self) -> None:
        n = self.h2.open_inbound_streams
        with self.server._cv:
            self.rec.open = n
            self.rec.max_open = max(self.rec.max_open, n)

    # -- the reader
    def run(self) -> None:
        self.writer.start()
        with self.cv:
            self.h2.initiate_connection()
            self._flush()
        data = self.first
        try:
            while True:
                if data:
                    if self.closing:
                        pass  # after our GOAWAY: drain until the peer closes
                    else:
                        self._receive(data)
                try:
                    data = self.sock.recv(262144)
                except (socket.timeout, OSError):
                    data = b""
                if not data:
                    return
        finally:
            with self.cv:
                self.dead = True
                self.cv.notify_all()
            self.out.put(None)
            self.writer.join(5)

    def _receive(self, data: bytes) -> None:
        handlers = []
        with self.cv:
            try:
                events = self.h2.receive_data(data)
            except h2.exceptions.ProtocolError as e:
                self.server._error(f"c{self.rec.id}: h2 protocol error from the client: {type(e).__name__}: {e}")
                self._flush()
                self.closing = True
                self.cv.notify_all()
                return
            for ev in events:
                self._event(ev, handlers)
            self._flush()
            self._update_open()
            self.cv.notify_all()
        for rec in handlers:
            threading.Thread(target=self._handle, args=(rec,), name=f"{self.server.name}-c{self.rec.id}-s{rec.stream_id}",
                             daemon=True).start()

    def _event(self, ev, handlers: list) -> None:
        srv = self.server
        if isinstance(ev, h2.events.RequestReceived):
            pseudo, regular = [], []
            raw = [(_s(k), _s(v)) for k, v in ev.headers]
            for k, v in raw:
                (pseudo if k.startswith(":") else regular).append((k, v))
            rec = H2Request(server=srv.name, conn_id=self.rec.id, stream_id=ev.stream_id, index=0, protocol="h2",
                            pseudo=pseudo, headers=regular, raw=raw, received_at=time.monotonic())
            self.requests[ev.stream_id] = rec
            with srv._cv:
                rec.index = next(srv._index)
                srv.records.append(rec)
                self.rec.streams += 1
                srv._cv.notify_all()
        elif isinstance(ev, h2.events.DataReceived):
            rec = self.requests.get(ev.stream_id)
            if rec is not None:
                rec.body += ev.data
                rec.data_frames += 1
            if ev.flow_controlled_length:
                try:
                    self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                    pass
        elif isinstance(ev, h2.events.TrailersReceived):
            rec = self.requests.get(ev.stream_id)
            if rec is not None:
                rec.trailers = [(_s(k), _s(v)) for k, v in ev.headers]
        elif isinstance(ev, h2.events.StreamEnded):
            rec = self.requests.get(ev.stream_id)
            if rec is not None and not rec.ended:
                self._ended(rec, handlers)
        elif isinstance(ev, h2.events.StreamReset):
            rec = self.requests.get(ev.stream_id)
            if ev.remote_reset:
                with srv._cv:
                    self.rec.resets_from_peer.append((ev.stream_id, int(ev.error_code)))
                    if rec is not None:
                        rec.reset_by_peer = int(ev.error_code)
                    srv._cv.notify_all()
        elif isinstance(ev, h2.events.ConnectionTerminated):
            with srv._cv:
                self.rec.goaway_from_peer = int(ev.error_code)
                srv._cv.notify_all()

    def _ended(self, rec: H2Request, handlers: list) -> None:
        with self.server._cv:
            rec.ended = True
            rec.ended_at = time.monotonic()
            self.server._cv.notify_all()
        handlers.append(rec)

    def _handle(self, rec: H2Request) -> None:
        ctx = StreamCtx(self.server, self, rec)
        try:
            self.server._behaviour(rec.path)(ctx)
        except StreamGone as e:
            self.server._note(f"c{self.rec.id} s{rec.stream_id}: {e}")
        except Exception as e:  # pragma: no cover - a harness bug: make it visible
            self.server._error(f"c{self.rec.id} s{rec.stream_id}: behaviour raised {type(e).__name__}: {e}")
            try:
                ctx.reset()
            except StreamGone:
                pass


# ----------------------------------------------------------------------------- HTTP/1.1 fallback


class _H1Reader:
    def __init__(self, sock: socket.socket, first: bytes):
        self.sock, self.buf = sock, bytearray(first)

    def _fill(self) -> bool:
        try:
            d = self.sock.recv(262144)
        except OSError:
            d = b""
        if not d:
            return False
        self.buf += d
        return True

    def until(self, sep: bytes) -> Optional[bytes]:
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[: i + len(sep)]
                return out
            if len(self.buf) > (1 << 20) or not self._fill():
                return None

    def exactly(self, n: int) -> Optional[bytes]:
        while len(self.buf) < n:
            if not self._fill():
                return None
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


def _serve_h1(server: "H2Upstream", sock: socket.socket, crec: ConnRecord, first: bytes) -> None:
    rd = _H1Reader(sock, first)
    while True:
        head = rd.until(b"\r\n\r\n")
        if head is None:
            return
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        headers: Headers = []
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers.append((k, v.strip(" \t")))
        rec = H2Request(server=server.name, conn_id=crec.id, stream_id=0, index=0, protocol="h1",
                        pseudo=[(":method", parts[0]), (":path", parts[1] if len(parts) > 1 else ""),
                                (":version", parts[2] if len(parts) > 2 else "")],
                        headers=headers, raw=list(headers), received_at=time.monotonic())
        with server._cv:
            rec.index = next(server._index)
            server.records.append(rec)
            crec.streams += 1
            crec.open = 1
            crec.max_open = max(crec.max_open, 1)
            server._cv.notify_all()
        te = ",".join(rec.headers_all("transfer-encoding")).lower()
        if "chunked" in te:
            while True:
                line = rd.until(b"\r\n")
                if line is None:
                    return
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while rd.until(b"\r\n") not in (b"", None):
                        pass
                    break
                d = rd.exactly(size + 2)
                if d is None:
                    return
                rec.body += d[:-2]
        elif rec.header("content-length"):
            d = rd.exactly(int(rec.header("content-length")))
            if d is None:
                return
            rec.body += d
        with server._cv:
            rec.ended, rec.ended_at = True, time.monotonic()
            server._cv.notify_all()
        ctx = H1Ctx(server, sock, rec)
        try:
            server._behaviour(rec.path)(ctx)
        except StreamGone:
            return
        finally:
            with server._cv:
                crec.open = 0
        if ctx.close_after or "close" in (rec.header("connection") or "").lower():
            return


# ----------------------------------------------------------------------------- server


def _tls_bridge(tls_sock: ssl.SSLSocket, timeout: float) -> socket.socket:
    """A plain socket whose peer end one thread relays to and from `tls_sock`: the h2 server
    reads and writes from two threads, which Python's ssl sockets do not allow at once."""
    inner, outer = socket.socketpair()
    inner.settimeout(timeout)

    def relay() -> None:
        try:
            while True:
                ready = [tls_sock] if tls_sock.pending() else []
                if not ready:
                    ready, _, _ = select.select([tls_sock, outer], [], [], timeout)
                    if not ready:
                        return
                if tls_sock in ready or tls_sock.pending():
                    data = tls_sock.recv(65536)
                    if not data:
                        return
                    outer.sendall(data)
                if outer in ready:
                    data = outer.recv(65536)
                    if not data:
                        return
                    tls_sock.sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            for sock in (outer, tls_sock):
                try:
                    sock.close()
                except OSError:
                    pass

    threading.Thread(target=relay, name="h2up-tls", daemon=True).start()
    return inner


class H2Upstream:
    """h2c origin on 127.0.0.1 (port 0 = a free one). `url` is h2c://127.0.0.1:PORT."""

    def __init__(self, name: str = "h2", default: Optional[Callable] = None, port: int = 0,
                 max_concurrent_streams: int = DEFAULT_MAX_STREAMS,
                 tls: Optional[Tuple[str, str]] = None, alpn: Tuple[str, ...] = ("h2", "http/1.1")):
        """`tls` = (cert file, key file): serve TLS instead (`url` is https://), choosing from
        `alpn` by the server's preference (empty: no ALPN answer); the protocol spoken is still
        decided by the first bytes (the HTTP/2 preface or not)."""
        self.name = name
        self.default = default or EchoJson()
        self.routes: List[Tuple[str, Callable]] = []
        self.max_concurrent_streams = max_concurrent_streams
        self.records: List[H2Request] = []
        self.conns: List[ConnRecord] = []
        self.errors: List[str] = []  # harness or protocol problems (tests assert it stays empty)
        self.notes: List[str] = []  # expected stream aborts (reset by peer, connection gone)
        self._cv = threading.Condition()
        self._conn_ids = itertools.count(1)
        self._index = itertools.count(1)
        self._socks: Dict[int, socket.socket] = {}
        self._closed = False
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port))
        self.lsock.listen(512)
        self.port = self.lsock.getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"
        self.url = f"h2c://127.0.0.1:{self.port}"
        self._tls: Optional[ssl.SSLContext] = None
        if tls is not None:
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(tls[0], tls[1])
            if alpn:
                self._tls.set_alpn_protocols(list(alpn))
            self.url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept_loop, name=f"h2up-{name}", daemon=True)
        self._thread.start()

    # -- configuration
    def on(self, prefix: str, behaviour: Callable) -> "H2Upstream":
        """Requests whose path starts with `prefix` get `behaviour` (first registered match wins)."""
        self.routes.append((prefix, behaviour))
        return self

    def _behaviour(self, path: str) -> Callable:
        for prefix, b in self.routes:
            if path.startswith(prefix):
                return b
        return self.default

    # -- inspection
    def _error(self, msg: str) -> None:
        with self._cv:
            self.errors.append(msg)

    def _note(self, msg: str) -> None:
        with self._cv:
            self.notes.append(msg)

    def requests(self, path: Optional[str] = None) -> List[H2Request]:
        with self._cv:
            recs = list(self.records)
        return [r for r in recs if path is None or r.path == path]

    def connections(self) -> List[ConnRecord]:
        with self._cv:
            return list(self.conns)

    def conn(self, cid: int) -> ConnRecord:
        with self._cv:
            return next(c for c in self.conns if c.id == cid)

    def wait_for(self, pred: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        with self._cv:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"h2 upstream {self.name}: timed out after {timeout}s waiting for "
                                         f"{what or pred}; requests {[(r.conn_id, r.stream_id, r.target) for r in self.records]}")
                self._cv.wait(min(left, 0.2))

    def wait_requests(self, n: int, timeout: float = 10.0, ended: bool = True, path: Optional[str] = None,
                      raise_on_timeout: bool = True) -> List[H2Request]:
        """Waits until `n` requests (to `path`, if given; ended ones unless ended=False) arrived."""
        def count():
            return sum(1 for r in self.records if (r.ended or not ended) and (path is None or r.path == path))
        try:
            self.wait_for(lambda: count() >= n, timeout, f"{n} request(s)" + (f" to {path}" if path else ""))
        except AssertionError:
            if raise_on_timeout:
                raise
        return self.requests(path)

    # -- lifecycle
    def close(self) -> None:
        self._closed = True
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.lsock.close()
        except OSError:
            pass
        with self._cv:
            socks = list(self._socks.values())
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                s, peer = self.lsock.accept()
            except OSError:
                return
            rec = ConnRecord(id=next(self._conn_ids), peer=peer, opened_at=time.monotonic())
            with self._cv:
                self.conns.append(rec)
                self._socks[rec.id] = s
                self._cv.notify_all()
            threading.Thread(target=self._serve, args=(s, rec), name=f"{self.name}-c{rec.id}", daemon=True).start()

    def _serve(self, s: socket.socket, rec: ConnRecord) -> None:
        s.settimeout(IO_TIMEOUT)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        first = b""
        try:
            if self._tls is not None:
                tls_sock = self._tls.wrap_socket(s, server_side=True)
                with self._cv:
                    rec.alpn = tls_sock.selected_alpn_protocol()
                s = _tls_bridge(tls_sock, IO_TIMEOUT)
            # The HTTP/2 preface, or anything else (HTTP/1.1): decided on the first bytes.
            while len(first) < len(PREFACE) and PREFACE.startswith(first):
                d = s.recv(65536)
                if not d:
                    break
                first += d
            proto = "h2" if first.startswith(PREFACE) else "h1"
            with self._cv:
                rec.protocol = proto
                self._cv.notify_all()
            if not first:
                return
            if proto == "h2":
                _H2Conn(self, s, rec, first).run()
            else:
                _serve_h1(self, s, rec, first)
        except OSError as e:
            if not self._closed:
                self._note(f"c{rec.id}: {type(e).__name__}: {e}")
        finally:
            with self._cv:
                rec.closed = True
                rec.open = 0
                self._socks.pop(rec.id, None)
                self._cv.notify_all()
            try:
                s.close()
            except OSError:
                pass


class H2UpstreamFactory:
    def __init__(self):
        self.servers: List[H2Upstream] = []

    def __call__(self, name: str = "h2", **kw) -> H2Upstream:
        u = H2Upstream(name, **kw)
        self.servers.append(u)
        return u

    def close_all(self) -> None:
        for u in self.servers:
            u.close()


@pytest.fixture
def h2upstream():
    """Factory: h2upstream(name, default=..., max_concurrent_streams=...) starts an H2Upstream;
    all are stopped at teardown."""
    f = H2UpstreamFactory()
    yield f
    f.close_all()


# ----------------------------------------------------------------------------- a small h2c client


@dataclass
class H2Response:
    status: int
    headers: Headers
    body: bytes
    reset: Optional[int] = None  # RST_STREAM error code, when the stream was reset

    def header(self, name: str) -> Optional[str]:
        for k, v in self.headers:
            if k == name:
                return v
        return None


def h2c_requests(port: int, reqs: List[Tuple[str, str, bytes]], authority: Optional[str] = None,
                 timeout: float = 10.0) -> List[H2Response]:
    """Sends every (method, path, body) concurrently on ONE h2c prior-knowledge connection and
    returns the responses in order (harness self-test; Vallum is the real client)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="latin-1"))
    c.initiate_connection()
    sids = []
    for method, path, body in reqs:
        sid = c.get_next_available_stream_id()
        sids.append(sid)
        c.send_headers(sid, [(":method", method), (":scheme", "http"), (":authority", authority or f"127.0.0.1:{port}"),
                             (":path", path)], end_stream=not body)
        if body:
            # small bodies only (inside the default windows)
            c.send_data(sid, body, end_stream=True)
    s.sendall(c.data_to_send())
    got: Dict[int, H2Response] = {sid: H2Response(0, [], b"") for sid in sids}
    done = set()
    bodies: Dict[int, bytearray] = {sid: bytearray() for sid in sids}
    deadline = time.monotonic() + timeout
    try:
        while len(done) < len(sids):
            if time.monotonic() > deadline:
                raise TimeoutError(f"h2c client: {len(done)}/{len(sids)} responses within {timeout}s")
            d = s.recv(65536)
            if not d:
                break
            for ev in c.receive_data(d):
                if isinstance(ev, h2.events.ResponseReceived):
                    hs = list(ev.headers)
                    got[ev.stream_id].status = int(dict(hs)[":status"])
                    got[ev.stream_id].headers = [(k, v) for k, v in hs if not k.startswith(":")]
                elif isinstance(ev, h2.events.DataReceived):
                    bodies[ev.stream_id] += ev.data
                    c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    done.add(ev.stream_id)
                elif isinstance(ev, h2.events.StreamReset):
                    got[ev.stream_id].reset = int(ev.error_code)
                    done.add(ev.stream_id)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    done.update(sids)
            out = c.data_to_send()
            if out:
                s.sendall(out)
    finally:
        s.close()
    for sid in sids:
        got[sid].body = bytes(bodies[sid])
    return [got[sid] for sid in sids]
