"""Starts and stops the real vallum binary for a test.

The config is written to a temp dir with `address: 127.0.0.1:0`; the bound port is read from the
start-up log line `listening on HOST:PORT (https|http)` on stderr. stdout (the JSON access log)
and stderr go to files in the same dir. Processes are stopped by PID only: SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from typing import Callable, Dict, List, Optional, Union

from . import yamlgen
from .http1 import Conn, Headers, Response

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
LISTEN_RE = re.compile(r"listening on (\S+):(\d+) \((https|http)\)")

_live: Dict[int, subprocess.Popen] = {}  # every vallum this test process started and not reaped


def vallum_binary() -> str:
    return os.environ.get("VALLUM_BIN") or os.path.join(REPO, "build", "vallum")


def kill_leftovers() -> None:
    """Kills (by PID) every vallum this process started that is still running."""
    for pid, p in list(_live.items()):
        if p.poll() is None:
            p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        _live.pop(pid, None)


class VallumDied(AssertionError):
    pass


class Vallum:
    """One vallum process. `config` is a dict (rendered to YAML) or YAML text."""

    def __init__(self, workdir: str, config: Union[dict, str], *, ca_file: Optional[str] = None,
                 args: Optional[List[str]] = None, env: Optional[Dict[str, str]] = None,
                 concurrency: Optional[int] = 2, name: str = "vallum", binary: Optional[str] = None):
        self.binary = binary or vallum_binary()
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.name = name
        self.config_path = os.path.join(workdir, f"{name}.yaml")
        self.stdout_path = os.path.join(workdir, f"{name}.stdout")
        self.stderr_path = os.path.join(workdir, f"{name}.stderr")
        self.ca_file = ca_file
        self.args = list(args or [])
        if concurrency is not None:
            self.args += ["--concurrency", str(concurrency)]
        self.env = dict(os.environ)
        # The process must not pick up top-level options from the test runner's environment.
        for k in list(self.env):
            if k in ("POLICY", "ADDRESS", "INSECURE_SERVER", "CERTIFICATES", "CERTIFICATE", "CERTIFICATE_KEY",
                     "CERTIFICATE_FILE", "CERTIFICATE_KEY_FILE", "ROUTES", "SHARED_SECRET", "COOKIE_SECRET"):
                del self.env[k]
        self.env.update(env or {})
        self.proc: Optional[subprocess.Popen] = None
        self.port = 0
        self.scheme = ""
        self.listen_host = ""
        self.returncode: Optional[int] = None
        self.write_config(config)

    # -- config
    def write_config(self, config: Union[dict, str], in_place: bool = False) -> None:
        """Writes the config file: by default atomically (write a temp file, rename it over the
        path), so a file watcher never sees a half-written file; in_place=True truncates and
        rewrites the same inode, as `cat >` or many editors do."""
        text = yamlgen.dump(config) if isinstance(config, dict) else config
        target = self.config_path if in_place else self.config_path + ".new"
        with open(target, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if not in_place:
            os.replace(target, self.config_path)
        self.config_text = text

    def reload(self, config: Union[dict, str, None] = None, sighup: bool = True, in_place: bool = False) -> None:
        if config is not None:
            self.write_config(config, in_place=in_place)
        if sighup:
            self.signal(signal.SIGHUP)

    # -- process
    def start(self, timeout: float = 20.0) -> "Vallum":
        if not os.path.isfile(self.binary) or not os.access(self.binary, os.X_OK):
            raise AssertionError(f"vallum binary not found at {self.binary}; build it with "
                                 "`cmake --preset release && cmake --build --preset release` or set VALLUM_BIN")
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([self.binary, "--config", self.config_path] + self.args, stdout=out,
                                     stderr=err, stdin=subprocess.DEVNULL, env=self.env, cwd=self.workdir)
        out.close()
        err.close()
        _live[self.proc.pid] = self.proc
        deadline = time.monotonic() + timeout
        while True:
            m = LISTEN_RE.search(self.stderr_text())
            if m:
                self.listen_host, self.port, self.scheme = m.group(1), int(m.group(2)), m.group(3)
                break
            if self.proc.poll() is not None:
                self._reaped()
                raise VallumDied(f"vallum exited with {self.proc.returncode} before listening.\n"
                                 f"--- stderr ---\n{self.stderr_text()[-6000:]}\n--- stdout ---\n"
                                 f"{self.stdout_text()[-2000:]}\n--- config ---\n{self.config_text}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"vallum printed no 'listening on HOST:PORT' line within {timeout}s.\n"
                                     f"--- stderr ---\n{self.stderr_text()[-6000:]}")
            time.sleep(0.02)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        assert self.proc is not None and self.proc.poll() is None, "vallum is not running:\n" + self.stderr_text()[-3000:]
        os.kill(self.proc.pid, sig)

    def _reaped(self) -> None:
        if self.proc is not None:
            _live.pop(self.proc.pid, None)
            self.returncode = self.proc.returncode

    def wait_exit(self, timeout: float) -> Optional[int]:
        assert self.proc is not None
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reaped()
        return rc

    def stop(self, timeout: float = 15.0) -> Optional[int]:
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit code (negative = signal);
        self.killed tells whether SIGKILL was needed."""
        self.killed = False
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            rc = self.wait_exit(timeout)
            if rc is None:
                self.killed = True
                self.kill()
        self._reaped()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self._reaped()

    # -- logs
    def stderr_text(self) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stdout_text(self) -> str:
        try:
            with open(self.stdout_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_stderr(self, pattern: str, timeout: float = 10.0, after: int = 0) -> re.Match:
        """Waits for a regex in stderr (starting at character offset `after`)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.stderr_text(), after)
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"stderr did not show /{pattern}/ within {timeout}s:\n{self.stderr_text()[after:][-4000:]}")
            time.sleep(0.05)

    def access_log(self) -> List[dict]:
        """Every stdout line that is a JSON object."""
        out = []
        for line in self.stdout_text().splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def wait_access_log(self, pred: Callable[[dict], bool], timeout: float = 5.0, what: str = "") -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for e in self.access_log():
                if pred(e):
                    return e
            if time.monotonic() > deadline:
                raise AssertionError(f"no access-log line matching {what or pred} within {timeout}s; stdout:\n"
                                     f"{self.stdout_text()[-4000:]}")
            time.sleep(0.05)

    # -- clients
    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    def authority(self, host: str) -> str:
        return f"{host}:{self.port}"

    def conn(self, host: str = "app.example.test", *, sni: Optional[str] = "same", host_header: Optional[str] = "default",
             **kw) -> Conn:
        """A connection whose requests carry `Host: host:port` (override with host_header) and,
        over TLS, SNI `host` (override with sni=...; None sends no SNI)."""
        if sni == "same":
            sni = host if not host.replace(".", "").isdigit() else None
        hh = self.authority(host) if host_header == "default" else host_header
        return Conn(self.port, tls=self.tls, sni=sni, ca_file=self.ca_file, default_host=hh, **kw)

    def request(self, method: str, path: str, host: str = "app.example.test", *, headers: Optional[Headers] = None,
                **kw) -> Response:
        """One request on a fresh connection."""
        conn_kw = {k: kw.pop(k) for k in ("sni", "host_header", "timeout") if k in kw}
        with self.conn(host, **conn_kw) as c:
            return c.request(method, path, headers=headers, **kw)

    def get(self, path: str, host: str = "app.example.test", **kw) -> Response:
        return self.request("GET", path, host, **kw)


def run_check(config_path: str, *, binary: Optional[str] = None, env: Optional[Dict[str, str]] = None,
              timeout: float = 30.0) -> subprocess.CompletedProcess:
    """`vallum check --config FILE`."""
    binary = binary or vallum_binary()
    if not os.path.isfile(binary):
        raise AssertionError(f"vallum binary not found at {binary}")
    e = {k: v for k, v in os.environ.items() if k not in ("POLICY", "ADDRESS")}
    e.update(env or {})
    return subprocess.run([binary, "check", "--config", config_path], capture_output=True, text=True,
                          timeout=timeout, env=e)
