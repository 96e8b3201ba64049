#!/usr/bin/env python3
"""The quick start's demo upstream: answers every request with a small page (or JSON with
`Accept: application/json`) showing what it received — method, path and headers — so you can
see what Vallum forwarded (Host, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, ...).

    python3 examples/demo_upstream.py [--port 8080]
"""
import argparse
import html
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vallum-demo-upstream"

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body_in = self.rfile.read(length) if length else b""
        seen = {
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_bytes": len(body_in),
        }
        if "application/json" in (self.headers.get("Accept") or ""):
            body = json.dumps(seen, indent=2).encode() + b"\n"
            ctype = "application/json"
        else:
            rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
                           for k, v in seen["headers"])
            body = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Vallum demo upstream"
                    f"</title></head><body><h1>Hello from the demo upstream</h1>"
                    f"<p><b>{html.escape(self.command)}</b> <code>{html.escape(self.path)}</code></p>"
                    f"<table border=1 cellpadding=4>{rows}</table></body></html>\n").encode()
            ctype = "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _answer

    def log_message(self, fmt, *args):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=8080)
    a = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    print(f"demo upstream listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
