"""A throwaway PostgreSQL 15 cluster for the TCP-route tests (Debian's postgresql-15): initdb in
a fresh folder under /tmp, trust authentication, loopback only, fsync off; stopped with
`pg_ctl stop -m fast` and removed. As root, the server runs as the `postgres` user (initdb
refuses root), so the folder must be reachable by it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile

BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    def __init__(self):
        if not os.path.exists(os.path.join(BIN, "initdb")):
            raise AssertionError(f"{BIN}/initdb missing: run scripts/install-deps.sh (postgresql-15)")
        self.dir = tempfile.mkdtemp(prefix="vallum-pg-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        os.makedirs(self.data)
        os.makedirs(self.sock)
        self.as_root = os.getuid() == 0
        if self.as_root:
            shutil.chown(self.data, "postgres", "postgres")
            shutil.chown(self.sock, "postgres", "postgres")
        self.port = _free_port()
        self._run([f"{BIN}/initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                   "--locale=C.UTF-8", "--no-sync"])
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sock} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off")
        self._run([f"{BIN}/pg_ctl", "-D", self.data, "-l", os.path.join(self.data, "server.log"), "-w",
                   "-t", "30", "-o", opts, "start"])

    def _run(self, args):
        if self.as_root:
            args = ["runuser", "-u", "postgres", "--"] + args
        p = subprocess.run(args, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"{args[-1]}: {p.stdout}{p.stderr}")

    def stop(self) -> None:
        try:
            self._run([f"{BIN}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "30", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def psql(port: int, sql: str) -> subprocess.CompletedProcess:
    """psql (the client of postgresql-15) against 127.0.0.1:port as postgres, unaligned output."""
    return subprocess.run([f"{BIN}/psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d",
                           "postgres", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "PGCONNECT_TIMEOUT": "10"})
