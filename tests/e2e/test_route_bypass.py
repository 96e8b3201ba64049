"""Route decisions on the path the upstream will read (security review, items 1 and 2).

A protected `prefix: /admin` route followed by a public catch-all: no spelling of /admin may
reach the catch-all. Percent-encoded unreserved characters are decoded before matching and
forwarding (RFC 3986 §6.2.2.2), and with `merge_slashes` off a path whose merged form selects
another route than the path as written is refused with 400 (many origins read "//admin" as
"/admin"). Every case checks what the client got and what each upstream received.

Every table runs over HTTP/1.1 (the target sent as raw bytes) and HTTP/2 (the same bytes as
`:path`) with the same expected values (the `proto` fixture, lib/client.py)."""

import json
import subprocess

import pytest

from lib.client import connect
from lib.helpers import route
from lib.vallum import vallum_binary

HOST = "sec.example.test"


def routes(admin_url, exact_url, regex_url, public_url):
    return [
        route(f"https://{HOST}", admin_url, prefix="/admin", allow_public_unauthenticated_access=False),
        route(f"https://{HOST}", exact_url, path="/exact/admin", allow_public_unauthenticated_access=False),
        route(f"https://{HOST}", regex_url, regex="^/re/admin.*$", allow_public_unauthenticated_access=False),
        route(f"https://{HOST}", public_url, name="public-catch-all"),
    ]


@pytest.fixture(scope="module")
def env(module_vallum, module_upstream):
    ups = {name: module_upstream(name) for name in ("admin", "exact", "regex", "public")}
    v = module_vallum(module_vallum.config(routes(*(u.url for u in ups.values()))))
    return v, ups


@pytest.fixture(scope="module")
def merged(module_vallum, module_upstream):
    ups = {name: module_upstream("m-" + name) for name in ("admin", "exact", "regex", "public")}
    v = module_vallum(module_vallum.config(routes(*(u.url for u in ups.values())), merge_slashes=True))
    return v, ups


def raw_get(v, target: str, proto: str = "h1"):
    if proto == "h2":
        with connect(v, "h2", HOST) as c:
            return c.get(target, timeout=10)
    with v.conn(HOST) as c:
        c.send(f"GET {target} HTTP/1.1\r\nHost: {v.authority(HOST)}\r\n\r\n".encode())
        return c.read_response(timeout=10)


def received(ups) -> dict:
    return {name: [r.target for r in u.requests()] for name, u in ups.items()}


ENCODED_ADMIN = ["/%61dmin/secret.txt", "/%61%64%6d%69%6e/secret.txt", "/%61%64%6D%69%6E/secret.txt",
                 "/adm%69n/secret.txt", "/%2e/%61dmin/secret.txt", "/x/%2E%2e/%61dmin/secret.txt",
                 "/exact/%61dmin", "/re/%61dmin/x", "/r%65/admin"]


@pytest.mark.parametrize("target", ENCODED_ADMIN)
def test_encoded_letters_never_reach_the_catch_all(env, proto, target):
    v, ups = env
    before = received(ups)
    r = raw_get(v, target, proto)
    assert r.status == 403, r  # the protected route decided, and it denies
    assert received(ups) == before, "a request reached an upstream"


def test_decoded_path_is_what_the_upstream_reads(env, proto):
    v, ups = env
    r = raw_get(v, "/%70ublic/%7Euser/%41%2d%5f%2E?q=%61%2F", proto)
    assert r.status == 200, r
    rec = ups["public"].requests()[-1]
    # unreserved characters decoded in the path; the query is forwarded byte for byte
    assert rec.target == "/public/~user/A-_.?q=%61%2F"


def test_reserved_escapes_stay_encoded(env, proto):
    v, ups = env
    r = raw_get(v, "/files/a%20b%3Fc%25d%23e%40f", proto)
    assert r.status == 200, r
    assert ups["public"].requests()[-1].target == "/files/a%20b%3Fc%25d%23e%40f"


@pytest.mark.parametrize("target", ["//admin/secret.txt", "///admin/secret.txt", "/.//admin/secret.txt",
                                    "//%61dmin/secret.txt", "//exact/admin", "//re/admin", "//ping",
                                    "//.pomerium/callback"])
def test_adjacent_slashes_that_select_another_route_are_400(env, proto, target):
    v, ups = env
    before = received(ups)
    mark = len(v.stderr_text())
    r = raw_get(v, target, proto)
    assert r.status == 400, r
    assert received(ups) == before, "a request reached an upstream"
    v.wait_stderr(r"400 for sec\.example\.test/.*adjacent slashes", timeout=5, after=mark)


def test_double_slash_tip_still_works(env, proto):
    """The route docs' tip: "//" is kept and forwarded when both forms pick the same route."""
    v, ups = env
    r = raw_get(v, "//foo//bar?x=1", proto)
    assert r.status == 200, r
    assert ups["public"].requests()[-1].target == "//foo//bar?x=1"
    r = raw_get(v, "/admin//x", proto)  # both forms select /admin: the route's own answer
    assert r.status == 403, r


def test_merge_slashes_merges_before_matching(merged, proto):
    v, ups = merged
    before = received(ups)
    r = raw_get(v, "//admin/secret.txt", proto)
    assert r.status == 403, r
    assert received(ups) == before
    r = raw_get(v, "//foo//bar", proto)
    assert r.status == 200, r
    assert ups["public"].requests()[-1].target == "/foo/bar"


def test_route_command_explains_the_decoded_path(env, tmp_path):
    v, ups = env
    out = subprocess.run([vallum_binary(), "route", "--config", v.config_path,
                          f"https://{HOST}/%61dmin/secret.txt"], capture_output=True, text=True, timeout=30)
    doc = json.loads(out.stdout)
    assert doc["request"]["path"] == "/admin/secret.txt"
    assert doc["route"]["key"] == "routes[0]"
    assert doc["result"] == "deny" and doc["status"] == 403
    out = subprocess.run([vallum_binary(), "route", "--config", v.config_path,
                          f"https://{HOST}//admin/secret.txt"], capture_output=True, text=True, timeout=30)
    doc = json.loads(out.stdout)
    assert doc["result"] == "reply" and doc["status"] == 400, doc
