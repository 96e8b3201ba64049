"""Helpers for the upstream-cluster tests (load balancing, health checks, outlier detection,
upstream TLS, metrics): upstream servers that can be killed and brought back, a switchable
behaviour, a TLS echo upstream (SNI and client certificate recorded), an HTTP upstream that also
answers a raw TCP probe, client certificates, the Prometheus scrape, log-line timestamps and
traffic counting."""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import socket
import ssl
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from .certs import TestCA, _run
from .http1 import Conn
from .upstream import IO_TIMEOUT, Ctx, EchoUpstream, Fixed

# ----------------------------------------------------------------------------- behaviours


class Switch:
    """A behaviour that delegates to whatever `.to(...)` last set (a /healthz that can turn
    bad and good again while Vallum probes it)."""

    def __init__(self, current: Callable[[Ctx], bool]):
        self.current = current

    def to(self, behaviour: Callable[[Ctx], bool]) -> "Switch":
        self.current = behaviour
        return self

    def __call__(self, ctx: Ctx) -> bool:
        return self.current(ctx)


class HangFor:
    """Reads the request and never answers until `release` is set (or `max_seconds`); the
    connection is then closed. Unlike upstream.Hold, one instance can serve many probes."""

    def __init__(self, max_seconds: float = 30.0):
        self.max_seconds = max_seconds
        self.release = threading.Event()

    def __call__(self, ctx: Ctx) -> bool:
        ctx.read_body()
        self.release.wait(self.max_seconds)
        return False


OK = Fixed(200, b"ok")


# ----------------------------------------------------------------------------- servers


def kill_upstream(u: EchoUpstream) -> None:
    """Stops an EchoUpstream for real: the listening socket stops accepting (new connections
    are refused) and every open connection is shut down. (EchoUpstream.close() alone leaves the
    accept() in progress holding the listener.)"""
    u._closed = True
    try:
        u.lsock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    u.close()
    u._thread.join(5)
    assert not u._thread.is_alive(), f"upstream {u.name} still accepting"


def revive_upstream(u: EchoUpstream, name: Optional[str] = None, timeout: float = 5.0) -> EchoUpstream:
    """A new EchoUpstream on the port of the killed `u`, with the same behaviours."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            n = EchoUpstream(name or u.name, default=u.default, port=u.port)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    n.routes = list(u.routes)
    return n


@dataclass
class TlsInfo:
    sni: Optional[str]
    client_cert: Optional[dict]
    version: str


class TlsEchoUpstream(EchoUpstream):
    """EchoUpstream behind TLS (server certificate `cert`/`key`). With `client_ca` the server
    requires a client certificate issued by it. Each connection's SNI and client certificate
    are in .tls_info[conn_id]; failed handshakes are in .handshake_errors."""

    def __init__(self, name: str, cert: str, key: str, client_ca: Optional[str] = None, **kw):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        if client_ca:
            self.ctx.load_verify_locations(client_ca)
            self.ctx.verify_mode = ssl.CERT_REQUIRED
        self._local = threading.local()

        def on_sni(sock, server_name, ctx):
            self._local.sni = server_name

        self.ctx.sni_callback = on_sni
        self.tls_info: Dict[int, TlsInfo] = {}
        self.handshake_errors: List[str] = []
        self.handshakes = 0
        super().__init__(name, **kw)
        self.url = f"https://127.0.0.1:{self.port}"

    def _serve(self, s: socket.socket, peer, cid: int) -> None:
        s.settimeout(10)
        self._local.sni = None
        try:
            ts = self.ctx.wrap_socket(s, server_side=True)
        except (ssl.SSLError, OSError) as e:
            with self._cv:
                self.handshake_errors.append(f"{type(e).__name__}: {e}")
                self._socks.pop(cid, None)
                self._cv.notify_all()
            try:
                s.close()
            except OSError:
                pass
            return
        with self._cv:
            self.handshakes += 1
            self.tls_info[cid] = TlsInfo(self._local.sni, ts.getpeercert() or None, ts.version() or "")
            self._socks[cid] = ts
            self._cv.notify_all()
        super()._serve(ts, peer, cid)

    def wait_handshake_error(self, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        with self._cv:
            while not self.handshake_errors:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"upstream {self.name}: no failed TLS handshake within {timeout}s")
                self._cv.wait(min(left, 0.2))
            return self.handshake_errors[-1]


class PingPongUpstream(EchoUpstream):
    """An HTTP echo upstream that also speaks a raw TCP probe protocol on the same port: a
    connection whose first bytes are `probe` (e.g. b"PING") gets `.reply` (b"PONG") for every
    `probe` it sends, on the same connection (Vallum reuses it). `.reply` may be changed at any
    time: other bytes (a wrong payload), None (silence) or "close" (close the connection).
    .probes holds (monotonic time, conn id) of every probe received."""

    def __init__(self, name: str, probe: bytes = b"PING", reply=b"PONG", **kw):
        self.probe = probe
        self.reply = reply
        self.probes: List[Tuple[float, int]] = []
        super().__init__(name, **kw)

    def _serve(self, s: socket.socket, peer, cid: int) -> None:
        s.settimeout(IO_TIMEOUT)
        head = b""
        try:
            while len(head) < len(self.probe):
                head = s.recv(len(self.probe), socket.MSG_PEEK)
                if not head or not self.probe.startswith(head):
                    break
                if len(head) < len(self.probe):
                    time.sleep(0.005)
        except OSError:
            head = b""
        if head == self.probe:
            self._probe_loop(s, cid)
        else:
            super()._serve(s, peer, cid)

    def _probe_loop(self, s: socket.socket, cid: int) -> None:
        buf = b""
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    return
                buf += d
                while self.probe in buf:
                    buf = buf.split(self.probe, 1)[1]
                    with self._cv:
                        self.probes.append((time.monotonic(), cid))
                        self._cv.notify_all()
                    reply = self.reply
                    if reply == "close":
                        return
                    if reply:
                        s.sendall(reply)
        except OSError:
            return
        finally:
            with self._cv:
                self._socks.pop(cid, None)
            try:
                s.close()
            except OSError:
                pass

    def probe_count(self) -> int:
        with self._cv:
            return len(self.probes)


# ----------------------------------------------------------------------------- PKI


def client_leaf(ca: TestCA, cn: str) -> Tuple[str, str]:
    """(cert, key) of a TLS client certificate (extendedKeyUsage clientAuth) issued by `ca`."""
    base = "client-" + secrets.token_hex(6)
    key = os.path.join(ca.dir, base + ".key")
    csr = os.path.join(ca.dir, base + ".csr")
    crt = os.path.join(ca.dir, base + ".pem")
    ext = os.path.join(ca.dir, base + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")
    _run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key], ca.dir)
    _run(["openssl", "req", "-new", "-key", key, "-subj", f"/CN={cn}", "-out", csr], ca.dir)
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-set_serial",
          str(int.from_bytes(secrets.token_bytes(8), "big")), "-days", "825", "-sha256", "-extfile", ext,
          "-out", crt], ca.dir)
    return crt, key


def cert_cn(peer_cert: Optional[dict]) -> str:
    for rdn in (peer_cert or {}).get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                return v
    return ""


# ----------------------------------------------------------------------------- ports, metrics


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get_plain(port: int, path: str, timeout: float = 5.0) -> Tuple[int, str]:
    """GET over plain HTTP/1.1 (Connection: close): (status, body text)."""
    with Conn(port, tls=False, timeout=timeout, default_host=f"127.0.0.1:{port}") as c:
        r = c.request("GET", path, headers=[("Connection", "close")])
    assert r.complete, r
    return r.status, r.text


SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Samples = Dict[Tuple[str, frozenset], float]


def parse_metrics(text: str) -> Samples:
    out: Samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = frozenset((k, v) for k, v in LABEL_RE.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def scrape(port: int) -> Samples:
    status, text = http_get_plain(port, "/metrics")
    assert status == 200, (status, text[:500])
    return parse_metrics(text)


def metric(samples: Samples, name: str, **labels) -> Optional[float]:
    return samples.get((name, frozenset(labels.items())))


def wait_metric(port: int, name: str, expected: float, timeout: float = 5.0, **labels) -> Samples:
    """Scrapes until `name{labels}` equals `expected` (counters are published when a request
    finishes, which may be a moment after the client saw the response)."""
    deadline = time.monotonic() + timeout
    while True:
        s = scrape(port)
        got = metric(s, name, **labels)
        if got == expected:
            return s
        if time.monotonic() > deadline:
            related = {k: v for k, v in s.items() if k[0] == name}
            raise AssertionError(f"{name}{labels} = {got}, expected {expected} (waited {timeout}s); "
                                 f"samples of {name}: {related}")
        time.sleep(0.05)


# ----------------------------------------------------------------------------- logs

LOG_TS_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.\d{3}(?:Z|[+-]\d\d:?\d\d)) ")


def log_time(line: str) -> float:
    """The wall-clock time (time.time() scale) of a Vallum log line."""
    m = LOG_TS_RE.match(line)
    assert m, f"log line without a timestamp: {line!r}"
    return dt.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def log_lines(v, pattern: str, after: int = 0) -> List[Tuple[float, str]]:
    """(time, line) of every stderr line (from character offset `after`) matching `pattern`."""
    rx = re.compile(pattern)
    text = v.stderr_text()[after:]
    return [(log_time(ln), ln) for ln in text.splitlines() if rx.search(ln)]


def wait_log(v, pattern: str, timeout: float, after: int = 0) -> Tuple[float, str]:
    """Waits for the first stderr line (from offset `after`) matching `pattern`."""
    deadline = time.monotonic() + timeout
    while True:
        got = log_lines(v, pattern, after)
        if got:
            return got[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no log line /{pattern}/ within {timeout}s; stderr since then:\n"
                                 f"{v.stderr_text()[after:][-4000:]}")
        time.sleep(0.02)


def _addr(u) -> str:
    return u if isinstance(u, str) else u.addr


def health_re(route: str, u, state: str) -> str:
    """The log line of a health change: route X: endpoint 127.0.0.1:P is healthy|unhealthy.
    `u` is an upstream (its 127.0.0.1:port) or the endpoint's configured host:port."""
    return rf"route {re.escape(route)}: endpoint {re.escape(_addr(u))} is {state} \("


def outlier_re(route: str, u, what: str) -> str:
    """route X: endpoint 127.0.0.1:P ejected|returned (reason)."""
    return rf"route {re.escape(route)}: endpoint {re.escape(_addr(u))} {what} \("


# ----------------------------------------------------------------------------- traffic


def served_by(r) -> str:
    """Which upstream answered (its X-Echo-Server header); "" for a local reply."""
    return r.header("x-echo-server") or ""


def hit(v, host: str, n: int, path: str = "/", headers=None, statuses: Optional[Counter] = None) -> Counter:
    """n sequential requests on one keep-alive connection; Counter of serving upstream names.
    Local replies count under "" and their statuses go to `statuses` when given."""
    got: Counter = Counter()
    c = v.conn(host)
    try:
        for i in range(n):
            r = c.get(path, headers=headers)
            if statuses is not None:
                statuses[r.status] += 1
            got[served_by(r)] += 1
            if not r.complete or c.closed_by_peer or (r.header("connection") or "").lower() == "close":
                c.close()
                c = v.conn(host)
    finally:
        c.close()
    return got


def hit_parallel(v, host: str, n: int, path: str = "/", conns: int = 4) -> Counter:
    """n requests spread over `conns` keep-alive connections in threads."""
    per = [n // conns + (1 if i < n % conns else 0) for i in range(conns)]
    with ThreadPoolExecutor(conns) as ex:
        parts = list(ex.map(lambda k: hit(v, host, k, path), per))
    total: Counter = Counter()
    for p in parts:
        total.update(p)
    return total


class Sampler:
    """Sends one request every `every` seconds in a thread and records (time, status, server)."""

    def __init__(self, v, host: str, every: float = 0.05, path: str = "/sample"):
        self.v, self.host, self.every, self.path = v, host, every, path
        self.samples: List[Tuple[float, int, str]] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.time()
            try:
                r = self.v.get(self.path, self.host, timeout=5)
                self.samples.append((t, r.status, served_by(r)))
            except (OSError, TimeoutError) as e:  # pragma: no cover - reported by the asserts
                self.samples.append((t, -1, repr(e)))
            self._stop.wait(self.every)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(10)

    def between(self, t0: float, t1: float = float("inf")) -> List[Tuple[float, int, str]]:
        return [s for s in self.samples if t0 <= s[0] <= t1]
