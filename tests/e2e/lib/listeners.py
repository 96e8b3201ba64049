"""Listeners for "nothing may connect here" assertions, and extra ports for an EchoUpstream.

ConnectionCatcher binds plain TCP listeners on the given loopback ports (plus any number of
random ones), accepts whatever connects, records who connected and what bytes arrived, and
closes. A test asserts `catcher.hits == []`.

listen_also(upstream, port) makes an existing EchoUpstream also serve a fixed port (e.g. 80,
for `to: http://localhost` without a port), sharing its records and behaviours."""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple


class PortUnavailable(Exception):
    pass


def bind_listener(port: int, addr: str = "127.0.0.1", wait: float = 3.0) -> socket.socket:
    """A listening socket on addr:port; retries EADDRINUSE for `wait` seconds (another test's
    socket in TIME_WAIT or a short-lived user), then raises PortUnavailable."""
    deadline = time.monotonic() + wait
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((addr, port))
            s.listen(128)
            return s
        except OSError as e:
            s.close()
            if e.errno == errno.EADDRINUSE and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            raise PortUnavailable(f"{addr}:{port}: {e}") from e


class ConnectionCatcher:
    """Accepts connections on several ports and records them. Ports that cannot be bound are
    listed in .unavailable (the caller decides whether that matters)."""

    def __init__(self, ports: Sequence[int] = (), random_ports: int = 0, addr: str = "127.0.0.1",
                 bind_wait: float = 0.5):
        self.hits: List[Tuple[int, Tuple[str, int], bytes]] = []  # (port, peer, first bytes)
        self.unavailable: Dict[int, str] = {}
        self._socks: List[socket.socket] = []
        self._closed = False
        self._lock = threading.Lock()
        for p in ports:
            try:
                self._socks.append(bind_listener(p, addr, bind_wait))
            except PortUnavailable as e:
                self.unavailable[p] = str(e)
        for _ in range(random_ports):
            self._socks.append(bind_listener(0, addr))
        self.ports = [s.getsockname()[1] for s in self._socks]
        for s in self._socks:
            threading.Thread(target=self._loop, args=(s,), daemon=True, name=f"catcher-{s.getsockname()[1]}").start()

    def _loop(self, s: socket.socket) -> None:
        port = s.getsockname()[1]
        while not self._closed:
            try:
                c, peer = s.accept()
            except OSError:
                return
            data = b""
            try:
                c.settimeout(0.5)
                data = c.recv(4096)
            except OSError:
                pass
            finally:
                c.close()
            with self._lock:
                self.hits.append((port, peer, data))

    def close(self) -> None:
        self._closed = True
        for s in self._socks:
            close_listener(s)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def close_listener(s: socket.socket) -> None:
    """Closes a listening socket another thread is blocked in accept() on. A bare close() does
    not wake that accept(), which keeps the port listening until it returns (so the next bind
    of the port fails); shutdown() wakes it first."""
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


def listen_also(upstream, port: int, addr: str = "127.0.0.1") -> socket.socket:
    """Makes `upstream` (an EchoUpstream) accept connections on addr:port too, served exactly
    like its own port (same records, behaviours and connection counter). Stop it with
    close_listener(returned socket); upstream.close() also ends the accepted connections."""
    lsock = bind_listener(port, addr)

    def loop():
        while not upstream._closed:
            try:
                s, peer = lsock.accept()
            except OSError:
                return
            cid = next(upstream._conn_ids)
            with upstream._cv:
                upstream.connections += 1
                upstream._socks[cid] = s
            threading.Thread(target=upstream._serve, args=(s, peer, cid), daemon=True,
                             name=f"{upstream.name}-p{port}-c{cid}").start()

    threading.Thread(target=loop, daemon=True, name=f"{upstream.name}-listen-{port}").start()
    return lsock


def can_bind_privileged() -> Optional[str]:
    """None when this process may bind ports below 1024, else the reason it may not."""
    return None if os.geteuid() == 0 else "not root: ports below 1024 cannot be bound"
