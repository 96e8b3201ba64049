"""Test PKI with the openssl CLI: one CA and leaf certificates for given DNS names (wildcards
allowed), all ECDSA P-256. Files are written once per test session."""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
from typing import Dict, Sequence, Tuple


def _run(args, cwd):
    p = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout


class TestCA:
    __test__ = False  # not a pytest test class

    def __init__(self, directory: str, name: str = "Vallum E2E Test CA"):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.key = os.path.join(directory, "ca.key")
        self.cert = os.path.join(directory, "ca.pem")
        self._leaves: Dict[Tuple[str, ...], Tuple[str, str]] = {}
        self._lock = threading.Lock()
        _run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", self.key],
             directory)
        _run(["openssl", "req", "-x509", "-new", "-key", self.key, "-sha256", "-days", "3650", "-subj", f"/CN={name}",
              "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
              "-out", self.cert], directory)

    def leaf(self, names: Sequence[str], cn: str = "") -> Tuple[str, str]:
        """(cert_path, key_path) for a leaf whose SANs are `names` (DNS names; IP literals become
        IP SANs). The subject CN is `cn` or the first name. Cached per name list."""
        key_t = tuple(names) + (cn,)
        with self._lock:
            if key_t in self._leaves:
                return self._leaves[key_t]
            base = "leaf-" + secrets.token_hex(6)
            key = os.path.join(self.dir, base + ".key")
            csr = os.path.join(self.dir, base + ".csr")
            crt = os.path.join(self.dir, base + ".pem")
            ext = os.path.join(self.dir, base + ".ext")
            sans = ",".join(("IP:" if n.replace(".", "").isdigit() else "DNS:") + n for n in names)
            with open(ext, "w") as f:
                f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                        f"extendedKeyUsage=serverAuth\nsubjectAltName={sans}\n")
            _run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key],
                 self.dir)
            _run(["openssl", "req", "-new", "-key", key, "-subj", f"/CN={cn or names[0]}", "-out", csr], self.dir)
            _run(["openssl", "x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
                  "-set_serial", str(int.from_bytes(secrets.token_bytes(8), "big")), "-days", "825", "-sha256",
                  "-extfile", ext, "-out", crt], self.dir)
            self._leaves[key_t] = (crt, key)
            return crt, key


def subject_cn(peer_cert: dict) -> str:
    """CN from ssl.SSLSocket.getpeercert() output."""
    for rdn in peer_cert.get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                return v
    return ""


def der_subject_issuer(der: bytes) -> Tuple[str, str]:
    """(subject, issuer) one-line strings of a DER certificate, via the openssl CLI (works for
    certificates the client did not verify, e.g. a generated self-signed one)."""
    p = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject", "-issuer", "-nameopt", "RFC2253"],
                       input=der, capture_output=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.decode())
    subj = issuer = ""
    for line in p.stdout.decode().splitlines():
        if line.startswith("subject="):
            subj = line[len("subject="):].strip()
        elif line.startswith("issuer="):
            issuer = line[len("issuer="):].strip()
    return subj, issuer
