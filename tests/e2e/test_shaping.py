"""Request shaping, table-driven: every route option that
changes what the upstream or the client sees, through the real binary to real echo upstreams
that record exactly what they received (request line, raw target, every header in order).

Sources: Pomerium's route options `to` (its path), `redirect`, `response`, path rewrites, Host
(`host_rewrite*`, `preserve_host_header`) and headers (`set_request_headers`,
`remove_request_headers`, `set_response_headers`, `rewrite_response_headers`); Envoy's
RouteAction rewrites, RedirectAction and header handling.

Each CASES entry is: the route(s) of one host + one request (method, raw target sent as-is,
headers, body) + what must come out: what the upstream received (request line, target, Host,
headers present/absent/equal, relative order) or the proxy's own answer (status, Location, body,
response headers). Cases of one host share its routes (they must declare the same list).
One Vallum per configuration "env" serves every case of that env:

  main      TLS with the test certificate, default globals (so the default response headers
            include HSTS: certificates are configured)
  plain     insecure_server (plain HTTP): https_redirect from http, defaults without HSTS
  gmap      global set_response_headers replaces the defaults
  gdisable  global set_response_headers with `disable`
  selfsigned  TLS without configured certificates (a generated self-signed one): no HSTS

Placeholders, substituted at run time: @A@ / @B@ / @Z@ (upstream base URL), @Ap@ (upstream A's
port), @R@ (a loopback URL nothing listens on), @port@ (the env's Vallum port), @host@ (the
case's host), @authority@ (the Host header the client sent). Every request carries
`X-Case-Id: <id>/<h1|h2>` so the upstream record can be found.

Every case runs over HTTP/1.1 and HTTP/2 (`test_shaping[h1-<id>]`, `[h2-<id>]`; lib/client.py)
with the same expected values: on HTTP/2 the client's authority is `:authority` (the upstream
must see it as Host / X-Forwarded-Host exactly as an HTTP/1.1 Host), and the request field
names are lower case on the wire (RFC 9113 §8.2.1), so expected name order/case (`up_order`)
is compared with lower-cased names; every value is the same. A case marked `h1_only` (an
absolute-form target: HTTP/1 syntax) runs over HTTP/1.1 only.

Not covered here (not built yet): identity templates (`${pomerium.jwt}`,
`${pomerium.id_token}`, ...) which need sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import pytest

from lib.client import PROTOS, connect, h2_names
from lib.helpers import base_config
from lib.upstream import Fixed, refused_port

PUBLIC = {"allow_public_unauthenticated_access": True}
CASE_HEADER = "X-Case-Id"

HSTS = "max-age=31536000; includeSubDomains; preload"
XFO = "SAMEORIGIN"
XSS = "1; mode=block"
DEFAULT_RESP = {"X-Frame-Options": XFO, "X-XSS-Protection": XSS, "Strict-Transport-Security": HSTS}
DEFAULT_RESP_NO_HSTS = {"X-Frame-Options": XFO, "X-XSS-Protection": XSS, "Strict-Transport-Security": None}
NO_RESP_DEFAULTS = {"X-Frame-Options": None, "X-XSS-Protection": None, "Strict-Transport-Security": None}

ABSENT = None  # in expectation dicts: the header must not be there


@dataclass
class Case:
    id: str
    host: str  # label; the host is <label>.example.test
    routes: List[dict]  # this host's routes; `from` defaults to https://<host>
    target: str = "/"
    method: str = "GET"
    headers: Sequence[Tuple[str, str]] = ()
    body: Optional[bytes] = None
    host_header: Optional[str] = None  # default "<host>:<port>"
    env: str = "main"
    replies: Dict[str, tuple] = field(default_factory=dict)  # upstream A path prefix -> (status, body, headers)
    # --- expectations
    status: int = 200
    upstream: Optional[str] = None  # "A"/"B" must receive it; None: nothing is forwarded anywhere
    up_line: Optional[str] = None  # exact request line
    up_target: Optional[str] = None  # exact raw target
    up_host: Optional[str] = None  # exactly one Host field with this value
    up_headers: Dict[str, Union[None, str, List[str]]] = field(default_factory=dict)
    up_order: Optional[List[Tuple[str, str]]] = None  # these fields, in this order, exact name case
    up_body_len: Optional[int] = None
    location: Optional[str] = None  # exact Location; "" = no Location at all
    body_exact: Optional[bytes] = None
    resp_headers: Dict[str, Union[None, str, List[str]]] = field(default_factory=dict)
    up_check: Optional[Callable] = None  # extra predicate on the upstream record: returns an error or None
    timeout: float = 10.0
    h1_only: str = ""  # why the case has no HTTP/2 form (it then runs over HTTP/1.1 only)

    @property
    def fqdn(self) -> str:
        return f"{self.host}.example.test"


def rt(**kw) -> dict:
    """A public route (allow_public_unauthenticated_access unless given)."""
    r = dict(PUBLIC)
    r.update(kw)
    return r


def private(**kw) -> dict:
    r = dict(kw)
    r["allow_public_unauthenticated_access"] = False
    return r


CASES: List[Case] = []


def case(id_: str, host: str, routes: List[dict], **kw) -> None:
    CASES.append(Case(id=id_, host=host, routes=routes, **kw))


def redirect(id_: str, host: str, routes: List[dict], target: str, location: str, status: int = 301, **kw):
    case(id_, host, routes, target=target, status=status, location=location, **kw)


# =============================================================================================
# redirect (Envoy RedirectAction). The main env is TLS on a random port P, so a
# request's own scheme is https and its Host is "<host>:P" unless the case sets host_header.
# =============================================================================================
R_HTTPS = [rt(redirect={"https_redirect": True})]
redirect("redir-https-same-scheme", "rd-https", R_HTTPS, "/a?b=1", "https://@authority@/a?b=1")
# No scheme change: an explicit :443 is not dropped (only a scheme change drops a default port).
redirect("redir-https-443-kept", "rd-https", R_HTTPS, "/a?b=1", "https://rd-https.example.test:443/a?b=1",
         host_header="rd-https.example.test:443")

R_SCHEME = [rt(redirect={"scheme_redirect": "http"})]
redirect("redir-scheme-nondefault-port-kept", "rd-scheme", R_SCHEME, "/a?b=1", "http://@authority@/a?b=1")
redirect("redir-scheme-default-port-dropped", "rd-scheme", R_SCHEME, "/a?b=1", "http://rd-scheme.example.test/a?b=1",
         host_header="rd-scheme.example.test:443")
redirect("redir-scheme-no-port", "rd-scheme", R_SCHEME, "/a?b=1", "http://rd-scheme.example.test/a?b=1",
         host_header="rd-scheme.example.test")
# :80 is not the default port of the ORIGINAL scheme (https): kept.
redirect("redir-scheme-80-over-https-kept", "rd-scheme", R_SCHEME, "/a", "http://rd-scheme.example.test:80/a",
         host_header="rd-scheme.example.test:80")

# Absolute-form target: its authority is the request's authority (RFC 9112 §3.2.2), Host ignored.
redirect("redir-scheme-absolute-form", "rd-scheme", R_SCHEME, "https://rd-scheme.example.test:443/a?b=1",
         "http://rd-scheme.example.test/a?b=1", h1_only="absolute-form is HTTP/1 syntax")

# https_redirect > scheme_redirect: only https_redirect is used (no scheme change here, so :443
# stays; had scheme_redirect won it would be http://rd-both.example.test/a).
R_BOTH = [rt(redirect={"https_redirect": True, "scheme_redirect": "http"})]
redirect("redir-https-beats-scheme", "rd-both", R_BOTH, "/a", "https://rd-both.example.test:443/a",
         host_header="rd-both.example.test:443")
redirect("redir-https-beats-scheme-port", "rd-both", R_BOTH, "/a", "https://@authority@/a")

# host_redirect replaces the whole authority: the request's port is dropped.
R_HOST = [rt(redirect={"host_redirect": "docs.example.net"})]
redirect("redir-host", "rd-host", R_HOST, "/a?b=1", "https://docs.example.net/a?b=1")
redirect("redir-host-normalized-path", "rd-host", R_HOST, "/a/./b/../c?x=../y", "https://docs.example.net/a/c?x=../y")
redirect("redir-host-head", "rd-host", R_HOST, "/h", "https://docs.example.net/h", method="HEAD")
redirect("redir-host-post-body-not-forwarded", "rd-host", R_HOST, "/form?q=1", "https://docs.example.net/form?q=1",
         method="POST", body=b"field=value&other=1", headers=[("Content-Type", "application/x-www-form-urlencoded")])
redirect("redir-host-path-bytes-kept", "rd-host", R_HOST, "/a%20b//c?x=%2F&y", "https://docs.example.net/a%20b//c?x=%2F&y")
redirect("redir-hostport", "rd-hostport", [rt(redirect={"host_redirect": "docs.example.net:9000"})], "/a",
         "https://docs.example.net:9000/a")
redirect("redir-host-scheme", "rd-hostscheme", [rt(redirect={"host_redirect": "docs.example.net", "scheme_redirect": "http"})],
         "/a", "http://docs.example.net/a", host_header="rd-hostscheme.example.test:443")

# port_redirect is always written, even the final scheme's default port.
R_PORT = [rt(redirect={"port_redirect": 8080})]
redirect("redir-port", "rd-port", R_PORT, "/a?b=1", "https://rd-port.example.test:8080/a?b=1")
redirect("redir-port-host-without-port", "rd-port", R_PORT, "/a", "https://rd-port.example.test:8080/a",
         host_header="rd-port.example.test")
redirect("redir-port-443-written", "rd-port443", [rt(redirect={"port_redirect": 443})], "/a",
         "https://rd-port443.example.test:443/a")
redirect("redir-scheme-and-port-80-written", "rd-schemeport", [rt(redirect={"scheme_redirect": "http", "port_redirect": 80})],
         "/a", "http://rd-schemeport.example.test:80/a", host_header="rd-schemeport.example.test:443")
redirect("redir-host-and-port", "rd-hostport2", [rt(redirect={"host_redirect": "docs.example.net", "port_redirect": 8080})],
         "/a", "https://docs.example.net:8080/a")
# port_redirect: 0 is proto3's "unset" in Envoy's RedirectAction: no port rewrite.
redirect("redir-port-0-is-unset", "rd-port0", [rt(redirect={"port_redirect": 0})], "/a", "https://@authority@/a")

# path_redirect: replaces the path; its own query replaces the request's, even with strip_query.
redirect("redir-path", "rd-path", [rt(redirect={"path_redirect": "/new"})], "/old?b=1", "https://@authority@/new?b=1")
redirect("redir-path-strip", "rd-pathstrip", [rt(redirect={"path_redirect": "/new", "strip_query": True})], "/old?b=1",
         "https://@authority@/new")
R_PATHQ = [rt(redirect={"path_redirect": "/new?foo=1"})]
redirect("redir-path-query-replaces", "rd-pathq", R_PATHQ, "/old?b=1", "https://@authority@/new?foo=1")
redirect("redir-path-query-no-request-query", "rd-pathq", R_PATHQ, "/old", "https://@authority@/new?foo=1")
redirect("redir-path-query-strip-kept", "rd-pathqstrip", [rt(redirect={"path_redirect": "/new?foo=1", "strip_query": True})],
         "/old?b=1", "https://@authority@/new?foo=1")
redirect("redir-strip-query", "rd-strip", [rt(redirect={"strip_query": True})], "/x/y?b=1&c=2", "https://@authority@/x/y")

# prefix_rewrite: the matched prefix is swapped (literal, same pitfalls as route prefix_rewrite).
R_PFX = [rt(prefix="/v1/", redirect={"prefix_rewrite": "/v2/"})]
redirect("redir-prefix", "rd-prefix", R_PFX, "/v1/items?id=3", "https://@authority@/v2/items?id=3")
redirect("redir-prefix-exact", "rd-prefix", R_PFX, "/v1/", "https://@authority@/v2/")
case("redir-prefix-nomatch-404", "rd-prefix", R_PFX, target="/v1", status=404, location="")
redirect("redir-prefix-literal-double-slash", "rd-prefix2", [rt(prefix="/app", redirect={"prefix_rewrite": "/"})],
         "/app/x", "https://@authority@//x")
redirect("redir-path-beats-prefix", "rd-pathprefix",
         [rt(prefix="/v1/", redirect={"path_redirect": "/p", "prefix_rewrite": "/v2/"})], "/v1/x?q=1", "https://@authority@/p?q=1")
# With an exact `path` or a `regex` match the whole path is the matched part.
redirect("redir-prefix-on-path-route", "rd-pfxpath", [rt(path="/old", redirect={"prefix_rewrite": "/new"})], "/old?q=1",
         "https://@authority@/new?q=1")
redirect("redir-prefix-on-regex-route", "rd-pfxregex", [rt(regex="/r/[0-9]+", redirect={"prefix_rewrite": "/n"})], "/r/42",
         "https://@authority@/n")

# response_code: 301 by default; 301/302/303/307/308.
redirect("redir-code-default-301", "rd-code", [rt(redirect={"path_redirect": "/c"})], "/", "https://@authority@/c", status=301)
for _code in (301, 302, 303, 307, 308):
    redirect(f"redir-code-{_code}", f"rd-code{_code}", [rt(redirect={"path_redirect": "/c", "response_code": _code})],
             "/x", "https://@authority@/c", status=_code)

# All eight fields: https_redirect wins over scheme_redirect, path_redirect over prefix_rewrite.
redirect("redir-all-eight-fields", "rd-all",
         [rt(prefix="/v1/", redirect={"https_redirect": True, "scheme_redirect": "http", "host_redirect": "docs.example.net",
                                     "port_redirect": 8443, "path_redirect": "/guide", "prefix_rewrite": "/v2/",
                                     "response_code": 308, "strip_query": True})],
         "/v1/x?q=1", "https://docs.example.net:8443/guide", status=308)

# Authorization first: a redirect route without an allow policy is denied like any route.
case("redir-private-403", "rd-private", [private(redirect={"host_redirect": "docs.example.net"})], target="/a",
     status=403, location="")
# redirect wins over `to` (check warns): the upstream is never contacted (Z asserts no connection).
redirect("redir-with-to-never-connects", "rd-to", [rt(redirect={"host_redirect": "docs.example.net"}, to="@Z@")], "/a",
         "https://docs.example.net/a")
redirect("redir-beats-response", "rd-resp", [rt(redirect={"path_redirect": "/r"}, response={"status": 200, "body": "no"})],
         "/", "https://@authority@/r")
# Redirects get the route's set_response_headers merged over the global defaults.
redirect("redir-response-headers", "rd-hdrs",
         [rt(redirect={"path_redirect": "/r"}, set_response_headers={"X-Redirect-Route": "yes"})], "/",
         "https://@authority@/r", resp_headers=dict(DEFAULT_RESP, **{"X-Redirect-Route": "yes"}))

# Plain-HTTP listener: Envoy's https_redirect port rule (:80 of http dropped, others kept).
P_HTTPS = [rt(**{"from": "http://p-https.example.test"}, redirect={"https_redirect": True})]
redirect("plain-https-redirect-80-dropped", "p-https", P_HTTPS, "/a?b=1", "https://p-https.example.test/a?b=1",
         env="plain", host_header="p-https.example.test:80")
redirect("plain-https-redirect-8080-kept", "p-https", P_HTTPS, "/a?b=1", "https://p-https.example.test:8080/a?b=1",
         env="plain", host_header="p-https.example.test:8080")
redirect("plain-https-redirect-no-port", "p-https", P_HTTPS, "/a?b=1", "https://p-https.example.test/a?b=1",
         env="plain", host_header="p-https.example.test")
# :443 is not the default port of the original scheme (http): kept.
redirect("plain-https-redirect-443-kept", "p-https", P_HTTPS, "/a", "https://p-https.example.test:443/a",
         env="plain", host_header="p-https.example.test:443")
redirect("plain-scheme-https-80-dropped", "p-scheme",
         [rt(**{"from": "http://p-scheme.example.test"}, redirect={"scheme_redirect": "https"})], "/a",
         "https://p-scheme.example.test/a", env="plain", host_header="p-scheme.example.test:80")
redirect("plain-redirect-headers-no-hsts", "p-https", P_HTTPS, "/h", "https://p-https.example.test/h", env="plain",
         host_header="p-https.example.test", resp_headers=DEFAULT_RESP_NO_HSTS)

# =============================================================================================
# response: a direct response (Pomerium `response`)
# =============================================================================================
D_OK = [rt(response={"status": 200, "body": "hello from vallum\n"})]
case("resp-200", "dr-ok", D_OK, target="/anything?x=1", body_exact=b"hello from vallum\n", location="",
     resp_headers=DEFAULT_RESP)
case("resp-head", "dr-ok", D_OK, method="HEAD", target="/h", body_exact=b"")
case("resp-post-body-not-forwarded", "dr-ok", D_OK, method="POST", target="/p", body=b"x" * 1000,
     body_exact=b"hello from vallum\n")
case("resp-utf8-body", "dr-utf8", [rt(response={"status": 200, "body": "gr\u00fc\u00dfe \u2713\nline 2"})],
     body_exact="gr\u00fc\u00dfe \u2713\nline 2".encode())
case("resp-418", "dr-teapot", [rt(response={"status": 418, "body": "I'm a teapot"})], status=418, body_exact=b"I'm a teapot")
case("resp-404-empty-body", "dr-empty", [rt(response={"status": 404})], status=404, body_exact=b"",
     resp_headers={"Content-Length": "0"})
# 204 and 304 have no content (RFC 9110 §15.3.5, §15.4.5; RFC 9112 §6.3): a configured body is
# not sent, and no Content-Length (RFC 9110 §8.6: MUST NOT for 204). The keep-alive half is in
# test_direct_response_204_304_do_not_desync below.
case("resp-204-with-body", "dr-204", [rt(response={"status": 204, "body": "should not be sent"})], status=204,
     body_exact=b"", resp_headers={"Content-Length": ABSENT})
case("resp-304-with-body", "dr-304", [rt(response={"status": 304, "body": "x"})], status=304, body_exact=b"")
case("resp-private-403", "dr-private", [private(response={"status": 200, "body": "secret"})], status=403)
case("resp-with-to-never-connects", "dr-to", [rt(response={"status": 202, "body": "direct"}, to="@Z@")], status=202,
     body_exact=b"direct")
case("resp-response-headers", "dr-hdrs", [rt(response={"status": 200, "body": "b"},
                                            set_response_headers={"X-Direct": "1", "X-Frame-Options": "DENY"})],
     body_exact=b"b", resp_headers={"X-Direct": "1", "X-Frame-Options": "DENY", "X-XSS-Protection": XSS,
                                    "Strict-Transport-Security": HSTS})

# =============================================================================================
# Path rewrites (Pomerium `to` path, prefix_rewrite, regex_rewrite_*; Envoy RouteAction)
# =============================================================================================
def fwd(id_, host, routes, target, up_target, upstream="A", **kw):
    case(id_, host, routes, target=target, upstream=upstream, up_target=up_target, **kw)


W_TOOL = [rt(to="@A@", prefix="/tool/", prefix_rewrite="/")]
fwd("pfx-tool-health", "w-tool", W_TOOL, "/tool/health", "/health", up_line="GET /health HTTP/1.1")
fwd("pfx-tool-root", "w-tool", W_TOOL, "/tool/", "/")
fwd("pfx-tool-query-bytes-kept", "w-tool", W_TOOL, "/tool/a%20b/c?x=1&y=%2F&z=a+b", "/a%20b/c?x=1&y=%2F&z=a+b")
fwd("pfx-tool-method-body-kept", "w-tool", W_TOOL, "/tool/upload", "/upload", method="PUT", body=b"0123456789",
    up_line="PUT /upload HTTP/1.1", up_body_len=10)
case("pfx-tool-no-slash-404", "w-tool", W_TOOL, target="/tool", status=404)

W_V1 = [rt(to="@A@", prefix="/v1", prefix_rewrite="/api/v2")]
fwd("pfx-v1-users", "w-v1", W_V1, "/v1/users", "/api/v2/users")
fwd("pfx-v1-exact", "w-v1", W_V1, "/v1", "/api/v2")
fwd("pfx-v1-not-segment-aware", "w-v1", W_V1, "/v1beta?x=1", "/api/v2beta?x=1")

W_APP = [rt(to="@A@", prefix="/app", prefix_rewrite="/")]
fwd("pfx-app-double-slash-literal", "w-app", W_APP, "/app/x", "//x")
# Not segment-aware: Envoy swaps the 4 matched bytes "/app" for "/", so "/apples" gives
# "/les".
fwd("pfx-app-apples", "w-app", W_APP, "/apples", "/les")
fwd("pfx-app-exact", "w-app", W_APP, "/app", "/")

fwd("pfx-on-path-route", "w-path", [rt(to="@A@", path="/exact", prefix_rewrite="/target")], "/exact?q=1", "/target?q=1")
fwd("pfx-on-regex-route", "w-regex", [rt(to="@A@", regex="/items/[0-9]+", prefix_rewrite="/item")], "/items/42?z", "/item?z")

fwd("rx-swap-groups", "w-rx1", [rt(to="@A@", prefix="/service/", regex_rewrite_pattern=r"^/service/([^/]+)(/.*)$",
                                   regex_rewrite_substitution=r"\2/instance/\1")],
    "/service/foo/v1/api?x=1", "/v1/api/instance/foo?x=1")
fwd("rx-sees-normalized-path", "w-rx1", [rt(to="@A@", prefix="/service/", regex_rewrite_pattern=r"^/service/([^/]+)(/.*)$",
                                   regex_rewrite_substitution=r"\2/instance/\1")],
    "/service/foo/./x/../v1/api", "/v1/api/instance/foo")
fwd("rx-dollar-is-literal", "w-rx2", [rt(to="@A@", regex_rewrite_pattern=r"^/bookings/([^/]+)/sometask$",
                                         regex_rewrite_substitution="/orders/$1/sometask")],
    "/bookings/1234/sometask", "/orders/$1/sometask")
fwd("rx-all-matches", "w-rx3", [rt(to="@A@", regex_rewrite_pattern="one", regex_rewrite_substitution="two")],
    "/xxx/one/yyy/one/zzz", "/xxx/two/yyy/two/zzz")
W_RXQ = [rt(to="@A@", regex_rewrite_pattern="x", regex_rewrite_substitution="_")]
fwd("rx-query-not-rewritten", "w-rxq", W_RXQ, "/axb?x=xx", "/a_b?x=xx")
fwd("rx-no-match-unchanged", "w-rxq", W_RXQ, "/abc?q=x", "/abc?q=x")
fwd("rx-whole-match-ref", "w-rx0", [rt(to="@A@", regex_rewrite_pattern="[0-9]+", regex_rewrite_substitution=r"<\0>")],
    "/v12/a3", "/v<12>/a<3>")

# The `to` path (first `to` URL) acts as a prefix rewrite of the matched prefix.
fwd("to-path-slash", "w-to1", [rt(to="@A@/api/")], "/foo?x=1", "/api/foo?x=1")
fwd("to-path-no-slash-gotcha", "w-to2", [rt(to="@A@/api")], "/foo", "/apifoo")
fwd("to-path-root", "w-to3", [rt(to="@A@/")], "/foo/bar", "/foo/bar")
fwd("to-path-prefix-admin", "w-to4", [rt(to="@A@/", prefix="/admin")], "/admin/x", "//x")
fwd("to-path-prefix-admin-slash", "w-to5", [rt(to="@A@/", prefix="/admin/")], "/admin/x", "/x")
fwd("to-path-on-path-route", "w-to6", [rt(to="@A@/target", path="/exact")], "/exact?q=1", "/target?q=1")
fwd("to-path-double-slash-tip", "w-to7", [rt(to="@A@/anything")], "//foo", "/anything/foo")
fwd("to-path-only-first-to", "w-to8", [rt(to=["@A@/first/", "@A@/second/"])], "/p", "/first/p")
fwd("to-path-first-has-none", "w-to11", [rt(to=["@A@", "@A@/second/"])], "/p", "/p")
# Only the `to` URL's path is the rewrite (Pomerium uses url.Path): its query is not part of it.
fwd("to-path-query-not-used", "w-to12", [rt(to="@A@/api/?x=1")], "/foo?q=2", "/api/foo?q=2")
fwd("prefix-rewrite-beats-to-path", "w-to9", [rt(to="@A@/api/", prefix_rewrite="/p/")], "/foo", "/p/foo")
fwd("regex-rewrite-beats-to-path", "w-to10", [rt(to="@A@/api/", regex_rewrite_pattern="foo", regex_rewrite_substitution="bar")],
    "/foo", "/bar")
# An empty prefix_rewrite is "unset": the next rule applies (none here / the `to` path).
fwd("empty-prefix-rewrite-is-unset", "w-empty1", [rt(to="@A@", prefix="/tool", prefix_rewrite="")], "/tool/health",
    "/tool/health")
fwd("empty-prefix-rewrite-then-to-path", "w-empty2", [rt(to="@A@/base", prefix="/tool", prefix_rewrite="")], "/tool/x",
    "/base/x")

# Rewrites never change matching: /a/x becomes /b/x upstream but is not re-matched to route 2.
W_REMATCH = [rt(to="@A@", prefix="/a/", prefix_rewrite="/b/"), rt(to="@B@", prefix="/b/")]
fwd("rewrite-no-rematch", "w-rematch", W_REMATCH, "/a/x", "/b/x", upstream="A")
fwd("rewrite-no-rematch-other-route", "w-rematch", W_REMATCH, "/b/x", "/b/x", upstream="B")
W_REMATCH_RX = [rt(to="@A@", prefix="/old/", regex_rewrite_pattern="^/old/", regex_rewrite_substitution="/new/"),
                rt(to="@B@", prefix="/new/")]
fwd("regex-rewrite-no-rematch", "w-rematch-rx", W_REMATCH_RX, "/old/y", "/new/y", upstream="A")
# ... nor authorization: the public /pub/ route is rewritten into the private route's space.
W_AUTH = [rt(to="@A@", prefix="/pub/", prefix_rewrite="/priv/"), private(to="@A@", prefix="/priv/")]
fwd("rewrite-authz-original-path", "w-auth", W_AUTH, "/pub/doc", "/priv/doc")
case("rewrite-authz-private-denied", "w-auth", W_AUTH, target="/priv/doc", status=403)

# =============================================================================================
# Host (Pomerium host_rewrite*, preserve_host_header; Envoy host rewrites) and X-Forwarded-Host
# =============================================================================================
fwd("host-default-ip", "h-ip", [rt(to="@A@")], "/h", "/h", up_host="127.0.0.1:@Ap@",
    up_headers={"X-Forwarded-Host": "@authority@"})
fwd("host-default-named", "h-named", [rt(to="http://localhost:@Ap@")], "/h", "/h", up_host="localhost:@Ap@",
    up_headers={"X-Forwarded-Host": "@authority@"})
fwd("host-default-never-from-host", "h-ip", [rt(to="@A@")], "/h", "/h", up_host="127.0.0.1:@Ap@",
    host_header="h-ip.example.test")
fwd("xfh-appended-to-client-value", "h-ip", [rt(to="@A@")], "/x", "/x",
    headers=[("X-Forwarded-Host", "orig.example.net")], up_headers={"X-Forwarded-Host": "orig.example.net, @authority@"})

H_PRESERVE = [rt(to="@A@", preserve_host_header=True)]
fwd("host-preserve", "h-preserve", H_PRESERVE, "/p", "/p", up_host="@authority@",
    up_headers={"X-Forwarded-Host": ABSENT})
fwd("host-preserve-as-received", "h-preserve", H_PRESERVE, "/p", "/p", host_header="H-Preserve.Example.TEST:@port@",
    up_host="H-Preserve.Example.TEST:@port@", up_headers={"X-Forwarded-Host": ABSENT})
fwd("host-preserve-client-xfh-untouched", "h-preserve", H_PRESERVE, "/p", "/p",
    headers=[("X-Forwarded-Host", "orig.example.net")], up_host="@authority@",
    up_headers={"X-Forwarded-Host": "orig.example.net"})

fwd("host-rewrite-literal", "h-literal", [rt(to="@A@", host_rewrite="internal.example:8080")], "/l", "/l",
    up_host="internal.example:8080", up_headers={"X-Forwarded-Host": "@authority@"})

H_HDR = [rt(to="@A@", host_rewrite_header="X-Upstream-Host")]
fwd("host-rewrite-header-present", "h-header", H_HDR, "/hh", "/hh", headers=[("X-Upstream-Host", "backend.internal")],
    up_host="backend.internal", up_headers={"X-Forwarded-Host": "@authority@", "X-Upstream-Host": "backend.internal"})
fwd("host-rewrite-header-name-case", "h-header", H_HDR, "/hh", "/hh", headers=[("x-upstream-host", "b2.internal:81")],
    up_host="b2.internal:81", up_headers={"X-Forwarded-Host": "@authority@"})
# Absent (or empty): Host left unchanged, so nothing is appended to X-Forwarded-Host (Envoy only
# appends when it rewrites).
fwd("host-rewrite-header-absent", "h-header", H_HDR, "/hh", "/hh", up_host="@authority@",
    up_headers={"X-Forwarded-Host": ABSENT})
fwd("host-rewrite-header-empty", "h-header", H_HDR, "/hh", "/hh", headers=[("X-Upstream-Host", "")],
    up_host="@authority@", up_headers={"X-Forwarded-Host": ABSENT})
# (An empty field value is valid HTTP, RFC 9110 §5.5; the case above needs it to reach the route.)
fwd("empty-header-value-forwarded", "h-ip", [rt(to="@A@")], "/e", "/e", headers=[("X-Empty", "")],
    up_headers={"X-Empty": [""]})

H_PATHRX = [rt(to="@A@", host_path_regex_rewrite_pattern=r"^/([^/]+)/.*$", host_path_regex_rewrite_substitution=r"\1")]
fwd("host-path-regex", "h-pathrx", H_PATHRX, "/svc.internal/some/path?q=/x/y", "/svc.internal/some/path?q=/x/y",
    up_host="svc.internal", up_headers={"X-Forwarded-Host": "@authority@"})

# Precedence: host_rewrite > host_rewrite_header > host_path_regex_rewrite > preserve_host_header.
fwd("host-precedence-literal-first", "h-prec1",
    [rt(to="@A@", host_rewrite="lit.internal", host_rewrite_header="X-Upstream-Host", preserve_host_header=True,
        host_path_regex_rewrite_pattern="^/([^/]+)/.*$", host_path_regex_rewrite_substitution=r"\1")],
    "/rx.internal/p", "/rx.internal/p", headers=[("X-Upstream-Host", "hdr.internal")], up_host="lit.internal",
    up_headers={"X-Forwarded-Host": "@authority@"})
H_PREC2 = [rt(to="@A@", host_rewrite_header="X-Upstream-Host", preserve_host_header=True,
              host_path_regex_rewrite_pattern="^/([^/]+)/.*$", host_path_regex_rewrite_substitution=r"\1")]
fwd("host-precedence-header-second", "h-prec2", H_PREC2, "/rx.internal/p", "/rx.internal/p",
    headers=[("X-Upstream-Host", "hdr.internal")], up_host="hdr.internal")
# The header route with the header absent leaves Host unchanged; it does not fall back to the
# path regex.
fwd("host-precedence-header-absent-no-fallback", "h-prec2", H_PREC2, "/rx.internal/p", "/rx.internal/p",
    up_host="@authority@")
fwd("host-precedence-pathrx-over-preserve", "h-prec3",
    [rt(to="@A@", preserve_host_header=True, host_path_regex_rewrite_pattern="^/([^/]+)/.*$",
        host_path_regex_rewrite_substitution=r"\1")],
    "/rx.internal/p", "/rx.internal/p", up_host="rx.internal", up_headers={"X-Forwarded-Host": "@authority@"})

# remove_request_headers: x-forwarded-host (any case) turns the append off and drops the client's.
fwd("xfh-removed", "h-xfhrm", [rt(to="@A@", remove_request_headers=["X-FORWARDED-HOST"])], "/r", "/r",
    headers=[("X-Forwarded-Host", "orig.example.net")], up_host="127.0.0.1:@Ap@",
    up_headers={"X-Forwarded-Host": ABSENT})

# set_request_headers cannot change Host or pseudo-headers (check warns; not applied).
fwd("set-host-not-applied", "h-sethost",
    [rt(to="@A@", set_request_headers={"Host": "evil.example", ":authority": "evil.example", "X-Ok": "1"})], "/s", "/s",
    up_host="127.0.0.1:@Ap@", up_headers={"X-Ok": "1", ":authority": ABSENT})

# =============================================================================================
# Request headers (Pomerium set_request_headers, remove_request_headers)
# =============================================================================================
S_SET = [rt(to="@A@", set_request_headers={"X-Set": "fixed"})]
fwd("set-overwrites-all-values", "s-set", S_SET, "/s", "/s",
    headers=[("X-Before", "1"), ("X-Set", "client-a"), ("X-Middle", "2"), ("x-set", "client-b"), ("X-After", "3")],
    up_headers={"X-Set": ["fixed"]}, up_order=[("X-Before", "1"), ("X-Middle", "2"), ("X-After", "3")])
fwd("set-adds-when-absent", "s-set", S_SET, "/s", "/s", up_headers={"X-Set": ["fixed"]})
fwd("set-dollar-dollar", "s-dollar", [rt(to="@A@", set_request_headers={"X-Price": "cost $$5 and $$$$"})], "/d", "/d",
    up_headers={"X-Price": ["cost $5 and $$"]})

S_TPL = [rt(to="@A@", set_request_headers={
    "X-Copy": "${pomerium.request.headers.X-In}",
    "X-Bracket": '${pomerium.request.headers["X-In"]}',
    "X-Bare": "$pomerium.request.headers.X-In",
    "X-Mixed": "pre-${pomerium.request.headers.X-In}-post",
    "X-Lower": "${pomerium.request.headers.x-in}",
    "X-Malformed": "a${pomerium.request.headers.X-In",
    "X-Unknown": "[${pomerium.no.such.thing}]",
})]
fwd("tpl-request-header", "s-tpl", S_TPL, "/t", "/t", headers=[("X-In", "hello world")],
    up_headers={"X-Copy": ["hello world"], "X-Bracket": ["hello world"], "X-Bare": ["hello world"],
                "X-Mixed": ["pre-hello world-post"], "X-Lower": ["hello world"],
                "X-Malformed": ["a${pomerium.request.headers.X-In"], "X-Unknown": ["[]"],
                "X-In": ["hello world"]})
fwd("tpl-request-header-absent", "s-tpl", S_TPL, "/t", "/t",
    up_headers={"X-Mixed": ["pre--post"], "X-Malformed": ["a${pomerium.request.headers.X-In"], "X-Unknown": ["[]"]})
# A substituted value is not expanded again.
fwd("tpl-no-reexpansion", "s-tpl", S_TPL, "/t", "/t",
    headers=[("X-In", "${pomerium.request.headers.X-Other} $$"), ("X-Other", "leak")],
    up_headers={"X-Copy": ["${pomerium.request.headers.X-Other} $$"]})

# set + remove of the same header: set wins (docs/decisions.md; check warns).
fwd("set-and-remove-set-wins", "s-setrm",
    [rt(to="@A@", set_request_headers={"X-User": "fixed"}, remove_request_headers=["x-user"])], "/u", "/u",
    headers=[("X-User", "forged")], up_headers={"X-User": ["fixed"]})
# A template reads the client's request, so a header can be moved: removed, its value set elsewhere.
fwd("tpl-reads-removed-header", "s-move",
    [rt(to="@A@", remove_request_headers=["X-Secret"], set_request_headers={"X-Copy": "${pomerium.request.headers.X-Secret}"})],
    "/m", "/m", headers=[("X-Secret", "s3")], up_headers={"X-Secret": ABSENT, "X-Copy": ["s3"]})

S_RM = [rt(to="@A@", remove_request_headers=["X-Remove-Me", "x-also"])]
fwd("remove-case-insensitive-all-values-order-kept", "s-rm", S_RM, "/r", "/r",
    headers=[("X-A", "1"), ("X-Remove-Me", "a"), ("X-B", "2"), ("x-REMOVE-me", "b"), ("X-Also", "c"), ("X-C", "3"),
             ("x-c", "4")],
    up_headers={"X-Remove-Me": ABSENT, "X-Also": ABSENT},
    up_order=[("X-A", "1"), ("X-B", "2"), ("X-C", "3"), ("x-c", "4")])
# Proxy-generated headers obey removal too (Envoy's router removes after the HCM added them).
fwd("remove-x-forwarded-for", "s-rmxff", [rt(to="@A@", remove_request_headers=["X-Forwarded-For"])], "/r", "/r",
    headers=[("X-Forwarded-For", "203.0.113.9")], up_headers={"X-Forwarded-For": ABSENT})

# The proxy owns the message framing: a set_request_headers entry for Content-Length or
# Transfer-Encoding must never produce a message with conflicting framing (RFC 9112 §6.3:
# CL with TE, or differing CLs, is a desync/smuggling vector); the body must arrive intact.
def _one_framing(rec):  # for the 5-byte bodies below
    te, cl = rec.headers_all("transfer-encoding"), rec.headers_all("content-length")
    if te and cl:
        return f"both Transfer-Encoding {te} and Content-Length {cl}"
    if len(set(cl)) > 1:
        return f"conflicting Content-Length fields {cl}"
    if not (rec.complete and rec.body_len == 5):
        return f"body not intact: {rec.body_len} bytes, complete={rec.complete}"
    return None


fwd("set-content-length-no-conflict", "s-setcl", [rt(to="@A@", set_request_headers={"Content-Length": "0"})], "/cl", "/cl",
    method="POST", body=b"hello", up_check=_one_framing, up_body_len=5, timeout=5.0)
fwd("set-transfer-encoding-no-conflict", "s-sette", [rt(to="@A@", set_request_headers={"Transfer-Encoding": "chunked"})],
    "/te", "/te", method="POST", body=b"hello", up_check=_one_framing, timeout=5.0)

# =============================================================================================
# Response headers (Pomerium set_response_headers, rewrite_response_headers)
# =============================================================================================
RH = [rt(to="@A@")]
fwd("resp-defaults-on-proxied", "rh", RH, "/x", "/x", resp_headers=DEFAULT_RESP)
# overwrite-or-add: the upstream's own X-Frame-Options is replaced, never duplicated.
fwd("resp-defaults-overwrite-upstream", "rh", RH, "/rh-deny", "/rh-deny",
    replies={"/rh-deny": (200, b"deny", [("X-Frame-Options", "DENY"), ("x-xss-protection", "0")])},
    resp_headers={"X-Frame-Options": [XFO], "X-XSS-Protection": [XSS], "Strict-Transport-Security": [HSTS]},
    body_exact=b"deny")
case("resp-defaults-on-404", "nothing-here", [], target="/x", status=404, resp_headers=DEFAULT_RESP)
fwd("resp-route-merged-over-global", "rh-route",
    [rt(to="@A@", set_response_headers={"X-Frame-Options": "DENY", "X-Route": "r"})], "/x", "/x",
    resp_headers={"X-Frame-Options": ["DENY"], "X-Route": "r", "X-XSS-Protection": XSS, "Strict-Transport-Security": HSTS})
fwd("resp-route-disable", "rh-disable",
    [rt(to="@A@", set_response_headers={"disable": "true", "X-Route": "r"})], "/x", "/x",
    resp_headers=dict(NO_RESP_DEFAULTS, **{"X-Route": None, "disable": None}))
fwd("resp-plain-no-hsts", "p-rh", [rt(**{"from": "http://p-rh.example.test"}, to="@A@")], "/x", "/x", env="plain",
    resp_headers=DEFAULT_RESP_NO_HSTS)

# The route's set also applies to the proxy's replies on that route (a failed upstream: 503).
case("resp-route-headers-on-503", "rh-503", [rt(to="@R@", set_response_headers={"X-Route": "r"})], target="/x",
     status=503, resp_headers={"X-Route": "r", "X-Frame-Options": XFO})
# No certificates configured (Vallum serves a generated self-signed one): no HSTS either.
fwd("resp-selfsigned-no-hsts", "ss-rh", [rt(to="@A@")], "/x", "/x", env="selfsigned", resp_headers=DEFAULT_RESP_NO_HSTS)

# Global map replaces the defaults entirely (no partial merge).
fwd("resp-global-map-replaces", "g-map", [rt(to="@A@")], "/x", "/x", env="gmap",
    resp_headers=dict(NO_RESP_DEFAULTS, **{"X-Global": "g"}))
fwd("resp-global-map-plus-route", "g-map-route", [rt(to="@A@", set_response_headers={"X-Route": "r"})], "/x", "/x",
    env="gmap", resp_headers=dict(NO_RESP_DEFAULTS, **{"X-Global": "g", "X-Route": "r"}))
case("resp-global-map-on-404", "g-nothing", [], target="/x", status=404, env="gmap",
     resp_headers=dict(NO_RESP_DEFAULTS, **{"X-Global": "g"}))
case("resp-global-map-on-redirect", "g-redir", [rt(redirect={"path_redirect": "/z"})], target="/", status=301,
     env="gmap", location="https://@authority@/z", resp_headers=dict(NO_RESP_DEFAULTS, **{"X-Global": "g"}))
# `disable` in the global map empties the global set; route headers are still added.
fwd("resp-global-disable", "g-dis", [rt(to="@A@")], "/x", "/x", env="gdisable",
    resp_headers=dict(NO_RESP_DEFAULTS, **{"X-Global": None, "disable": None}))
fwd("resp-global-disable-route-still-added", "g-dis-route", [rt(to="@A@", set_response_headers={"X-Route": "r"})],
    "/x", "/x", env="gdisable", resp_headers=dict(NO_RESP_DEFAULTS, **{"X-Global": None, "X-Route": "r"}))

# rewrite_response_headers: prefix replaced when the value starts with it (first value, whole
# field), names matched case-insensitively, never a substring, status and body untouched.
RR = [rt(to="@A@", rewrite_response_headers=[
    {"header": "Location", "prefix": "@A@/", "value": "https://rr.example.test:8443/"},
    {"header": "x-backend-url", "prefix": "@A@/two/", "value": "https://rr.example.test:8443/one/"},
    {"header": "LOCATION", "prefix": "http://alt.internal/", "value": "https://rr.example.test:8443/alt/"},
])]
RR_REPLIES = {
    "/rr-login": (302, b"moved", [("Location", "@A@/dashboard?x=1")]),
    "/rr-ext": (302, b"", [("Location", "https://other.example.net/x")]),
    "/rr-trick": (302, b"", [("Location", "https://other.example.net/?next=@A@/")]),
    "/rr-hdr": (200, b"hdr", [("X-Backend-Url", "@A@/two/some/path/")]),
    "/rr-lower": (301, b"", [("location", "@A@/p")]),
    "/rr-alt": (307, b"", [("Location", "http://alt.internal/q?r=1")]),
}
fwd("rr-location-rewritten", "rr", RR, "/rr-login", "/rr-login", replies=RR_REPLIES, status=302,
    location="https://rr.example.test:8443/dashboard?x=1", body_exact=b"moved")
fwd("rr-other-location-unchanged", "rr", RR, "/rr-ext", "/rr-ext", replies=RR_REPLIES, status=302,
    location="https://other.example.net/x")
fwd("rr-substring-never-replaced", "rr", RR, "/rr-trick", "/rr-trick", replies=RR_REPLIES, status=302,
    location="https://other.example.net/?next=@A@/")
fwd("rr-config-name-lowercase", "rr", RR, "/rr-hdr", "/rr-hdr", replies=RR_REPLIES, body_exact=b"hdr",
    resp_headers={"X-Backend-Url": "https://rr.example.test:8443/one/some/path/"})
fwd("rr-upstream-name-lowercase", "rr", RR, "/rr-lower", "/rr-lower", replies=RR_REPLIES, status=301,
    location="https://rr.example.test:8443/p")
# Every rule applies, also a second rule for the same header (Pomerium's Lua loops over them all).
fwd("rr-second-rule-same-header", "rr", RR, "/rr-alt", "/rr-alt", replies=RR_REPLIES, status=307,
    location="https://rr.example.test:8443/alt/q?r=1")


# =============================================================================================
# machinery
# =============================================================================================
ENV_GLOBALS = {
    "main": {},
    "plain": {"insecure": True},
    "selfsigned": {"no_certificates": True},
    "gmap": {"set_response_headers": {"X-Global": "g"}},
    "gdisable": {"set_response_headers": {"disable": "true", "X-Global": "g"}},
}


def _sub(obj, m: Dict[str, str]):
    if isinstance(obj, str):
        for k, v in m.items():
            obj = obj.replace(k, v)
        return obj
    if isinstance(obj, list):
        return [_sub(x, m) for x in obj]
    if isinstance(obj, tuple):
        return tuple(_sub(x, m) for x in obj)
    if isinstance(obj, dict):
        return {_sub(k, m): _sub(v, m) for k, v in obj.items()}
    return obj


class Env:
    def __init__(self, vallums, ups, names, refused):
        self.refused = refused
        self.vallums = vallums
        self.ups = ups  # "A"/"B"/"Z" -> EchoUpstream
        self.names = names

    def subst(self, env: str, host: str, authority: str) -> Dict[str, str]:
        m = {"@Ap@": str(self.ups["A"].port), "@port@": str(self.vallums[env].port), "@host@": host,
             "@authority@": authority, "@R@": self.refused}
        for n, u in self.ups.items():
            m[f"@{n}@"] = u.url
        return m


@pytest.fixture(scope="module")
def shaping(module_vallum, module_upstream):
    ups = {"A": module_upstream("A"), "B": module_upstream("B"), "Z": module_upstream("Z")}
    refused = f"http://127.0.0.1:{refused_port()}"
    base = {"@Ap@": str(ups["A"].port), "@R@": refused, **{f"@{n}@": u.url for n, u in ups.items()}}
    # Scripted upstream answers (all on A), keyed by the path the upstream receives.
    seen_replies: Dict[str, tuple] = {}
    for c in CASES:
        for prefix, spec in c.replies.items():
            assert seen_replies.setdefault(prefix, spec) == spec, f"conflicting replies for {prefix}"
    for prefix, (status, body, headers) in seen_replies.items():
        ups["A"].on(prefix, Fixed(status, body, _sub(list(headers), base)))
    # One route list per (env, host), in first-seen order; cases of a host must agree.
    per_env: Dict[str, Dict[str, List[dict]]] = {}
    for c in CASES:
        hosts = per_env.setdefault(c.env, {})
        routes = [dict(r) for r in c.routes]
        for r in routes:
            r.setdefault("from", f"https://{c.fqdn}")
        routes = _sub(routes, base)
        if c.fqdn in hosts:
            assert hosts[c.fqdn] == routes, f"case {c.id}: host {c.fqdn} declared with other routes"
        else:
            hosts[c.fqdn] = routes
    vallums = {}
    for env_name, hosts in per_env.items():
        g = dict(ENV_GLOBALS[env_name])
        insecure = g.pop("insecure", False)
        no_certs = g.pop("no_certificates", False)
        routes = [r for rs in hosts.values() for r in rs]
        if insecure or no_certs:
            cfg = base_config(insecure=insecure, routes=routes, **g)
        else:
            cfg = module_vallum.config(routes, **g)
        vallums[env_name] = module_vallum(cfg)
    return Env(vallums, ups, list(ups), refused)


def _field_values(headers, name):
    return [v for k, v in headers if k.lower() == name.lower()]


def _check_headers(kind: str, headers, expected: dict, m: dict, where: str):
    for name, want in expected.items():
        got = _field_values(headers, name)
        if want is None:
            assert got == [], f"{where}: {kind} header {name} must be absent, got {got}; all: {headers}"
        elif isinstance(want, list):
            assert got == _sub(want, m), f"{where}: {kind} header {name}: want fields {_sub(want, m)}, got {got}; all: {headers}"
        else:
            assert got, f"{where}: {kind} header {name} missing (want {_sub(want, m)!r}); all: {headers}"
            assert ", ".join(got) == _sub(want, m), f"{where}: {kind} header {name}: want {_sub(want, m)!r}, got {got}"


def run_case(env: Env, c: Case, proto: str = "h1"):
    v = env.vallums[c.env]
    authority = f"{c.fqdn}:{v.port}" if c.host_header is None else None
    m0 = env.subst(c.env, c.fqdn, "")
    if authority is None:
        authority = _sub(c.host_header, m0)
    m = env.subst(c.env, c.fqdn, authority)
    z_before = env.ups["Z"].connections
    case_id = f"{c.id}/{proto}"  # each protocol's run finds its own upstream record
    headers = [(k, _sub(val, m)) for k, val in c.headers] + [(CASE_HEADER, case_id)]
    where = f"[{c.id}/{proto}] {c.method} {c.target} Host: {authority}"
    conn_kw = {"verify": False} if c.env == "selfsigned" else {}
    with connect(v, proto, c.fqdn, host_header=authority, timeout=c.timeout, **conn_kw) as conn:
        try:
            r = conn.request(c.method, _sub(c.target, m), headers=headers, body=c.body)
        except TimeoutError as e:
            seen = [(n, rec.raw_head.decode("latin-1")) for n, u in env.ups.items() for rec in u.requests()
                    if rec.header(CASE_HEADER) == case_id]
            raise AssertionError(f"{where}: {e}; upstream received: {seen}") from None
    assert r.status == c.status, f"{where}: status {r.status}, want {c.status}: {r!r}"
    assert r.complete, f"{where}: incomplete response {r!r}"
    recs = [(n, rec) for n, u in env.ups.items() for rec in u.requests() if rec.header(CASE_HEADER) == case_id]
    if c.upstream is None:
        assert recs == [], f"{where}: must not be forwarded, but {[(n, x.request_line) for n, x in recs]}"
    else:
        assert [n for n, _ in recs] == [c.upstream], \
            f"{where}: want exactly one request at {c.upstream}, got {[(n, x.request_line) for n, x in recs]}"
        rec = recs[0][1]
        if c.up_line is not None:
            assert rec.request_line == _sub(c.up_line, m), f"{where}: upstream request line {rec.request_line!r}"
        if c.up_target is not None:
            assert rec.target == _sub(c.up_target, m), \
                f"{where}: upstream target {rec.target!r}, want {_sub(c.up_target, m)!r}"
        if c.up_host is not None:
            assert rec.headers_all("host") == [_sub(c.up_host, m)], \
                f"{where}: upstream Host {rec.headers_all('host')}, want [{_sub(c.up_host, m)!r}]; all: {rec.headers}"
        _check_headers("upstream", rec.headers, c.up_headers, m, where)
        if c.up_order is not None:
            want = h2_names(proto, [tuple(x) for x in _sub(c.up_order, m)])
            names = {k for k, _ in want}
            got = [(k, val) for k, val in rec.headers if k in names]
            assert got == want, f"{where}: upstream header order {got}, want {want}; all: {rec.headers}"
        if c.up_check is not None:
            problem = c.up_check(rec)
            assert problem is None, f"{where}: {problem}; upstream head:\n{rec.raw_head.decode('latin-1')}"
        if c.up_body_len is not None:
            assert rec.body_len == c.up_body_len and rec.complete, f"{where}: upstream body {rec.body_len} bytes"
    # A route that redirects or answers directly never contacts an upstream (Z is only the `to`
    # of such routes).
    assert env.ups["Z"].connections == z_before == 0, f"{where}: upstream Z was contacted"
    if c.location is not None:
        want = _sub(c.location, m)
        got = r.headers_all("location")
        assert got == ([want] if want else []), f"{where}: Location {got}, want {want!r}"
        if want and c.upstream is None:  # the proxy's own redirect: empty body
            assert r.body == b"" and r.headers_all("content-length") == ["0"], f"{where}: redirect body/length {r!r}"
    if c.body_exact is not None:
        assert r.body == c.body_exact, f"{where}: body {r.body!r}, want {c.body_exact!r}"
        if c.method == "HEAD":
            assert r.body == b""
    _check_headers("response", r.headers, c.resp_headers, m, where)
    return r


def test_cases_are_well_formed():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.parametrize("proto,c", [pytest.param(p, c, id=f"{p}-{c.id}") for c in CASES for p in PROTOS
                                     if not (c.h1_only and p == "h2")])
def test_shaping(shaping, proto, c):
    run_case(shaping, c, proto)


def test_shaping_redirect_routes_never_contacted_an_upstream(shaping):
    """Runs after the table: Z was the `to` of redirect/response routes only."""
    assert shaping.ups["Z"].connections == 0


def test_redirect_and_direct_response_keep_the_connection(shaping, proto):
    """A redirect or a direct response is a complete exchange: the client's keep-alive
    connection serves the next request (here a redirect, a direct response, then a proxied one)."""
    v = shaping.vallums["main"]
    with connect(v, proto, "rd-host.example.test") as conn:
        r = conn.get("/k1")
        assert (r.status, r.header("location")) == (301, "https://docs.example.net/k1"), r
        r = conn.get("/k2", host=f"dr-ok.example.test:{v.port}")
        assert (r.status, r.body) == (200, b"hello from vallum\n"), r
        r = conn.get("/k3", host=f"rh.example.test:{v.port}")
        assert r.status == 200 and r.json()["target"] == "/k3", r
        assert not conn.closed_by_peer


@pytest.mark.parametrize("host,status", [("dr-204", 204), ("dr-304", 304)])
def test_direct_response_204_304_do_not_desync(shaping, host, status, proto):
    """Two requests on one connection to a `response` route whose status has no content: if the
    configured body went out after the head, the client would read it as the next response.
    (HTTP/1.1: pipelined raw bytes. HTTP/2: two streams open at once; neither may carry DATA,
    RFC 9113 §8.1.1.)"""
    v = shaping.vallums["main"]
    if proto == "h2":
        with connect(v, proto, f"{host}.example.test") as conn:
            sids = [conn.start("GET", f"/{i}") for i in (1, 2)]
            for sid in sids:
                r = conn.finish(sid)
                assert (r.status, r.complete, r.body, r.reset_code) == (status, True, b"", None), r
            assert conn.get("/3").status == status
        return
    with v.conn(f"{host}.example.test") as conn:
        conn.send(b"".join(
            f"GET /{i} HTTP/1.1\r\nHost: {host}.example.test:{v.port}\r\n\r\n".encode() for i in (1, 2)))
        r1 = conn.read_response()
        assert r1.status == status, r1
        try:
            r2 = conn.read_response(timeout=3)
        except Exception as e:  # noqa: BLE001 - any parse failure is the desync
            raise AssertionError(f"response stream desynchronised after a {status}: {e!r}; "
                                 f"first head: {r1.raw_head!r}") from None
        assert r2.status == status and r2.complete, r2
