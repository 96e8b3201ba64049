"""Fixtures for Vallum's end-to-end tests: the real binary, real TLS, real upstream servers on
loopback. Run with Debian's interpreter: `/usr/bin/python3 -m pytest tests/e2e`.

VALLUM_BIN overrides the binary (default: build/vallum, the release build's output). A relative
VALLUM_BIN is taken from the directory pytest starts in (`VALLUM_BIN=build/vallum` from the
repository's root), not from each test's working folder."""

from __future__ import annotations

import os
import re
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Processes start in per-test folders: made absolute here, once, for every reader of the variable.
if os.environ.get("VALLUM_BIN"):
    os.environ["VALLUM_BIN"] = os.path.abspath(os.environ["VALLUM_BIN"])

from lib import vallum as vallum_mod  # noqa: E402
from lib.certs import TestCA  # noqa: E402
from lib.upstream import EchoUpstream  # noqa: E402
from lib.vallum import Vallum  # noqa: E402
from lib.helpers import TEST_NAMES, base_config  # noqa: E402

# Every test gets a hard wall-clock limit on top of the per-wait timeouts in the helpers.
TEST_TIME_LIMIT = int(os.environ.get("VALLUM_E2E_TEST_TIMEOUT", "150"))

class TestTimeLimit(Exception):
    pass


@pytest.fixture(autouse=True)
def _time_limit(request):
    def on_alarm(signum, frame):
        raise TestTimeLimit(f"{request.node.nodeid} exceeded {TEST_TIME_LIMIT}s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIME_LIMIT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def pytest_sessionfinish(session, exitstatus):
    vallum_mod.kill_leftovers()


@pytest.fixture(scope="session")
def vallum_bin() -> str:
    b = vallum_mod.vallum_binary()
    if not (os.path.isfile(b) and os.access(b, os.X_OK)):
        pytest.fail(f"vallum binary not found at {b}: build it first (./scripts/build.sh release) or set "
                    "VALLUM_BIN", pytrace=False)
    return b


@pytest.fixture(scope="session")
def ca(tmp_path_factory) -> TestCA:
    return TestCA(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="session")
def server_cert(ca):
    """(cert, key) for *.example.test, example.test, localhost, 127.0.0.1."""
    return ca.leaf(TEST_NAMES)


class VallumFactory:
    def __init__(self, tmpdir: str, ca: TestCA, server_cert):
        self.tmpdir = tmpdir
        self.ca = ca
        self.server_cert = server_cert
        self.started: list = []
        self._n = 0

    def config(self, routes, **kw) -> dict:
        return base_config(self.server_cert, routes=routes, **kw)

    def __call__(self, config, start: bool = True, **kw) -> Vallum:
        self._n += 1
        v = Vallum(os.path.join(self.tmpdir, f"v{self._n}"), config, ca_file=self.ca.cert, **kw)
        self.started.append(v)
        if start:
            v.start()
        return v

    def start_routes(self, routes, *, globals_=None, **kw) -> Vallum:
        return self(self.config(routes, **(globals_ or {})), **kw)

    def stop_all(self) -> None:
        problems = []
        for v in self.started:
            if v.proc is not None:
                still_running = v.alive()
                rc = v.stop()
                if v.proc is not None:
                    tail = v.stderr_text()[-3000:]
                    print(f"--- {v.name} (pid {v.proc.pid}) exit={rc} killed={getattr(v, 'killed', False)}; stderr tail ---\n{tail}")
                    # A process the test left running must drain and exit 0 on SIGTERM.
                    if still_running and (rc != 0 or getattr(v, "killed", False)):
                        problems.append(f"{v.name}: exit {rc} (killed={getattr(v, 'killed', False)}) on SIGTERM at teardown")
                    # Sanitizer builds (scripts/test-asan.sh) report here, leaks at exit included.
                    report = SANITIZER_REPORT.search(v.stderr_text())
                    if report:
                        problems.append(f"{v.name}: sanitizer report: {report.group(0)}")
        assert not problems, "; ".join(problems)


SANITIZER_REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)[^\n]*|runtime error:[^\n]*")


@pytest.fixture
def vallum(tmp_path, ca, server_cert, vallum_bin):
    """Factory: vallum(config_dict_or_text) starts a process; all are stopped at teardown."""
    f = VallumFactory(str(tmp_path), ca, server_cert)
    yield f
    f.stop_all()


@pytest.fixture(scope="module")
def module_vallum(tmp_path_factory, ca, server_cert, vallum_bin):
    f = VallumFactory(str(tmp_path_factory.mktemp("mod")), ca, server_cert)
    yield f
    f.stop_all()


class UpstreamFactory:
    def __init__(self):
        self.servers: list = []

    def __call__(self, name: str = "echo", **kw) -> EchoUpstream:
        u = EchoUpstream(name, **kw)
        self.servers.append(u)
        return u

    def close_all(self) -> None:
        for u in self.servers:
            u.close()


@pytest.fixture
def upstream():
    f = UpstreamFactory()
    yield f
    f.close_all()


@pytest.fixture(params=["h1", "h2"])
def proto(request) -> str:
    """The downstream protocol a parametrized test speaks (lib/client.py's `connect`): every test
    that takes `proto` runs as test_x[h1] and test_x[h2] with the same expected values. A test
    or table entry that is HTTP/1-only parametrizes `proto` itself (which overrides this)."""
    return request.param


@pytest.fixture(scope="module")
def module_upstream():
    f = UpstreamFactory()
    yield f
    f.close_all()

