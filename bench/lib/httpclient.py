"""A small deterministic HTTP/1.1 client for bench/run.sh.

It sends requests one at a time (the next request leaves only after the previous response
has been read completely), so a proxy running under callgrind does the same work on every
run and the instruction count grows exactly with the number of requests.

  keep-alive: one connection, N requests.
  close:      N connections with one request each ("Connection: close"); the client reads the
              response and waits for the server to close before opening the next connection.

Also usable from the command line for a quick check:
  python3 bench/lib/httpclient.py --port 8080 --path /small -n 3 [--tls] [--close]
"""

from __future__ import annotations

import argparse
import socket
import ssl
import sys
import time

RECV = 262144


class ProtocolError(Exception):
    pass


def client_tls_context() -> ssl.SSLContext:
    # Like wrk: no verification, default TLS 1.2/1.3 offer, no session resumption
    # (each new connection is a full handshake).
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Connection:
    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, sni: str | None,
                 timeout: float, session: ssl.SSLSession | None = None):
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname=sni, session=session)
        self.sock = sock
        self.buf = bytearray()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self) -> bool:
        try:
            data = self.sock.recv(RECV)
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError):
            data = b""
        if not data:
            return False
        self.buf += data
        return True

    def wait_eof(self) -> None:
        """Read until the peer closes (after a Connection: close response)."""
        while self._fill():
            if len(self.buf) > 0:
                raise ProtocolError("unexpected bytes after a Connection: close response")

    def request(self, path: str, host_header: str, close: bool,
                extra: list[tuple[str, str]] | None = None) -> tuple[int, bytes, bool]:
        req = f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\n"
        for name, value in extra or ():
            req += f"{name}: {value}\r\n"
        if close:
            req += "Connection: close\r\n"
        req += "\r\n"
        self.sock.sendall(req.encode())
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if not self._fill():
                raise ProtocolError("connection closed before the response head")
        head = bytes(self.buf[:end]).decode("latin-1")
        del self.buf[: end + 4]
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ProtocolError(f"bad status line {lines[0]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        conn_close = "close" in headers.get("connection", "").lower()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif "content-length" in headers:
            body = self._read_exact(int(headers["content-length"]))
        else:
            while self._fill():
                pass
            body = bytes(self.buf)
            self.buf.clear()
            conn_close = True
        return status, body, conn_close

    def _read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise ProtocolError(f"connection closed after {len(self.buf)} of {n} body bytes")
        body = bytes(self.buf[:n])
        del self.buf[:n]
        return body

    def _read_line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[: i + 2]
                return line
            if not self._fill():
                raise ProtocolError("connection closed inside chunked framing")

    def _read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            size = int(self._read_line().split(b";")[0], 16)
            if size == 0:
                while self._read_line():
                    pass
                return bytes(out)
            out += self._read_exact(size)
            if self._read_line() != b"":
                raise ProtocolError("bad chunk terminator")


def run(port: int, path: str, n: int, *, host: str = "127.0.0.1", host_header: str = "bench.local",
        tls: bool = False, close: bool = False, resume: bool = False, sni: str | None = "bench.local",
        expect_body: bytes | None = None, expect_len: int | None = None,
        timeout: float = 120.0, headers: list[tuple[str, str]] | None = None) -> dict:
    """Send n requests sequentially. Raises on any non-200 status or wrong body.
    With tls and resume, each new connection offers the previous connection's session.
    headers: extra request headers (name, value) sent with every request (e.g. a Cookie)."""
    ctx = client_tls_context() if tls else None
    conn = None
    session = None
    resumed = 0
    t0 = time.monotonic()
    try:
        for i in range(n):
            if conn is None:
                conn = Connection(host, port, ctx, sni, timeout, session if resume else None)
                if tls and conn.sock.session_reused:
                    resumed += 1
            status, body, server_close = conn.request(path, host_header, close, headers)
            if status != 200:
                raise ProtocolError(f"request {i}: status {status}, body {body[:200]!r}")
            if expect_body is not None and body != expect_body:
                raise ProtocolError(f"request {i}: unexpected body {body[:64]!r}")
            if expect_len is not None and len(body) != expect_len:
                raise ProtocolError(f"request {i}: body of {len(body)} bytes, expected {expect_len}")
            if close or server_close:
                if close and not server_close:
                    raise ProtocolError(f"request {i}: no 'Connection: close' in the response")
                conn.wait_eof()
                if tls and resume:
                    session = conn.sock.session  # TLS 1.3 tickets have arrived by now
                conn.close()
                conn = None
    finally:
        if conn is not None:
            conn.close()
    return {"requests": n, "seconds": time.monotonic() - t0, "resumed": resumed}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/small")
    ap.add_argument("--host-header", default="bench.local")
    ap.add_argument("-n", type=int, default=1)
    ap.add_argument("-H", "--header", action="append", default=[], metavar="'Name: value'",
                    help="extra request header (repeatable)")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--close", action="store_true")
    ap.add_argument("--resume", action="store_true", help="with --tls --close: resume TLS sessions")
    a = ap.parse_args()
    hdrs = [(h.partition(":")[0].strip(), h.partition(":")[2].strip()) for h in a.header]
    r = run(a.port, a.path, a.n, host=a.host, host_header=a.host_header, tls=a.tls, close=a.close,
            resume=a.resume, headers=hdrs)
    print(f"{r['requests']} requests in {r['seconds']:.3f} s, {r['resumed']} TLS sessions resumed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
