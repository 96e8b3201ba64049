#!/usr/bin/env python3
"""Seals a Vallum session cookie for the `protected` workload of bench/run.sh.

Vallum's format (src/identity/cookie_cipher.{h,cc}, src/identity/session.{h,cc}):

  value = base64url without padding of
          0x01 (version) || 12-byte random nonce || AES-256-GCM ciphertext || 16-byte tag
  key   = cookie_secret (32 bytes after base64 decoding)
  AAD   = 0x01 || "cookie" || 0x00 || cookie_name     (addAad() feeds the version byte first,
                                                       then contextFor("cookie", cookie_name))
  plaintext = encodeSession(): compact JSON with short keys, empty fields left out:
          {"v":1,"id","idp","sub","email","name","groups","claims","idt","at","rt","iat","exp","rat"}

The session is alice@example.com in groups admins and engineering, with ~10 ID-token claims and
an ID token and access token of ~900 bytes each; issued now, expires in 14 h, no refresh_at (0:
Vallum never tries a refresh). Needs the `cryptography` package (Debian python3-cryptography).

CLI (prints the cookie value): python3 bench/lib/session_cookie.py [--secret B64] [--name _pomerium]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import sys
import time

# Fixed secrets for the benchmark (base64 of 32 bytes each); never used anywhere else.
COOKIE_SECRET = base64.b64encode(bytes(range(32))).decode()            # AAECAwQF...
SHARED_SECRET = base64.b64encode(bytes(range(32, 64))).decode()
COOKIE_NAME = "_pomerium"
EMAIL = "alice@example.com"
GROUPS = ["admins", "engineering"]
LIFETIME_S = 14 * 3600


def _junk_token(rng: random.Random, n: int) -> str:
    """A JWT-looking string of base64url junk, n characters long (three dot-separated parts)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    body = "".join(rng.choice(alphabet) for _ in range(n - 2))
    a, b = n // 6, n // 2
    return body[:a] + "." + body[a:b] + "." + body[b:]


def session(now: int | None = None) -> dict:
    """The session object in encodeSession()'s key order (nlohmann::json sorts keys anyway)."""
    now = int(time.time()) if now is None else now
    rng = random.Random(42)  # deterministic tokens (the nonce stays random)
    sub = "00u1a2b3c4d5e6f7g8h9"
    claims = {
        "iss": "https://idp.invalid",
        "sub": sub,
        "aud": "bench",
        "email": EMAIL,
        "email_verified": True,
        "name": "Alice Example",
        "given_name": "Alice",
        "family_name": "Example",
        "preferred_username": "alice",
        "groups": GROUPS,
        "iat": now,
        "exp": now + 3600,
    }
    return {
        "v": 1,
        "id": "3f1c9a7e5b2d4c6a8e0f1a2b3c4d5e6f",
        "idp": "oidc",
        "sub": sub,
        "email": EMAIL,
        "name": "Alice Example",
        "groups": GROUPS,
        "claims": claims,
        "idt": _junk_token(rng, 900),
        "at": _junk_token(rng, 900),
        "iat": now,
        "exp": now + LIFETIME_S,
        # no "rt" and no "rat": refresh_at 0, so Vallum never attempts a refresh
    }


def seal(plaintext: bytes, key: bytes, cookie_name: str = COOKIE_NAME) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    if len(key) != 32:
        raise ValueError("cookie_secret must decode to 32 bytes")
    version = b"\x01"
    nonce = os.urandom(12)
    aad = version + b"cookie\x00" + cookie_name.encode()
    ct_and_tag = AESGCM(key).encrypt(nonce, plaintext, aad)  # ciphertext || 16-byte tag
    return base64.urlsafe_b64encode(version + nonce + ct_and_tag).rstrip(b"=").decode()


def sealed_session(cookie_secret_b64: str = COOKIE_SECRET, cookie_name: str = COOKIE_NAME,
                   now: int | None = None) -> str:
    # nlohmann::json dump(-1): no spaces, keys sorted; the same bytes are not required (Vallum
    # parses the JSON), but keep it compact like Vallum's own cookies.
    text = json.dumps(session(now), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return seal(text.encode(), base64.b64decode(cookie_secret_b64), cookie_name)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def static_assertion(host: str = "protected.local", now: int | None = None) -> str:
    """A fixed, JWT-shaped X-Pomerium-Jwt-Assertion for nginx and HAProxy: the same header and
    claims Vallum signs for this session (ES256, kid, aud/iss = the route host, email, groups,
    name, sid, sub, user, jti, iat/exp 5 min), with a random 64-byte "signature" instead of a real
    one, so the header is the size of Vallum's (~780 bytes). Nothing verifies it."""
    now = int(time.time()) if now is None else now
    s = session(now)
    head = {"alg": "ES256", "kid": os.urandom(32).hex(), "typ": "JWT"}
    claims = {"aud": host, "email": s["email"], "exp": now + 300, "groups": s["groups"], "iat": now,
              "iss": host, "jti": "f583d3d0-6dc8-450c-9dfc-ce1797c3f04c", "name": s["name"],
              "sid": s["id"], "sub": s["sub"], "user": s["sub"]}
    enc = lambda o: _b64url(json.dumps(o, separators=(",", ":"), sort_keys=True).encode())  # noqa: E731
    return f"{enc(head)}.{enc(claims)}.{_b64url(os.urandom(64))}"


def jwt_payload(token: str) -> dict:
    """The (unverified) payload of a JWT-shaped token; ValueError when it is not one."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"not a JWT ({len(parts)} parts)")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--secret", default=COOKIE_SECRET, help="cookie_secret (base64 of 32 bytes)")
    ap.add_argument("--name", default=COOKIE_NAME, help="cookie name (default _pomerium)")
    ap.add_argument("--json", action="store_true", help="print the session JSON instead")
    a = ap.parse_args()
    if a.json:
        print(json.dumps(session(), separators=(",", ":"), sort_keys=True))
    else:
        print(sealed_session(a.secret, a.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
