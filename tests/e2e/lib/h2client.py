"""HTTP/2 clients for the downstream end-to-end tests (tests/e2e/test_h2_downstream.py and
test_h2_hostile.py).

H2Client: a real client on python3-h2 over TLS (ALPN h2, SNI independent of :authority,
verification against the test CA) or cleartext prior knowledge. Single-threaded: requests are
queued, then pump()/wait() drives the connection, sends request bodies inside the server's
windows and grants receive window by hand, so a test chooses the client's windows and can
check that the server never sent beyond them (Resp.max_over_window stays <= 0).

RawH2: frames written by hand (struct), for clients that break the protocol on purpose (floods,
bad stream ids, malformed header blocks). A reader thread records every frame Vallum sends
(RST_STREAM codes per stream, GOAWAY, response heads and bodies) and ACKs its SETTINGS.
"""

from __future__ import annotations

import hashlib
import os
import select
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hpack

Headers = List[Tuple[str, str]]

from .h2frames import (ACK, CONNECT_ERROR, CONTINUATION, DATA, END_HEADERS, END_STREAM,  # noqa: F401
                       ENHANCE_YOUR_CALM, GOAWAY, HEADERS, PING, PREFACE, PRIORITY, PUSH_PROMISE,
                       RST_STREAM, SETTINGS, WINDOW_UPDATE, PADDED, PRIO_FLAG, S_ENABLE_PUSH,
                       S_HEADER_TABLE_SIZE, S_INITIAL_WINDOW_SIZE, S_MAX_CONCURRENT_STREAMS,
                       S_MAX_FRAME_SIZE, S_MAX_HEADER_LIST_SIZE, NO_ERROR, PROTOCOL_ERROR,
                       INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED,
                       FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, block, frame,
                       hpack_int, hpack_str, indexed, lit, lit_indexed_insert, ping_frame, rst_frame,
                       settings_frame, window_update)

def connect(port: int, *, tls: bool, sni: Optional[str], ca_file: Optional[str], alpn: Sequence[str] = ("h2",),
            timeout: float = 10.0) -> socket.socket:
    """A TCP connection to 127.0.0.1:port, wrapped in TLS (ALPN `alpn`, verified against
    `ca_file` with hostname checking on `sni`) when `tls`."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not tls:
        return sock
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.check_hostname = sni is not None
    ctx.set_alpn_protocols(list(alpn))
    return ctx.wrap_socket(sock, server_hostname=sni)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (from /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------- python3-h2 client


@dataclass
class Resp:
    sid: int
    status: Optional[int] = None
    headers: Headers = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    trailers: Headers = field(default_factory=list)
    ended: bool = False  # END_STREAM received (a clean end)
    reset_code: Optional[int] = None  # RST_STREAM from the server
    started_at: float = 0.0
    ended_at: float = 0.0
    received: int = 0  # flow-controlled bytes received
    granted: int = 0  # receive window granted: initial window + WINDOW_UPDATE increments sent
    max_over_window: int = -(1 << 31)  # max(received - granted): > 0 means the server overran

    def header(self, name: str) -> Optional[str]:
        for k, v in self.headers:
            if k == name:
                return v
        return None

    @property
    def done(self) -> bool:
        return self.ended or self.reset_code is not None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


@dataclass
class _Upload:
    data: memoryview
    off: int = 0
    end: bool = True


class H2Client:
    """One HTTP/2 connection on python3-h2. `window` is the client's stream receive window
    (SETTINGS_INITIAL_WINDOW_SIZE), `conn_window` its connection receive window."""

    def __init__(self, port: int, *, tls: bool = True, sni: Optional[str] = "app.example.test",
                 ca_file: Optional[str] = None, authority: Optional[str] = None, window: int = 65535,
                 conn_window: int = 65535, timeout: float = 10.0):
        self.sock = connect(port, tls=tls, sni=sni, ca_file=ca_file, timeout=timeout)
        if tls:
            got = self.sock.selected_alpn_protocol()
            assert got == "h2", f"ALPN chose {got!r}, not h2"
        self.scheme = "https" if tls else "http"
        self.authority = authority or f"{sni or 'app.example.test'}:{port}"
        self.window = window
        self.conn_window = conn_window
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(cfg)
        self.conn.local_settings = h2.settings.Settings(client=True, initial_values={
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window,
            h2.settings.SettingCodes.ENABLE_PUSH: 0,
        })
        self.conn.initiate_connection()
        if conn_window > 65535:
            self.conn.increment_flow_control_window(conn_window - 65535)
        self.conn_consumed = 0  # received and not yet granted back on the connection
        self.streams: Dict[int, Resp] = {}
        self.uploads: Dict[int, _Upload] = {}
        self.goaway: Optional[h2.events.ConnectionTerminated] = None
        self.goaway_at = 0.0
        self.eof = False
        self.remote_settings: Dict[int, int] = {}
        self.settings_acked = False
        self.events: List[object] = []
        self._flush()
        self.pump(lambda: self.settings_acked and self.remote_settings, timeout, "the server's SETTINGS and ACK")

    # -- requests
    def request(self, method: str, path: str, *, headers: Optional[Headers] = None, body: Optional[bytes] = None,
                authority: Optional[str] = None, end_stream: bool = True) -> int:
        """Opens a stream; the body (if any) is sent by pump() as the windows allow."""
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":scheme", self.scheme), (":authority", authority or self.authority),
                (":path", path)] + list(headers or [])
        has_body = body is not None
        self.conn.send_headers(sid, hdrs, end_stream=end_stream and not has_body)
        self.streams[sid] = Resp(sid, started_at=time.monotonic(), granted=self.window)
        if has_body:
            self.uploads[sid] = _Upload(memoryview(body), end=end_stream)
        self._flush()
        return sid

    def get(self, path: str, timeout: float = 10.0, **kw) -> Resp:
        sid = self.request("GET", path, **kw)
        self.wait([sid], timeout)
        return self.streams[sid]

    def reset(self, sid: int, code: int = CANCEL) -> None:
        self.conn.reset_stream(sid, code)
        self.uploads.pop(sid, None)
        self._flush()

    # -- driving
    def wait(self, sids: Sequence[int], timeout: float = 10.0) -> List[Resp]:
        """Pumps until every stream in `sids` ended or was reset (or the connection closed)."""
        self.pump(lambda: all(self.streams[s].done for s in sids), timeout, f"streams {list(sids)}")
        return [self.streams[s] for s in sids]

    def run_for(self, seconds: float) -> None:
        """Drives the connection (reads, sends what the windows allow) for `seconds`."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self.eof:
            self._send_uploads()
            self._flush()
            self._read(min(0.05, max(0.0, end - time.monotonic())))

    def sent(self, sid: int) -> int:
        """Request body bytes of `sid` handed to the connection so far."""
        up = self.uploads.get(sid)
        return up.off if up is not None else -1

    def pump(self, until: Callable[[], object], timeout: float, what: str = "", raise_on_eof: bool = True) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._send_uploads()
            self._flush()
            if until():
                return
            if self.eof:
                if raise_on_eof:
                    raise AssertionError(f"connection closed while waiting for {what} (goaway={self.goaway})")
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                                     f"streams: {[(s.sid, s.status, len(s.body), s.ended, s.reset_code) for s in self.streams.values()]}")
            self._read(min(left, 0.2))

    def _read(self, wait: float) -> None:
        pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0
        if not pending:
            r, _, _ = select.select([self.sock], [], [], wait)
            if not r:
                return
        try:
            data = self.sock.recv(262144)
        except (ssl.SSLWantReadError, BlockingIOError):
            return
        except (ConnectionResetError, OSError):
            data = b""
        if not data:
            self.eof = True
            return
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            if self.goaway is None:
                raise
            # python3-h2 treats GOAWAY as the end of the connection and rejects frames for the
            # streams still in flight: a graceful GOAWAY is tested with nghttp instead.
            self.eof = True
            return
        self._handle(events)

    def _handle(self, events) -> None:
        now = time.monotonic()
        for ev in events:
            self.events.append(ev)
            if isinstance(ev, h2.events.ResponseReceived):
                r = self.streams[ev.stream_id]
                r.status = int(dict(ev.headers)[":status"])
                r.headers = [(k, v) for k, v in ev.headers]
            elif isinstance(ev, h2.events.InformationalResponseReceived):
                pass
            elif isinstance(ev, h2.events.TrailersReceived):
                self.streams[ev.stream_id].trailers = [(k, v) for k, v in ev.headers]
            elif isinstance(ev, h2.events.DataReceived):
                r = self.streams[ev.stream_id]
                r.body += ev.data
                n = ev.flow_controlled_length
                r.received += n
                r.max_over_window = max(r.max_over_window, r.received - r.granted)
                self._grant(ev.stream_id, r, n)
            elif isinstance(ev, h2.events.StreamEnded):
                r = self.streams[ev.stream_id]
                r.ended, r.ended_at = True, now
            elif isinstance(ev, h2.events.StreamReset):
                r = self.streams.get(ev.stream_id)
                if r is not None:
                    r.reset_code, r.ended_at = int(ev.error_code), now
                self.uploads.pop(ev.stream_id, None)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.goaway, self.goaway_at = ev, now
            elif isinstance(ev, h2.events.RemoteSettingsChanged):
                self.remote_settings.update({int(k): v.new_value for k, v in ev.changed_settings.items()})
            elif isinstance(ev, h2.events.SettingsAcknowledged):
                self.settings_acked = True

    def _grant(self, sid: int, r: Resp, n: int) -> None:
        """Gives the window back once half of it is used (what most clients do)."""
        self.conn_consumed += n
        if self.conn_consumed >= self.conn_window // 2:
            self.conn.increment_flow_control_window(self.conn_consumed)
            self.conn_consumed = 0
        if n and r.received - (r.granted - self.window) >= self.window // 2 and not r.ended:
            inc = r.received - (r.granted - self.window)
            try:
                self.conn.increment_flow_control_window(inc, stream_id=sid)
                r.granted += inc
            except h2.exceptions.StreamClosedError:
                pass

    def _send_uploads(self) -> None:
        for sid in list(self.uploads):
            up = self.uploads[sid]
            while up.off < len(up.data):
                try:
                    room = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
                except h2.exceptions.StreamClosedError:
                    room = -1
                if room < 0:
                    self.uploads.pop(sid, None)
                    break
                if room == 0:
                    break
                piece = up.data[up.off: up.off + room]
                up.off += len(piece)
                self.conn.send_data(sid, bytes(piece), end_stream=up.end and up.off == len(up.data))
                if len(self.conn.data_to_send(0)) == 0:
                    pass
                self._flush()
            else:
                if len(up.data) == 0 and up.end:
                    self.conn.end_stream(sid)
                self.uploads.pop(sid, None)

    def _flush(self) -> None:
        out = self.conn.data_to_send()
        if out and not self.eof:
            try:
                self.sock.sendall(out)
            except OSError:
                self.eof = True

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ----------------------------------------------------------------------------- raw frames


class RawH2:
    """A client that writes frames by hand. Sends the preface and SETTINGS (`settings`), then
    whatever the test sends; records what comes back in a reader thread."""

    def __init__(self, port: int, *, tls: bool = True, sni: Optional[str] = "app.example.test",
                 ca_file: Optional[str] = None, authority: Optional[str] = None,
                 settings: Sequence[Tuple[int, int]] = ((S_ENABLE_PUSH, 0),), timeout: float = 10.0,
                 start_reader: bool = True):
        """start_reader=False: call start_reader() later. Over TLS, a test that sends while
        the reader thread runs shares one SSL object between two threads; sending everything
        first and reading afterwards avoids that."""
        self.sock = connect(port, tls=tls, sni=sni, ca_file=ca_file, timeout=timeout)
        if tls:
            assert self.sock.selected_alpn_protocol() == "h2", self.sock.selected_alpn_protocol()
        self.scheme = "https" if tls else "http"
        self.authority = authority or f"{sni or 'app.example.test'}:{port}"
        self.wlock = threading.Lock()
        self.cv = threading.Condition()
        self.frames: List[Tuple[int, int, int, int]] = []  # (type, flags, sid, length) from vallum
        self.counts: Dict[int, int] = {}
        self.rsts: Dict[int, int] = {}
        self.goaway: Optional[Tuple[int, int, bytes]] = None  # (last stream id, code, debug data)
        self.goaway_at = 0.0
        self.status: Dict[int, int] = {}
        self.resp_headers: Dict[int, Headers] = {}
        self.bodies: Dict[int, bytearray] = {}
        self.ended: set = set()
        self.eof = False
        self.eof_at = 0.0
        self.send_error: Optional[str] = None
        self.dec = hpack.Decoder()
        self.dec.max_header_list_size = 1 << 20
        self._hblock: Dict[int, bytearray] = {}
        self.next_sid = 1
        self.send(PREFACE + settings_frame(settings))
        self._reader = threading.Thread(target=self._read_loop, daemon=True, name="rawh2-reader")
        if start_reader:
            self._reader.start()

    def start_reader(self) -> None:
        self._reader.start()

    # -- writing
    def send(self, data: bytes) -> bool:
        """Sends bytes; False (and .send_error) when vallum already closed the connection."""
        try:
            with self.wlock:
                self.sock.sendall(data)
            return True
        except (OSError, ValueError) as e:
            self.send_error = f"{type(e).__name__}: {e}"
            return False

    def new_sid(self) -> int:
        sid = self.next_sid
        self.next_sid += 2
        return sid

    def head_block(self, path: str = "/", method: str = "GET", extra: Optional[Headers] = None,
                   authority: Optional[str] = None) -> bytes:
        return block([(":method", method), (":scheme", self.scheme), (":authority", authority or self.authority),
                      (":path", path)] + list(extra or []))

    def headers_frame(self, sid: int, hblock: bytes, end_stream: bool = True, end_headers: bool = True) -> bytes:
        return frame(HEADERS, (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0), sid, hblock)

    def headers_frames(self, sid: int, hblock: bytes, end_stream: bool = True, max_frame: int = 16384) -> bytes:
        """A header block as HEADERS plus as many CONTINUATIONs as the frame size needs."""
        pieces = [hblock[i:i + max_frame] for i in range(0, len(hblock), max_frame)] or [b""]
        out = self.headers_frame(sid, pieces[0], end_stream, end_headers=len(pieces) == 1)
        for i, p in enumerate(pieces[1:], 1):
            out += frame(CONTINUATION, END_HEADERS if i == len(pieces) - 1 else 0, sid, p)
        return out

    def request(self, path: str = "/", *, method: str = "GET", extra: Optional[Headers] = None,
                end_stream: bool = True, sid: Optional[int] = None) -> int:
        sid = sid if sid is not None else self.new_sid()
        self.send(self.headers_frame(sid, self.head_block(path, method, extra), end_stream))
        return sid

    # -- reading
    def _recv(self) -> Optional[bytes]:
        """The next bytes (b"" at EOF, None: nothing yet). Over TLS the SSL object is used
        under the write lock, so the reader and a sender never touch it at the same time."""
        if not isinstance(self.sock, ssl.SSLSocket):
            return self.sock.recv(262144)
        if not self.sock.pending():
            r, _, _ = select.select([self.sock], [], [], 0.05)
            if not r:
                return None
        with self.wlock:
            try:
                return self.sock.recv(262144)
            except (ssl.SSLWantReadError, socket.timeout):
                return None

    def _read_loop(self) -> None:
        buf = bytearray()
        try:
            if not isinstance(self.sock, ssl.SSLSocket):
                self.sock.settimeout(None)
            while True:
                try:
                    d = self._recv()
                except (OSError, ValueError):
                    d = b""
                if d is None:
                    continue
                if not d:
                    break
                buf += d
                while len(buf) >= 9:
                    length = int.from_bytes(buf[0:3], "big")
                    if len(buf) < 9 + length:
                        break
                    ftype, flags = buf[3], buf[4]
                    sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                    payload = bytes(buf[9:9 + length])
                    del buf[:9 + length]
                    self._on_frame(ftype, flags, sid, payload)
        finally:
            with self.cv:
                self.eof = True
                self.eof_at = time.monotonic()
                self.cv.notify_all()

    def _on_frame(self, ftype: int, flags: int, sid: int, payload: bytes) -> None:
        with self.cv:
            self.frames.append((ftype, flags, sid, len(payload)))
            self.counts[ftype] = self.counts.get(ftype, 0) + 1
            if ftype == SETTINGS and not flags & ACK:
                self.send(settings_frame(ack=True))
            elif ftype == RST_STREAM:
                self.rsts[sid] = struct.unpack(">I", payload[:4])[0]
            elif ftype == GOAWAY:
                last, code = struct.unpack(">II", payload[:8])
                self.goaway = (last & 0x7FFFFFFF, code, payload[8:])
                self.goaway_at = time.monotonic()
            elif ftype in (HEADERS, CONTINUATION):
                data = payload
                if ftype == HEADERS:
                    if flags & PADDED:
                        data = data[1:len(data) - data[0]]
                    if flags & PRIO_FLAG:
                        data = data[5:]
                self._hblock.setdefault(sid, bytearray()).extend(data)
                if flags & END_HEADERS:
                    hdrs = self.dec.decode(bytes(self._hblock.pop(sid)))
                    hdrs = [(k.decode() if isinstance(k, bytes) else k, v.decode() if isinstance(v, bytes) else v)
                            for k, v in hdrs]
                    st = dict(hdrs).get(":status")
                    if st is not None and not st.startswith("1"):
                        self.status[sid] = int(st)
                        self.resp_headers[sid] = hdrs
                if ftype == HEADERS and flags & END_STREAM:
                    self.ended.add(sid)
            elif ftype == DATA:
                data = payload
                if flags & PADDED:
                    data = data[1:len(data) - data[0]]
                self.bodies.setdefault(sid, bytearray()).extend(data)
                if length := len(payload):
                    # Keep the windows open: whatever vallum sends is given back at once.
                    self.send(window_update(0, length) + window_update(sid, length))
                if flags & END_STREAM:
                    self.ended.add(sid)
            self.cv.notify_all()

    def wait_for(self, pred: Callable[[], object], timeout: float, what: str = "") -> object:
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                v = pred()
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {what or pred}; "
                                         f"goaway={self.goaway} rsts={dict(list(self.rsts.items())[:10])} "
                                         f"status={dict(list(self.status.items())[:10])} eof={self.eof} "
                                         f"counts={self.counts}")
                self.cv.wait(min(left, 0.1))

    def wait_goaway(self, timeout: float = 5.0) -> Tuple[int, int, bytes]:
        return self.wait_for(lambda: self.goaway, timeout, "GOAWAY")

    def wait_rst(self, sid: int, timeout: float = 5.0) -> int:
        self.wait_for(lambda: sid in self.rsts or sid in self.ended or self.eof, timeout, f"RST_STREAM on {sid}")
        assert sid in self.rsts, f"no RST_STREAM on stream {sid} (status={self.status.get(sid)}, eof={self.eof}, goaway={self.goaway})"
        return self.rsts[sid]

    def wait_response(self, sid: int, timeout: float = 5.0) -> int:
        self.wait_for(lambda: sid in self.ended or sid in self.rsts or self.eof, timeout, f"response on {sid}")
        return self.status.get(sid, 0)

    def wait_eof(self, timeout: float = 5.0) -> None:
        self.wait_for(lambda: self.eof, timeout, "the connection to close")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
