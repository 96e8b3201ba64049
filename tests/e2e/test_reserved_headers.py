"""Client-supplied identity and internal headers never reach an upstream (security review,
item 5): Pomerium's namespace (the identity assertion, `X-Pomerium-Claim-*`, internal hop
headers), Envoy's (`X-Envoy-Internal`, `X-Envoy-Original-Path`, retry and timeout overrides),
with or without `jwt_claims_headers` configured. What the upstream received is checked, over
HTTP/1.1 and HTTP/2 alike (the `proto` fixture, lib/client.py)."""

import pytest

from lib.client import get
from lib.helpers import route

HOST = "hdr.example.test"

FORGED = [
    ("X-Pomerium-Claim-Email", "admin@example.com"),
    ("x-pomerium-claim-groups", "admins"),
    ("X-Pomerium-Jwt-Assertion", "forged.jwt.value"),
    ("X-Pomerium-Jwt-Assertion-For", "forged.jwt.for"),
    ("X-Pomerium-Authorization", "forged-token"),
    ("X-Pomerium-Routing-Key", "forged-key"),
    ("Authorization", "Pomerium forged-session"),
    ("X-Envoy-Internal", "true"),
    ("X-Envoy-Original-Path", "/admin"),
    ("x-envoy-upstream-rq-timeout-ms", "1"),
    ("X-Envoy-Retry-On", "5xx"),
    ("X-Envoy-Expected-Rq-Timeout-Ms", "1"),
]
KEPT = [("Authorization", "Bearer real-token"), ("X-Envoyish", "kept"), ("X-Pomeriumish", "kept")]


@pytest.fixture(scope="module", params=["plain", "jwt_claims_headers"])
def env(request, module_vallum, module_upstream):
    u = module_upstream("hdr-" + request.param)
    globals_ = {"jwt_claims_headers": ["email", "groups"]} if request.param == "jwt_claims_headers" else {}
    v = module_vallum(module_vallum.config([route(f"https://{HOST}", u.url)], **globals_))
    return v, u


def test_forged_identity_and_envoy_headers_are_stripped(env, proto):
    v, u = env
    r = get(v, proto, "/who", HOST, headers=FORGED + KEPT)
    assert r.status == 200, r
    rec = u.requests()[-1]
    names = {k.lower() for k, _ in rec.headers}
    leaked = [k for k, _ in FORGED if k.lower() in names and k.lower() != "authorization"]
    assert leaked == [], f"forwarded: {leaked}"
    assert rec.headers_all("authorization") == ["Bearer real-token"]
    for value in ("admin@example.com", "admins", "forged", "/admin"):
        assert not any(value in v_ for _, v_ in rec.headers), f"{value!r} reached the upstream"
    assert rec.header("x-envoyish") == "kept" and rec.header("x-pomeriumish") == "kept"


# HTTP/1-only: name case variants exist only there (HTTP/2 names are lower case, RFC 9113 §8.2.1).
def test_stripped_whatever_the_case_and_position(env):
    v, u = env
    with v.conn(HOST) as c:
        c.send((f"GET /case HTTP/1.1\r\nX-POMERIUM-CLAIM-EMAIL: a@b\r\nHost: {v.authority(HOST)}\r\n"
                "x-ENVOY-internal: true\r\nX-Pomerium-Claim-Email: c@d\r\n\r\n").encode())
        r = c.read_response(timeout=10)
    assert r.status == 200, r
    rec = u.requests()[-1]
    assert not [k for k, _ in rec.headers if k.lower().startswith(("x-pomerium-", "x-envoy-"))], rec.headers
