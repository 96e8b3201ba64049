"""Idle-connection client for bench/run.sh (the idle-* workloads, bench/README.md).

Opens N connections to a proxy, sends exactly one request on each (GET /small with
Host/:authority bench.local), reads the response completely, checks it (200, body
"Hello, World!") and then leaves the connection open and idle: nothing more is sent, and in
particular no HTTP/2 GOAWAY and no TLS close_notify, until close_all().

  mode "http1": HTTP/1.1 keep-alive over plain TCP
  mode "tls":   HTTP/1.1 over TLS 1.3 (ALPN http/1.1), a full handshake per connection
  mode "h2":    HTTP/2 over TLS 1.3 (ALPN h2), one stream

One thread, non-blocking sockets and a selector; at most `parallel` connections are being set
up at a time (the proxies listen with a backlog of 4096), so N = 10,000 takes seconds.

  python3 bench/lib/idleclient.py --port 8443 --mode h2 -n 1000 --hold 5
"""

from __future__ import annotations

import argparse
import errno
import resource
import select
import selectors
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions

SMALL_BODY = b"Hello, World!"
HOST_HEADER = "bench.local"
RECV = 65536


def raise_nofile(need: int) -> tuple[int, int]:
    """Raises this process's RLIMIT_NOFILE soft limit to the hard limit when it is below `need`
    (and the hard limit too when that is below `need` and we may: root, up to fs.nr_open).
    Processes started afterwards inherit it. Returns the new (soft, hard)."""
    inf = resource.RLIM_INFINITY
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == inf or soft >= need:
        return soft, hard
    if hard != inf and hard < need:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            return need, need
        except (ValueError, OSError):
            pass
    new = need if hard == inf else hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return new, hard


def tls_context(alpn: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols([alpn])
    return ctx


def parse_http1(buf: bytearray):
    """(status, body, connection_close) once a whole response is in buf, else None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ValueError(f"bad status line {lines[0]!r}")
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    close = "close" in headers.get("connection", "").lower()
    rest = bytes(buf[end + 4:])
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        pos = 0
        while True:
            i = rest.find(b"\r\n", pos)
            if i < 0:
                return None
            size = int(rest[pos:i].split(b";")[0], 16)
            pos = i + 2
            if size == 0:
                if rest.find(b"\r\n", pos) < 0:  # (no trailers expected) the final CRLF
                    return None
                return status, bytes(body), close
            if len(rest) < pos + size + 2:
                return None
            body += rest[pos:pos + size]
            pos += size + 2
    if "content-length" in headers:
        n = int(headers["content-length"])
        if len(rest) < n:
            return None
        if len(rest) > n:
            raise ValueError(f"{len(rest) - n} unexpected bytes after the response")
        return status, rest, close
    raise ValueError("response without Content-Length or chunked encoding")


class Conn:
    __slots__ = ("i", "sock", "state", "buf", "h2", "status", "body", "events", "deadline", "error")

    def __init__(self, i: int):
        self.i = i
        self.sock = None
        self.state = "new"
        self.buf = bytearray()
        self.h2 = None
        self.status = None
        self.body = bytearray()
        self.events = 0
        self.deadline = 0.0
        self.error = None


class IdleClient:
    def __init__(self, port: int, mode: str, n: int, *, host: str = "127.0.0.1", path: str = "/small",
                 parallel: int = 128, timeout: float = 30.0, expect_body: bytes = SMALL_BODY):
        if mode not in ("http1", "tls", "h2"):
            raise ValueError(f"mode {mode!r}")
        self.port, self.mode, self.n, self.host, self.path = port, mode, n, host, path
        self.parallel, self.timeout, self.expect_body = parallel, timeout, expect_body
        self.ctx = tls_context("h2" if mode == "h2" else "http/1.1") if mode != "http1" else None
        self.conns: list[Conn] = []
        self.failures: dict[str, int] = {}
        self.failure_examples: dict[str, str] = {}
        self.seconds = 0.0

    # ------------------------------------------------------------------ set-up

    def _fail(self, c: Conn, kind: str, detail: str = "") -> None:
        c.state = "failed"
        c.error = kind
        self.failures[kind] = self.failures.get(kind, 0) + 1
        self.failure_examples.setdefault(kind, f"connection {c.i}: {detail}"[:300])
        self._unregister(c)
        try:
            c.sock.close()
        except OSError:
            pass

    def _want(self, c: Conn, events: int) -> None:
        if events != c.events:
            if c.events:
                self.sel.modify(c.sock, events, c)
            else:
                self.sel.register(c.sock, events, c)
            c.events = events

    def _start(self, c: Conn) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.sock = s
        c.deadline = time.monotonic() + self.timeout
        rc = s.connect_ex((self.host, self.port))
        if rc not in (0, errno.EINPROGRESS):
            c.sock = s
            self._fail(c, "connect", errno.errorcode.get(rc, str(rc)))
            return
        c.state = "connecting"
        self._want(c, selectors.EVENT_WRITE)

    def _request_bytes(self, c: Conn) -> bytes:
        if self.mode == "h2":
            c.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
            c.h2.initiate_connection()
            c.h2.send_headers(1, [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", HOST_HEADER.encode()),
                                  (b":path", self.path.encode())], end_stream=True)
            return c.h2.data_to_send()
        return f"GET {self.path} HTTP/1.1\r\nHost: {HOST_HEADER}\r\n\r\n".encode()

    def _step(self, c: Conn) -> None:
        """Advances c as far as it can go without blocking."""
        s = c.sock
        if c.state == "connecting":
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                return self._fail(c, "connect", errno.errorcode.get(err, str(err)))
            if self.ctx is not None:
                self._unregister(c)
                c.sock = s = self.ctx.wrap_socket(s, server_hostname=HOST_HEADER, do_handshake_on_connect=False)
                c.state = "handshake"
            else:
                c.buf = bytearray(self._request_bytes(c))
                c.state = "sending"
        if c.state == "handshake":
            try:
                s.do_handshake()
            except ssl.SSLWantReadError:
                return self._want(c, selectors.EVENT_READ)
            except ssl.SSLWantWriteError:
                return self._want(c, selectors.EVENT_WRITE)
            except (ssl.SSLError, OSError) as e:
                return self._fail(c, "tls-handshake", repr(e))
            want = "h2" if self.mode == "h2" else "http/1.1"
            got = s.selected_alpn_protocol()
            if self.mode == "h2" and got != want:
                return self._fail(c, "alpn", f"server selected {got!r}, not h2")
            if s.version() != "TLSv1.3":
                return self._fail(c, "tls-version", s.version())
            c.buf = bytearray(self._request_bytes(c))
            c.state = "sending"
        if c.state == "sending":
            while c.buf:
                try:
                    k = s.send(c.buf)
                except (BlockingIOError, ssl.SSLWantWriteError):
                    return self._want(c, selectors.EVENT_WRITE)
                except ssl.SSLWantReadError:
                    return self._want(c, selectors.EVENT_READ)
                except (ssl.SSLError, OSError) as e:
                    return self._fail(c, "send", repr(e))
                del c.buf[:k]
            c.state = "reading"
            c.buf = bytearray()
        if c.state == "reading":
            while True:
                try:
                    data = s.recv(RECV)
                except (BlockingIOError, ssl.SSLWantReadError):
                    return self._want(c, selectors.EVENT_READ)
                except ssl.SSLWantWriteError:
                    return self._want(c, selectors.EVENT_WRITE)
                except (ssl.SSLError, OSError) as e:
                    return self._fail(c, "closed-before-response", repr(e))
                if not data:
                    return self._fail(c, "closed-before-response", f"EOF after {len(c.buf)} bytes")
                if self.mode == "h2":
                    if self._h2_data(c, data):
                        return
                else:
                    c.buf += data
                    try:
                        r = parse_http1(c.buf)
                    except ValueError as e:
                        return self._fail(c, "bad-response", str(e))
                    if r is not None:
                        status, body, close = r
                        if status != 200:
                            return self._fail(c, f"status-{status}", repr(body[:100]))
                        if body != self.expect_body:
                            return self._fail(c, "bad-body", repr(body[:100]))
                        if close:
                            return self._fail(c, "connection-close", "the response said Connection: close")
                        return self._done(c)

    def _h2_data(self, c: Conn, data: bytes) -> bool:
        """Feeds data to c's HTTP/2 state; True when c is finished (done or failed)."""
        try:
            events = c.h2.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            self._fail(c, "h2-protocol", repr(e))
            return True
        ended = False
        for ev in events:
            if isinstance(ev, h2.events.ResponseReceived):
                c.status = int(dict(ev.headers).get(b":status", b"0"))
            elif isinstance(ev, h2.events.DataReceived):
                c.body += ev.data
                c.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                ended = True
            elif isinstance(ev, h2.events.StreamReset):
                self._fail(c, "h2-reset", f"error code {ev.error_code}")
                return True
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self._fail(c, "h2-goaway", f"error code {ev.error_code}")
                return True
        out = c.h2.data_to_send()  # SETTINGS ACK, WINDOW_UPDATE
        if out:
            try:
                c.sock.sendall(out)  # a few bytes: fits in the socket buffer
            except (ssl.SSLError, OSError) as e:
                self._fail(c, "send", repr(e))
                return True
        if not ended:
            return False
        if c.status != 200:
            self._fail(c, f"status-{c.status}", repr(bytes(c.body[:100])))
        elif bytes(c.body) != self.expect_body:
            self._fail(c, "bad-body", repr(bytes(c.body[:100])))
        else:
            self._done(c)
        return True

    def _done(self, c: Conn) -> None:
        c.state = "idle"
        self._unregister(c)

    def _unregister(self, c: Conn) -> None:
        # A connection can also finish within one _step without ever having waited (the
        # proxy answered before we looked): then it was never registered.
        if c.events:
            self.sel.unregister(c.sock)
            c.events = 0

    def open_all(self, overall_timeout: float = 300.0) -> dict:
        """Opens the n connections, one request each; returns counts (ok, failures by kind)."""
        self.sel = selectors.DefaultSelector()
        t0 = time.monotonic()
        next_i = 0
        active: set[Conn] = set()  # being set up
        last_sweep = t0
        try:
            while next_i < self.n or active:
                while next_i < self.n and len(active) < self.parallel:
                    c = Conn(next_i)
                    next_i += 1
                    self.conns.append(c)
                    self._start(c)
                    if c.state != "failed":
                        active.add(c)
                now = time.monotonic()
                if now - t0 > overall_timeout:
                    raise TimeoutError(f"{self.n} connections not open after {overall_timeout:.0f} s")
                for key, _ in self.sel.select(timeout=0.5):
                    c = key.data
                    if c in active:
                        self._step(c)
                        if c.state in ("idle", "failed"):
                            active.discard(c)
                if now - last_sweep > 1.0:
                    last_sweep = now
                    for c in [c for c in active if now > c.deadline]:
                        self._fail(c, "timeout", f"state {c.state} after {self.timeout:.0f} s")
                        active.discard(c)
        finally:
            self.seconds = time.monotonic() - t0
        return self.counts()

    def counts(self) -> dict:
        ok = sum(1 for c in self.conns if c.state == "idle")
        return {"connections": self.n, "ok": ok, "failed": self.n - ok, "failures": dict(self.failures),
                "failure_examples": dict(self.failure_examples), "open_seconds": round(self.seconds, 2)}

    # ------------------------------------------------------------------ after

    def still_open(self) -> dict:
        """Checks the idle connections without sending anything: a connection whose socket is
        readable is read; EOF, an error or (HTTP/2) a GOAWAY means the proxy closed it."""
        idle = [c for c in self.conns if c.state == "idle"]
        by_fd = {c.sock.fileno(): c for c in idle}
        p = select.poll()
        for fd in by_fd:
            p.register(fd, select.POLLIN | select.POLLRDHUP)
        closed, unexpected = 0, 0
        for fd, _ in p.poll(0):
            c = by_fd[fd]
            try:
                c.sock.setblocking(False)
                data = c.sock.recv(RECV)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue  # only TLS records without data (e.g. a late session ticket)
            except (ssl.SSLError, OSError):
                data = b""
            if not data:
                closed += 1
                c.state = "closed-by-proxy"
                continue
            if self.mode == "h2":
                try:
                    evs = c.h2.receive_data(data)
                except Exception:  # noqa: BLE001 (any protocol error counts as a closed connection)
                    evs = [h2.events.ConnectionTerminated()]
                if any(isinstance(e, h2.events.ConnectionTerminated) for e in evs):
                    closed += 1
                    c.state = "closed-by-proxy"
                    continue
                out = c.h2.data_to_send()  # e.g. a PING ACK
                if out:
                    try:
                        c.sock.sendall(out)
                    except (ssl.SSLError, OSError):
                        pass
            else:
                unexpected += 1
        return {"still_open": len(idle) - closed, "closed_by_proxy": closed, "unexpected_data": unexpected}

    def close_all(self) -> None:
        for c in self.conns:
            if c.sock is not None:
                try:
                    c.sock.close()
                except OSError:
                    pass
        self.conns = []
        try:
            self.sel.close()
        except AttributeError:
            pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", choices=["http1", "tls", "h2"], default="http1")
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("--parallel", type=int, default=128)
    ap.add_argument("--hold", type=float, default=0.0, help="seconds to keep the connections open")
    a = ap.parse_args()
    raise_nofile(a.n + 100)
    cl = IdleClient(a.port, a.mode, a.n, host=a.host, parallel=a.parallel)
    r = cl.open_all()
    print(r)
    if a.hold:
        time.sleep(a.hold)
        print(cl.still_open())
    cl.close_all()
    return 0 if r["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
