"""`unix://` upstreams (Pomerium v0.33: `to: unix:///run/app.sock`): HTTP over a Unix-domain
socket with the same pooling, health checks and errors as TCP endpoints. The upstream is
Python's http.server on a Unix socket (HTTP/1.1 keep-alive), checked over HTTP/1.1 and HTTP/2
clients (`proto`)."""

from __future__ import annotations

import json
import os
import socketserver
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from lib.client import get
from lib.helpers import route, wait_until

HOST = "sock.example.test"


class UnixHttpServer:
    def __init__(self, path: str):
        self.path = path
        self.connections = 0
        self.requests = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                owner.connections += 1

            def do_GET(self):
                owner.requests.append((self.path, dict(self.headers)))
                body = json.dumps({"path": self.path, "host": self.headers.get("Host"),
                                   "via_socket": owner.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = socketserver.ThreadingUnixStreamServer(path, Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        if os.path.exists(self.path):
            os.unlink(self.path)


@pytest.fixture
def unix_server(tmp_path):
    s = UnixHttpServer(str(tmp_path / "app.sock"))
    yield s
    s.close()


def test_requests_reach_a_unix_socket_and_reuse_its_connection(vallum, unix_server, proto):
    v = vallum(vallum.config([route(f"https://{HOST}", f"unix://{unix_server.path}")]), concurrency=1)
    for i in range(3):
        r = get(v, proto, f"/app/{i}?q=1", HOST)
        assert r.status == 200, r
        seen = json.loads(r.body)
        assert seen["path"] == f"/app/{i}?q=1"
        # No host in a unix:// URL: the upstream gets the request's own Host.
        assert seen["host"] == f"{HOST}:{v.port}"
    assert unix_server.connections == 1  # one pooled keep-alive connection served all three
    wait_until(lambda: f'"upstream":"unix:{unix_server.path}"' in v.stdout_text(), 5,
               what="the socket in the access log")


def test_a_missing_socket_is_503(vallum, tmp_path, proto):
    v = vallum(vallum.config([route(f"https://{HOST}", f"unix://{tmp_path}/nothing.sock")]))
    r = get(v, proto, "/", HOST)
    assert r.status == 503, r
    assert "connection failure" in r.body.decode(), r.body[-600:]  # Envoy's wording, as for TCP


def test_active_health_checks_reach_the_socket(vallum, unix_server):
    check = {"timeout": "1s", "interval": "0.2s", "healthy_threshold": 1, "unhealthy_threshold": 1,
             "http_health_check": {"path": "/healthz"}}
    vallum(vallum.config([route(f"https://{HOST}", f"unix://{unix_server.path}", health_checks=[check])]))
    wait_until(lambda: any(p == "/healthz" for p, _ in unix_server.requests), 5, what="a health check")
