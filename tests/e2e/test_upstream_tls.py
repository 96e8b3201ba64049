"""Upstream TLS through the real binary (Pomerium tls_* options): https://
upstreams are real TLS servers with certificates from the test CA (or another CA). Trust from
tls_custom_ca[_file] or the global certificate_authority[_file] (the system store does not know
the test CA), SNI = URL host / tls_server_name / tls_upstream_server_name, name and IP SAN
checks, tls_skip_verify, mTLS with tls_client_cert[_file]/tls_client_key[_file], and active
health checks over TLS."""

import base64
import time

import pytest

from lib.certs import TestCA
from lib.clusters import (TlsEchoUpstream, cert_cn, client_leaf, health_re, kill_upstream, log_lines, served_by,
                          wait_log)
from lib.helpers import route

CLIENT_CN = "vallum-upstream-client"


def b64(path: str) -> str:
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    return TestCA(str(tmp_path_factory.mktemp("other-pki")), name="Some Other CA")


@pytest.fixture(scope="module")
def tls_servers(ca, other_ca):
    def mk(name, ca_, names, **kw):
        cert, key = ca_.leaf(names)
        return TlsEchoUpstream(name, cert, key, **kw)

    s = {
        "local": mk("t-local", ca, ["localhost"]),
        "named": mk("t-named", ca, ["upstream.example.test"]),
        "wild": mk("t-wild", ca, ["svc.example.test"]),
        "other": mk("t-other", other_ca, ["localhost", "127.0.0.1"]),
        "mismatch": mk("t-mismatch", ca, ["other.example.test"]),
        "ip": mk("t-ip", ca, ["127.0.0.1"]),
        "mtls": mk("t-mtls", ca, ["localhost"], client_ca=ca.cert),
        "hc": mk("t-hc", ca, ["localhost"]),
    }
    yield s
    for u in s.values():
        kill_upstream(u)


@pytest.fixture(scope="module")
def env(module_vallum, tls_servers, ca, other_ca):
    s = tls_servers
    ccert, ckey = client_leaf(ca, CLIENT_CN)
    trust = {"tls_custom_ca_file": ca.cert}

    def local(name):
        return f"https://localhost:{s[name].port}"

    def ip(name):
        return f"https://127.0.0.1:{s[name].port}"

    routes = [
        route("https://ca-file.example.test", local("local"), name="ca-file", **trust),
        route("https://ca-inline.example.test", local("local"), name="ca-inline", tls_custom_ca=b64(ca.cert)),
        route("https://no-ca.example.test", local("local"), name="no-ca"),
        route("https://sni-name.example.test", ip("named"), name="sni-name", tls_server_name="upstream.example.test",
              **trust),
        route("https://sni-upstream.example.test", ip("named"), name="sni-upstream",
              tls_server_name="wrong.example.test", tls_upstream_server_name="upstream.example.test", **trust),
        route("https://sni-wild.example.test", ip("wild"), name="sni-wild", tls_server_name="*.example.test", **trust),
        route("https://other-ca.example.test", local("other"), name="other-ca", **trust),
        route("https://other-ca-skip.example.test", local("other"), name="other-ca-skip", tls_skip_verify=True, **trust),
        route("https://mismatch.example.test", local("mismatch"), name="mismatch", **trust),
        route("https://mismatch-skip.example.test", local("mismatch"), name="mismatch-skip", tls_skip_verify=True,
              **trust),
        route("https://ip.example.test", ip("ip"), name="ip-san", **trust),
        route("https://ip-dns-only.example.test", ip("local"), name="ip-dns-only", **trust),
        route("https://mtls-none.example.test", local("mtls"), name="mtls-none", **trust),
        route("https://mtls.example.test", local("mtls"), name="mtls", tls_client_cert_file=ccert,
              tls_client_key_file=ckey, **trust),
        route("https://mtls-inline.example.test", local("mtls"), name="mtls-inline", tls_client_cert=b64(ccert),
              tls_client_key=b64(ckey), **trust),
        route("https://hc-tls.example.test", local("hc"), name="hc-tls", **trust,
              health_checks=[{"timeout": "1s", "interval": "0.5s", "unhealthy_threshold": 2, "healthy_threshold": 1,
                              "http_health_check": {"path": "/healthz"}}]),
        route("https://hc-skip.example.test", local("other"), name="hc-skip", tls_skip_verify=True, **trust,
              health_checks=[{"timeout": "1s", "interval": "0.3s", "unhealthy_threshold": 2, "healthy_threshold": 1,
                              "http_health_check": {"path": "/hc-skip"}}]),
        route("https://hc-badca.example.test", local("other"), name="hc-badca", **trust,
              health_checks=[{"timeout": "1s", "interval": "0.3s", "unhealthy_threshold": 2, "healthy_threshold": 1,
                              "http_health_check": {"path": "/hc-badca"}}]),
    ]
    return module_vallum(module_vallum.config(routes))


def record_for(u: TlsEchoUpstream, path: str):
    recs = [r for r in u.requests() if r.target == path]
    assert len(recs) == 1, f"{u.name} saw {len(recs)} requests for {path}: {[r.request_line for r in u.requests()]}"
    return recs[0], u.tls_info[recs[0].conn_id]


def ok_through(v, host, u, path, sni):
    r = v.get(path, host)
    assert r.status == 200 and served_by(r) == u.name, r
    rec, info = record_for(u, path)
    assert info.sni == sni, f"SNI {info.sni!r}, expected {sni!r}"
    assert info.version in ("TLSv1.2", "TLSv1.3"), info
    return rec, info


def refused_through(v, host, u, path):
    hs_before = len(u.handshake_errors)
    r = v.get(path, host, timeout=15)
    assert r.status == 503, r
    assert not [x for x in u.requests() if x.target == path], f"{u.name} saw the request"
    return r, hs_before


@pytest.mark.parametrize("host", ["ca-file.example.test", "ca-inline.example.test"])
def test_custom_ca_verifies_and_sni_is_the_url_host(env, tls_servers, host):
    """tls_custom_ca_file / tls_custom_ca (base64 PEM): 200, the upstream saw the request over TLS
    and the SNI is the `to` URL's host; Host is the `to` authority as for plain upstreams."""
    u = tls_servers["local"]
    rec, info = ok_through(env, host, u, f"/ca/{host}", "localhost")
    assert rec.headers_all("host") == [f"localhost:{u.port}"], rec.headers


def test_system_store_alone_refuses_the_test_ca(env, tls_servers):
    r, _ = refused_through(env, "no-ca.example.test", tls_servers["local"], "/no-ca")
    assert "TLS" in r.text or "certificate" in r.text, r.text[:600]


def test_tls_server_name_sets_sni_and_checked_name(env, tls_servers):
    """to https://127.0.0.1:P with tls_server_name upstream.example.test: that name is sent as SNI
    and verified against the certificate (which has no IP SAN)."""
    ok_through(env, "sni-name.example.test", tls_servers["named"], "/sni-name", "upstream.example.test")


def test_tls_upstream_server_name_beats_tls_server_name(env, tls_servers):
    ok_through(env, "sni-upstream.example.test", tls_servers["named"], "/sni-up", "upstream.example.test")


def test_wildcard_server_name(env, tls_servers):
    """tls_server_name "*.example.test": SNI "example.example.test" (the * replaced by "example",
    as Pomerium does) and the certificate's svc.example.test matches the pattern."""
    ok_through(env, "sni-wild.example.test", tls_servers["wild"], "/wild", "example.example.test")


def test_certificate_from_another_ca_refused_unless_skip_verify(env, tls_servers):
    u = tls_servers["other"]
    r, _ = refused_through(env, "other-ca.example.test", u, "/other")
    assert "TLS" in r.text, r.text[:600]
    ok_through(env, "other-ca-skip.example.test", u, "/other-skip", "localhost")


def test_name_mismatch_refused_unless_skip_verify(env, tls_servers):
    u = tls_servers["mismatch"]
    r, _ = refused_through(env, "mismatch.example.test", u, "/mismatch")
    assert "TLS" in r.text, r.text[:600]
    ok_through(env, "mismatch-skip.example.test", u, "/mismatch-skip", "localhost")


def test_ip_literal_upstream_verified_against_ip_san(env, tls_servers):
    """https://127.0.0.1:P: no SNI (RFC 6066 allows DNS names only), the certificate must carry
    IP SAN 127.0.0.1 — one with only DNS:localhost is refused."""
    ok_through(env, "ip.example.test", tls_servers["ip"], "/ip", None)
    refused_through(env, "ip-dns-only.example.test", tls_servers["local"], "/ip-dns-only")


@pytest.mark.parametrize("host", ["mtls.example.test", "mtls-inline.example.test"])
def test_mtls_client_certificate(env, tls_servers, host):
    """The upstream requires a client certificate from the test CA: 503 without one; with
    tls_client_cert_file/tls_client_key_file (or the inline base64 forms) 200, and the upstream
    saw the configured certificate."""
    u = tls_servers["mtls"]
    refused_through(env, "mtls-none.example.test", u, f"/mtls-none/{host}")
    u.wait_handshake_error(5)
    rec, info = ok_through(env, host, u, f"/mtls/{host}", "localhost")
    assert cert_cn(info.client_cert) == CLIENT_CN, info


def test_health_checks_run_over_tls(env, tls_servers):
    """An https:// endpoint is probed over TLS with the same trust and SNI: it turns healthy and
    the probes are on the TLS server."""
    u = tls_servers["hc"]
    wait_log(env, health_re("hc-tls", f"localhost:{u.port}", "healthy"), 5)
    rec = u.wait_for(lambda rs: any(r.path == "/healthz" for r in rs), 5)[0]
    assert rec.request_line == "GET /healthz HTTP/1.1"
    assert u.tls_info[rec.conn_id].sni == "localhost"
    assert env.get("/after-hc", "hc-tls.example.test").status == 200


@pytest.mark.parametrize("form", ["certificate_authority_file", "certificate_authority"])
def test_global_certificate_authority(vallum, tls_servers, ca, other_ca, form):
    """The global certificate_authority[_file] is trusted for every upstream (on top of the
    system store); a route's own tls_custom_ca_file replaces that trust for the route."""
    u = tls_servers["local"]
    value = ca.cert if form == "certificate_authority_file" else b64(ca.cert)
    v = vallum(vallum.config([
        route("https://g.example.test", f"https://localhost:{u.port}", name="global"),
        route("https://g-own.example.test", f"https://localhost:{u.port}", name="global-own",
              tls_custom_ca_file=other_ca.cert),
    ], **{form: value}))
    ok_through(v, "g.example.test", u, f"/global/{form}", "localhost")
    refused_through(v, "g-own.example.test", u, f"/global-own/{form}")


def test_health_checks_over_tls_follow_verification(env, tls_servers):
    """The probe's TLS follows the route: with tls_skip_verify an upstream from another CA passes;
    without it the probe's handshake fails and the endpoint never turns healthy."""
    u = tls_servers["other"]
    wait_log(env, health_re("hc-skip", f"localhost:{u.port}", "healthy"), 5)
    assert any(r.path == "/hc-skip" for r in u.requests())
    time.sleep(1.0)  # three more probe rounds
    assert not [r for r in u.requests() if r.path == "/hc-badca"], "a probe went through an unverified TLS session"
    assert not log_lines(env, r"route hc-badca: .* is healthy"), env.stderr_text()[-1500:]
