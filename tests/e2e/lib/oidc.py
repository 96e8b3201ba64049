"""A real OpenID Connect provider for the sign-in tests: npm `oidc-provider` (tools/node/
oidc-server.mjs), loopback only, one confidential client and three accounts:

    alice / alice-password  alice@example.com  groups admins, engineering
    bob   / bob-password    bob@example.com    groups engineering
    carol / carol-password  carol@example.org  no groups, email_verified false

The node packages are installed once with `npm ci` (exact versions from package-lock.json)
into $VALLUM_TEST_CACHE (default ~/.cache/vallum-tests)/node-<lock hash>; the provider runs
from there. `OidcProvider(workdir, redirect_uris=[...])` starts it and stops it by PID.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import time
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_SRC = os.path.join(HERE, "..", "tools", "node")

CLIENT_ID = "test-client"
CLIENT_SECRET = "test-client-secret"
PASSWORDS = {"alice": "alice-password", "bob": "bob-password", "carol": "carol-password"}


def node_dir() -> str:
    """A folder with the node scripts and their installed dependencies (npm ci once)."""
    with open(os.path.join(NODE_SRC, "package-lock.json"), "rb") as f:
        stamp = hashlib.sha256(f.read()).hexdigest()[:16]
    root = os.environ.get("VALLUM_TEST_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                                "vallum-tests")
    target = os.path.join(root, f"node-{stamp}")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(target, "node_modules", ".installed")):
            shutil.rmtree(target, ignore_errors=True)
            os.makedirs(target)
            for name in ("package.json", "package-lock.json"):
                shutil.copy(os.path.join(NODE_SRC, name), target)
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=target,
                           check=True, timeout=600)
            open(os.path.join(target, "node_modules", ".installed"), "w").close()
        for name in os.listdir(NODE_SRC):
            if name.endswith(".mjs"):
                shutil.copy(os.path.join(NODE_SRC, name), target)
    return target


class OidcProvider:
    def __init__(self, workdir: str, redirect_uris: List[str], *, env: Optional[Dict[str, str]] = None):
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        directory = node_dir()
        e = dict(os.environ)
        e.update({"OIDC_HOST": "127.0.0.1", "OIDC_PORT": "0", "OIDC_REDIRECT_URIS": ",".join(redirect_uris),
                  "OIDC_ANY_LOOPBACK_PORT": "0", "OIDC_REQUIRE_PKCE": "1", "OIDC_LOG": "1"})
        e.update(env or {})
        self.out_path = os.path.join(workdir, "oidc.out")
        self.log_path = os.path.join(workdir, "oidc.log")
        self.proc = subprocess.Popen(["node", os.path.join(directory, "oidc-server.mjs")], cwd=directory,
                                     env=e, stdout=open(self.out_path, "w"), stderr=open(self.log_path, "w"))
        self.values: Dict[str, str] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = open(self.out_path).read()
            if "OIDC_READY=1" in text:
                for m in re.finditer(r"^(\w+)=(.*)$", text, re.M):
                    self.values[m.group(1)] = m.group(2)
                break
            if self.proc.poll() is not None:
                raise AssertionError("oidc provider exited: " + open(self.log_path).read()[-2000:])
            time.sleep(0.05)
        else:
            self.stop()
            raise AssertionError("oidc provider did not start: " + open(self.log_path).read()[-2000:])
        self.issuer = self.values["OIDC_ISSUER"]

    def log(self) -> str:
        return open(self.log_path).read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
