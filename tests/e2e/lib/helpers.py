"""Config builders and small waiting helpers shared by the tests."""

from __future__ import annotations

import time
from typing import Callable

# Names every standard test certificate covers.
TEST_NAMES = ["*.example.test", "example.test", "localhost", "127.0.0.1"]


def base_config(server_cert=None, *, insecure: bool = False, routes=None, **globals_) -> dict:
    """Top-level config: loopback port 0, the given certificate (or insecure_server), routes."""
    cfg: dict = {"address": "127.0.0.1:0"}
    if insecure:
        cfg["insecure_server"] = True
    elif server_cert is not None:
        cfg["certificates"] = [{"cert": server_cert[0], "key": server_cert[1]}]
    cfg.update(globals_)
    cfg["routes"] = list(routes or [])
    return cfg


def route(from_: str, to, **kw) -> dict:
    """A public route (allow_public_unauthenticated_access: true unless given)."""
    r = {"from": from_, "to": to}
    r.update(kw)
    r.setdefault("allow_public_unauthenticated_access", True)
    return r


def wait_until(pred: Callable[[], object], timeout: float, interval: float = 0.05, what: str = ""):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or pred}")
        time.sleep(interval)


def find_line_col(text: str, needle: str, occurrence: int = 1, offset_in_needle: int = 0) -> tuple:
    """1-based (line, column) of the `occurrence`-th `needle` in `text` (+ offset inside it)."""
    pos = -1
    for _ in range(occurrence):
        pos = text.index(needle, pos + 1)
    pos += offset_in_needle
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col
