"""A scripted browser for the sign-in tests: httpx with a cookie jar, talking HTTP/1.1 or
HTTP/2 (ALPN) to Vallum and HTTP/1.1 to the identity provider. Every host name connects to
127.0.0.1 (SNI and Host stay the URL's), so route hosts such as app.example.test need no DNS.
"""

from __future__ import annotations

import re
from typing import Optional

import httpx
from httpcore.backends.sync import SyncBackend

from . import oidc


class _Loopback(SyncBackend):
    def connect_tcp(self, host, port, timeout=None, local_address=None, **kw):  # noqa: D401
        return super().connect_tcp("127.0.0.1", port, timeout, local_address, **kw)


class Browser:
    def __init__(self, ca_file: str, *, http2: bool = False, accept: str = "text/html,*/*;q=0.8"):
        transport = httpx.HTTPTransport(verify=ca_file, http2=http2)
        transport._pool._network_backend = _Loopback()  # host names → loopback, SNI unchanged
        self.client = httpx.Client(transport=transport, follow_redirects=False, timeout=20,
                                   headers={"accept": accept})
        self.http2 = http2

    def close(self) -> None:
        self.client.close()

    def get(self, url: str, *, follow: bool = False, **kw) -> httpx.Response:
        return self.client.get(url, follow_redirects=follow, **kw)

    def sign_in(self, url: str, user: str) -> httpx.Response:
        """GET url, follow the redirects to the provider's login form, log in as `user`, and
        follow every redirect back. Returns the final response."""
        r = self.client.get(url, follow_redirects=True)
        m = re.search(r'action="(/interaction/[^"]+/login)"', r.text)
        assert m, f"no login form at {r.url}: {r.status_code} {r.text[:300]}"
        login = str(r.url.join(m.group(1)))
        return self.client.post(login, data={"username": user, "password": oidc.PASSWORDS[user]},
                                follow_redirects=True)

    def cookie(self, name: str, domain: Optional[str] = None) -> Optional[str]:
        for c in self.client.cookies.jar:
            if c.name == name and (domain is None or c.domain.lstrip(".") == domain):
                return c.value
        return None
