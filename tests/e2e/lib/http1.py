"""A small, deterministic HTTP/1.1 client over raw sockets (plain or TLS).

Why not httpx/requests: the end-to-end tests need to see exactly what went over the wire (header
order and case, duplicates, whether the peer closed the connection, a body that ended short, a
missing terminating chunk), control SNI independently of the Host header, reuse one connection
for many requests, and send deliberately malformed bytes. Everything here has a timeout.
"""

from __future__ import annotations

import hashlib
import re
import select
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple, Union

Headers = List[Tuple[str, str]]
Body = Union[None, bytes, Iterable[bytes]]

DEFAULT_TIMEOUT = 15.0


class HttpError(Exception):
    """The peer sent something this client cannot parse as HTTP/1.1."""


def _body_summary(body: bytes) -> bytes:
    """The first 300 bytes of a body; for an HTML page (Vallum's error pages), its text without
    the style block and tags, so that an assertion message shows the reply's details."""
    if body.lstrip()[:1] == b"<":
        body = re.sub(rb"\s+", b" ", re.sub(rb"(?s)<style.*?</style>|<[^>]+>", b" ", body)).strip()
    return body[:300]


@dataclass
class Response:
    version: str = ""
    status: int = 0
    reason: str = ""
    headers: Headers = field(default_factory=list)
    body: Optional[bytes] = None  # None when the body was only hashed (store_body=False)
    body_len: int = 0
    body_sha256: str = ""
    framing: str = ""  # "content-length" | "chunked" | "close" | "none"
    complete: bool = False  # framing finished (CL reached / 0-chunk seen / close-delimited EOF)
    trailers: Headers = field(default_factory=list)
    informational: List["Response"] = field(default_factory=list)  # 1xx responses before it
    raw_head: bytes = b""

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def headers_all(self, name: str) -> List[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has_header(self, name: str) -> bool:
        return bool(self.headers_all(name))

    def json(self):
        import json

        assert self.body is not None, "body was not stored"
        return json.loads(self.body)

    @property
    def text(self) -> str:
        assert self.body is not None, "body was not stored"
        return self.body.decode("utf-8", "replace")

    def __repr__(self) -> str:  # short, for assertion messages
        b = _body_summary(self.body) if self.body is not None else f"<{self.body_len} bytes hashed>"
        return (f"<Response {self.status} {self.reason!r} framing={self.framing} complete={self.complete} "
                f"headers={self.headers!r} body={b!r}>")


class ResponseParser:
    """Incremental (push) parser for one final HTTP/1.x response, collecting 1xx on the way.

    feed() bytes; check .done. eof() tells it the connection ended. Bytes after the final
    response stay in .rest (pipelined responses)."""

    def __init__(self, method: str = "GET", store_body: bool = True, max_head: int = 1 << 20):
        self.method = method.upper()
        self.store_body = store_body
        self.max_head = max_head
        self.buf = bytearray()
        self.state = "head"
        self.resp = Response()
        self.informational: List[Response] = []
        self._body = bytearray()
        self._hash = hashlib.sha256()
        self._remaining = 0
        self.done = False
        self.rest = b""

    # -- public
    def feed(self, data: bytes) -> None:
        if self.done:
            self.rest += data
            return
        self.buf += data
        self._run()

    def eof(self) -> None:
        if self.done:
            return
        if self.state == "close":
            self._finish(complete=True)
        elif self.state == "head" and not self.buf and not self.resp.status:
            self._finish(complete=False, no_response=True)
        else:
            self._finish(complete=False)

    @property
    def got_head(self) -> bool:
        return self.state != "head" or self.done

    # -- internals
    def _add_body(self, data: bytes) -> None:
        if not data:
            return
        self._hash.update(data)
        self.resp.body_len += len(data)
        if self.store_body:
            self._body += data

    def _finish(self, complete: bool, no_response: bool = False) -> None:
        self.resp.complete = complete and not no_response
        self.resp.body = bytes(self._body) if self.store_body else None
        self.resp.body_sha256 = self._hash.hexdigest()
        self.resp.informational = self.informational
        self.done = True
        self.rest = bytes(self.buf)
        self.buf = bytearray()
        if no_response:
            self.resp.status = 0

    def _run(self) -> None:
        while not self.done:
            if self.state == "head":
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(self.buf) > self.max_head:
                        raise HttpError("response head too large")
                    return
                head = bytes(self.buf[:end])
                del self.buf[: end + 4]
                self._parse_head(head)
            elif self.state == "cl":
                take = min(self._remaining, len(self.buf))
                self._add_body(bytes(self.buf[:take]))
                del self.buf[:take]
                self._remaining -= take
                if self._remaining == 0:
                    self._finish(complete=True)
                else:
                    return
            elif self.state == "chunk-size":
                i = self.buf.find(b"\r\n")
                if i < 0:
                    if len(self.buf) > 4096:
                        raise HttpError("chunk size line too long")
                    return
                line = bytes(self.buf[:i]).split(b";")[0].strip()
                del self.buf[: i + 2]
                try:
                    size = int(line, 16)
                except ValueError:
                    raise HttpError(f"bad chunk size line {line!r}")
                if size == 0:
                    self.state = "trailers"
                else:
                    self._remaining = size
                    self.state = "chunk-data"
            elif self.state == "chunk-data":
                take = min(self._remaining, len(self.buf))
                self._add_body(bytes(self.buf[:take]))
                del self.buf[:take]
                self._remaining -= take
                if self._remaining:
                    return
                self.state = "chunk-crlf"
            elif self.state == "chunk-crlf":
                if len(self.buf) < 2:
                    return
                if bytes(self.buf[:2]) != b"\r\n":
                    raise HttpError("missing CRLF after chunk data")
                del self.buf[:2]
                self.state = "chunk-size"
            elif self.state == "trailers":
                i = self.buf.find(b"\r\n")
                if i < 0:
                    return
                line = bytes(self.buf[:i])
                del self.buf[: i + 2]
                if not line:
                    self._finish(complete=True)
                else:
                    k, _, v = line.decode("latin-1").partition(":")
                    self.resp.trailers.append((k, v.strip()))
            elif self.state == "close":
                self._add_body(bytes(self.buf))
                self.buf = bytearray()
                return
            else:  # pragma: no cover
                raise AssertionError(self.state)

    def _parse_head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        status_line = lines[0].decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HttpError(f"bad status line {status_line!r}")
        r = Response(version=parts[0], status=int(parts[1]), reason=parts[2] if len(parts) > 2 else "",
                     raw_head=head)
        for ln in lines[1:]:
            k, sep, v = ln.decode("latin-1").partition(":")
            if not sep:
                raise HttpError(f"bad response header line {ln!r}")
            r.headers.append((k, v.strip(" \t")))
        if 100 <= r.status < 200:
            r.complete = True
            r.framing = "none"
            self.informational.append(r)
            return  # stay in "head": the final response follows
        self.resp = r
        te = ",".join(r.headers_all("transfer-encoding")).lower()
        cl = r.headers_all("content-length")
        if self.method == "HEAD" or r.status in (204, 304):
            r.framing = "none"
            self._finish(complete=True)
        elif "chunked" in te:
            r.framing = "chunked"
            self.state = "chunk-size"
        elif cl:
            r.framing = "content-length"
            self._remaining = int(cl[0])
            self.state = "cl"
            if self._remaining == 0:
                self._finish(complete=True)
        else:
            r.framing = "close"
            self.state = "close"


def build_head(method: str, target: str, headers: Headers, version: str = "HTTP/1.1") -> bytes:
    out = [f"{method} {target} {version}\r\n".encode("latin-1")]
    for k, v in headers:
        out.append(f"{k}: {v}\r\n".encode("latin-1"))
    out.append(b"\r\n")
    return b"".join(out)


def _pieces(body: Body, piece: int = 65536) -> Iterator[bytes]:
    if body is None:
        return
    if isinstance(body, (bytes, bytearray, memoryview)):
        mv = memoryview(body)
        for i in range(0, len(mv), piece):
            yield bytes(mv[i : i + piece])
        return
    for b in body:
        if b:
            yield bytes(b)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data + b"\r\n"


class Conn:
    """One client connection to the proxy, plain or TLS. Not thread-safe."""

    def __init__(self, port: int, *, addr: str = "127.0.0.1", tls: bool = True, sni: Optional[str] = None,
                 ca_file: Optional[str] = None, verify: bool = True, timeout: float = DEFAULT_TIMEOUT,
                 alpn: Sequence[str] = ("http/1.1",), tls_version: Optional[ssl.TLSVersion] = None,
                 default_host: Optional[str] = None):
        self.port = port
        self.timeout = timeout
        self.default_host = default_host
        raw = socket.create_connection((addr, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.tls = tls
        self.peer_cert = None
        self.peer_cert_der = None
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False  # SNI selection tests inspect the served certificate instead
            if verify and ca_file:
                ctx.load_verify_locations(ca_file)
                ctx.verify_mode = ssl.CERT_REQUIRED
            else:
                ctx.verify_mode = ssl.CERT_NONE
            if alpn:
                ctx.set_alpn_protocols(list(alpn))
            if tls_version is not None:
                ctx.minimum_version = tls_version
                ctx.maximum_version = tls_version
            self.sock = ctx.wrap_socket(raw, server_hostname=sni)
            self.peer_cert = self.sock.getpeercert() if ctx.verify_mode == ssl.CERT_REQUIRED else None
            self.peer_cert_der = self.sock.getpeercert(binary_form=True)
        else:
            self.sock = raw
        self.pending = b""  # bytes read past the previous response
        self.closed_by_peer = False

    # -- raw I/O
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def recv_some(self, timeout: float) -> bytes:
        """One recv with a timeout; b"" on EOF/reset (sets closed_by_peer); raises socket.timeout."""
        if self.pending:
            d, self.pending = self.pending, b""
            return d
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, ConnectionAbortedError):
            d = b""
        except ssl.SSLZeroReturnError:  # pragma: no cover - subclass of SSLError
            d = b""
        if not d:
            self.closed_by_peer = True
        return d

    def read_response(self, method: str = "GET", store_body: bool = True, timeout: Optional[float] = None,
                      stop_after_informational: bool = False) -> Response:
        """Reads one final response (1xx collected in .informational). If the connection ends early,
        returns what arrived with complete=False (status 0 if nothing at all arrived)."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        p = ResponseParser(method, store_body)
        if self.pending:
            data, self.pending = self.pending, b""
            p.feed(data)
        while not p.done:
            if stop_after_informational and p.informational:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no complete response within {timeout}s (state={p.state}, "
                                   f"got {p.resp.status} {p.resp.body_len} body bytes)")
            try:
                data = self.recv_some(min(left, 5.0))
            except socket.timeout:
                continue
            if not data:
                p.eof()
                break
            p.feed(data)
        if stop_after_informational and p.informational and not p.done:
            # Keep the parser's unread bytes for the final response.
            self.pending = bytes(p.buf) + self.pending
            return p.informational[-1]
        self.pending = p.rest + self.pending
        return p.resp

    def peer_closed(self, wait: float = 2.0) -> bool:
        """True when the peer closes (EOF/reset) within `wait` s without sending more bytes."""
        if self.closed_by_peer:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                d = self.recv_some(max(0.01, deadline - time.monotonic()))
            except socket.timeout:
                return False
            if not d:
                return True
            self.pending += d  # unexpected extra bytes: keep them, the connection is open
            return False
        return False

    # -- requests
    def request(self, method: str, target: str, *, headers: Optional[Headers] = None, body: Body = None,
                chunked: bool = False, host: Optional[str] = "default", store_body: bool = True,
                expect_continue: bool = False, timeout: Optional[float] = None,
                content_length: Optional[int] = None) -> Response:
        """Sends one request and reads its response. Host is sent first unless host=None; other
        headers keep the given order and case. A bytes body gets Content-Length; chunked=True sends
        the body (bytes or an iterable of pieces) with chunked framing. expect_continue sends
        `Expect: 100-continue` and waits for the interim response before sending the body."""
        hdrs: Headers = []
        if host == "default":
            host = self.default_host
        if host is not None:
            hdrs.append(("Host", host))
        hdrs.extend(headers or [])
        names = {k.lower() for k, _ in hdrs}
        if body is not None:
            if chunked:
                if "transfer-encoding" not in names:
                    hdrs.append(("Transfer-Encoding", "chunked"))
            elif "content-length" not in names:
                if content_length is None:
                    assert isinstance(body, (bytes, bytearray)), "streamed bodies need content_length or chunked"
                    content_length = len(body)
                hdrs.append(("Content-Length", str(content_length)))
        if expect_continue:
            hdrs.append(("Expect", "100-continue"))
        self.send(build_head(method, target, hdrs))
        if expect_continue:
            interim = self.read_response(method, store_body, timeout=timeout or self.timeout,
                                         stop_after_informational=True)
            if not (100 <= interim.status < 200):
                return interim  # final response without 100 (e.g. an error): body not sent
        self._send_body(body, chunked)
        resp = self.read_response(method, store_body, timeout)
        if expect_continue and interim is not resp:
            resp.informational = [interim] + [r for r in resp.informational if r is not interim]
        return resp

    def _send_body(self, body: Body, chunked: bool) -> None:
        if body is None:
            return
        for piece in _pieces(body):
            self.send(chunk(piece) if chunked else piece)
        if chunked:
            self.send(b"0\r\n\r\n")

    def get(self, target: str, **kw) -> Response:
        return self.request("GET", target, **kw)

    def duplex(self, head: bytes, body_pieces: Iterable[bytes], *, chunked: bool, method: str = "POST",
               store_body: bool = False, timeout: Optional[float] = None) -> Response:
        """Sends head + body while reading the response at the same time (one thread, non-blocking
        socket), so an upstream that streams its answer while the upload is still running cannot
        deadlock against this client. Returns the final response."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        it = iter(body_pieces)
        out = bytearray(head)
        body_done = False
        p = ResponseParser(method, store_body)
        self.sock.setblocking(False)
        try:
            while not p.done:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"duplex exchange not finished within {timeout}s "
                                       f"(sent all={body_done and not out}, got {p.resp.body_len} bytes)")
                while len(out) < 262144 and not body_done:
                    try:
                        piece = next(it)
                        out += chunk(piece) if chunked else piece
                    except StopIteration:
                        body_done = True
                        if chunked:
                            out += b"0\r\n\r\n"
                want_write = bool(out)
                r, w, _ = select.select([self.sock], [self.sock] if want_write else [], [], 0.5)
                if r or (self.tls and self.sock.pending()):
                    while True:
                        try:
                            d = self.sock.recv(65536)
                        except (ssl.SSLWantReadError, BlockingIOError):
                            break
                        except ssl.SSLWantWriteError:
                            break
                        except (ConnectionResetError, ssl.SSLError):
                            d = b""
                        if not d:
                            self.closed_by_peer = True
                            p.eof()
                            break
                        p.feed(d)
                        if p.done:
                            break
                if w and out:
                    try:
                        n = self.sock.send(bytes(out[:65536]))
                        del out[:n]
                    except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                        pass
                    except (BrokenPipeError, ConnectionResetError):
                        out = bytearray()
                        body_done = True
        finally:
            self.sock.setblocking(True)
        self.pending = p.rest
        return p.resp


def parse_responses(raw: bytes, method: str = "GET") -> List[Response]:
    """Splits a captured byte stream into responses (for raw-socket probes)."""
    out = []
    while raw:
        p = ResponseParser(method)
        try:
            p.feed(raw)
        except HttpError:
            break
        if not p.done:
            p.eof()
            out.append(p.resp)
            break
        out.append(p.resp)
        raw = p.rest
    return out
