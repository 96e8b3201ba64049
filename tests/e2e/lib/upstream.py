"""EchoUpstream: a real HTTP/1.1 origin on 127.0.0.1:0 that records every request exactly as it
arrived and answers with scriptable behaviours.

Raw sockets and one thread per connection; deliberately not http.server, which normalizes what
it parses. A record keeps the request line, the raw target, every header line in order with its
original case and duplicates, the body length and sha256, how the body was framed, and the id of
the TCP connection it came on (so keep-alive reuse is visible).

Default answer: 200 with a JSON description of the request (see RequestRecord.describe()).
Behaviours are picked per path prefix (`on("/slow", Delay(1))`) or for the whole server
(`default=...`).
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import random
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Dict, Iterator, List, Optional, Tuple

Headers = List[Tuple[str, str]]

MAX_HEAD = 4 << 20  # generous: hygiene tests forward 128 KiB header blocks plus proxy headers
IO_TIMEOUT = 30.0


@lru_cache(maxsize=8)
def payload(size: int, seed: int = 1) -> bytes:
    """Deterministic pseudo-random bytes (same size+seed → same bytes, in every process)."""
    return random.Random(seed).randbytes(size)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ClientGone(Exception):
    pass


class SockReader:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = bytearray()
        self.eof = False

    def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            d = self.sock.recv(262144)
        except (ConnectionResetError, socket.timeout, OSError):
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def read_until(self, sep: bytes, limit: int) -> Optional[bytes]:
        start = 0
        while True:
            i = self.buf.find(sep, start)
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[: i + len(sep)]
                return out
            if len(self.buf) > limit:
                raise ValueError("line too long")
            start = max(0, len(self.buf) - len(sep) + 1)
            if not self._fill():
                return None

    def read_some(self, n: int) -> bytes:
        if not self.buf and not self._fill():
            return b""
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


@dataclass
class RequestRecord:
    server: str
    conn_id: int
    seq: int  # 1-based index of the request on its connection
    index: int  # 1-based index over the whole server
    peer: Tuple[str, int]
    request_line: str
    method: str
    target: str
    version: str
    headers: Headers
    raw_head: bytes
    body_framing: str = "none"  # "content-length" | "chunked" | "none"
    body_len: int = 0
    body_sha256: str = hashlib.sha256(b"").hexdigest()
    trailers: Headers = field(default_factory=list)
    complete: bool = False  # the whole body arrived per its framing
    received_at: float = 0.0
    body_sample: bytes = b""  # first 4 KiB, for small-body assertions

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

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def describe(self) -> dict:
        return {
            "server": self.server,
            "conn": self.conn_id,
            "seq": self.seq,
            "index": self.index,
            "request_line": self.request_line,
            "method": self.method,
            "target": self.target,
            "version": self.version,
            "headers": [[k, v] for k, v in self.headers],
            "body_framing": self.body_framing,
            "body_len": self.body_len,
            "body_sha256": self.body_sha256,
            "trailers": [[k, v] for k, v in self.trailers],
        }


class Ctx:
    """What a behaviour gets for one request."""

    def __init__(self, server: "EchoUpstream", sock: socket.socket, reader: SockReader, rec: RequestRecord,
                 framing: str, length: int):
        self.server = server
        self.sock = sock
        self.reader = reader
        self.record = rec
        self._framing = framing
        self._left = length
        self._body_done = framing == "none"
        self._hash = hashlib.sha256()
        self.close_after = (rec.header("connection") or "").lower().find("close") >= 0 or rec.version == "HTTP/1.0"
        if self._body_done:
            self._complete()
        self._chunk_left = 0
        self._chunk_state = "size"

    def _complete(self) -> None:
        self.record.complete = True
        self.record.body_sha256 = self._hash.hexdigest()
        self.server._notify()

    def iter_body(self, piece: int = 65536) -> Iterator[bytes]:
        """Yields the request body as it arrives (de-chunked). Raises ClientGone on early EOF."""
        rec = self.record
        while not self._body_done:
            if self._framing == "content-length":
                d = self.reader.read_some(min(piece, self._left))
                if not d:
                    raise ClientGone("EOF inside content-length body")
                self._left -= len(d)
                self._account(d)
                if self._left == 0:
                    self._body_done = True
                    self._complete()
                yield d
            else:  # chunked
                if self._chunk_state == "size":
                    line = self.reader.read_until(b"\r\n", 4096)
                    if line is None:
                        raise ClientGone("EOF at chunk size")
                    size = int(line.split(b";")[0].strip(), 16)
                    if size == 0:
                        while True:
                            t = self.reader.read_until(b"\r\n", 65536)
                            if t is None:
                                raise ClientGone("EOF in trailers")
                            if not t:
                                break
                            k, _, v = t.decode("latin-1").partition(":")
                            rec.trailers.append((k, v.strip()))
                        self._body_done = True
                        self._complete()
                        return
                    self._chunk_left = size
                    self._chunk_state = "data"
                d = self.reader.read_some(min(piece, self._chunk_left))
                if not d:
                    raise ClientGone("EOF inside chunk")
                self._chunk_left -= len(d)
                self._account(d)
                if self._chunk_left == 0:
                    if self.reader.read_until(b"\r\n", 2) is None:
                        raise ClientGone("EOF after chunk data")
                    self._chunk_state = "size"
                yield d

    def _account(self, d: bytes) -> None:
        rec = self.record
        if len(rec.body_sample) < 4096:
            rec.body_sample += d[: 4096 - len(rec.body_sample)]
        rec.body_len += len(d)
        self._hash.update(d)

    def read_body(self) -> None:
        for _ in self.iter_body():
            pass

    @property
    def body_done(self) -> bool:
        return self._body_done

    # -- writing
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_head(self, status: int, headers: Headers, reason: Optional[str] = None) -> None:
        reason = reason if reason is not None else REASONS.get(status, "Status")
        hdrs = [("X-Echo-Server", self.server.name), ("X-Echo-Conn", str(self.record.conn_id))] + list(headers)
        if self.close_after and not any(k.lower() == "connection" for k, _ in hdrs):
            hdrs.append(("Connection", "close"))
        out = [f"HTTP/1.1 {status} {reason}\r\n".encode("latin-1")]
        out += [f"{k}: {v}\r\n".encode("latin-1") for k, v in hdrs]
        out.append(b"\r\n")
        self.send(b"".join(out))

    def reply(self, status: int, body: bytes, headers: Optional[Headers] = None, reason: Optional[str] = None) -> None:
        hdrs = list(headers or [])
        if status not in (204, 304) and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in hdrs):
            hdrs.append(("Content-Length", str(len(body))))
        self.send_head(status, hdrs, reason)
        if self.record.method != "HEAD" and status not in (204, 304):
            self.send(body)

    def reset(self) -> None:
        """Abort the connection with a TCP RST."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        finally:
            self.sock.close()


REASONS = {200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently", 302: "Found",
           400: "Bad Request", 403: "Forbidden", 404: "Not Found", 418: "I'm a teapot",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


# ----------------------------------------------------------------------------- behaviours
# A behaviour is a callable(ctx) -> bool: True keeps the connection open for the next request.


class Echo:
    """200 + JSON description of the request (after reading the whole body)."""

    def __init__(self, status: int = 200, headers: Optional[Headers] = None):
        self.status = status
        self.headers = headers or []

    def __call__(self, ctx: Ctx) -> bool:
        ctx.read_body()
        body = json.dumps(ctx.record.describe()).encode()
        ctx.reply(self.status, body, [("Content-Type", "application/json")] + self.headers)
        return not ctx.close_after


class Fixed:
    def __init__(self, status: int = 200, body: bytes = b"", headers: Optional[Headers] = None,
                 reason: Optional[str] = None):
        self.status, self.body, self.headers, self.reason = status, body, headers or [], reason

    def __call__(self, ctx: Ctx) -> bool:
        ctx.read_body()
        ctx.reply(self.status, self.body, self.headers, self.reason)
        if any(k.lower() == "connection" and "close" in v.lower() for k, v in self.headers):
            return False
        return not ctx.close_after


class Download:
    """200 with `size` deterministic bytes (payload(size, seed)), Content-Length or chunked."""

    def __init__(self, size: int, chunked: bool = False, seed: int = 1, piece: int = 65536):
        self.size, self.chunked, self.seed, self.piece = size, chunked, seed, piece

    def __call__(self, ctx: Ctx) -> bool:
        ctx.read_body()
        data = payload(self.size, self.seed)
        hdrs = [("Content-Type", "application/octet-stream"), ("X-Body-Sha256", sha256(data))]
        if ctx.record.method == "HEAD":
            ctx.send_head(200, hdrs + [("Content-Length", str(len(data)))])
        elif self.chunked:
            ctx.send_head(200, hdrs + [("Transfer-Encoding", "chunked")])
            for i in range(0, len(data), self.piece):
                p = data[i : i + self.piece]
                ctx.send(b"%x\r\n" % len(p) + p + b"\r\n")
            ctx.send(b"0\r\n\r\n")
        else:
            ctx.send_head(200, hdrs + [("Content-Length", str(len(data)))])
            for i in range(0, len(data), self.piece):
                ctx.send(data[i : i + self.piece])
        return not ctx.close_after


class Stream:
    """200 with `size` bytes of a repeated 64 KiB block (cheap for very large bodies); counts
    what it managed to send in .sent (backpressure tests) and signals .done_event at the end."""

    BLOCK = payload(65536, 11)

    def __init__(self, size: int, chunked: bool = False):
        self.size, self.chunked = size, chunked
        self.sent = 0
        self.done_event = threading.Event()

    def __call__(self, ctx: Ctx) -> bool:
        ctx.read_body()
        hdrs = [("Transfer-Encoding", "chunked")] if self.chunked else [("Content-Length", str(self.size))]
        ctx.send_head(200, hdrs)
        left = self.size
        while left:
            p = self.BLOCK[: min(left, len(self.BLOCK))]
            ctx.send(b"%x\r\n" % len(p) + p + b"\r\n" if self.chunked else p)
            left -= len(p)
            self.sent += len(p)
        if self.chunked:
            ctx.send(b"0\r\n\r\n")
        self.done_event.set()
        return not ctx.close_after

    @classmethod
    def expected_sha256(cls, size: int) -> str:
        h = hashlib.sha256()
        left = size
        while left:
            n = min(left, len(cls.BLOCK))
            h.update(cls.BLOCK[:n])
            left -= n
        return h.hexdigest()


class EchoBody:
    """Streams the request body back while it is still arriving: the response head goes out
    first, then each piece as soon as it is read. Chunked request → chunked response; a
    Content-Length request → the same Content-Length."""

    def __call__(self, ctx: Ctx) -> bool:
        rec = ctx.record
        cl = rec.header("content-length")
        chunked = ctx._framing == "chunked" or cl is None
        hdrs = [("Content-Type", "application/octet-stream")]
        hdrs.append(("Transfer-Encoding", "chunked") if chunked else ("Content-Length", cl))
        ctx.send_head(200, hdrs)
        for d in ctx.iter_body():
            ctx.send(b"%x\r\n" % len(d) + d + b"\r\n" if chunked else d)
        if chunked:
            ctx.send(b"0\r\n\r\n")
        return not ctx.close_after


class Delay:
    """Waits `seconds` (after reading the body) before running `then`."""

    def __init__(self, seconds: float, then: Optional[Callable[[Ctx], bool]] = None):
        self.seconds, self.then = seconds, then or Echo()

    def __call__(self, ctx: Ctx) -> bool:
        ctx.read_body()
        time.sleep(self.seconds)
        return self.then(ctx)


class SlowBody:
    """200 head at once, then `size` bytes in `pieces` pieces spread over `seconds`."""

    def __init__(self, size: int, seconds: float, pieces: int = 10, chunked: bool = False, seed: int = 2):
        self.size, self.seconds, self.pieces, self.chunked, self.seed = size, seconds, pieces, chunked, seed

    def __call__(self, ctx: Ctx) -> bool:
        ctx.read_body()
        data = payload(self.size, self.seed)
        hdrs = [("X-Body-Sha256", sha256(data))]
        hdrs.append(("Transfer-Encoding", "chunked") if self.chunked else ("Content-Length", str(len(data))))
        ctx.send_head(200, hdrs)
        step = max(1, -(-len(data) // self.pieces))
        for i in range(0, len(data), step):
            p = data[i : i + step]
            ctx.send(b"%x\r\n" % len(p) + p + b"\r\n" if self.chunked else p)
            time.sleep(self.seconds / self.pieces)
        if self.chunked:
            ctx.send(b"0\r\n\r\n")
        return not ctx.close_after


class CloseBeforeHead:
    """Reads the request (optionally its body) and closes without answering (FIN, or RST)."""

    def __init__(self, read_body: bool = True, rst: bool = False):
        self.read_body, self.rst = read_body, rst

    def __call__(self, ctx: Ctx) -> bool:
        if self.read_body:
            ctx.read_body()
        if self.rst:
            ctx.reset()
        return False


class ResetMidBody:
    """Announces `total` bytes (Content-Length, or chunked), sends `sent` of them, then aborts
    the connection with RST (rst=False: an orderly close, FIN)."""

    def __init__(self, total: int, sent: int, chunked: bool = False, seed: int = 3, rst: bool = True):
        self.total, self.sent, self.chunked, self.seed, self.rst = total, sent, chunked, seed, rst

    def __call__(self, ctx: Ctx) -> bool:
        ctx.read_body()
        data = payload(self.total, self.seed)[: self.sent]
        if self.chunked:
            ctx.send_head(200, [("Transfer-Encoding", "chunked")])
            for i in range(0, len(data), 16384):
                p = data[i : i + 16384]
                ctx.send(b"%x\r\n" % len(p) + p + b"\r\n")
        else:
            ctx.send_head(200, [("Content-Length", str(self.total))])
            ctx.send(data)
        time.sleep(0.2)  # let the bytes leave before the RST
        if self.rst:
            ctx.reset()
        return False


class Raw:
    """Sends raw bytes as the response (e.g. a malformed head), then closes (or keeps open)."""

    def __init__(self, data: bytes, close: bool = True):
        self.data, self.close = data, close

    def __call__(self, ctx: Ctx) -> bool:
        ctx.read_body()
        ctx.send(self.data)
        if self.close:
            time.sleep(0.1)
        return not self.close


class Hold:
    """Never answers: keeps the connection open until `release` is set or `max_seconds` pass."""

    def __init__(self, max_seconds: float = 30.0, release: Optional[threading.Event] = None):
        self.max_seconds = max_seconds
        self.release = release or threading.Event()

    def __call__(self, ctx: Ctx) -> bool:
        ctx.read_body()
        self.release.wait(self.max_seconds)
        return False


# ----------------------------------------------------------------------------- server
class EchoUpstream:
    _ids = itertools.count(1)

    def __init__(self, name: str = "echo", default: Optional[Callable[[Ctx], bool]] = None, port: int = 0):
        """`port` 0 picks a free port; a given port brings a server back on the address of one
        that was stopped (lib/clusters.py kill_upstream)."""
        self.name = name
        self.default = default or Echo()
        self.routes: List[Tuple[str, Callable[[Ctx], bool]]] = []
        self.records: List[RequestRecord] = []
        self.connections = 0
        self._cv = threading.Condition()
        self._socks: Dict[int, socket.socket] = {}
        self._conn_ids = itertools.count(1)
        self._index = itertools.count(1)
        self._closed = False
        self.errors: List[str] = []
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port))
        self.lsock.listen(512)
        self.port = self.lsock.getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept_loop, name=f"upstream-{name}", daemon=True)
        self._thread.start()

    # -- configuration
    def on(self, prefix: str, behaviour: Callable[[Ctx], bool]) -> "EchoUpstream":
        """Requests whose path starts with `prefix` get `behaviour` (first registered match wins)."""
        self.routes.append((prefix, behaviour))
        return self

    def _behaviour(self, path: str) -> Callable[[Ctx], bool]:
        for prefix, b in self.routes:
            if path.startswith(prefix):
                return b
        return self.default

    # -- inspection
    def _notify(self) -> None:
        with self._cv:
            self._cv.notify_all()

    def requests(self, path: Optional[str] = None) -> List[RequestRecord]:
        with self._cv:
            recs = list(self.records)
        return [r for r in recs if path is None or r.path == path]

    def wait_for(self, pred: Callable[[List[RequestRecord]], bool], timeout: float = 10.0, what: str = "") -> List[RequestRecord]:
        deadline = time.monotonic() + timeout
        with self._cv:
            while not pred(self.records):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"upstream {self.name}: timed out after {timeout}s waiting for {what or pred}; "
                                         f"saw {[r.request_line for r in self.records]}")
                self._cv.wait(min(left, 0.2))
            return list(self.records)

    def wait_requests(self, n: int, timeout: float = 10.0, complete: bool = True) -> List[RequestRecord]:
        return self.wait_for(lambda rs: sum(1 for r in rs if r.complete or not complete) >= n, timeout,
                             f"{n} request(s)")

    def clear(self) -> None:
        with self._cv:
            self.records.clear()

    def connection_ids(self) -> List[int]:
        return sorted({r.conn_id for r in self.requests()})

    # -- lifecycle
    def close(self) -> None:
        self._closed = True
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
            try:
                s.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                s, peer = self.lsock.accept()
            except OSError as e:
                if self._closed or e.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM,
                                                   errno.ECONNABORTED):
                    return
                # Out of descriptors for a moment (or a client gone before accept): a real server
                # keeps accepting. Ending the loop here would leave later clients connected to a
                # backlog nobody answers — a TLS upstream then looks like a handshake timeout.
                self.errors.append(f"accept failed: {e}")
                time.sleep(0.05)
                continue
            cid = next(self._conn_ids)
            with self._cv:
                self.connections += 1
                self._socks[cid] = s
            threading.Thread(target=self._serve, args=(s, peer, cid), name=f"{self.name}-c{cid}", daemon=True).start()

    def _serve(self, s: socket.socket, peer, cid: int) -> None:
        s.settimeout(IO_TIMEOUT)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = SockReader(s)
        seq = 0
        try:
            while True:
                try:
                    head = reader.read_until(b"\r\n\r\n", MAX_HEAD)
                except ValueError:
                    self.errors.append(f"c{cid}: request head over {MAX_HEAD} bytes")
                    return
                if head is None:
                    if reader.buf:
                        self.errors.append(f"c{cid}: EOF inside a request head: {bytes(reader.buf[:200])!r}")
                    return
                seq += 1
                lines = head.split(b"\r\n")
                request_line = lines[0].decode("latin-1")
                parts = request_line.split(" ")
                headers: Headers = []
                for ln in lines[1:]:
                    k, _, v = ln.decode("latin-1").partition(":")
                    headers.append((k, v.strip(" \t")))
                rec = RequestRecord(server=self.name, conn_id=cid, seq=seq, index=next(self._index), peer=peer,
                                    request_line=request_line, method=parts[0],
                                    target=parts[1] if len(parts) > 1 else "",
                                    version=parts[2] if len(parts) > 2 else "", headers=headers, raw_head=head,
                                    received_at=time.monotonic())
                te = ",".join(rec.headers_all("transfer-encoding")).lower()
                cls = rec.headers_all("content-length")
                if "chunked" in te:
                    framing, length = "chunked", 0
                elif cls:
                    framing, length = "content-length", int(cls[0])
                    if length == 0:
                        framing = "none"
                else:
                    framing, length = "none", 0
                rec.body_framing = framing
                if te and cls:
                    self.errors.append(f"c{cid}: proxy forwarded both Transfer-Encoding and Content-Length: {request_line}")
                with self._cv:
                    self.records.append(rec)
                    self._cv.notify_all()
                ctx = Ctx(self, s, reader, rec, framing, length)
                keep = self._behaviour(rec.path)(ctx)
                if not keep:
                    return
                if not ctx.body_done:
                    ctx.read_body()
        except ClientGone:
            return
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError) as e:
            if not self._closed:
                self.errors.append(f"c{cid}: {type(e).__name__}: {e}")
            return
        finally:
            with self._cv:
                self._socks.pop(cid, None)
            try:
                s.close()
            except OSError:
                pass


def refused_port() -> int:
    """A loopback port with nothing listening (bound then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class CloseAfterIdle:
    """Answers like Echo (keep-alive, no Connection header), then closes the connection
    `after` seconds later if no next request came: a server with a short keep-alive timeout."""

    def __init__(self, after: float = 0.2):
        self.after = after

    def __call__(self, ctx: Ctx) -> bool:
        Echo()(ctx)
        ctx.sock.settimeout(self.after)
        try:
            more = ctx.reader._fill()
        except OSError:
            more = False
        ctx.sock.settimeout(IO_TIMEOUT)
        return more  # False: close (the next request never came in time)
