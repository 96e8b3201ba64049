"""One JSON access-log line per request on stdout with time, method, authority, path, status,
upstream, duration_ms, bytes_in, bytes_out, route, request_id.

Every test runs over HTTP/1.1 and HTTP/2 (the `proto` fixture, lib/client.py) with the same
expected line (the authority is :authority on HTTP/2); paths carry the protocol so each run
finds its own line."""

from datetime import datetime

import pytest

from lib.client import connect, get, request
from lib.helpers import route
from lib.pages import ACCEPT_JSON, assert_json_page
from lib.upstream import Delay, Download, payload

KEYS = {"time", "method", "authority", "path", "status", "upstream", "duration_ms", "bytes_in", "bytes_out",
        "route", "request_id"}


@pytest.fixture(scope="module")
def env(module_vallum, module_upstream):
    u = module_upstream("log")
    u.on("/log/dl", Download(5000, seed=51))
    u.on("/log/slow", Delay(0.3))
    v = module_vallum(module_vallum.config([route("https://log.example.test", u.url, name="logged-route")]))
    return v, u


def entry_for(v, path, timeout=5.0):
    return v.wait_access_log(lambda e: e.get("path") == path, timeout, f"path {path}")


def test_fields_of_a_proxied_request(env, proto):
    v, u = env
    body = payload(1234, 52)
    r = request(v, proto, "POST", f"/log/dl/{proto}", "log.example.test", body=body)
    assert r.status == 200 and r.body_len == 5000
    e = entry_for(v, f"/log/dl/{proto}")
    missing = KEYS - set(e)
    assert not missing, f"access log lacks {missing}: {e}"
    assert e["method"] == "POST"
    assert e["authority"] == v.authority("log.example.test")
    assert int(e["status"]) == 200
    assert f"127.0.0.1:{u.port}" in str(e["upstream"]), e
    assert e["route"] == "logged-route"
    assert isinstance(e["request_id"], str) and e["request_id"]
    assert isinstance(e["duration_ms"], (int, float)) and e["duration_ms"] >= 0
    assert int(e["bytes_in"]) == 1234, f"bytes_in should count the request body: {e}"
    assert int(e["bytes_out"]) == 5000, f"bytes_out should count the response body: {e}"
    datetime.fromisoformat(str(e["time"]).replace("Z", "+00:00"))


def test_duration_covers_upstream_time(env, proto):
    v, u = env
    assert get(v, proto, f"/log/slow/{proto}", "log.example.test").status == 200
    e = entry_for(v, f"/log/slow/{proto}")
    assert e["duration_ms"] >= 300, e


def test_one_line_per_request_on_keepalive(env, proto):
    v, u = env
    with connect(v, proto, "log.example.test") as c:
        for i in range(5):
            assert c.get(f"/log/ka/{proto}/{i}").status == 200
    for i in range(5):
        entry_for(v, f"/log/ka/{proto}/{i}")
    paths = [e.get("path") for e in v.access_log()]
    assert all(paths.count(f"/log/ka/{proto}/{i}") == 1 for i in range(5)), paths


def test_local_reply_logged_with_its_request_id(env, proto):
    v, u = env
    r = get(v, proto, f"/log/none/{proto}", "nobody.example.test", headers=ACCEPT_JSON)
    d = assert_json_page(r, 404)
    e = entry_for(v, f"/log/none/{proto}")
    assert int(e["status"]) == 404 and e["method"] == "GET"
    assert e["authority"] == v.authority("nobody.example.test")
    assert e["request_id"] == d["requestId"], (e, d)
    assert not e.get("upstream"), e
