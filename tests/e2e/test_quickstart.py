"""scripts/quickstart.sh refuses to start when its ports are taken (it would otherwise proxy the
demo's requests to whatever listens there), before installing or building anything; the demo
config listens on 127.0.0.1 only."""

import os
import signal
import socket
import subprocess
import time

import pytest

from lib.vallum import REPO


def hold(port: int, family: int) -> socket.socket:
    """Listens on loopback `port` (IPv4, or IPv6 only); None when somebody else already does."""
    s = socket.socket(family)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    host = "127.0.0.1"
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        host = "::1"
    try:
        s.bind((host, port))
        s.listen(1)
    except OSError:
        s.close()
        # Somebody else listens there already: the port is taken all the same.
        socket.create_connection((host, port), 1).close()
        return None
    return s


@pytest.mark.parametrize("port,family", [(8080, socket.AF_INET), (8443, socket.AF_INET),
                                         (8443, socket.AF_INET6)], ids=["8080", "8443", "8443-ipv6-only"])
def test_taken_port_stops_the_quick_start_at_once(tmp_path, port, family):
    held = hold(port, family)
    try:
        started = time.monotonic()
        # PATH without python3: the check must not need it (a fresh machine may not have it yet).
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        os.symlink("/usr/bin/dirname", bin_dir / "dirname")
        env = {"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/root")}
        p = subprocess.Popen(["/bin/bash", os.path.join(REPO, "scripts", "quickstart.sh")], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                             env=env)
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)  # its own session: the script and its children only
            p.communicate()
            pytest.fail("quickstart.sh did not stop with its port taken")
        elapsed = time.monotonic() - started
    finally:
        if held is not None:
            held.close()
    assert p.returncode == 1, (p.returncode, out, err)
    assert f"port(s) already in use on localhost: {port}" in err, err
    assert "stop what listens there" in err, err
    assert out == "", out  # nothing installed, built or started
    assert elapsed < 10, elapsed


def test_demo_config_listens_on_loopback_only():
    with open(os.path.join(REPO, "examples", "quickstart.yaml")) as f:
        lines = [ln.strip() for ln in f if ln.startswith("address:")]
    assert lines == ["address: 127.0.0.1:8443"], lines


def test_quick_start_builds_only_the_binary():
    with open(os.path.join(REPO, "scripts", "quickstart.sh")) as f:
        builds = [ln.strip() for ln in f if "build.sh" in ln and not ln.lstrip().startswith("#")]
    assert builds == ["./scripts/build.sh release vallum"], builds
    with open(os.path.join(REPO, "scripts", "quickstart.sh")) as f:
        installs = [ln.strip() for ln in f if "install-deps.sh" in ln and not ln.lstrip().startswith("#")]
    assert installs == ["./scripts/install-deps.sh build"], installs
