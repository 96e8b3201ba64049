#!/usr/bin/env python3
# An HTTP/1.1 request-smuggling / desync probe (written from scratch for this project, stdlib
# only): a recording backend plus a client that sends malformed-framing requests through the
# proxy under test. tests/e2e/test_desync_probe.py runs it against Vallum.
"""HTTP/1.1 framing / request-smuggling probes for a proxy under test. Stdlib only.

No Debian or npm package does this job, so this is a raw-socket tool. Two parts:

  http1-desync-probe.py backend --record FILE [--port N]
      A recording origin server on 127.0.0.1. It parses requests by RFC 9112 framing
      (chunked wins over Content-Length), appends one JSON line per request it parsed to
      FILE ({n, method, target, headers, body_len, te_and_cl}), and answers
      200 "backend request #n METHOD TARGET". Prints BACKEND_PORT=N and BACKEND_PID=N.

  http1-desync-probe.py probe HOST PORT [--host-header NAME] [--tls] [--backend-record FILE]
                        [--only NAME,...] [--list] [--json]
      Sends each probe on a fresh connection, followed on the same connection by
      "GET /probe-followup". A probe FAILs when (with --backend-record) the backend handled
      more requests than the client got responses for, or the backend's answers reach the
      client out of step with the requests it saw (a desync), or the proxy forwarded both
      Transfer-Encoding and Content-Length, or no response came while the connection stayed
      open, or a request that RFC 9112/9110 say MUST be rejected got a 2xx. "should"-reject
      probes that got a 2xx are only noted. About 1-2 s per probe (it waits 1.5 s for more data).
      Prints one line per probe and "desync-probe: N passed, N failed"; exit 1 on failure.
      Only 127.0.0.1 / localhost / ::1 targets are accepted.

The payload list follows RFC 9112 sections 2.2, 3.2, 5.1/5.2, 6.1, 6.3, 7.1 and the classic
CL.TE / TE.CL / TE.TE request-smuggling shapes.
"""
import argparse
import json
import os
import re
import socket
import ssl
import sys
import threading
import time

METHODS = {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"}
# "@@@" is replaced by the probe's 3-digit number (same width, so lengths stay right).
SMUGGLED = b"GET /smuggled?p=@@@ HTTP/1.1\r\nHost: smuggled.invalid\r\n\r\n"


def probes(host):
    """(name, raw bytes, expect): expect "must" = RFC 9112/9110 require rejecting it (a 2xx
    fails the probe), "should" = RFC says reject or repair (a 2xx is only noted), None = any
    answer is fine as long as framing stays in sync."""
    h = host.encode()
    H = b"Host: " + h + b"\r\n"
    sm = SMUGGLED
    chunk_sm = b"%x\r\n" % len(sm) + sm + b"\r\n0\r\n\r\n"
    out = [
        ("baseline-get", b"GET /ok HTTP/1.1\r\n" + H + b"\r\n", None),
        ("baseline-post-cl", b"POST /ok HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhello", None),
        ("baseline-post-chunked", b"POST /ok HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", None),
        # CL.TE: front end trusts CL (whole thing is body), back end trusts TE (smuggled follows "0").
        ("cl-te", b"POST /cl-te HTTP/1.1\r\n" + H + b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % (5 + len(sm)) + b"0\r\n\r\n" + sm, None),
        # TE.CL: front end trusts TE, back end trusts CL=4 and sees the chunk data as a new request.
        ("te-cl", b"POST /te-cl HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk_sm, None),
        # TE.TE obfuscations: one side ignores the odd TE and falls back to CL.
        ("te-space-before-colon", b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding : chunked\r\n\r\n" + chunk_sm, "must"),
        ("te-xchunked", b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding: xchunked\r\n\r\n" + chunk_sm, "must"),
        ("te-chunked-then-identity", b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding: chunked, identity\r\n\r\n" + chunk_sm, "must"),
        ("te-duplicate-x", b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n" + chunk_sm, "must"),
        ("te-tab-value", b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding:\tchunked\r\n\r\n" + chunk_sm, None),
        ("te-obs-fold", b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding:\r\n chunked\r\n\r\n" + chunk_sm, None),
        ("te-uppercase", b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding: CHUNKED\r\n\r\n" + chunk_sm, None),
        ("te-http10", b"POST /x HTTP/1.0\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk_sm, None),
        # Content-Length abuse.
        ("cl-duplicate-differing", b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 0\r\nContent-Length: %d\r\n\r\n" % len(sm) + sm, "must"),
        ("cl-comma-list-differing", b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 0, %d\r\n\r\n" % len(sm) + sm, "must"),
        ("cl-plus-sign", b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: +%d\r\n\r\n" % len(sm) + sm, "must"),
        ("cl-hex", b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 0x%x\r\n\r\n" % len(sm) + sm, "must"),
        ("cl-negative", b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n" + sm, "must"),
        ("cl-space-before-colon", b"POST /x HTTP/1.1\r\n" + H + b"Content-Length : %d\r\n\r\n" % len(sm) + sm, "must"),
        ("cl-overflow", b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 18446744073709551617\r\n\r\n" + sm, "must"),
        # Chunked body abuse.
        ("chunk-size-overflow", b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffff1\r\nA\r\n0\r\n\r\n" + sm, "must"),
        ("chunk-size-bad-char", b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5g\r\nhello\r\n0\r\n\r\n" + sm, "must"),
        ("chunk-bare-lf", b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n" + sm, None),
        ("chunk-ext", b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n0\r\n\r\n", None),
        ("chunk-trailer", b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n", None),
        # Header / request-line syntax.
        ("host-missing", b"GET /x HTTP/1.1\r\n\r\n", "must"),
        ("host-duplicate", b"GET /x HTTP/1.1\r\n" + H + b"Host: other.invalid\r\n\r\n", "must"),
        ("header-nul", b"GET /x HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", "should"),
        ("header-bare-cr", b"GET /x HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n", "should"),
        ("header-no-colon", b"GET /x HTTP/1.1\r\n" + H + b"X-Broken\r\n\r\n", "should"),
        ("header-name-space", b"GET /x HTTP/1.1\r\n" + H + b"X A: b\r\n\r\n", "should"),
        ("obs-fold-header", b"GET /x HTTP/1.1\r\n" + H + b"X-A: a\r\n b\r\n\r\n", None),
        ("bare-lf-request", b"GET /x HTTP/1.1\n" + H.replace(b"\r\n", b"\n") + b"\n", None),
        ("request-line-extra-space", b"GET  /x HTTP/1.1\r\n" + H + b"\r\n", None),
        ("request-line-bad-version", b"GET /x HTTP/1.12\r\n" + H + b"\r\n", "should"),
        ("absolute-form-other-host", b"GET http://other.invalid/x HTTP/1.1\r\n" + H + b"\r\n", None),
        ("huge-header-64k", b"GET /x HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 65536 + b"\r\n\r\n", "should"),
        ("h2c-upgrade", b"GET /x HTTP/1.1\r\n" + H + b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", None),
        ("expect-100-continue", b"POST /x HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\nhello", None),
    ]
    return out


# ----------------------------------------------------------------------------- backend
def run_backend(port, record):
    lock = threading.Lock()
    counter = [0]

    def handle(conn):
        conn.settimeout(10)
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf and b"\n\n" not in buf:
                    d = conn.recv(65536)
                    if not d:
                        return
                    buf += d
                    if len(buf) > 1 << 20:
                        return
                sep = b"\r\n\r\n" if b"\r\n\r\n" in buf else b"\n\n"
                head, buf = buf.split(sep, 1)
                lines = head.replace(b"\r\n", b"\n").split(b"\n")
                parts = lines[0].split(b" ")
                method = parts[0].decode("latin-1")
                target = parts[1].decode("latin-1") if len(parts) > 1 else ""
                headers = []
                for ln in lines[1:]:
                    k, _, v = ln.partition(b":")
                    headers.append([k.decode("latin-1"), v.strip().decode("latin-1")])
                low = {k.strip().lower(): v for k, v in headers}
                te = low.get("transfer-encoding", "").lower()
                body = b""
                if "chunked" in te:
                    while True:
                        while b"\n" not in buf:
                            d = conn.recv(65536)
                            if not d:
                                return
                            buf += d
                        line, buf = buf.split(b"\n", 1)
                        size = int(line.split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while True:   # trailer fields, then an empty line
                                while b"\n" not in buf:
                                    d = conn.recv(65536)
                                    if not d:
                                        return
                                    buf += d
                                t, buf = buf.split(b"\n", 1)
                                if t.strip() == b"":
                                    break
                            break
                        while len(buf) < size + 2:
                            d = conn.recv(65536)
                            if not d:
                                return
                            buf += d
                        body += buf[:size]
                        buf = buf[size:].lstrip(b"\r").removeprefix(b"\n")
                elif "content-length" in low:
                    n = int(low["content-length"].split(",")[0])
                    while len(buf) < n:
                        d = conn.recv(65536)
                        if not d:
                            return
                        buf += d
                    body, buf = buf[:n], buf[n:]
                with lock:
                    counter[0] += 1
                    n = counter[0]
                    with open(record, "a") as f:
                        f.write(json.dumps({"n": n, "method": method, "target": target, "headers": headers,
                                            "body_len": len(body),
                                            "te_and_cl": "transfer-encoding" in low and "content-length" in low}) + "\n")
                msg = f"backend request #{n} {method} {target}\n".encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(msg) + msg)
        except (OSError, ValueError):
            return
        finally:
            conn.close()

    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(128)
    print(f"BACKEND_PORT={srv.getsockname()[1]}\nBACKEND_PID={os.getpid()}", flush=True)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


# ----------------------------------------------------------------------------- probe
def read_all(sock, wait=1.5):
    """Read until the peer closes or `wait` seconds pass with no data; return (raw, closed)."""
    sock.settimeout(wait)
    raw = b""
    closed = False
    while True:
        try:
            d = sock.recv(65536)
        except socket.timeout:
            break
        except OSError:
            closed = True
            break
        if not d:
            closed = True
            break
        raw += d
    return raw, closed


def parse_responses(raw):
    """Split a byte stream into HTTP/1.x responses: list of (status, body)."""
    out = []
    while raw.startswith(b"HTTP/1."):
        end = raw.find(b"\r\n\r\n")
        if end < 0:
            break
        head, rest = raw[:end].decode("latin-1"), raw[end + 4:]
        lines = head.split("\r\n")
        status = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "?"
        hdr = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdr[k.strip().lower()] = v.strip()
        body = b""
        if status.startswith("1") or status in ("204", "304"):
            pass
        elif "chunked" in hdr.get("transfer-encoding", "").lower():
            while True:
                i = rest.find(b"\r\n")
                if i < 0:
                    break
                try:
                    n = int(rest[:i].split(b";")[0], 16)
                except ValueError:
                    break
                rest = rest[i + 2:]
                if n == 0:
                    j = rest.find(b"\r\n\r\n") if not rest.startswith(b"\r\n") else -2
                    rest = rest[j + 4:] if j >= 0 else rest[2:]
                    break
                body += rest[:n]
                rest = rest[n + 2:]
        elif "content-length" in hdr:
            n = int(hdr["content-length"])
            body, rest = rest[:n], rest[n:]
        else:
            body, rest = rest, b""   # close-delimited
        out.append((status, body))
        raw = rest
    return out


def tag_targets(payload, idx):
    """Tag every request-target with ?p=NNN (the probe's number) so that the backend's record
    says which probe each forwarded request, or a fragment of one, came from."""
    payload = re.sub(rb"^([A-Za-z]+ +)(/[A-Za-z0-9/_-]*|http://[a-z.]+/[a-z]*)( +HTTP/)",
                     lambda m: m.group(1) + m.group(2) + b"?p=@@@" + m.group(3), payload, flags=re.M)
    return payload.replace(b"@@@", b"%03d" % idx)


def run_probe(a):
    if a.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("only loopback targets are allowed")
    host_header = a.host_header or f"{a.host}:{a.port}"
    plist = probes(host_header)
    if a.list:
        for name, _, expect in plist:
            print(name, f"({expect} reject)" if expect else "")
        return 0
    if a.only:
        want = set(a.only.split(","))
        plist = [p for p in plist if p[0] in want]
    before = 0
    if a.backend_record and os.path.exists(a.backend_record):
        with open(a.backend_record) as f:
            before = sum(1 for _ in f)
    runs = []
    for idx, (name, payload, expect) in enumerate(plist):
        payload = tag_targets(payload, idx)
        followup = f"GET /probe-followup?p={idx:03d} HTTP/1.1\r\nHost: {host_header}\r\n\r\n".encode()
        s = socket.create_connection((a.host, a.port), timeout=5)
        if a.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["http/1.1"])
            s = ctx.wrap_socket(s, server_hostname=host_header.rsplit(":", 1)[0])
        try:
            s.sendall(payload)
            time.sleep(0.2)
            try:
                s.sendall(followup)
            except OSError:
                pass
            raw, closed = read_all(s)
        finally:
            s.close()
        runs.append((idx, name, expect, raw, closed))
    time.sleep(0.5)   # let late backend records land before attributing them
    records = []
    if a.backend_record and os.path.exists(a.backend_record):
        with open(a.backend_record) as f:
            records = [json.loads(x) for x in f.readlines()[before:]]
    passed = failed = 0
    for idx, name, expect, raw, closed in runs:
        seen = [r for r in records if r["target"].endswith(f"?p={idx:03d}")]
        responses = parse_responses(raw)
        final = [(st, b) for st, b in responses if not st.startswith("1")]
        statuses = [st for st, _ in responses]
        expected = [f"{r['method']} {r['target'].rsplit('?p=', 1)[0]}" for r in seen]
        problems, notes = [], []
        garbage = [x for r, x in zip(seen, expected) if r["method"] not in METHODS]
        if garbage:
            problems.append(f"backend parsed a request line out of the middle of the stream: {garbage}")
        # Desync: the backend handled more requests than the client got answers for, i.e.
        # the proxy forwarded bytes it did not treat as a request of its own.
        if a.backend_record and len(seen) > len(final):
            problems.append(f"backend handled {len(seen)} request(s) but the client got {len(final)} response(s)")
        # The k-th backend answer the client sees must name the k-th request the backend saw.
        named = [b.decode("latin-1").split(" ", 3)[-1].strip().rsplit("?p=", 1)[0]
                 for _, b in final if b.startswith(b"backend request #")]
        if a.backend_record and named and named != expected[:len(named)]:
            problems.append(f"responses out of step with backend requests: got {named}, backend saw {expected}")
        if any(r.get("te_and_cl") for r in seen):
            problems.append("proxy forwarded both Transfer-Encoding and Content-Length (RFC 9112 6.1)")
        if expect == "must" and final and final[0][0].startswith("2"):
            problems.append(f"RFC requires rejecting this, got {final[0][0]}")
        if not final and not closed:
            problems.append("no response and the connection stayed open: the proxy (or the backend "
                            "behind it) is still waiting for body bytes the RFC framing says are not coming")
        if expect == "should" and final and final[0][0].startswith("2"):
            notes.append(f"accepted ({final[0][0]}); RFC says reject or repair")
        if not final and closed:
            notes.append("connection closed without a response")
        if not problems and any("/smuggled" in x for x in expected):
            notes.append("the smuggled bytes were treated as a pipelined request and answered on their own")
        verdict = "FAIL" if problems else "ok"
        passed += verdict == "ok"
        failed += verdict != "ok"
        r = {"probe": name, "expect": expect, "verdict": verdict, "statuses": statuses, "closed": closed,
             "backend_requests": expected, "problems": problems, "notes": notes}
        if a.json:
            print(json.dumps(r))
        else:
            backend = ",".join(expected) if a.backend_record else "?"
            shown = ",".join(statuses) or "-"
            tail = "; ".join(problems + notes)
            print(f"{verdict:4} {name:26} responses={shown:9} closed={str(closed):5} backend=[{backend}]"
                  + (f"  <- {tail}" if tail else ""))
    stray = [r for r in records if "?p=" not in r["target"]]
    if stray:
        print(f"note: {len(stray)} backend request(s) carried no probe tag: "
              + ", ".join(f"{r['method']} {r['target']}" for r in stray[:5]))
    print(f"desync-probe: {passed} passed, {failed} failed")
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("backend")
    b.add_argument("--port", type=int, default=0)
    b.add_argument("--record", required=True)
    p = sub.add_parser("probe")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--host-header")
    p.add_argument("--tls", action="store_true")
    p.add_argument("--backend-record")
    p.add_argument("--only")
    p.add_argument("--list", action="store_true")
    p.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.cmd == "backend":
        run_backend(a.port, a.record)
    else:
        sys.exit(run_probe(a))


if __name__ == "__main__":
    main()
