"""Long-lived traffic side by side: nginx, HAProxy and Vallum proxying websockets to one origin
(the npm `ws` echo server of tests/e2e/tools/node, installed by npm ci on first use).

For each proxy, in a fresh process with one worker, on loopback:
- idle tunnels: N websocket connections opened through the proxy (handshake answered 101) and
  left idle; the proxy's RSS before and after, divided by N = user-space bytes per idle tunnel
  (kernel socket buffers are not in RSS);
- echo rate: one websocket, M small text messages sent and echoed one at a time (round trips per
  second through the proxy; the origin's cost is the same for every proxy).

Run: bench/tunnels.sh [--idle N] [--messages M] [--proxies nginx,haproxy,vallum]. Writes a
table on stdout and bench/out/tunnels.json. Every process it starts is stopped by PID."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))

from lib.ws_peer import WsEcho  # noqa: E402

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return 0


def wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def handshake(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall((f"GET /bench HTTP/1.1\r\nHost: ws.bench.local\r\nConnection: Upgrade\r\n"
               f"Upgrade: websocket\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise RuntimeError("closed during the handshake")
        buf += d
    status_line = buf.split(b"\r\n", 1)[0]
    if b" 101 " not in status_line:
        raise RuntimeError(f"handshake answered {status_line!r}")
    return s


def frame(payload: bytes) -> bytes:
    mask = b"\x01\x02\x03\x04"
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def echo_rate(port: int, messages: int) -> float:
    s = handshake(port)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = frame(b"x" * 32)
    start = time.monotonic()
    for _ in range(messages):
        s.sendall(msg)
        got = 0
        while got < 34:  # 2-byte header + 32 bytes, unmasked
            d = s.recv(4096)
            if not d:
                raise RuntimeError("closed during the echo")
            got += len(d)
    took = time.monotonic() - start
    s.close()
    return messages / took


class Proxy:
    def __init__(self, name: str, args, port: int, workdir: str, pid_of=None):
        self.name, self.port = name, port
        self.proc = subprocess.Popen(args, stdout=open(os.path.join(workdir, f"{name}.out"), "w"),
                                     stderr=subprocess.STDOUT, cwd=workdir)
        wait_port(port)
        self.pid = pid_of() if pid_of else self.proc.pid

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def start_proxy(name: str, origin_port: int, workdir: str, vallum: str) -> Proxy:
    port = free_port()
    if name == "vallum":
        cfg = os.path.join(workdir, "vallum.yaml")
        with open(cfg, "w") as f:
            f.write(f"address: 127.0.0.1:{port}\ninsecure_server: true\nlog_level: warn\nroutes:\n"
                    f"  - from: https://ws.bench.local\n    to: http://127.0.0.1:{origin_port}\n"
                    "    allow_websockets: true\n    allow_public_unauthenticated_access: true\n")
        return Proxy(name, [vallum, "--config", cfg, "--concurrency", "1"], port, workdir)
    if name == "nginx":
        conf = os.path.join(workdir, "nginx.conf")
        temp = os.path.join(workdir, "nginx-tmp")
        os.makedirs(temp, exist_ok=True)
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log;
events {{ worker_connections 20000; }}
http {{
  access_log off;
  client_body_temp_path {temp}/cb; proxy_temp_path {temp}/p; fastcgi_temp_path {temp}/f;
  uwsgi_temp_path {temp}/u; scgi_temp_path {temp}/s;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{
      proxy_pass http://127.0.0.1:{origin_port};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 3600s;
    }}
  }}
}}
""")

        def worker_pid():
            for _ in range(100):
                out = subprocess.run(["pgrep", "-P", str(p.proc.pid)], capture_output=True, text=True).stdout.split()
                if out:
                    return int(out[0])
                time.sleep(0.05)
            raise RuntimeError("no nginx worker")

        p = Proxy.__new__(Proxy)
        p.name, p.port = name, port
        p.proc = subprocess.Popen(["nginx", "-c", conf, "-p", workdir], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.STDOUT)
        wait_port(port)
        p.pid = worker_pid()
        return p
    if name == "haproxy":
        conf = os.path.join(workdir, "haproxy.cfg")
        with open(conf, "w") as f:
            f.write(f"""global
    nbthread 1
    maxconn 20000
    no strict-limits
defaults
    mode http
    timeout connect 5s
    timeout client 600s
    timeout server 600s
    timeout tunnel 3600s
frontend fe
    bind 127.0.0.1:{port} backlog 4096
    default_backend origin
backend origin
    server o 127.0.0.1:{origin_port}
""")
        return Proxy(name, ["haproxy", "-db", "-f", conf], port, workdir)
    raise ValueError(name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--idle", type=int, default=8000, help="idle tunnels per proxy (default 8000; "
                    "each holds two descriptors in the proxy, under the 20000 limit)")
    ap.add_argument("--messages", type=int, default=20000, help="echo round trips per proxy")
    ap.add_argument("--proxies", default="nginx,haproxy,vallum")
    ap.add_argument("--vallum", default=os.path.join(REPO, "build", "vallum"))
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="vallum-tunnels-")
    origin = WsEcho(os.path.join(workdir, "origin"))
    results = {}
    try:
        for name in args.proxies.split(","):
            if name == "vallum" and not os.path.exists(args.vallum):
                print(f"vallum: {args.vallum} missing, skipped")
                continue
            if name != "vallum" and not shutil.which(name):
                print(f"{name}: not installed, skipped")
                continue
            proxy = start_proxy(name, origin.port, workdir, args.vallum)
            try:
                rate = echo_rate(proxy.port, args.messages)
                warm = [handshake(proxy.port) for _ in range(50)]
                time.sleep(1)
                before = rss_kib(proxy.pid)
                socks = [handshake(proxy.port) for _ in range(args.idle)]
                time.sleep(2)
                after = rss_kib(proxy.pid)
                per = (after - before) * 1024 / args.idle
                results[name] = {"idle_tunnels": args.idle, "rss_before_kib": before, "rss_after_kib": after,
                                 "bytes_per_idle_tunnel": round(per), "echo_round_trips_per_s": round(rate)}
                print(f"{name}: {per:,.0f} bytes per idle tunnel ({args.idle} tunnels, RSS {before:,} -> "
                      f"{after:,} KiB); {rate:,.0f} echo round trips/s", flush=True)
                for s in socks + warm:
                    s.close()
            finally:
                proxy.stop()
    finally:
        origin.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if "vallum" in results:
        for peer in ("nginx", "haproxy"):
            if peer in results:
                v, p = results["vallum"], results[peer]
                print(f"vallum / {peer}: idle bytes {v['bytes_per_idle_tunnel'] / max(1, p['bytes_per_idle_tunnel']):.2f}x, "
                      f"echo rate {v['echo_round_trips_per_s'] / max(1, p['echo_round_trips_per_s']):.2f}x")
    os.makedirs(os.path.join(REPO, "bench", "out"), exist_ok=True)
    with open(os.path.join(REPO, "bench", "out", "tunnels.json"), "w") as f:
        json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
