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


def hold(port: int) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        s.listen(1)
    except OSError:
        s.close()
        # Somebody else listens there already: the port is taken all the same.
        socket.create_connection(("127.0.0.1", port), 1).close()
        return None
    return s


@pytest.mark.parametrize("port", [8080, 8443])
def test_taken_port_stops_the_quick_start_at_once(port):
    held = hold(port)
    try:
        started = time.monotonic()
        p = subprocess.Popen([os.path.join(REPO, "scripts", "quickstart.sh")], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
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
    assert f"port(s) already in use on 127.0.0.1: {port}" in err, err
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
