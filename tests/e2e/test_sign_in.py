"""Sign-in end to end (Pomerium's all-in-one flow, Pomerium's sign-in flow): the real vallum binary
serves the authenticate host itself and signs users in at a real OpenID Connect provider
(npm oidc-provider, lib/oidc.py) through the authorization-code flow with PKCE; policies decide
per user; upstreams get a signed X-Pomerium-Jwt-Assertion they can verify against the JWKS.
A scripted browser (httpx, lib/browser.py) follows the redirects over HTTP/1.1 and HTTP/2.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time

import jwt
import pytest

from lib import oidc
from lib.browser import Browser
from lib.helpers import base_config
from lib.vallum import Vallum

SHARED_SECRET = base64.b64encode(b"s" * 32).decode()
COOKIE_SECRET = base64.b64encode(b"c" * 32).decode()
OTHER_COOKIE_SECRET = base64.b64encode(b"x" * 32).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def routes(upstream_url: str) -> list:
    return [
        # First match wins: the specific prefixes before the catch-all of each host.
        {"from": "https://app.example.test", "prefix": "/pub", "to": upstream_url,
         "allow_public_unauthenticated_access": True, "pass_identity_headers": True},
        {"from": "https://app.example.test", "prefix": "/eng", "to": upstream_url,
         "policy": {"allow": {"or": [{"groups": {"has": "engineering"}}]}}},
        {"from": "https://app.example.test", "prefix": "/deny", "to": upstream_url,
         "policy": [{"allow": {"or": [{"email": {"is": "alice@example.com"}}]}},
                    {"deny": {"or": [{"email": {"ends_with": "@example.com"}}]}}]},
        {"from": "https://app.example.test", "prefix": "/not-bob", "to": upstream_url,
         "policy": {"allow": {"not": [{"user": {"is": "bob"}}]}}},
        # nor = NAND (Pomerium's generator: (NOT A) OR (NOT B)): true unless both hold.
        {"from": "https://app.example.test", "prefix": "/nor", "to": upstream_url,
         "policy": {"allow": {"nor": [{"email": {"is": "alice@example.com"}},
                                      {"groups": {"has": "engineering"}}]}}},
        {"from": "https://app.example.test", "prefix": "/claims", "to": upstream_url,
         "policy": {"allow": {"and": [{"claim/email_verified": True},
                                      {"claim/preferred_username": {"has": "alice"}}]}}},
        {"from": "https://app.example.test", "to": upstream_url,
         "allowed_users": ["alice@example.com"], "pass_identity_headers": True},
        {"from": "https://other.example.test", "to": upstream_url,
         "policy": {"allow": {"and": [{"domain": {"is": "example.com"}}]}}},
    ]


class Env:
    def __init__(self, tmp, ca, server_cert, upstream, *, cookie_expire="1h", idp_env=None):
        self.ca = ca
        self.port = free_port()
        self.auth = f"https://auth.example.test:{self.port}"
        self.idp = oidc.OidcProvider(os.path.join(tmp, "idp"), [f"{self.auth}/oauth2/callback"],
                                     env=idp_env)
        self.upstream = upstream
        self.config = base_config(
            server_cert, routes=routes(upstream.url),
            authenticate_service_url=self.auth, idp_provider="oidc",
            idp_provider_url=self.idp.issuer, idp_client_id=oidc.CLIENT_ID,
            idp_client_secret=oidc.CLIENT_SECRET,
            idp_scopes=["openid", "profile", "email", "groups", "offline_access"],
            shared_secret=SHARED_SECRET, cookie_secret=COOKIE_SECRET, cookie_expire=cookie_expire,
            jwt_claims_headers=["email", "groups"],
            runtime_flags={"pomerium_jwt_endpoint": True})
        self.config["address"] = f"127.0.0.1:{self.port}"
        self.v = Vallum(os.path.join(tmp, "vallum"), self.config, ca_file=ca.cert)
        self.v.start()
        self.extra = []

    def url(self, host: str, path: str = "/", port: int = 0) -> str:
        return f"https://{host}:{port or self.port}{path}"

    def browser(self, proto: str = "h1", **kw) -> Browser:
        return Browser(self.ca.cert, http2=proto == "h2", **kw)

    def another(self, tmp, name: str, **overrides) -> Vallum:
        cfg = dict(self.config)
        cfg["address"] = "127.0.0.1:0"
        cfg.update(overrides)
        v = Vallum(os.path.join(tmp, name), cfg, ca_file=self.ca.cert, name=name)
        v.start()
        self.extra.append(v)
        return v

    def stop(self):
        for v in [self.v] + self.extra:
            v.stop()
        self.idp.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory, ca, server_cert, vallum_bin):
    from lib.upstream import EchoUpstream
    upstream = EchoUpstream("echo")
    e = Env(str(tmp_path_factory.mktemp("signin")), ca, server_cert, upstream)
    yield e
    e.stop()
    upstream.close()


def seen(env: Env, path_prefix: str):
    """The last request the upstream got under `path_prefix`."""
    records = [r for r in env.upstream.requests() if r.path.startswith(path_prefix)]
    assert records, f"the upstream got nothing under {path_prefix}"
    return records[-1]


def verify_assertion(env: Env, browser: Browser, token: str, host: str) -> dict:
    """Verifies the upstream's assertion with PyJWT against Vallum's published JWKS."""
    keys = browser.get(env.url(host, "/.well-known/pomerium/jwks.json")).json()["keys"]
    header = jwt.get_unverified_header(token)
    key = next(k for k in keys if k["kid"] == header["kid"])
    assert header["alg"] == "ES256" and key["crv"] == "P-256"
    return jwt.decode(token, jwt.PyJWK(key).key, algorithms=["ES256"], audience=host, issuer=host)


@pytest.mark.parametrize("proto", ["h1", "h2"])
def test_browser_signs_in_and_the_upstream_verifies_who(env, proto):
    b = env.browser(proto)
    first = b.get(env.url("app.example.test", "/hello?x=1"))
    assert first.status_code == 302
    location = first.headers["location"]
    assert location.startswith(f"{env.auth}/.pomerium/sign_in?")
    assert "pomerium_redirect_uri=https%3A%2F%2Fapp.example.test%3A" in location
    assert "pomerium_signature=" in location and "pomerium_expiry=" in location
    r = b.sign_in(env.url("app.example.test", "/hello?x=1"), "alice")
    assert r.status_code == 200, r.text[:500]
    assert r.url == env.url("app.example.test", "/hello?x=1")
    assert r.http_version == ("HTTP/2" if proto == "h2" else "HTTP/1.1")
    rec = seen(env, "/hello")
    claims = verify_assertion(env, b, rec.header("x-pomerium-jwt-assertion"), "app.example.test")
    assert claims["sub"] == "alice" and claims["user"] == "alice"
    assert claims["email"] == "alice@example.com"
    assert claims["groups"] == ["admins", "engineering"]
    assert claims["name"] == "Alice Admin"
    assert isinstance(claims["iat"], int) and claims["exp"] == claims["iat"] + 300
    assert claims["sid"] and claims["jti"]
    assert rec.header("x-pomerium-claim-email") == "alice@example.com"
    assert rec.header("x-pomerium-claim-groups") == "admins,engineering"
    # The session cookie never reaches the upstream.
    assert "_pomerium" not in (rec.header("cookie") or "")
    # The same browser is signed in: the next request passes at once.
    again = b.get(env.url("app.example.test", "/again"))
    assert again.status_code == 200
    me = b.get(env.url("app.example.test", "/.pomerium/user"))
    assert me.status_code == 200 and me.json()["email"] == "alice@example.com"
    raw = b.get(env.url("app.example.test", "/.pomerium/jwt"))
    assert raw.headers["content-type"] == "application/jwt"
    assert verify_assertion(env, b, raw.text, "app.example.test")["email"] == "alice@example.com"
    b.close()


def test_json_client_gets_401_not_a_redirect(env):
    b = env.browser(accept="application/json")
    r = b.get(env.url("app.example.test", "/api"))
    assert r.status_code == 401
    assert "location" not in r.headers
    xhr = env.browser().get(env.url("app.example.test", "/api"),
                            headers={"x-requested-with": "XMLHttpRequest"})
    assert xhr.status_code == 401


@pytest.mark.parametrize("proto", ["h1", "h2"])
@pytest.mark.parametrize("user,path,status", [
    ("carol", "/", 403),        # allowed_users: alice only
    ("bob", "/", 403),
    ("bob", "/eng/x", 200),     # groups has engineering
    ("carol", "/eng/x", 403),   # no groups
    ("alice", "/deny", 403),    # deny wins over allow
    ("alice", "/not-bob", 200),  # not = NOR: true when no criterion holds
    ("bob", "/not-bob", 403),
    ("alice", "/nor", 403),     # nor = NAND: both hold → false
    ("bob", "/nor", 200),
    ("carol", "/nor", 200),
    ("alice", "/claims", 200),  # email_verified true (a boolean claim) and her username
    ("carol", "/claims", 403),  # email_verified false
    ("bob", "/claims", 403),    # another username
])
def test_policy_per_user(env, user, path, status, proto):
    b = env.browser(proto)
    r = b.sign_in(env.url("app.example.test", path), user)
    assert r.status_code == status, r.text[:300]


@pytest.mark.parametrize("proto", ["h1", "h2"])
def test_single_sign_on_across_route_hosts(env, proto):
    b = env.browser(proto)
    assert b.sign_in(env.url("app.example.test", "/"), "alice").status_code == 200
    # other.example.test: the authenticate host already knows alice; no login form.
    r = b.get(env.url("other.example.test", "/sso"), follow=True)
    assert r.status_code == 200
    assert str(r.url) == env.url("other.example.test", "/sso")
    assert all("/interaction/" not in str(h.url) for h in r.history)
    carol = env.browser()
    assert carol.sign_in(env.url("other.example.test", "/"), "carol").status_code == 403


def test_sign_out_ends_the_route_session(env):
    b = env.browser()
    assert b.sign_in(env.url("app.example.test", "/"), "alice").status_code == 200
    out = b.get(env.url("app.example.test", "/.pomerium/sign_out"))
    assert out.status_code == 302
    assert out.headers["location"].startswith(f"{env.auth}/.pomerium/sign_out?")
    assert any(c.startswith("_pomerium=;") for c in out.headers.get_list("set-cookie"))
    auth_out = b.get(out.headers["location"])
    assert auth_out.status_code == 302
    # The provider advertises end_session: the browser goes there with the ID token as hint.
    assert auth_out.headers["location"].startswith(env.idp.issuer)
    assert "id_token_hint=" in auth_out.headers["location"]
    assert b.get(env.url("app.example.test", "/")).status_code == 302


def test_tampered_and_foreign_cookies_are_no_session(env, tmp_path):
    b = env.browser()
    assert b.sign_in(env.url("app.example.test", "/"), "alice").status_code == 200
    cookie = b.cookie("_pomerium")
    assert cookie
    fresh = env.browser()
    # A flipped character anywhere: no session (302 to sign in), never a pass.
    for i in (5, len(cookie) // 2, len(cookie) - 3):
        flipped = cookie[:i] + ("A" if cookie[i] != "A" else "B") + cookie[i + 1:]
        r = fresh.get(env.url("app.example.test", "/"), headers={"cookie": f"_pomerium={flipped}"})
        assert r.status_code == 302, i
    # The authenticate host's cookie presented as the route cookie: bound to its name.
    auth_cookie = b.cookie("_pomerium_authenticate")
    assert auth_cookie
    r = fresh.get(env.url("app.example.test", "/"), headers={"cookie": f"_pomerium={auth_cookie}"})
    assert r.status_code == 302
    # Another instance with the same secrets accepts the cookie; one with another secret does not.
    same = env.another(str(tmp_path), "same")
    other = env.another(str(tmp_path), "other", cookie_secret=OTHER_COOKIE_SECRET)
    hdr = {"cookie": f"_pomerium={cookie}"}
    assert fresh.get(env.url("app.example.test", "/x", same.port), headers=hdr).status_code == 200
    assert fresh.get(env.url("app.example.test", "/x", other.port), headers=hdr).status_code == 302


def test_forged_hand_off_is_refused(env):
    b = env.browser()
    target = env.url("app.example.test", "/")
    unsigned = env.url("app.example.test", "/.pomerium/callback/?pomerium_session_encrypted=abc"
                       f"&pomerium_redirect_uri={target}")
    assert b.get(unsigned).status_code == 400
    assert b.get(unsigned + "&pomerium_issued=1&pomerium_expiry=9999999999"
                 "&pomerium_signature=AAAA").status_code == 400
    # The sign-in page of the authenticate host refuses unsigned redirects (no open redirect).
    r = b.get(f"{env.auth}/.pomerium/sign_in?pomerium_redirect_uri=https://evil.test/")
    assert r.status_code == 400
    assert b.cookie("_pomerium") is None


def test_spoofed_identity_headers_never_reach_the_upstream(env):
    b = env.browser()
    r = b.get(env.url("app.example.test", "/pub/spoof"), headers={
        "x-pomerium-jwt-assertion": "forged.jwt.value",
        "x-pomerium-claim-email": "admin@example.com",
        "authorization": "Pomerium forged",
        "cookie": "_pomerium=forged; keep=1",
    })
    assert r.status_code == 200
    rec = seen(env, "/pub/spoof")
    assertion = rec.header("x-pomerium-jwt-assertion")
    assert assertion != "forged.jwt.value"
    claims = verify_assertion(env, b, assertion, "app.example.test")
    assert claims["sub"] == "" and claims["email"] == "" and claims["groups"] == []
    assert rec.header("x-pomerium-jwt-assertion-for") == "forged.jwt.value"
    assert rec.headers_all("x-pomerium-claim-email") == [""]
    assert rec.header("authorization") is None
    assert rec.header("cookie") == "keep=1"


@pytest.mark.parametrize("path", ["/pub/../secret", "/pub/%2e%2e/secret", "/pub/.%2E/secret",
                                  "/pub/./../secret"])
def test_dot_segments_cannot_leave_the_public_prefix(env, path):
    b = env.browser()
    # httpx normalizes dot segments itself; send the raw path through the h1 client instead.
    with env.v.conn("app.example.test") as c:
        r = c.request("GET", path, headers=[("Accept", "text/html")])
    assert r.status in (302, 400), (path, r.status)
    if r.status == 302:
        assert "/.pomerium/sign_in" in r.header("location")
    b.close()


def test_discovery_and_jwks(env):
    b = env.browser()
    d = b.get(env.url("app.example.test", "/.well-known/pomerium")).json()
    assert d["jwks_uri"] == env.url("app.example.test", "/.well-known/pomerium/jwks.json")
    assert d["authentication_callback_endpoint"] == f"{env.auth}/oauth2/callback"
    jwks = b.get(env.url("app.example.test", "/.well-known/pomerium/jwks.json"))
    assert jwks.headers["access-control-allow-origin"] == "*"
    assert jwks.headers["etag"].startswith('"')
    assert [k["alg"] for k in jwks.json()["keys"]] == ["ES256"]


def test_expired_session_asks_to_sign_in_again(tmp_path, ca, server_cert, vallum_bin):
    from lib.upstream import EchoUpstream
    upstream = EchoUpstream("echo")
    e = Env(str(tmp_path), ca, server_cert, upstream, cookie_expire="3s")
    try:
        b = e.browser()
        assert b.sign_in(e.url("app.example.test", "/"), "alice").status_code == 200
        assert b.get(e.url("app.example.test", "/")).status_code == 200
        time.sleep(3.5)
        r = b.get(e.url("app.example.test", "/"), headers={"cookie": f"_pomerium={b.cookie('_pomerium')}"})
        assert r.status_code == 302
    finally:
        e.stop()
        upstream.close()


def test_session_is_refreshed_before_the_id_token_expires(tmp_path, ca, server_cert, vallum_bin):
    """The ID token lives 31 s; Vallum refreshes 30 s before it expires, so from the second
    after sign-in every request refreshes it with the refresh token (the provider's /token
    sees refresh_token grants) and the browser gets the new session cookie."""
    from lib.upstream import EchoUpstream
    upstream = EchoUpstream("echo")
    e = Env(str(tmp_path), ca, server_cert, upstream, idp_env={"OIDC_ID_TOKEN_TTL": "31"})
    try:
        b = e.browser()
        assert b.sign_in(e.url("app.example.test", "/"), "alice").status_code == 200
        before = b.cookie("_pomerium")
        tokens_before = e.idp.log().count("POST /token")
        time.sleep(1.5)
        r = b.get(e.url("app.example.test", "/refreshed"))
        assert r.status_code == 200
        assert any(c.startswith("_pomerium=") for c in r.headers.get_list("set-cookie"))
        after = b.cookie("_pomerium")
        assert after and after != before
        assert e.idp.log().count("POST /token") == tokens_before + 1
        claims = jwt.decode(seen(e, "/refreshed").header("x-pomerium-jwt-assertion"),
                            options={"verify_signature": False})
        assert claims["email"] == "alice@example.com"
    finally:
        e.stop()
        upstream.close()


def test_access_log_records_each_decision(env):
    from lib.helpers import wait_until
    alice = env.browser()
    assert alice.sign_in(env.url("app.example.test", "/eng/logged"), "alice").status_code == 200
    carol = env.browser()
    assert carol.sign_in(env.url("app.example.test", "/logged-deny"), "carol").status_code == 403

    def line(path, status):
        # Lines reach stdout on the worker's 100 ms tick: wait for the one with this status
        # (the same path was first answered 302, before sign-in).
        lines = [e for e in env.v.access_log()
                 if e.get("path", "").startswith(path) and e.get("status") == status]
        return lines[-1] if lines else None

    first = wait_until(lambda: line("/eng/logged", 302), 5, what="the 302 line")
    assert first["decision"] == "deny" and first["reasons"] == ["user-unauthenticated"]
    assert first["user"] == ""
    allowed = wait_until(lambda: line("/eng/logged", 200), 5, what="the 200 line")
    assert allowed["decision"] == "allow"
    assert allowed["user"] == "alice@example.com"
    assert "groups-ok" in allowed["reasons"]
    denied = wait_until(lambda: line("/logged-deny", 403), 5, what="the 403 line")
    assert denied["decision"] == "deny"
    assert denied["user"] == "carol@example.org"
    assert set(denied["reasons"]) >= {"email-unauthorized", "user-unauthorized"}
