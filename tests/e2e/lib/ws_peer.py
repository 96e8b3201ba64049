"""A real WebSocket peer for the upgrade tests: npm `ws` (tools/node/ws-peer.mjs), loopback
only, installed with the other node tools (lib/oidc.py node_dir).

- `WsEcho(workdir)` runs the echo backend: WebSocket on any path (each message echoed with its
  type; path /headers first sends the upgrade request's headers as JSON; a text message
  "close:CODE:REASON" makes the server close with that code; permessage-deflate offered) and
  plain HTTP on the same port. Stopped by PID.
- `ws_check(url, headers, env)` runs the peer's client suite against `url` (handshake, text
  and binary echo, fragments, 1 MiB, 500 messages in order, ping/pong, close codes) and
  returns (exit code, output).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from typing import Dict, List, Optional, Tuple

from .oidc import node_dir


class WsEcho:
    def __init__(self, workdir: str):
        os.makedirs(workdir, exist_ok=True)
        directory = node_dir()
        self.out_path = os.path.join(workdir, "ws.out")
        self.err_path = os.path.join(workdir, "ws.err")
        self.proc = subprocess.Popen(["node", os.path.join(directory, "ws-peer.mjs"), "serve"], cwd=directory,
                                     stdout=open(self.out_path, "w"), stderr=open(self.err_path, "w"))
        deadline = time.monotonic() + 30
        values: Dict[str, str] = {}
        while time.monotonic() < deadline:
            text = open(self.out_path).read()
            if "WS_READY=1" in text:
                values = dict(re.findall(r"^(\w+)=(.*)$", text, re.M))
                break
            if self.proc.poll() is not None:
                raise AssertionError("ws peer exited: " + open(self.err_path).read()[-2000:])
            time.sleep(0.05)
        else:
            self.stop()
            raise AssertionError("ws peer did not start: " + open(self.err_path).read()[-2000:])
        self.port = int(values["WS_ECHO_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def ws_check(url: str, headers: Optional[List[str]] = None, env: Optional[Dict[str, str]] = None,
             timeout: float = 60) -> Tuple[int, str]:
    directory = node_dir()
    args = ["node", os.path.join(directory, "ws-peer.mjs"), "check", url]
    for h in headers or []:
        args += ["--header", h]
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(args, cwd=directory, env=e, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr
