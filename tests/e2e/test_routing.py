"""Host, wildcard, port, path / prefix / regex routing in config order, path normalization,
escaped slashes and underscore headers (Pomerium's route matching and global options; Envoy
HCM path normalization; cases BR-17).

Every table runs over HTTP/1.1 and HTTP/2 (the `proto` fixture, lib/client.py) with the same
expected values: on HTTP/2 the route is chosen by `:authority`. Absolute-form targets are an
HTTP/1.1 thing (HTTP/2 carries the authority in its own pseudo-header): that test is h1-only,
with the HTTP/2 answer to an absolute `:path` next to it."""

import pytest

from lib.client import connect, get
from lib.helpers import route
from lib.pages import ACCEPT_JSON, assert_html_page, assert_json_page

NAMES = ["u1", "u2", "u3", "u4", "u5", "u6"]


@pytest.fixture(scope="module")
def env(module_vallum, module_upstream):
    u = {n: module_upstream(n) for n in NAMES}
    routes = [
        # config order within one host: the broad prefix first hides the later /api route
        route("https://order.example.test", u["u1"].url, prefix="/", name="order-root"),
        route("https://order.example.test", u["u2"].url, prefix="/api", name="order-api"),
        # path (exact), prefix, regex on one host
        route("https://paths.example.test", u["u1"].url, path="/sonarr"),
        route("https://paths.example.test", u["u2"].url, prefix="/radarr/"),
        route("https://paths.example.test", u["u3"].url, regex="/items/[0-9]+"),
        route("https://paths.example.test", u["u4"].url, prefix="/pub/"),
        route("https://paths.example.test", u["u5"].url, path="/secret"),
        route("https://paths.example.test", u["u6"].url, prefix="/admin"),
        # regex vs prefix: whichever is listed first wins
        route("https://rx.example.test", u["u1"].url, regex="/r/.*"),
        route("https://rx.example.test", u["u2"].url, prefix="/r/"),
        route("https://rx.example.test", u["u2"].url, prefix="/q/"),
        route("https://rx.example.test", u["u1"].url, regex="/q/.*"),
        # a wildcard route listed BEFORE a concrete host that has routes of its own
        route("https://*.wild.example.test", u["u3"].url),
        route("https://concrete.wild.example.test", u["u4"].url, path="/only"),
        # ports
        route("https://port.example.test:1234", u["u5"].url),
        route("https://anyport.example.test", u["u6"].url),
        # upper-case host in the config
        route("https://MiXeD.Example.TEST", u["u2"].url),
        # policy-vs-routes order (the `policy:` list below is first)
        route("https://legacy.example.test", u["u2"].url),
    ]
    cfg = module_vallum.config(routes)
    # `routes:` is written before `policy:` in the file; policy entries still come first.
    cfg["policy"] = [route("https://legacy.example.test", u["u1"].url)]
    v = module_vallum(cfg)
    return v, u


def hit(v, proto, host, target, headers=None, host_header="default"):
    r = get(v, proto, target, host, headers=headers, host_header=host_header)
    if r.status == 200 and (r.header("content-type") or "").startswith("application/json"):
        d = r.json()
        return r.status, d["server"], d["target"]
    return r.status, None, None


def seen_anywhere(u, target):
    return [(n, x.request_line) for n, s in u.items() for x in s.requests() if x.target == target]


@pytest.mark.parametrize("host,target,expected", [
    ("order.example.test", "/api/users", ("u1", "/api/users")),        # first listed route wins
    ("order.example.test", "/", ("u1", "/")),
    ("ORDER.Example.TEST", "/x", ("u1", "/x")),                          # host compares case-insensitively
    ("paths.example.test", "/sonarr", ("u1", "/sonarr")),
    ("paths.example.test", "/sonarr?page=2", ("u1", "/sonarr?page=2")),  # query is not part of `path`
    ("paths.example.test", "/radarr/", ("u2", "/radarr/")),
    ("paths.example.test", "/radarr/api/v3", ("u2", "/radarr/api/v3")),
    ("paths.example.test", "/items/42", ("u3", "/items/42")),
    ("paths.example.test", "/items/42?x=/y", ("u3", "/items/42?x=/y")),  # regex sees the path only
    ("paths.example.test", "/pub/file.txt", ("u4", "/pub/file.txt")),
    ("paths.example.test", "/secret", ("u5", "/secret")),
    ("paths.example.test", "/administrator", ("u6", "/administrator")),  # prefix is a plain string prefix
    ("rx.example.test", "/r/x", ("u1", "/r/x")),
    ("rx.example.test", "/q/x", ("u2", "/q/x")),
    ("a.wild.example.test", "/any", ("u3", "/any")),
    ("a.b.c.wild.example.test", "/deep", ("u3", "/deep")),               # route `*` spans several labels
    ("concrete.wild.example.test", "/only", ("u4", "/only")),
    ("anyport.example.test", "/p", ("u6", "/p")),
    ("legacy.example.test", "/l", ("u1", "/l")),                         # policy entries before routes
    ("mixed.example.test", "/m", ("u2", "/m")),
])
def test_routes_to_expected_upstream(env, proto, host, target, expected):
    v, u = env
    assert hit(v, proto, host, target) == (200,) + expected


@pytest.mark.parametrize("host,target", [
    ("paths.example.test", "/sonarr/"),            # path is exact
    ("paths.example.test", "/sonarr/api/v3/queue"),
    ("paths.example.test", "/SONARR"),             # and case-sensitive
    ("paths.example.test", "/radarr"),             # prefix "/radarr/" does not match "/radarr"
    ("paths.example.test", "/items/42/x"),         # regex is a full match
    ("paths.example.test", "/x/items/42"),
    ("paths.example.test", "/items/abc"),
    ("paths.example.test", "/Secret"),
    ("concrete.wild.example.test", "/other"),      # no fallback to the wildcard route
    ("wild.example.test", "/bare-domain"),         # `*.wild.example.test` never matches the bare domain
    ("nosuchhost.example.test", "/unknown-host"),
    ("example.test", "/parent-domain"),
])
def test_no_route_is_404_and_not_forwarded(env, proto, host, target):
    v, u = env
    r = get(v, proto, target, host)
    assert_html_page(r, 404)
    assert seen_anywhere(u, target) == []


def test_no_route_json_404(env, proto):
    v, u = env
    r = get(v, proto, "/nothing-here", "nosuchhost.example.test", headers=ACCEPT_JSON)
    assert_json_page(r, 404)


def test_absolute_form_target_routes_by_its_authority(env):
    """RFC 9112 §3.2.2: with an absolute-form target the target's authority is used and Host
    ignored; the upstream gets origin-form. HTTP/1-only (absolute-form is HTTP/1 syntax); the
    HTTP/2 answer is in test_h2_absolute_path_is_a_stream_error."""
    v, u = env
    with v.conn("paths.example.test") as c:
        r = c.get(f"https://{v.authority('paths.example.test')}/radarr/abs?abs=1",
                  host=v.authority("order.example.test"))
    assert r.status == 200, r
    d = r.json()
    assert (d["server"], d["request_line"]) == ("u2", "GET /radarr/abs?abs=1 HTTP/1.1"), d


def test_h2_absolute_path_is_a_stream_error(env):
    """HTTP/2: `:path` must be origin-form (or `*` for OPTIONS; RFC 9113 §8.3.1): an absolute
    URI there makes the request malformed, a stream error of type PROTOCOL_ERROR (§8.1.1), not
    forwarded; the connection goes on serving."""
    v, u = env
    with connect(v, "h2", "paths.example.test") as c:
        r = c.get(f"https://{v.authority('paths.example.test')}/radarr/h2abs")
        assert (r.status, r.reset_code, r.goaway_code) == (0, 1, None), r
        assert c.get("/radarr/next-request").status == 200
    assert [x.target for s in u.values() for x in s.requests() if "h2abs" in x.target] == []


def test_h2_misdirected_request_421(env):
    """HTTP/2 only (HTTP/1.1 has no connection reuse across hosts): a client may reuse a
    connection for another host its certificate covers (RFC 9113 §9.1.1); a request for a host
    the certificate (*.example.test) does not cover, on a connection opened for another name,
    is misdirected: 421 (RFC 9110 §15.5.20), not forwarded, and the connection goes on serving.
    A connection opened (SNI) for that very host is not a reused one: it is routed as over
    HTTP/1.1 (test_routes_to_expected_upstream[h2-a.wild.example.test...])."""
    v, u = env
    with connect(v, "h2", "paths.example.test") as c:
        r = c.get("/misdirected", host=v.authority("x.wild.example.test"))
        assert r.status == 421, r
        r = c.get("/r/covered", host=v.authority("rx.example.test"))  # covered: served on this connection
        assert r.status == 200 and r.json()["server"] == "u1", r
    with connect(v, "h2", "x.wild.example.test") as c:
        r = c.get("/not-misdirected")
        assert r.status == 200 and r.json()["server"] == "u3", r
    assert seen_anywhere(u, "/misdirected") == []


def test_h2_host_field_and_authority(env):
    """HTTP/2 only: a request may carry `host` instead of `:authority` (RFC 9113 §8.3.1: then
    it names the target) and is routed by it as HTTP/1.1 routes by Host; both present and
    different is malformed (400, not forwarded); both equal is one authority; neither is a
    stream PROTOCOL_ERROR (HTTP/1.1 answers a missing Host with 400)."""
    v, u = env
    auth = v.authority("rx.example.test")
    with connect(v, "h2", "rx.example.test") as c:
        r = c.get("/r/host-only", host=None, headers=[("host", auth)])
        assert r.status == 200 and r.json()["server"] == "u1", r
        r = c.get("/r/both-equal", headers=[("host", auth)])
        assert r.status == 200 and r.json()["server"] == "u1", r
        assert_html_page(c.get("/r/both-differ", headers=[("host", v.authority("order.example.test"))]), 400)
        r = c.get("/r/neither", host=None)  # no authority at all: malformed, nghttp2 resets the stream
        assert (r.status, r.reset_code) == (0, 1), r
    assert seen_anywhere(u, "/r/both-differ") == [] and seen_anywhere(u, "/r/neither") == []
    # One Host (the upstream's authority, as for any request) and the client's in X-Forwarded-Host.
    seen = {x.target: (x.headers_all("host"), x.headers_all("x-forwarded-host")) for s in u.values()
            for x in s.requests() if x.target in ("/r/host-only", "/r/both-equal")}
    want = ([f"127.0.0.1:{u['u1'].port}"], [auth])
    assert seen == {"/r/host-only": want, "/r/both-equal": want}, seen


def test_from_with_port_matches_only_that_port(env, proto):
    v, u = env
    # Host carries the port the route names: matched, whatever port the listener has.
    assert hit(v, proto, "port.example.test", "/p1", host_header="port.example.test:1234") == (200, "u5", "/p1")
    # The real listener port, or no port at all (= the scheme's default), is another port: 404.
    assert hit(v, proto, "port.example.test", "/p2")[0] == 404
    assert hit(v, proto, "port.example.test", "/p3", host_header="port.example.test")[0] == 404
    assert seen_anywhere(u, "/p2") == [] and seen_anywhere(u, "/p3") == []


def test_from_without_port_matches_any_port(env, proto):
    v, u = env
    assert hit(v, proto, "anyport.example.test", "/a1", host_header="anyport.example.test")[:2] == (200, "u6")
    assert hit(v, proto, "anyport.example.test", "/a2", host_header="anyport.example.test:9999")[:2] == (200, "u6")
    assert hit(v, proto, "anyport.example.test", "/a3")[:2] == (200, "u6")


@pytest.mark.parametrize("target,expected", [
    ("/pub/./file", ("u4", "/pub/file")),
    ("/pub/a/../b", ("u4", "/pub/b")),
    ("/pub/../secret", ("u5", "/secret")),              # normalized BEFORE matching
    ("/pub/x/../../secret?q=../x", ("u5", "/secret?q=../x")),  # the query is left alone
    ("/pub//double//slash", ("u4", "/pub//double//slash")),    # merge_slashes is off by default
    ("/pub/a?x=%2F", ("u4", "/pub/a?x=%2F")),           # escaped slash in the query is fine
])
def test_path_normalization_default(env, proto, target, expected):
    v, u = env
    assert hit(v, proto, "paths.example.test", target) == (200,) + expected


@pytest.mark.parametrize("target", ["/pub/%2e%2e/secret", "/pub/%2E%2E/secret", "/pub/.%2e/secret"])
def test_encoded_dot_segments_are_not_a_bypass(env, proto, target):
    """`%2e%2e` is a dot segment to any upstream that decodes it: either the proxy resolves it
    (and routes /secret to its own route) or rejects it; forwarding it under the /pub/ route
    would let a prefix route reach a path it does not cover."""
    v, u = env
    got = hit(v, proto, "paths.example.test", target)
    assert got in ((200, "u5", "/secret"), (400, None, None)), got


@pytest.mark.parametrize("target", ["/pub/a%2Fb", "/pub/a%2fb", "/pub/a%5Cb", "/pub/a%5cb", "/pub%2F..%2Fsecret"])
def test_escaped_slash_rejected_by_default(env, proto, target):
    v, u = env
    r = get(v, proto, target, "paths.example.test")
    assert_html_page(r, 400)
    assert seen_anywhere(u, target) == []


def test_underscore_header_rejected_by_default(env, proto):
    v, u = env
    r = get(v, proto, "/pub/underscore", "paths.example.test", headers=[("X_Custom", "1")])
    assert r.status == 400, r
    assert seen_anywhere(u, "/pub/underscore") == []
    # Hyphens are fine.
    assert hit(v, proto, "paths.example.test", "/pub/hyphen", headers=[("X-Custom", "1")])[0] == 200


def test_keep_unchanged_escaped_slashes_and_allow_underscores(vallum, upstream, proto):
    """BR-11 (e): path_with_escaped_slashes_action: KEEP_UNCHANGED forwards the escape as
    written (hex case kept); `%2F` is not a separator for matching; headers_with_underscores_action:
    ALLOW forwards the header."""
    mq, ab, rest = upstream("mq"), upstream("ab"), upstream("rest")
    v = vallum(vallum.config([route("https://enc.example.test", mq.url, prefix="/mq/"),
                              route("https://enc.example.test", ab.url, path="/a/b"),
                              route("https://enc.example.test", rest.url)],
                             path_with_escaped_slashes_action="KEEP_UNCHANGED",
                             headers_with_underscores_action="ALLOW"))
    with connect(v, proto, "enc.example.test") as c:
        r = c.request("PUT", "/mq/api/permissions/%2F/guest", body=b"{}")
        assert r.status == 200 and r.json()["request_line"] == "PUT /mq/api/permissions/%2F/guest HTTP/1.1", r
        r = c.get("/mq/api/queues/%2f/q1?x=%2F")
        assert (r.json()["server"], r.json()["target"]) == ("mq", "/mq/api/queues/%2f/q1?x=%2F"), r
        r = c.get("/a%2Fb")
        assert (r.json()["server"], r.json()["target"]) == ("rest", "/a%2Fb"), r
        r = c.get("/a/b")
        assert r.json()["server"] == "ab", r
        r = c.get("/x//y")
        assert (r.json()["server"], r.json()["target"]) == ("rest", "/x//y"), r
        r = c.get("/u", headers=[("X_Under_Score", "yes")])
        # HTTP/2 field names are lower case on the wire (RFC 9113 §8.2.1): the upstream sees that.
        name = "X_Under_Score" if proto == "h1" else "x_under_score"
        assert r.status == 200 and [name, "yes"] in r.json()["headers"], r


def test_merge_slashes_true(vallum, upstream, proto):
    u = upstream("merge")
    v = vallum(vallum.config([route("https://app.example.test", u.url, prefix="/a/")], merge_slashes=True))
    with connect(v, proto) as c:
        r = c.get("/a//b///c")
        assert r.status == 200 and r.json()["target"] == "/a/b/c", r
        r = c.get("//a//x?q=//")  # the query is not touched
        assert r.status == 200 and r.json()["target"] == "/a/x?q=//", r
