"""Assertions on Vallum's local replies (Pomerium-style error pages)."""

from __future__ import annotations

import json

from .http1 import Response

STATUS_TEXT = {
    400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    431: "Request Header Fields Too Large", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
}

ACCEPT_JSON = [("Accept", "application/json")]


def assert_html_page(r: Response, status: int) -> None:
    assert r.status == status, f"expected {status}, got {r!r}"
    ct = (r.header("content-type") or "").lower()
    assert ct.startswith("text/html"), f"expected an HTML error page, Content-Type {ct!r}: {r!r}"
    assert r.complete, f"error page not completely framed: {r!r}"
    text = r.text
    assert str(status) in text and STATUS_TEXT[status] in text, f"page does not name {status} {STATUS_TEXT[status]}: {text[:500]!r}"


def assert_json_page(r: Response, status: int) -> dict:
    assert r.status == status, f"expected {status}, got {r!r}"
    ct = (r.header("content-type") or "").lower()
    assert ct.startswith("application/json"), f"expected a JSON error, Content-Type {ct!r}: {r!r}"
    assert r.complete, f"error reply not completely framed: {r!r}"
    d = json.loads(r.body)
    assert isinstance(d, dict), d
    assert d.get("status") == str(status), f"'status' must be the string {str(status)!r}: {d!r}"
    assert d.get("statusText") == STATUS_TEXT[status], d
    assert isinstance(d.get("requestId"), str) and d["requestId"], f"requestId missing/empty: {d!r}"
    return d
