"""TLS listener: SNI picks the certificate whose name matches exactly, then by wildcard (one
label, RFC 6125), then the first; certificate config forms; a generated self-signed certificate
when none is configured; TLS 1.2 and 1.3; a stock client (curl) end to end."""

import base64
import ssl
import subprocess

import pytest

from lib.certs import der_subject_issuer, subject_cn
from lib.helpers import base_config, route, wait_until
from lib.http1 import Conn


@pytest.fixture(scope="module")
def sni_env(module_vallum, module_upstream, ca):
    u = module_upstream("tls")
    first = ca.leaf(["first.example.test"])
    wild = ca.leaf(["*.wild.example.test"])
    exact = ca.leaf(["exact.wild.example.test"])
    other = ca.leaf(["other.example.test"])
    cfg = base_config(None, routes=[route("https://*.example.test", u.url)])
    # wildcard listed before the exact name: exact must still win
    cfg["certificates"] = [{"cert": c, "key": k} for c, k in (first, wild, exact, other)]
    v = module_vallum(cfg)
    return v, u


@pytest.mark.parametrize("sni,cn", [
    ("exact.wild.example.test", "exact.wild.example.test"),
    ("EXACT.Wild.Example.TEST", "exact.wild.example.test"),
    ("a.wild.example.test", "*.wild.example.test"),
    ("a.b.wild.example.test", "first.example.test"),  # a certificate wildcard covers one label only
    ("wild.example.test", "first.example.test"),
    ("other.example.test", "other.example.test"),
    ("unknown.example.test", "first.example.test"),
    (None, "first.example.test"),                     # no SNI at all
])
def test_sni_selects_certificate(sni_env, ca, sni, cn):
    v, u = sni_env
    with Conn(v.port, sni=sni, ca_file=ca.cert, default_host=v.authority("first.example.test")) as c:
        assert subject_cn(c.peer_cert) == cn, c.peer_cert
        assert c.get("/sni").status == 200


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["tls1.2", "tls1.3"])
def test_tls_versions(sni_env, ca, version):
    v, u = sni_env
    with Conn(v.port, sni="other.example.test", ca_file=ca.cert, tls_version=version,
              default_host=v.authority("other.example.test")) as c:
        assert c.sock.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
        assert c.get("/v").status == 200


def test_plain_http_on_tls_port_is_not_served(sni_env):
    v, u = sni_env
    with Conn(v.port, tls=False, default_host=v.authority("other.example.test"), timeout=5) as c:
        try:
            c.send(b"GET /plain HTTP/1.1\r\nHost: other.example.test\r\n\r\n")
            raw = c.recv_some(5)
        except OSError:
            raw = b""
        assert not raw.startswith(b"HTTP/1.1 200"), raw[:100]
    assert [r for r in u.requests() if r.path == "/plain"] == []


def _pem_b64(path):
    return base64.b64encode(open(path, "rb").read()).decode()


@pytest.mark.parametrize("form", ["file-pair", "inline-base64", "inline-pem-in-list", "file-cert-inline-key"])
def test_certificate_config_forms(vallum, upstream, ca, form):
    u = upstream("forms")
    cert, key = ca.leaf(["forms.example.test"])
    cfg = base_config(None, routes=[route("https://forms.example.test", u.url)])
    if form == "file-pair":
        cfg.update(certificate_file=cert, certificate_key_file=key)
    elif form == "inline-base64":
        cfg.update(certificate=_pem_b64(cert), certificate_key=_pem_b64(key))
    elif form == "inline-pem-in-list":
        cfg["certificates"] = [{"cert": open(cert).read(), "key": open(key).read()}]
    else:  # the route docs' pairing: certificate_file + certificate_key (inline)
        cfg.update(certificate_file=cert, certificate_key=_pem_b64(key))
    v = vallum(cfg)
    with Conn(v.port, sni="forms.example.test", ca_file=ca.cert, default_host=v.authority("forms.example.test")) as c:
        assert subject_cn(c.peer_cert) == "forms.example.test"
        assert c.get("/f").status == 200


def test_self_signed_when_no_certificate(vallum, upstream):
    u = upstream("selfsigned")
    v = vallum(base_config(None, routes=[route("https://ss.example.test", u.url)]))
    assert "self-signed" in v.stderr_text().lower() or "self signed" in v.stderr_text().lower(), \
        f"no warning about the generated certificate:\n{v.stderr_text()[-2000:]}"
    with Conn(v.port, sni="ss.example.test", verify=False, default_host=v.authority("ss.example.test")) as c:
        subj, issuer = der_subject_issuer(c.peer_cert_der)
        assert subj and subj == issuer, (subj, issuer)
        r = c.get("/ss")
        assert r.status == 200 and r.json()["target"] == "/ss"


def test_curl_end_to_end(vallum, upstream, ca, server_cert):
    """A stock client with full certificate verification (it may negotiate any ALPN it likes)."""
    u = upstream("curl")
    v = vallum(vallum.config([route("https://app.example.test", u.url)]), concurrency=None)  # default workers
    out = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", ca.cert, "--resolve",
                          f"app.example.test:{v.port}:127.0.0.1", "-D", "-", "-H", "X-From-Curl: 1",
                          f"https://app.example.test:{v.port}/via/curl?q=1"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert " 200" in out.stdout.splitlines()[0], out.stdout
    assert '"target": "/via/curl?q=1"' in out.stdout, out.stdout
    assert '"X-From-Curl", "1"' in out.stdout or '"x-from-curl", "1"' in out.stdout, out.stdout


def test_reload_swaps_certificate(vallum, upstream, ca):
    """Certificates are part of the reloaded config: new handshakes get the new one, and an
    established connection keeps working."""
    u = upstream("certreload")
    a = ca.leaf(["swap.example.test"], cn="cert-a")
    b = ca.leaf(["swap.example.test"], cn="cert-b")
    cfg = base_config(a, routes=[route("https://swap.example.test", u.url)])
    v = vallum(cfg)
    old = Conn(v.port, sni="swap.example.test", ca_file=ca.cert, default_host=v.authority("swap.example.test"))
    assert subject_cn(old.peer_cert) == "cert-a"
    v.reload(base_config(b, routes=[route("https://swap.example.test", u.url)]))

    def served_cn():
        with Conn(v.port, sni="swap.example.test", ca_file=ca.cert) as c:
            return subject_cn(c.peer_cert)

    wait_until(lambda: served_cn() == "cert-b", 5, 0.1, "the new certificate after SIGHUP")
    assert old.get("/still-open").status == 200
    old.close()
