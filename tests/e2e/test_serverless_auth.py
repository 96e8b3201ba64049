"""Google Cloud serverless authentication (Pomerium route option
`enable_google_cloud_serverless_authentication`): the upstream gets `Authorization: Bearer <a
Google-signed ID token>` whose audience is `https://` + the host of the route's last `to`.

Google cannot be reached from here, so its two token sources run as local stand-ins that check
what Vallum sends the way Google does:
- the token endpoint of a service-account key (`token_uri` in the key file): the RS256
  assertion is verified with PyJWT against the key's public half (iss, aud, target_audience,
  the header's kid), then an ID token signed by a stand-in "Google" key is returned as JSON;
- the metadata server (`GCE_METADATA_HOST`, as Google's client libraries read it): the request
  must carry `Metadata-Flavor: Google`; the answer is the raw token.
Upstreams see the tokens over HTTP/1.1 and HTTP/2 (`proto`)."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from lib.client import get
from lib.helpers import route, wait_until
from lib.upstream import Ctx
from lib.vallum import run_check

HOST = "run.example.test"
OTHER = "plain.example.test"
METADATA_PATH = "/computeMetadata/v1/instance/service-accounts/default/identity"
EMAIL = "proxy@project.iam.gserviceaccount.com"
KEY_ID = "4f1e0c0ffee"


def _rsa():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


SERVICE_KEY = _rsa()
GOOGLE_KEY = _rsa()  # stands in for Google's signing key


def google_token(audience: str, lifetime: int, n: int) -> str:
    now = int(time.time())
    return jwt.encode({"iss": "https://accounts.google.com", "aud": audience, "sub": "1234",
                       "email": EMAIL, "iat": now, "exp": now + lifetime, "n": n},
                      GOOGLE_KEY, algorithm="RS256")


def read_google_token(token: str) -> dict:
    return jwt.decode(token, GOOGLE_KEY.public_key(), algorithms=["RS256"], audience=AUDIENCE_OF_UPSTREAM)


AUDIENCE_OF_UPSTREAM = "https://127.0.0.1"  # the routes' `to` is http://127.0.0.1:<port>


class TokenEndpoint:
    """The service-account exchange (RFC 7523 §2.1 with Google's target_audience)."""

    def __init__(self, token_uri_ref: list):
        self.token_uri_ref = token_uri_ref
        self.lifetime = 3600
        self.issued: list = []  # the tokens handed out, in order
        self.problems: list = []
        self.lock = threading.Lock()

    def __call__(self, ctx: Ctx) -> bool:
        ctx.read_body()
        form = urllib.parse.parse_qs(ctx.record.body_sample.decode())
        try:
            assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"], form
            assertion = form["assertion"][0]
            header = jwt.get_unverified_header(assertion)
            assert header["alg"] == "RS256" and header["kid"] == KEY_ID, header
            claims = jwt.decode(assertion, SERVICE_KEY.public_key(), algorithms=["RS256"],
                                audience=self.token_uri_ref[0], issuer=EMAIL)
            assert claims["exp"] - claims["iat"] == 3600, claims
            audience = claims["target_audience"]
        except Exception as e:  # the test reads `problems`
            with self.lock:
                self.problems.append(repr(e))
            ctx.reply(400, b'{"error":"invalid_grant"}', [("Content-Type", "application/json")])
            return False
        with self.lock:
            token = google_token(audience, self.lifetime, len(self.issued) + 1)
            self.issued.append(token)
        ctx.reply(200, json.dumps({"id_token": token}).encode(), [("Content-Type", "application/json")])
        return False


class Metadata:
    """The GCE metadata server's identity endpoint."""

    def __init__(self):
        self.mode = "ok"  # ok | status500 | empty | multiline
        self.delay = 0.0
        self.issued: list = []
        self.queries: list = []

    def __call__(self, ctx: Ctx) -> bool:
        ctx.read_body()
        rec = ctx.record
        if rec.header("metadata-flavor") != "Google":
            ctx.reply(403, b"missing Metadata-Flavor\n")
            return False
        self.queries.append(urllib.parse.parse_qs(urllib.parse.urlsplit(rec.target).query))
        if self.delay:
            time.sleep(self.delay)
        if self.mode == "status500":
            ctx.reply(500, b"boom\n")
            return False
        if self.mode == "empty":
            ctx.reply(200, b"")
            return False
        token = google_token(self.queries[-1]["audience"][0], 3600, len(self.issued) + 1)
        self.issued.append(token)
        body = token + ("\nsecond-line\n" if self.mode == "multiline" else "\n")
        ctx.reply(200, body.encode(), [("Content-Type", "text/plain")])
        return False


def key_file(token_uri: str) -> str:
    pem = SERVICE_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    return json.dumps({"type": "service_account", "project_id": "project", "private_key_id": KEY_ID,
                       "private_key": pem, "client_email": EMAIL, "client_id": "1",
                       "token_uri": token_uri})


def serverless_route(upstream_url: str, **kw) -> dict:
    return route(f"https://{HOST}", upstream_url, enable_google_cloud_serverless_authentication=True, **kw)


@pytest.fixture
def google(upstream):
    """A stand-in for Google: /token (service accounts) and the metadata server."""
    g = upstream("google")
    uri = [f"{g.url}/token"]
    g.token = TokenEndpoint(uri)
    g.metadata = Metadata()
    g.on("/token", g.token).on(METADATA_PATH, g.metadata)
    g.token_uri = uri[0]
    return g


def start(vallum, routes, google, *, service_account: bool, **globals_):
    if service_account:
        globals_["google_cloud_serverless_authentication_service_account"] = key_file(google.token_uri)
    return vallum(vallum.config(routes, **globals_), concurrency=1,
                  env={"GCE_METADATA_HOST": google.addr})


def bearer(rec) -> list:
    return rec.headers_all("authorization")


def test_service_account_token_replaces_the_clients_authorization(vallum, upstream, google, proto):
    u = upstream("run")
    v = start(vallum, [serverless_route(u.url)], google, service_account=True)
    for i in range(3):
        r = get(v, proto, f"/call/{i}", HOST, headers=[("Authorization", "Bearer client-credentials")])
        assert r.status == 200, r
    assert google.token.problems == []
    # One exchange serves every request while the token is fresh (one worker here).
    assert len(google.token.issued) == 1, google.token.issued
    assert google.metadata.queries == []  # a service account never asks the metadata server
    token = google.token.issued[0]
    for rec in u.requests():
        assert bearer(rec) == [f"Bearer {token}"]
    claims = read_google_token(token)
    assert claims["aud"] == AUDIENCE_OF_UPSTREAM and claims["n"] == 1


def test_base64_key_file_works_too(vallum, upstream, google, proto):
    import base64
    u = upstream("run")
    cfg = vallum.config([serverless_route(u.url)],
                        google_cloud_serverless_authentication_service_account=base64.b64encode(
                            key_file(google.token_uri).encode()).decode())
    v = vallum(cfg, concurrency=1)
    r = get(v, proto, "/b64", HOST)
    assert r.status == 200, r
    assert google.token.problems == []
    assert bearer(u.requests()[-1]) == [f"Bearer {google.token.issued[-1]}"]


def test_a_token_about_to_expire_is_fetched_again(vallum, upstream, google):
    """Tokens are kept until a minute before their `exp` (or 45 minutes): one that expires in
    30 s is sent once, and the next request gets a new one."""
    google.token.lifetime = 30
    u = upstream("run")
    v = start(vallum, [serverless_route(u.url)], google, service_account=True)
    for i in range(3):
        assert get(v, "h1", f"/short/{i}", HOST).status == 200
    assert google.token.problems == []
    assert len(google.token.issued) == 3
    assert [bearer(rec) for rec in u.requests()] == [[f"Bearer {t}"] for t in google.token.issued]


def test_metadata_server_without_a_service_account(vallum, upstream, google, proto):
    u = upstream("run")
    v = start(vallum, [serverless_route(u.url)], google, service_account=False)
    for i in range(2):
        assert get(v, proto, f"/md/{i}", HOST).status == 200
    assert len(google.metadata.issued) == 1
    assert google.metadata.queries == [{"format": ["full"], "audience": [AUDIENCE_OF_UPSTREAM]}]
    token = google.metadata.issued[0]
    assert [bearer(rec) for rec in u.requests()] == [[f"Bearer {token}"]] * 2
    assert read_google_token(token)["aud"] == AUDIENCE_OF_UPSTREAM


@pytest.mark.parametrize("mode", ["status500", "empty", "multiline"])
def test_no_token_means_no_authorization_header(vallum, upstream, google, mode):
    """Pomerium: a failed fetch adds no header, is logged, and the request still goes through.
    The client's own Authorization is not forwarded either (docs/decisions.md)."""
    google.metadata.mode = mode
    u = upstream("run")
    v = start(vallum, [serverless_route(u.url)], google, service_account=False)
    for i in range(2):
        r = get(v, "h1", f"/fail/{i}", HOST, headers=[("Authorization", "Bearer client-credentials")])
        assert r.status == 200, r
    assert [bearer(rec) for rec in u.requests()] == [[], []]
    assert len(google.metadata.queries) == 2  # a failure is not kept: the next request asks again
    wait_until(lambda: "google cloud serverless authentication: no ID token" in v.stderr_text(), 5,
               what="the failure in the log")


def test_route_header_policy_wins_over_the_token(vallum, upstream, google, proto):
    """set_request_headers (and remove_request_headers) apply after the token, as Envoy applies
    the route's header options after ext_authz."""
    u1, u2 = upstream("set"), upstream("removed")
    routes = [serverless_route(u1.url, prefix="/set", set_request_headers={"Authorization": "Basic abc"}),
              serverless_route(u2.url, prefix="/removed", remove_request_headers=["Authorization"])]
    v = start(vallum, routes, google, service_account=True)
    assert get(v, proto, "/set", HOST).status == 200
    assert get(v, proto, "/removed", HOST, headers=[("Authorization", "Bearer x")]).status == 200
    assert bearer(u1.requests()[-1]) == ["Basic abc"]
    assert bearer(u2.requests()[-1]) == []


def test_other_routes_keep_the_clients_authorization(vallum, upstream, google, proto):
    u = upstream("plain")
    v = start(vallum, [route(f"https://{OTHER}", u.url)], google, service_account=True)
    assert get(v, proto, "/", OTHER, headers=[("Authorization", "Bearer client")]).status == 200
    assert bearer(u.requests()[-1]) == ["Bearer client"]
    assert google.token.issued == [] and google.metadata.queries == []


def test_a_slow_token_source_does_not_block_the_worker(vallum, upstream, google):
    """The fetch suspends the stream, not the worker: with one worker, another route answers
    while the metadata server takes 1.5 s."""
    google.metadata.delay = 1.5
    u_run, u_plain = upstream("run"), upstream("plain")
    v = start(vallum, [serverless_route(u_run.url), route(f"https://{OTHER}", u_plain.url)], google,
              service_account=False)
    results = {}

    def slow():
        results["slow"] = get(v, "h1", "/slow", HOST, timeout=10)

    t = threading.Thread(target=slow)
    t.start()
    wait_until(lambda: google.metadata.queries, 5, what="the metadata request")
    started = time.monotonic()
    assert get(v, "h1", "/fast", OTHER).status == 200
    fast = time.monotonic() - started
    t.join(10)
    assert results["slow"].status == 200
    assert fast < 1.0, f"the other route waited {fast:.2f}s behind the token fetch"
    assert bearer(u_run.requests()[-1]) == [f"Bearer {google.metadata.issued[0]}"]


def test_check_reports_a_bad_service_account_at_its_key(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("insecure_server: true\naddress: 127.0.0.1:0\n"
                   "google_cloud_serverless_authentication_service_account: '{\"type\": \"authorized_user\"}'\n"
                   "routes:\n  - from: https://run.example.test\n    to: http://127.0.0.1:9\n"
                   "    enable_google_cloud_serverless_authentication: true\n"
                   "    allow_public_unauthenticated_access: true\n")
    p = run_check(str(cfg))
    assert p.returncode != 0
    assert (f"{cfg}:3:57: error: google_cloud_serverless_authentication_service_account: cannot read "
            "the service-account key: credential type \"authorized_user\" is not supported") in p.stderr + p.stdout
