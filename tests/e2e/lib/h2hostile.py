"""HostileH2: a hand-written cleartext HTTP/2 origin (raw sockets, frames built with struct)
that can break every rule a real origin keeps, for tests/e2e/test_h2c_adversarial.py.

Each accepted connection gets one reader thread that parses frames, decodes request header
blocks (python3-hpack, the client's compression is real), answers SETTINGS and PING, and
records everything (frames, RST_STREAM and GOAWAY codes, WINDOW_UPDATEs, requests). Each
request is handed to the behaviour registered for its path prefix, in its own thread, as soon
as its HEADERS arrive (on_headers) or when the request ended (default). Responses are encoded
by hand (HPACK literals without indexing, no Huffman), so names, values and framing are
exactly what the behaviour asks for: upper-case names, connection-specific fields, invalid
:status, DATA that ignores the windows, frames on streams never opened, and so on.

`script` (per server) replaces the whole connection loop for the cases where the origin must
not even follow the basic connection rules (never send SETTINGS, etc.).
"""

from __future__ import annotations

import itertools
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import hpack

from .h2frames import (ACK, CONTINUATION, DATA, END_HEADERS, END_STREAM, GOAWAY, HEADERS, PING,  # noqa: F401
                       PREFACE, PRIORITY, PUSH_PROMISE, RST_STREAM, SETTINGS, WINDOW_UPDATE, Headers,
                       block, hpack_int, hpack_str, indexed, lit, lit_indexed_insert, PADDED, PRIO_FLAG,
                       S_ENABLE_PUSH, S_HEADER_TABLE_SIZE, S_INITIAL_WINDOW_SIZE, S_MAX_CONCURRENT_STREAMS,
                       S_MAX_FRAME_SIZE, S_MAX_HEADER_LIST_SIZE, NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR,
                       FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM,
                       CANCEL, COMPRESSION_ERROR)

# ----------------------------------------------------------------------------- records


@dataclass
class Req:
    conn_id: int
    sid: int
    headers: Headers
    body: bytearray = field(default_factory=bytearray)
    ended: bool = False
    reset_code: Optional[int] = None  # RST_STREAM from Vallum
    at: float = 0.0

    def h(self, name: str) -> Optional[str]:
        for k, v in self.headers:
            if k == name:
                return v
        return None

    @property
    def path(self) -> str:
        return (self.h(":path") or "").split("?", 1)[0]


@dataclass
class ConnRec:
    id: int
    opened_at: float
    closed: bool = False
    closed_at: float = 0.0
    preface_ok: bool = False
    frames: List[Tuple[int, int, int, int]] = field(default_factory=list)  # type, flags, sid, length
    rsts: List[Tuple[int, int]] = field(default_factory=list)  # (sid, code) from Vallum
    goaways: List[Tuple[int, int]] = field(default_factory=list)  # (last sid, code) from Vallum
    window_updates: List[Tuple[int, int]] = field(default_factory=list)
    settings: List[List[Tuple[int, int]]] = field(default_factory=list)
    pings_acked: int = 0
    settings_acked: int = 0
    open_streams: set = field(default_factory=set)  # streams Vallum opened that are not closed yet
    streams: int = 0
    max_open: int = 0
    refused: List[int] = field(default_factory=list)  # streams refused over MAX_CONCURRENT_STREAMS


class HConn:
    """One accepted connection: framing helpers for behaviours (thread-safe writes)."""

    def __init__(self, srv: "HostileH2", sock: socket.socket, rec: ConnRec):
        self.srv, self.sock, self.rec = srv, sock, rec
        self.wlock = threading.Lock()
        self.dec = hpack.Decoder()
        self.dec.max_header_list_size = 1 << 20
        self.reqs: Dict[int, Req] = {}
        self.dead = False

    # -- output
    def frame(self, ftype: int, flags: int, sid: int, payload: bytes = b"") -> bool:
        hdr = struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", ftype, flags, sid & 0x7FFFFFFF)
        return self.raw(hdr + payload)

    def raw(self, data: bytes) -> bool:
        with self.wlock:
            try:
                self.sock.sendall(data)
                return True
            except OSError:
                self.dead = True
                return False

    def settings(self, entries=(), ack: bool = False) -> bool:
        return self.frame(SETTINGS, ACK if ack else 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in entries))

    def headers(self, sid: int, headers: Headers, end_stream: bool = False, encoded: Optional[bytes] = None,
                max_frame: int = 16384) -> bool:
        """HEADERS (+ CONTINUATION when the block exceeds max_frame)."""
        blk = encoded if encoded is not None else block(headers)
        pieces = [blk[i:i + max_frame] for i in range(0, len(blk), max_frame)] or [b""]
        ok = True
        for i, p in enumerate(pieces):
            last = i == len(pieces) - 1
            if i == 0:
                ok &= self.frame(HEADERS, (END_HEADERS if last else 0) | (END_STREAM if end_stream else 0), sid, p)
            else:
                ok &= self.frame(CONTINUATION, END_HEADERS if last else 0, sid, p)
        return ok

    def respond(self, sid: int, status="200", headers: Headers = (), body: bytes = b"", cl: bool = True) -> bool:
        hs = [(":status", str(status))] + list(headers)
        if cl:
            hs.append(("content-length", str(len(body))))
        if not body:
            return self.headers(sid, hs, end_stream=True)
        self.headers(sid, hs)
        return self.data(sid, body, end_stream=True)

    def data(self, sid: int, data: bytes, end_stream: bool = False, max_frame: int = 16384) -> bool:
        """DATA frames, ignoring flow control (behaviours send small bodies, or mean to)."""
        if not data:
            return self.frame(DATA, END_STREAM if end_stream else 0, sid, b"")
        ok = True
        for i in range(0, len(data), max_frame):
            last = i + max_frame >= len(data)
            ok &= self.frame(DATA, END_STREAM if (end_stream and last) else 0, sid, data[i:i + max_frame])
        return ok

    def rst(self, sid: int, code: int) -> bool:
        return self.frame(RST_STREAM, 0, sid, struct.pack(">I", code))

    def goaway(self, last_sid: int, code: int = NO_ERROR, debug: bytes = b"") -> bool:
        return self.frame(GOAWAY, 0, 0, struct.pack(">II", last_sid, code) + debug)

    def ping(self, payload: bytes = b"12345678", ack: bool = False) -> bool:
        return self.frame(PING, ACK if ack else 0, 0, payload)

    def window_update(self, sid: int, inc: int) -> bool:
        return self.frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", inc & 0x7FFFFFFF))

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- input
    def _exact(self, n: int) -> Optional[bytes]:
        buf = bytearray()
        while len(buf) < n:
            try:
                d = self.sock.recv(n - len(buf))
            except socket.timeout:
                if self.srv.closed_flag:
                    return None
                continue
            except OSError:
                return None
            if not d:
                return None
            buf += d
        return bytes(buf)

    def read_frame(self) -> Optional[Tuple[int, int, int, bytes]]:
        h = self._exact(9)
        if h is None:
            return None
        length = int.from_bytes(h[:3], "big")
        ftype, flags, sid = h[3], h[4], struct.unpack(">I", h[5:9])[0] & 0x7FFFFFFF
        payload = self._exact(length) if length else b""
        if payload is None:
            return None
        with self.srv.cv:
            self.rec.frames.append((ftype, flags, sid, length))
        return ftype, flags, sid, payload

    def serve(self) -> None:
        """The default connection loop: SETTINGS (the server's), then frames until EOF."""
        if self.srv.send_settings:
            self.settings(self.srv.settings_entries)
        hblock = bytearray()
        hsid = 0
        hflags = 0
        while True:
            f = self.read_frame()
            if f is None:
                return
            ftype, flags, sid, payload = f
            if ftype == SETTINGS:
                if flags & ACK:
                    with self.srv.cv:
                        self.rec.settings_acked += 1
                else:
                    entries = [struct.unpack(">HI", payload[i:i + 6]) for i in range(0, len(payload), 6)]
                    with self.srv.cv:
                        self.rec.settings.append(entries)
                    if self.srv.ack_settings:
                        self.settings(ack=True)
            elif ftype == PING:
                if flags & ACK:
                    with self.srv.cv:
                        self.rec.pings_acked += 1
                else:
                    self.ping(payload, ack=True)
            elif ftype == WINDOW_UPDATE:
                with self.srv.cv:
                    self.rec.window_updates.append((sid, struct.unpack(">I", payload)[0]))
            elif ftype == RST_STREAM:
                code = struct.unpack(">I", payload)[0]
                with self.srv.cv:
                    self.rec.rsts.append((sid, code))
                    self.rec.open_streams.discard(sid)
                    if sid in self.reqs:
                        self.reqs[sid].reset_code = code
                    self.srv.cv.notify_all()
            elif ftype == GOAWAY:
                last, code = struct.unpack(">II", payload[:8])
                with self.srv.cv:
                    self.rec.goaways.append((last & 0x7FFFFFFF, code))
                    self.srv.cv.notify_all()
            elif ftype in (HEADERS, CONTINUATION):
                if ftype == HEADERS:
                    p = payload
                    if flags & PADDED:
                        pad = p[0]
                        p = p[1:len(p) - pad]
                    if flags & PRIO_FLAG:
                        p = p[5:]
                    hblock, hsid, hflags = bytearray(p), sid, flags
                else:
                    hblock += payload
                if flags & END_HEADERS:
                    self._on_headers(hsid, bytes(hblock), bool(hflags & END_STREAM))
            elif ftype == DATA:
                p = payload
                if flags & PADDED:
                    p = p[1:len(p) - p[0]]
                r = self.reqs.get(sid)
                if r is not None:
                    r.body += p
                if self.srv.auto_window and payload:
                    self.window_update(0, len(payload))
                    self.window_update(sid, len(payload))
                if flags & END_STREAM and r is not None:
                    self._ended(r)

    def _on_headers(self, sid: int, blk: bytes, end_stream: bool) -> None:
        hs = [(_s(k), _s(v)) for k, v in self.dec.decode(blk, raw=True)]
        if sid in self.reqs:  # request trailers
            if end_stream:
                self._ended(self.reqs[sid])
            return
        r = Req(self.rec.id, sid, hs, at=time.monotonic())
        limit = dict(self.srv.settings_entries).get(S_MAX_CONCURRENT_STREAMS)
        if self.srv.enforce_max_streams and limit is not None and len(self.rec.open_streams) >= limit:
            # RFC 9113 §5.1.2: a stream over the advertised limit is refused.
            with self.srv.cv:
                self.rec.refused.append(sid)
                self.rec.max_open = max(self.rec.max_open, len(self.rec.open_streams) + 1)
                self.srv.cv.notify_all()
            self.rst(sid, REFUSED_STREAM)
            return
        with self.srv.cv:
            self.reqs[sid] = r
            self.srv.requests.append(r)
            self.rec.open_streams.add(sid)
            self.rec.streams += 1
            self.rec.max_open = max(self.rec.max_open, len(self.rec.open_streams))
            self.srv.cv.notify_all()
        if self.srv.on_headers:
            self._dispatch(r)
        if end_stream:
            self._ended(r)

    def _ended(self, r: Req) -> None:
        with self.srv.cv:
            r.ended = True
            self.srv.cv.notify_all()
        if not self.srv.on_headers:
            self._dispatch(r)

    def _dispatch(self, r: Req) -> None:
        b = self.srv.behaviour(r.path)
        threading.Thread(target=self._run, args=(b, r), daemon=True).start()

    def _run(self, b, r: Req) -> None:
        try:
            b(self, r)
        except Exception as e:  # a harness problem: visible in srv.errors
            with self.srv.cv:
                self.srv.errors.append(f"c{self.rec.id} s{r.sid}: {type(e).__name__}: {e}")

    def stream_done(self, sid: int) -> None:
        """The behaviour finished the stream (END_STREAM or RST sent)."""
        with self.srv.cv:
            self.rec.open_streams.discard(sid)
            self.srv.cv.notify_all()


def _s(b) -> str:
    return b.decode("latin-1") if isinstance(b, (bytes, bytearray)) else str(b)


def ok_response(conn: HConn, r: Req, body: bytes = b"ok") -> None:
    conn.respond(r.sid, 200, [("x-conn", str(conn.rec.id)), ("x-stream", str(r.sid))], body)
    conn.stream_done(r.sid)


class HostileH2:
    def __init__(self, name: str = "hostile", *, default: Optional[Callable] = None,
                 settings: Tuple[Tuple[int, int], ...] = ((S_MAX_CONCURRENT_STREAMS, 1000),),
                 send_settings: bool = True, ack_settings: bool = True, on_headers: bool = False,
                 auto_window: bool = True, script: Optional[Callable] = None, enforce_max_streams: bool = False):
        self.name = name
        self.default = default or ok_response
        self.routes: List[Tuple[str, Callable]] = []
        self.settings_entries = list(settings)
        self.send_settings, self.ack_settings = send_settings, ack_settings
        self.on_headers, self.auto_window = on_headers, auto_window
        self.script = script  # script(conn): replaces serve() for the whole connection
        self.enforce_max_streams = enforce_max_streams  # refuse streams over the advertised limit
        self.cv = threading.Condition()
        self.conns: List[ConnRec] = []
        self.requests: List[Req] = []
        self.errors: List[str] = []
        self.closed_flag = False
        self._ids = itertools.count(1)
        self._socks: List[socket.socket] = []
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(256)
        self.port = self.lsock.getsockname()[1]
        self.url = f"h2c://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def on(self, prefix: str, b: Callable) -> "HostileH2":
        self.routes.append((prefix, b))
        return self

    def behaviour(self, path: str) -> Callable:
        for p, b in self.routes:
            if path.startswith(p):
                return b
        return self.default

    def wait(self, pred: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        with self.cv:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.name}: timed out after {timeout}s waiting for {what or pred}; "
                                         f"conns={self.conns}")
                self.cv.wait(min(left, 0.1))

    def reqs(self, path: Optional[str] = None) -> List[Req]:
        with self.cv:
            return [r for r in self.requests if path is None or r.path == path]

    def _accept(self) -> None:
        while not self.closed_flag:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            rec = ConnRec(next(self._ids), time.monotonic())
            with self.cv:
                self.conns.append(rec)
                self._socks.append(s)
                self.cv.notify_all()
            threading.Thread(target=self._serve, args=(s, rec), daemon=True).start()

    def _serve(self, s: socket.socket, rec: ConnRec) -> None:
        s.settimeout(1.0)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = HConn(self, s, rec)
        try:
            pre = c._exact(len(PREFACE))
            if pre == PREFACE:
                rec.preface_ok = True
                (self.script or HConn.serve)(c)
        finally:
            with self.cv:
                rec.closed, rec.closed_at = True, time.monotonic()
                self.cv.notify_all()
            try:
                s.close()
            except OSError:
                pass

    def close(self) -> None:
        self.closed_flag = True
        try:
            self.lsock.close()
        except OSError:
            pass
        for s in list(self._socks):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
