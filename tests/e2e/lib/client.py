"""One client API over HTTP/1.1 and HTTP/2, so a table-driven test written once runs as
`test_x[h1]` and `test_x[h2]` with the same expected values.

    with connect(v, proto, "app.example.test") as c:      # proto: "h1" | "h2"
        r = c.request("GET", "/path", headers=[("X-A", "1")], body=None)
        r.status, r.headers, r.body, r.header("location"), r.json()

`connect` returns lib/http1.py's `Conn` for "h1" and an `H2Conn` for "h2"; both have
`request(method, target, *, headers, body, host, timeout, store_body)` and `get(target, **kw)`,
keep the connection open across requests, and return lib/http1.py's `Response` (h2 adds
`reset_code` / `goaway_code`). `host` is the Host header on HTTP/1.1 and `:authority` on
HTTP/2; SNI is chosen independently of it (as `Vallum.conn` does).

H2Conn is python3-h2's client side (`h2.connection.H2Connection`), over TLS with ALPN `h2`
(verification against the test CA, like http1.Conn) or cleartext with prior knowledge for an
`insecure_server` listener. Request field names are sent lower case (RFC 9113 §8.2.1 requires
it, so an upstream behind the proxy sees lower-case names) unless `raw_names=True`, which
sends them as given and skips python3-h2's own outbound checks, for the malformed-request
tests. Response headers from python3-h2 are lower case; inbound validation stays on, so a
proxy answer that breaks HTTP/2's rules fails the test here.
"""

from __future__ import annotations

import hashlib
import select
import socket
import ssl
import time
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from .http1 import DEFAULT_TIMEOUT, Headers, Response

PROTOS = ("h1", "h2")


@dataclass
class H2Response(Response):
    reset_code: Optional[int] = None  # RST_STREAM error code when the stream was reset
    goaway_code: Optional[int] = None  # GOAWAY error code when the connection ended instead


class H2Conn:
    """One HTTP/2 client connection to the proxy. Not thread-safe; one request at a time (plus
    `start`/`finish` to keep several streams open)."""

    def __init__(self, port: int, *, addr: str = "127.0.0.1", tls: bool = True, sni: Optional[str] = None,
                 ca_file: Optional[str] = None, verify: bool = True, timeout: float = DEFAULT_TIMEOUT,
                 default_host: Optional[str] = None, alpn: Sequence[str] = ("h2",)):
        self.port = port
        self.timeout = timeout
        self.default_host = default_host
        self.tls = tls
        self.closed_by_peer = False
        raw = socket.create_connection((addr, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            if verify and ca_file:
                ctx.load_verify_locations(ca_file)
                ctx.verify_mode = ssl.CERT_REQUIRED
            else:
                ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(list(alpn))
            self.sock = ctx.wrap_socket(raw, server_hostname=sni)
            got = self.sock.selected_alpn_protocol()
            if got != "h2":
                self.sock.close()
                raise AssertionError(f"ALPN selected {got!r}, not h2")
        else:
            self.sock = raw
        self.scheme = "https" if tls else "http"
        cfg = h2.config.H2Configuration(client_side=True, header_encoding=None, validate_outbound_headers=False,
                                        normalize_outbound_headers=False)
        self.h2 = h2.connection.H2Connection(config=cfg)
        self._per_field_huffman()
        self.h2.initiate_connection()
        self._flush()
        self.goaway_code: Optional[int] = None
        self._streams: dict = {}  # stream id -> H2Response being built
        self._ended: set = set()

    # -- plumbing
    def _per_field_huffman(self) -> None:
        """HPACK-encodes field by field, Huffman only for values under 4 KiB: python3-hpack's
        Huffman coder takes seconds for a 128 KiB value. (Encoding a header list one field at
        a time in order is the same HPACK block: the dynamic table is updated in order.)"""
        enc = self.h2.encoder
        encode = enc.encode

        def per_field(headers, huffman=True):
            return b"".join(encode([h], huffman=huffman and len(h[1]) < 4096) for h in headers)

        enc.encode = per_field

    def _flush(self) -> None:
        data = self.h2.data_to_send()
        if data and not self.closed_by_peer:
            try:
                self.sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                # The peer ended the connection (e.g. a connection error on a huge header block
                # it had not finished reading); what it sent before is still read by finish().
                self.closed_by_peer = True

    def close(self) -> None:
        try:
            self.h2.close_connection()
            self._flush()
        except Exception:  # noqa: BLE001 - closing a connection the peer already ended
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _read_once(self, timeout: float) -> bool:
        """Reads and handles one batch of frames; False on EOF."""
        if not (self.tls and self.sock.pending()):
            r, _, _ = select.select([self.sock], [], [], timeout)
            if not r:
                return True
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            data = b""
        if not data:
            self.closed_by_peer = True
            return False
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            raise AssertionError(f"the proxy broke HTTP/2: {e!r}") from None
        for ev in events:
            self._handle(ev)
        self._flush()
        return True

    def _handle(self, ev) -> None:
        sid = getattr(ev, "stream_id", None)
        r = self._streams.get(sid) if sid else None
        if isinstance(ev, h2.events.DataReceived):
            try:  # also for a stream no longer followed: the connection window must reopen
                self.h2.acknowledge_received_data(ev.flow_controlled_length, sid)
            except h2.exceptions.StreamClosedError:
                pass
        if isinstance(ev, h2.events.ResponseReceived) and r is not None:
            hdrs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in ev.headers]
            r.status = int(dict(hdrs)[":status"])
            r.headers = [h for h in hdrs if not h[0].startswith(":")]
        elif isinstance(ev, h2.events.InformationalResponseReceived) and r is not None:
            hdrs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in ev.headers]
            r.informational.append(Response(version="HTTP/2", status=int(dict(hdrs)[":status"]),
                                            headers=[h for h in hdrs if h[0][0] != ":"], complete=True))
        elif isinstance(ev, h2.events.DataReceived) and r is not None:
            r.body_len += len(ev.data)
            r._buf += ev.data
        elif isinstance(ev, h2.events.TrailersReceived) and r is not None:
            r.trailers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in ev.headers]
        elif isinstance(ev, h2.events.StreamEnded) and r is not None:
            r.complete = True
            self._ended.add(sid)
        elif isinstance(ev, h2.events.StreamReset) and r is not None:
            r.reset_code = int(ev.error_code)
            self._ended.add(sid)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway_code = int(ev.error_code)
            for s, resp in self._streams.items():
                if s > (ev.last_stream_id or 0) and s not in self._ended:
                    resp.goaway_code = self.goaway_code
                    self._ended.add(s)

    # -- requests
    def start(self, method: str, target: str, *, headers: Optional[Headers] = None, body: Optional[bytes] = None,
              host: Optional[str] = "default", raw_names: bool = False, end_stream: bool = True,
              timeout: Optional[float] = None, content_length: bool = True) -> int:
        """Opens a stream and sends the request (the body honouring flow control); returns its id.
        A body gets a content-length field unless content_length=False (or one is given)."""
        if host == "default":
            host = self.default_host
        hdrs: List[Tuple[str, str]] = [(":method", method), (":scheme", self.scheme)]
        if host is not None:
            hdrs.append((":authority", host))
        hdrs.append((":path", target))
        names = set()
        for k, v in headers or []:
            k = k if raw_names else k.lower()
            names.add(k.lower())
            hdrs.append((k, v))
        if body is not None and content_length and "content-length" not in names:
            hdrs.append(("content-length", str(len(body))))
        sid = self.h2.get_next_available_stream_id()
        self._streams[sid] = H2Response(version="HTTP/2", framing="h2")
        self._streams[sid]._buf = bytearray()
        last = body is None and end_stream
        self.h2.send_headers(sid, [(k.encode("latin-1"), v.encode("latin-1")) for k, v in hdrs], end_stream=last)
        self._flush()
        if body is not None:
            self._send_body(sid, body, end_stream, timeout or self.timeout)
        return sid

    def _send_body(self, sid: int, body: bytes, end_stream: bool, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        off = 0
        while off < len(body) or (end_stream and off == len(body) == 0):
            if sid in self._ended:
                return  # answered (or reset) before the whole body went out
            window = min(self.h2.local_flow_control_window(sid), self.h2.max_outbound_frame_size)
            if window <= 0:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"flow-control window stayed closed for {timeout}s")
                if not self._read_once(0.2):
                    return
                continue
            piece = body[off:off + window]
            off += len(piece)
            self.h2.send_data(sid, piece, end_stream=end_stream and off >= len(body))
            self._flush()
            if not body:
                break

    def send_body(self, sid: int, body: bytes, end_stream: bool = True, timeout: Optional[float] = None) -> None:
        """Sends (more of) a request body on a stream opened with end_stream=False."""
        self._send_body(sid, body, end_stream, timeout or self.timeout)

    def send_trailers(self, sid: int, fields: Headers) -> None:
        """Ends the stream's request with a trailer section (HEADERS with END_STREAM)."""
        self.h2.send_headers(sid, [(k.encode("latin-1"), v.encode("latin-1")) for k, v in fields], end_stream=True)
        self._flush()

    def wait_head(self, sid: int, timeout: Optional[float] = None) -> H2Response:
        """Waits for an interim (1xx) or final head on the stream, or its end; returns the
        response so far (status 0 with .informational filled for an interim one)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        r = self._streams[sid]
        while not (r.informational or r.status or sid in self._ended):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no head on HTTP/2 stream {sid}")
            if not self._read_once(0.2):
                break
        return r

    def finish(self, sid: int, timeout: Optional[float] = None, store_body: bool = True) -> H2Response:
        """Waits for the stream to end (END_STREAM, RST_STREAM or the connection's end)."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        r = self._streams[sid]
        while sid not in self._ended:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"HTTP/2 stream {sid} not finished within {timeout}s "
                                   f"(status {r.status}, {r.body_len} body bytes)")
            if not self._read_once(min(left, 1.0)):
                self._ended.add(sid)
                break
        del self._streams[sid]
        r.body = bytes(r._buf) if store_body else None
        r.body_sha256 = hashlib.sha256(bytes(r._buf)).hexdigest()
        del r._buf
        if r.goaway_code is None and self.goaway_code is not None and not r.complete and r.reset_code is None:
            r.goaway_code = self.goaway_code
        return r

    def request(self, method: str, target: str, *, headers: Optional[Headers] = None, body: Optional[bytes] = None,
                host: Optional[str] = "default", timeout: Optional[float] = None, store_body: bool = True,
                raw_names: bool = False, content_length: bool = True) -> H2Response:
        sid = self.start(method, target, headers=headers, body=body, host=host, raw_names=raw_names,
                         timeout=timeout, content_length=content_length)
        return self.finish(sid, timeout, store_body)

    def get(self, target: str, **kw) -> H2Response:
        return self.request("GET", target, **kw)

    def peer_closed(self, wait: float = 2.0) -> bool:
        """True when the peer ends the connection (GOAWAY or EOF) within `wait` s."""
        deadline = time.monotonic() + wait
        while not self.closed_by_peer and self.goaway_code is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if not self._read_once(min(left, 0.5)):
                return True
        return True

    def ping(self, timeout: float = 5.0) -> bool:
        """A PING round trip: True when the connection still answers."""
        payload = b"vallum!!"
        self.h2.ping(payload)
        self._flush()
        deadline = time.monotonic() + timeout
        got = []
        orig = self._handle

        def handle(ev):
            if isinstance(ev, h2.events.PingAckReceived) and ev.ping_data == payload:
                got.append(True)
            orig(ev)

        self._handle = handle
        try:
            while not got and time.monotonic() < deadline:
                if not self._read_once(0.2):
                    return False
        finally:
            self._handle = orig
        return bool(got)


def connect(v, proto: str, host: str = "app.example.test", *, sni: Optional[str] = "same",
            host_header: Optional[str] = "default", **kw):
    """A connection to Vallum `v` speaking `proto` ("h1" | "h2"); its requests carry
    Host / :authority `host:port` (host_header overrides, None sends none) and, over TLS,
    SNI `host` (sni=... overrides)."""
    if proto == "h1":
        return v.conn(host, sni=sni, host_header=host_header, **kw)
    assert proto == "h2", proto
    if sni == "same":
        sni = host if not host.replace(".", "").isdigit() else None
    hh = v.authority(host) if host_header == "default" else host_header
    return H2Conn(v.port, tls=v.tls, sni=sni, ca_file=v.ca_file, default_host=hh, **kw)


def request(v, proto: str, method: str, target: str, host: str = "app.example.test", *,
            headers: Optional[Headers] = None, body: Optional[bytes] = None, **kw) -> Response:
    """One request on a fresh connection (like `Vallum.request`)."""
    conn_kw = {k: kw.pop(k) for k in ("sni", "host_header", "timeout", "verify") if k in kw}
    with connect(v, proto, host, **conn_kw) as c:
        return c.request(method, target, headers=headers, body=body, **kw)


def get(v, proto: str, target: str, host: str = "app.example.test", **kw) -> Response:
    return request(v, proto, "GET", target, host, **kw)


def h2_names(proto: str, pairs):
    """Expected header fields as the upstream sees them: HTTP/2 names are lower case on the wire
    (RFC 9113 §8.2.1), so for "h2" the names are lower-cased; values are untouched."""
    if proto != "h2":
        return pairs
    return [(k.lower(), v) for k, v in pairs]

