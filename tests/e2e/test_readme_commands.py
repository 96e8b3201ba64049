"""The README's end-to-end command works as written, from the repository's root: its relative
VALLUM_BIN names the binary wherever a test starts its processes (conftest.py makes it absolute)."""

import os
import re
import subprocess

from lib.vallum import REPO


def readme_e2e_command() -> str:
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    m = re.search(r"`(VALLUM_BIN=build/vallum /usr/bin/python3 -m pytest tests/e2e)`", text)
    assert m, "the README's Development table no longer gives the end-to-end command"
    return m.group(1)


def test_readme_e2e_command_with_a_relative_binary(vallum_bin):
    command = readme_e2e_command()
    # The same command on one quick module (its tests start vallum and talk to it).
    assignment, rest = command.split(" ", 1)
    argv = rest.split() + ["tests/e2e/test_internal_endpoints.py", "-q", "-p", "no:cacheprovider"]
    argv.remove("tests/e2e")
    env = {k: v for k, v in os.environ.items() if k != "VALLUM_BIN"}
    env["VALLUM_BIN"] = assignment.split("=", 1)[1]
    assert not os.path.isabs(env["VALLUM_BIN"])
    if os.path.realpath(os.path.join(REPO, env["VALLUM_BIN"])) != os.path.realpath(vallum_bin):
        # This run tests another binary (asan): the command must still find build/vallum.
        assert os.path.isfile(os.path.join(REPO, env["VALLUM_BIN"])), "build/vallum is missing"
    res = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert re.search(r"\b\d+ passed\b", res.stdout) and " error" not in res.stdout, res.stdout[-2000:]
