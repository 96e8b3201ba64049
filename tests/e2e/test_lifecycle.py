"""Reload (SIGHUP and file change; a bad file keeps the old config and logs FILE:LINE:COL),
reload under load without a failed request, and SIGTERM drain."""

import hashlib
import os
import signal
import threading
import time

from lib.helpers import find_line_col, route, wait_until
from lib.upstream import Delay, SlowBody, payload, sha256
from lib.yamlgen import dump

MiB = 1 << 20


def status_of(v, host, path, **kw):
    try:
        return v.get(path, host, **kw).status
    except OSError:
        return -1


def test_sighup_reload_adds_route_on_existing_connection(vallum, upstream):
    u = upstream("r")
    v = vallum(vallum.config([route("https://old.example.test", u.url)]))
    with v.conn("new.example.test") as c:
        assert c.get("/before").status == 404
        v.reload(vallum.config([route("https://old.example.test", u.url),
                                route("https://new.example.test", u.url)]))
        # the same downstream connection stays open and sees the new snapshot
        wait_until(lambda: c.get("/after").status == 200, 5, 0.1, "new route after SIGHUP")
        assert not c.closed_by_peer
    assert v.get("/still", "old.example.test").status == 200


def test_config_file_change_reloads_without_signal(vallum, upstream):
    u = upstream("f")
    v = vallum(vallum.config([route("https://a.example.test", u.url)]))
    assert status_of(v, "b.example.test", "/") == 404
    time.sleep(1.1)  # a different mtime second, for watchers that compare mtimes
    v.reload(vallum.config([route("https://a.example.test", u.url), route("https://b.example.test", u.url)]),
             sighup=False, in_place=True)
    wait_until(lambda: status_of(v, "b.example.test", "/") == 200, 10, 0.2, "file-change reload")


def test_truncated_config_file_is_not_applied(vallum, upstream):
    """A config rewritten in place is empty between the truncation and the write (`cat > f`, an
    editor, a copy over a network file system). A watcher that reads it then must not apply an
    empty config (no routes, generated certificate): requests keep being served by the old one."""
    u = upstream("slowwrite")
    v = vallum(vallum.config([route("https://a.example.test", u.url)]))
    text = v.config_text
    bad = []
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                with v.conn("a.example.test") as c:
                    r = c.get("/w")
                    if r.status != 200:
                        bad.append(r.status)
            except (OSError, TimeoutError) as e:
                bad.append(repr(e)[:120])

    t = threading.Thread(target=hammer, daemon=True)
    t.start()
    try:
        for _ in range(2):
            with open(v.config_path, "w") as f:  # O_TRUNC: the file is empty from here ...
                f.flush()
                time.sleep(0.7)                   # (longer than a polling interval)
                f.write(text)                     # ... until here
            time.sleep(1.0)
    finally:
        stop.set()
        t.join(10)
    reloads = [ln for ln in v.stderr_text().splitlines() if "reload" in ln]
    assert bad == [], (f"{len(bad)} requests failed while the config file was being rewritten, e.g. {bad[:3]}; "
                       f"reload log: {reloads[-6:]}")
    assert v.get("/end", "a.example.test").status == 200


def test_config_replaced_by_rename_reloads_twice(vallum, upstream):
    """Editors and Kubernetes ConfigMaps replace the file (write elsewhere, rename over it), which
    gives it a new inode: the watch must follow the path, not the old inode, and keep working."""
    u = upstream("mv")
    v = vallum(vallum.config([route("https://a.example.test", u.url)]))
    for host in ("b.example.test", "c.example.test"):
        assert status_of(v, host, "/") == 404
        time.sleep(1.1)
        tmp = v.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(dump(vallum.config([route("https://a.example.test", u.url), route(f"https://{host}", u.url)])))
        os.replace(tmp, v.config_path)
        wait_until(lambda: status_of(v, host, "/") == 200, 10, 0.2, f"reload after rename-replace for {host}")


def test_bad_reload_keeps_old_config_and_logs_position(vallum, upstream):
    u = upstream("b")
    good = vallum.config([route("https://a.example.test", u.url)])
    v = vallum(good)
    mark = len(v.stderr_text())
    bad = v.config_text.replace("routes:\n", "routes:\n  - from: https://broken.example.test\n"
                                             "    to: http://127.0.0.1:1\n    timeout: 30\n", 1)
    v.reload(bad)
    line, col = find_line_col(bad, "timeout: 30", offset_in_needle=len("timeout: "))
    v.wait_stderr(rf"{v.config_path}:{line}:{col}", 10, after=mark)
    assert v.alive()
    assert v.get("/x", "a.example.test").status == 200
    assert v.get("/x", "broken.example.test").status == 404
    v.reload(vallum.config([route("https://a.example.test", u.url), route("https://c.example.test", u.url)]))
    wait_until(lambda: status_of(v, "c.example.test", "/") == 200, 5, 0.1, "good config after a bad one")


class Hammer:
    """Client threads that keep requests flowing and count every failure."""

    def __init__(self, v, host):
        self.v, self.host = v, host
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self.keepalive_reconnects = 0
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self.keepalive, self.fresh, self.uploads)]

    def fail(self, what):
        with self.lock:
            self.failures.append(what)

    def good(self):
        with self.lock:
            self.ok += 1

    def keepalive(self):
        c = self.v.conn(self.host)
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                r = c.get(f"/ka/{i}")
                if r.status != 200 or not r.complete:
                    self.fail(f"keep-alive #{i}: {r!r}")
                else:
                    self.good()
                if c.closed_by_peer or (r.header("connection") or "").lower() == "close":
                    raise OSError("proxy closed the keep-alive connection")
            except (OSError, TimeoutError) as e:
                self.fail(f"keep-alive #{i}: {e!r}")
                self.keepalive_reconnects += 1
                c.close()
                c = self.v.conn(self.host)
        c.close()

    def fresh(self):
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                r = self.v.get(f"/fresh/{i}", self.host)
                if r.status != 200:
                    self.fail(f"fresh #{i}: {r!r}")
                else:
                    self.good()
            except (OSError, TimeoutError) as e:
                self.fail(f"fresh #{i}: {e!r}")

    def uploads(self):
        data = payload(256 * 1024, 41)
        want = sha256(data)
        c = self.v.conn(self.host)
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                r = c.request("POST", f"/up/{i}", body=data)
                if r.status != 200 or r.json()["body_sha256"] != want:
                    self.fail(f"upload #{i}: {r!r}")
                else:
                    self.good()
            except (OSError, TimeoutError, ValueError) as e:
                self.fail(f"upload #{i}: {e!r}")
                c.close()
                c = self.v.conn(self.host)
        c.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(20)


def test_reload_under_load_no_failed_request(vallum, upstream):
    s1, s2 = upstream("s1"), upstream("s2")
    s1.on("/inflight", Delay(1.0))
    s2.on("/inflight", Delay(1.0))
    extra = [upstream(f"n{i}") for i in range(5)]

    def cfg(stable, i):
        rs = [route("https://load.example.test", stable.url)]
        rs += [route(f"https://n{j}.example.test", extra[j].url) for j in range(i + 1)]
        return vallum.config(rs)

    v = vallum(cfg(s1, -1))
    inflight_results = []

    def inflight():
        inflight_results.append(v.get("/inflight", "load.example.test", timeout=20))

    with Hammer(v, "load.example.test") as h:
        time.sleep(0.5)
        for i in range(5):
            stable = s2 if i % 2 == 0 else s1
            t = threading.Thread(target=inflight, daemon=True)
            t.start()
            time.sleep(0.2)  # the in-flight request is at the upstream when the reload happens
            v.reload(cfg(stable, i))
            wait_until(lambda: status_of(v, f"n{i}.example.test", "/probe") == 200, 5, 0.05,
                       f"route n{i} after reload {i}")
            # the stable route now goes to the new upstream
            before = len(stable.requests())
            wait_until(lambda: len(stable.requests()) > before + 5, 5, 0.05, f"traffic moved to {stable.name}")
            t.join(10)
            time.sleep(0.3)
        for _ in range(10):  # a burst of reloads of the same file
            v.signal(signal.SIGHUP)
        time.sleep(1.0)
    assert h.failures == [], f"{len(h.failures)} failed of {h.ok + len(h.failures)}: {h.failures[:5]}"
    assert h.keepalive_reconnects == 0
    assert h.ok > 100, f"only {h.ok} requests completed during the reloads"
    assert len(inflight_results) == 5 and all(r.status == 200 for r in inflight_results), inflight_results
    assert v.alive()


def test_sigterm_drains_in_flight_requests(vallum, upstream):
    u = upstream("drain")
    u.on("/slow-body", SlowBody(MiB, seconds=2.0, pieces=8))
    u.on("/slow-head", Delay(1.5))
    v = vallum(vallum.config([route("https://drain.example.test", u.url)]))
    results = {}

    def fetch(path):
        try:
            results[path] = v.get(path, "drain.example.test", store_body=False, timeout=20)
        except Exception as e:  # noqa: BLE001 - reported below
            results[path] = e

    threads = [threading.Thread(target=fetch, args=(p,), daemon=True) for p in ("/slow-body", "/slow-head")]
    for t in threads:
        t.start()
    u.wait_for(lambda rs: {r.path for r in rs} >= {"/slow-body", "/slow-head"}, 5, "both requests at the upstream")
    time.sleep(0.2)
    t0 = time.monotonic()
    v.signal(15)
    for t in threads:
        t.join(20)
    rc = v.wait_exit(20)
    took = time.monotonic() - t0
    body = results["/slow-body"]
    assert not isinstance(body, Exception) and body.status == 200 and body.complete, body
    assert body.body_sha256 == hashlib.sha256(payload(MiB, 2)).hexdigest()
    head = results["/slow-head"]
    assert not isinstance(head, Exception) and head.status == 200 and head.complete, head
    assert rc == 0, f"exit code {rc} after SIGTERM (None = still running after 20 s)\n{v.stderr_text()[-3000:]}"
    assert took < 15


def test_sigterm_with_idle_keepalive_connection_exits_promptly(vallum, upstream):
    u = upstream("idle")
    v = vallum(vallum.config([route("https://idle.example.test", u.url)]))
    c = v.conn("idle.example.test")
    assert c.get("/x").status == 200
    t0 = time.monotonic()
    v.signal(15)
    rc = v.wait_exit(15)
    c.close()
    assert rc == 0, f"exit code {rc} (None = still running 15 s after SIGTERM)"
    assert time.monotonic() - t0 < 10
