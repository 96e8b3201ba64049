"""/ping and /healthz answer on every host ahead of user routes (GET 200 `OK\\n`, HEAD 200,
other methods 405); /.pomerium… and /.well-known/pomerium… are reserved: 404, never forwarded
(Pomerium's internal routes). Over HTTP/1.1 and HTTP/2 alike (the `proto`
fixture, lib/client.py)."""

import pytest

from lib.client import connect, get
from lib.helpers import route


@pytest.fixture(scope="module")
def env(module_vallum, module_upstream):
    u = module_upstream("user")
    v = module_vallum(module_vallum.config([route("https://app.example.test", u.url),  # catches every path
                                            route("https://*.wild.example.test", u.url)]))
    return v, u


HOSTS = ["app.example.test", "x.wild.example.test", "no-route.example.test"]


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("path", ["/ping", "/healthz", "/ping?probe=1"])
def test_health_get_head_other(env, proto, host, path):
    v, u = env
    with connect(v, proto, host) as c:
        r = c.get(path)
        assert (r.status, r.body) == (200, b"OK\n"), r
        r = c.request("HEAD", path)
        assert r.status == 200 and r.body == b"", r
        r = c.request("DELETE", path)
        assert r.status == 405, r
        assert c.get(path).status == 200  # still usable
    with connect(v, proto, host) as c:
        # (the proxy may close instead of reading an unwanted body: a new connection per method)
        r = c.request("POST", path, body=b"x")
        assert r.status == 405, r
    with connect(v, proto, host) as c:
        r = c.request("PUT", path, body=b"")
        assert r.status == 405, r
    assert [x.request_line for x in u.requests() if x.path in ("/ping", "/healthz")] == []


@pytest.mark.parametrize("path,status", [
    ("/.pomerium", 404), ("/.pomerium/", 404),
    ("/.pomerium/jwt", 404),                  # only with the runtime flag pomerium_jwt_endpoint
    ("/.pomerium/sign_in?x=1", 404),          # the authenticate host's, not a route host's
    ("/.pomerium/callback/", 404),            # sign-in is not configured here
    ("/.well-known/pomerium", 200), ("/.well-known/pomerium/", 200),
    ("/.well-known/pomerium/jwks.json", 200),
    ("/foo/../.pomerium/jwt", 404),           # normalized before the reserved-path check
])
@pytest.mark.parametrize("host", ["app.example.test", "x.wild.example.test"])
def test_reserved_paths_are_answered_never_forwarded(env, proto, host, path, status):
    v, u = env
    r = get(v, proto, path, host)
    assert r.status == status, r
    if status == 200:
        assert r.header("content-type") == "application/json"
        assert r.json()["jwks_uri" if path.rstrip("/").endswith("pomerium") else "keys"]
    leaked = [x.request_line for x in u.requests() if "pomerium" in x.target]
    assert leaked == [], f"reserved path forwarded to the user route: {leaked}"


@pytest.mark.parametrize("path", ["/pingx", "/ping/", "/healthz/x", "/.pomeriumx", "/x/.pomerium/jwt"])
def test_lookalike_paths_go_to_user_route(env, proto, path):
    v, u = env
    r = get(v, proto, path, "app.example.test")
    assert r.status == 200 and r.json()["target"] == path, r
