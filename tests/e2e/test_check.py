"""`vallum check FILE` / `vallum check --config FILE`: every problem as
`FILE:LINE:COL: error|warning: KEY: message` (1-based positions of the offending node), exit 1 on
any error, else each route's metrics name and `OK: N routes, M warnings`, exit 0 (Pomerium's
config loading and route options; Vallum's own rules are in docs/decisions.md). Serving runs the
same validation."""

import base64
import json
import re
import signal
import subprocess
import time

import pytest

from lib.helpers import find_line_col
from lib.vallum import VallumDied, run_check

LINE_RE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning): (?P<key>[^:]+): (?P<msg>.+)$")
OK_RE = re.compile(r"^OK: (\d+) routes?, (\d+) warnings?$")


def check(tmp_path, text, env=None, name="config.yaml"):
    p = tmp_path / name
    p.write_text(text)
    res = run_check(str(p), env=env)
    problems = []
    for line in res.stdout.splitlines():
        m = LINE_RE.match(line)
        if m:
            problems.append(m.groupdict())
    return res, str(p), problems


def ok_line(res):
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("OK:")]
    assert lines, f"no OK line; stdout={res.stdout!r} stderr={res.stderr!r}"
    m = OK_RE.match(lines[-1])
    assert m, lines[-1]
    return int(m.group(1)), int(m.group(2))


def find(problems, key, sev):
    hits = [p for p in problems if p["key"] == key and p["sev"] == sev]
    assert hits, f"no {sev} for {key}; got {problems}"
    return hits[0]


def at(p, text, needle, offset=0):
    line, col = find_line_col(text, needle, offset_in_needle=offset)
    assert (int(p["line"]), int(p["col"])) == (line, col), f"{p} should be at {line}:{col} ({needle!r})"


VALID = """\
address: 127.0.0.1:0
default_upstream_timeout: 45s
routes:
  - from: https://app.example.test
    to: http://127.0.0.1:9001
    allow_public_unauthenticated_access: true
  - from: https://api.example.test
    to:
      - http://127.0.0.1:9002,3
      - http://localhost:9003,1
    prefix: /v1/
    timeout: 1m30s
    name: api
    allow_public_unauthenticated_access: true
  - from: https://*.wild.example.test
    to: http://127.0.0.1:9004/base/
    regex: '/items/[0-9]+'
    timeout: 250ms
    allow_public_unauthenticated_access: true
  - from: https://p.example.test:8443
    to: http://127.0.0.1:9005
    path: /exact
    timeout: 0
    allow_public_unauthenticated_access: true
"""


def test_valid_config_ok(tmp_path, vallum_bin):
    res, path, problems = check(tmp_path, VALID)
    assert res.returncode == 0, res.stdout + res.stderr
    assert problems == [], problems
    assert ok_line(res) == (4, 0)


def test_unknown_and_not_yet_supported_globals_warn(tmp_path, vallum_bin):
    """Unknown top-level keys only warn (as in Pomerium); unknown route keys are errors
    (test_unknown_route_keys.py)."""
    text = """\
address: 127.0.0.1:0
frobnicate: 1
authorize_service_url: https://authorize.example.test
routes:
  - from: https://app.example.test
    to: http://127.0.0.1:9001
    allow_public_unauthenticated_access: true
"""
    res, path, problems = check(tmp_path, text)
    assert res.returncode == 0, res.stdout + res.stderr
    assert all(p["sev"] == "warning" and p["file"] == path for p in problems), problems
    at(find(problems, "frobnicate", "warning"), text, "frobnicate")
    p = find(problems, "authorize_service_url", "warning")
    at(p, text, "authorize_service_url")
    assert "not supported yet" in p["msg"], p
    assert ok_line(res) == (1, 2)


ERRORS = """\
address: 127.0.0.1:0
client_ca: abc
cookie_secret: c2hvcnQ=
shared_secret: not*base64*at*all
routes:
  - from: https://zero.example.test
    to:
      - http://127.0.0.1:9001,0
  - from: https://path.example.test/some/path
    to: http://127.0.0.1:9001
  - from: https://dur.example.test
    to: http://127.0.0.1:9001
    timeout: 30
  - from: https://neg.example.test
    to: http://127.0.0.1:9001
    timeout: -5s
  - from: https://re.example.test
    to: http://127.0.0.1:9001
    regex: /a(b
  - from: https://rw.example.test
    to: http://127.0.0.1:9001
    depends_on: [other.example.test]
  - from: ssh://ssh.example.test
    to: ssh://127.0.0.1:22
  - from: https://mixed.example.test
    to:
      - http://127.0.0.1:9001,2
      - http://127.0.0.1:9002
  - from: app.example.test
    to: http://127.0.0.1:9001
  - from: https://${HOST}
    to: http://127.0.0.1:9001
  - from: https://noto.example.test
  - from: udp+https://udp.example.test:53
    to: udp://127.0.0.1:53
  - from: https://badweight.example.test
    to: http://127.0.0.1:9001,x
"""


def test_errors_with_positions_and_exit_1(tmp_path, vallum_bin):
    text = ERRORS
    res, path, problems = check(tmp_path, text)
    assert res.returncode == 1, res.stdout + res.stderr
    assert not any(ln.startswith("OK:") for ln in res.stdout.splitlines()), res.stdout
    assert all(p["file"] == path for p in problems), problems
    errs = [p for p in problems if p["sev"] == "error"]
    # every problem in file order
    positions = [(int(p["line"]), int(p["col"])) for p in problems]
    assert positions == sorted(positions), problems

    p = find(problems, "client_ca", "error")
    at(p, text, "client_ca")
    at(find(problems, "cookie_secret", "error"), text, "cookie_secret: ", len("cookie_secret: "))
    at(find(problems, "shared_secret", "error"), text, "shared_secret: ", len("shared_secret: "))

    zero = [p for p in errs if p["key"] in ("routes[0].to", "routes[0].to[0]")]
    assert zero and "zero" in zero[0]["msg"].lower(), problems
    at(zero[0], text, "http://127.0.0.1:9001,0")

    p = find(problems, "routes[1].from", "error")
    at(p, text, "https://path.example.test/some/path")
    assert "path" in p["msg"], p

    p = find(problems, "routes[2].timeout", "error")
    at(p, text, "timeout: 30", len("timeout: "))
    assert "unit" in p["msg"], p
    p = find(problems, "routes[3].timeout", "error")
    at(p, text, "timeout: -5s", len("timeout: "))
    assert "negative" in p["msg"], p

    at(find(problems, "routes[4].regex", "error"), text, "/a(b")

    p = find(problems, "routes[5].depends_on", "error")
    at(p, text, "depends_on")
    assert "not supported yet" in p["msg"], p

    ssh = [p for p in errs if p["key"].startswith("routes[6]")]
    assert ssh and any("not supported" in p["msg"] for p in ssh), problems

    mixed = [p for p in errs if p["key"].startswith("routes[7].to")]
    assert mixed and "weight" in mixed[0]["msg"], problems

    p = find(problems, "routes[8].from", "error")
    at(p, text, "from: app.example.test", len("from: "))

    p = find(problems, "routes[9].from", "error")  # ${HOST} is not expanded
    at(p, text, "https://${HOST}")

    noto = [p for p in errs if p["key"].startswith("routes[10]")]
    assert noto, f"route without `to` accepted: {problems}"

    udp = [p for p in errs if p["key"].startswith("routes[11]")]
    assert udp and any("not supported" in p["msg"] for p in udp), problems

    bad = [p for p in errs if p["key"].startswith("routes[12].to")]
    assert bad, problems
    at(bad[0], text, "http://127.0.0.1:9001,x")


def test_warnings_printed_alongside_errors(tmp_path, vallum_bin):
    text = "address: 127.0.0.1:0\nunknown_thing: 1\nroutes:\n  - from: https://a.example.test\n    to: http://127.0.0.1:1,0\n"
    res, path, problems = check(tmp_path, text)
    assert res.returncode == 1
    assert {p["sev"] for p in problems} == {"error", "warning"}, problems


def test_yaml_syntax_error(tmp_path, vallum_bin):
    text = "address: 127.0.0.1:0\nroutes:\n  - from: https://a.example.test\n    to: [http://x\n  bad: : :\n"
    res, path, problems = check(tmp_path, text)
    assert res.returncode == 1, res.stdout + res.stderr
    p = find(problems, "yaml", "error")
    assert int(p["line"]) >= 4, p


@pytest.mark.parametrize("text", [",\n", "address: 127.0.0.1:0\n---\n,\n"])
def test_stray_comma_is_an_error_not_a_hang(tmp_path, vallum_bin, text):
    # Found by fuzz/config: yaml-cpp (the parser before libyaml) looped on it forever, memory
    # growing (see fuzz/RESULTS.md).
    p = tmp_path / "config.yaml"
    p.write_text(text)
    res = run_check(str(p), timeout=10)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "error: yaml: " in res.stdout and "did not find expected" in res.stdout, res.stdout


def test_durations_go_syntax(tmp_path, vallum_bin):
    lines = ["address: 127.0.0.1:0", "default_upstream_timeout: 1.5s", "timeout_idle: 2h45m", "routes:"]
    for i, d in enumerate(["30s", "1m30s", "250ms", "1.5s", "0", "1h", "500us"]):
        lines += [f"  - from: https://d{i}.example.test", "    to: http://127.0.0.1:9001", f"    timeout: {d}",
                  "    allow_public_unauthenticated_access: true"]
    res, path, problems = check(tmp_path, "\n".join(lines) + "\n")
    assert res.returncode == 0, res.stdout + res.stderr
    assert ok_line(res) == (7, 0)


def test_policy_env_adds_routes(tmp_path, vallum_bin):
    policy = "- from: https://env.example.test\n  to: http://127.0.0.1:9009\n  allow_public_unauthenticated_access: true\n"
    text = "address: 127.0.0.1:0\nroutes:\n  - from: https://a.example.test\n    to: http://127.0.0.1:9001\n"
    res, path, problems = check(tmp_path, text, env={"POLICY": base64.b64encode(policy.encode()).decode()})
    assert res.returncode == 0, res.stdout + res.stderr
    assert ok_line(res)[0] == 2


def test_policy_and_routes_counted(tmp_path, vallum_bin):
    text = ("address: 127.0.0.1:0\npolicy:\n  - from: https://p.example.test\n    to: http://127.0.0.1:9001\n"
            "routes:\n  - from: https://r.example.test\n    to: http://127.0.0.1:9001\n")
    res, path, problems = check(tmp_path, text)
    assert res.returncode == 0, res.stdout + res.stderr
    assert ok_line(res)[0] == 2


def test_missing_file(tmp_path, vallum_bin):
    res = run_check(str(tmp_path / "nope.yaml"))
    assert res.returncode != 0, res
    assert "nope.yaml" in res.stdout + res.stderr


def test_version(vallum_bin):
    res = subprocess.run([vallum_bin, "version"], capture_output=True, text=True, timeout=10)
    assert res.returncode == 0, res
    assert re.search(r"\d+\.\d+\.\d+", res.stdout), res.stdout


def test_help(vallum_bin):
    res = subprocess.run([vallum_bin, "--help"], capture_output=True, text=True, timeout=10)
    assert res.returncode == 0, res
    for word in ("--config", "check", "version", "--concurrency"):
        assert word in res.stdout, f"--help does not mention {word}:\n{res.stdout}"


def test_serve_refuses_invalid_config(vallum):
    text = "address: 127.0.0.1:0\nroutes:\n  - from: https://a.example.test\n    to: http://127.0.0.1:1\n    timeout: 30\n"
    v = vallum(text, start=False)
    try:
        v.start(timeout=15)
    except VallumDied:
        pass
    else:
        pytest.fail("vallum started serving an invalid config:\n" + v.stderr_text()[-2000:])
    assert v.returncode not in (0, None), v.returncode
    line, col = find_line_col(text, "timeout: 30", offset_in_needle=len("timeout: "))
    assert f"{v.config_path}:{line}:{col}" in v.stderr_text() + v.stdout_text(), v.stderr_text()


MORE = """\
address: 127.0.0.1:0
policy_file: /etc/vallum/policy.yaml
forward_auth_url: https://fwd.example.test
ssh_address: 0.0.0.0:2222
certificate_file: /nonexistent/cert.pem
timeout_write: 10s
routes:
  - from: https://ws.example.test
    to: http://127.0.0.1:9001
    depends_on: [other.example.test]
  - from: https://default-value.example.test
    to: http://127.0.0.1:9001
    depends_on: []
  - from: https://mix.example.test
    to:
      - tcp://127.0.0.1:9001
      - http://127.0.0.1:9002
  - from: https://long.example.test
    to: http://127.0.0.1:9001
    timeout: 20s
  - from: https://mcp.example.test
    to: http://127.0.0.1:9001
    mcp: {server: {}}
  - from: ""
    to: http://127.0.0.1:9001
  - from: http://plain.example.test
    to: http://127.0.0.1:9001
  - from: https://nohost.example.test
    to: http:///nohost
"""


def test_more_rules(tmp_path, vallum_bin):
    """Several independent rules in one file; every failed expectation is reported at once."""
    text = MORE
    res, path, problems = check(tmp_path, text)
    assert res.returncode == 1, res.stdout + res.stderr
    failures = []

    def expect(label, fn):
        try:
            fn()
        except (AssertionError, StopIteration) as e:
            failures.append(f"{label}: {e}")

    def has(key_prefix, sev, word=None, pos=None):
        def f():
            hits = [x for x in problems if x["key"].startswith(key_prefix) and x["sev"] == sev]
            assert hits, f"no {sev} for {key_prefix}"
            if word:
                assert word in hits[0]["msg"], hits[0]
            if pos:
                at(hits[0], text, *pos)
        return f

    expect("policy_file is an error", has("policy_file", "error", pos=("policy_file",)))
    expect("retired forward_auth_url warns", has("forward_auth_url", "warning"))
    expect("ssh_* is not supported", has("ssh_address", "error", "not supported"))
    expect("certificate_file without key", has("certificate", "error"))
    expect("depends_on: [host] not supported yet",
           has("routes[0].depends_on", "error", "not supported yet", ("depends_on: [other",)))
    expect("depends_on: [] asks for nothing",
           lambda: (_ for _ in ()).throw(AssertionError(problems))
           if [x for x in problems if x["key"].startswith("routes[1]")] else None)
    expect("tcp and http upstreams mixed", has("routes[2].to", "error"))
    expect("route timeout above timeout_write warns at the timeout value",
           has("routes[3].timeout", "warning", None, ("timeout: 20s", len("timeout: "))))
    expect("route mcp not supported", has("routes[4].mcp", "error", "not supported"))
    expect("empty from", has("routes[5].from", "error", None, ('from: ""', len("from: "))))
    expect("http:// from warns", has("routes[6].from", "warning", None, ("http://plain.example.test",)))
    expect("to without host", has("routes[7].to", "error"))
    assert not failures, "\n".join(failures) + f"\n--- vallum check output ---\n{res.stdout}"


ESCAPES = """\
address: 127.0.0.1:0
routes:
  - from: https://a.example.test
    to: http://127.0.0.1:9001
    "pre\\e[2J\\e]0;owned\\afix": /x
    regex: "\\e[31m(\\n"
"""


def test_control_bytes_in_config_text_are_escaped(tmp_path, vallum, vallum_bin):
    """Keys and values quoted in diagnostics must not carry terminal escape sequences (or line
    breaks) from the config to the operator's terminal or log: ESC is printed as \\x1b."""
    res, path, problems = check(tmp_path, ESCAPES)
    assert res.returncode == 1, res.stdout + res.stderr
    for byte in ("\x1b", "\x07"):
        assert byte not in res.stdout, repr(res.stdout)
    assert len(res.stdout.splitlines()) == 2, repr(res.stdout)  # the \n in the regex stays escaped
    key = find(problems, "routes[0].pre\\x1b[2J\\x1b]0;owned\\x07fix", "error")
    assert key["msg"] == 'unknown route option "pre\\x1b[2J\\x1b]0;owned\\x07fix"', key
    regex = find(problems, "routes[0].regex", "error")
    assert regex["msg"] == "invalid regex: missing ]: [31m(\\n", regex
    # Serving logs the same lines on stderr, escaped the same way.
    v = vallum(ESCAPES, start=False)
    with pytest.raises(VallumDied):
        v.start(timeout=15)
    assert "\x1b" not in v.stderr_text() and "routes[0].pre\\x1b[2J" in v.stderr_text(), repr(v.stderr_text()[-1500:])


def test_control_bytes_in_route_names_are_escaped_in_the_server_log(vallum, upstream):
    """Health-change log lines quote the route's name and endpoint from the config: escaped too."""
    u = upstream("esc")
    cfg = vallum.config([{"from": "https://esc.example.test", "to": u.url, "name": "\x1b[31mred\x1b[0m",
                          "allow_public_unauthenticated_access": True,
                          "health_checks": [{"timeout": "1s", "interval": "0.2s", "unhealthy_threshold": 1,
                                             "healthy_threshold": 1, "http_health_check": {"path": "/healthz"}}]}])
    v = vallum(cfg)
    v.wait_stderr(r"route \\x1b\[31mred\\x1b\[0m: endpoint 127\.0\.0\.1:\d+ is healthy", 10)
    assert "\x1b" not in v.stderr_text(), repr(v.stderr_text()[-1000:])


def test_config_over_16_mib_is_refused_before_parsing(tmp_path, vallum_bin):
    p = tmp_path / "huge.yaml"
    with open(p, "wb") as f:
        f.truncate(17 << 20)  # sparse: nothing to read, the size alone refuses it
    res = run_check(str(p))
    assert res.returncode == 1, res.stdout + res.stderr
    assert res.stdout.splitlines() == [
        f'{p}: error: cannot load config: file "{p}" is 17 MiB, over the limit of 16 MiB'], res.stdout


def test_check_takes_the_file_as_an_argument(tmp_path, vallum_bin):
    """`vallum check FILE` (as `nginx -t -c FILE` users type it) is `check --config FILE`; no file,
    or two, says exactly what to type (exit 2)."""
    p = tmp_path / "config.yaml"
    p.write_text(QUIET_ROUTE)
    a = subprocess.run([vallum_bin, "check", str(p)], capture_output=True, text=True, timeout=30)
    b = subprocess.run([vallum_bin, "check", "--config", str(p)], capture_output=True, text=True, timeout=30)
    assert a.returncode == 0 and a.stdout == b.stdout, (a, b)
    assert a.stdout.splitlines()[-1] == "OK: 1 route, 0 warnings", a.stdout
    for argv in ([vallum_bin, "check"], [vallum_bin, "check", str(p), "--config", str(p)]):
        res = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert res.returncode == 2, res
        assert "vallum check FILE (or vallum check --config FILE)" in res.stderr, res.stderr


QUIET_ROUTE = """\
address: 127.0.0.1:0
routes:
  - from: https://a.example.test
    to: http://127.0.0.1:9001
    allow_public_unauthenticated_access: true
"""


def test_check_prints_each_route_metrics_name(tmp_path, vallum_bin):
    """The label of each route's Prometheus series (its name, else route-<hash>), at the route's
    position; `vallum route` gives the same label."""
    text = QUIET_ROUTE + ("    name: app\n  - from: https://b.example.test\n    to: http://127.0.0.1:9002\n"
                          "    allow_public_unauthenticated_access: true\n")
    res, path, problems = check(tmp_path, text)
    assert res.returncode == 0 and problems == [], res.stdout
    names = re.findall(r'^(routes\[\d\]): metrics name "([^"]+)" \((.+):(\d+):(\d+)\)$', res.stdout, re.M)
    assert [(n[0], n[3], n[4]) for n in names] == [("routes[0]", "3", "5"), ("routes[1]", "7", "5")], res.stdout
    assert names[0][2] == path, names
    names = [(n[0], n[1]) for n in names]
    assert names[0][1] == "app" and re.fullmatch(r"route-[0-9a-f]+", names[1][1]), names
    for host, label in (("a", "app"), ("b", names[1][1])):
        out = subprocess.run([vallum_bin, "route", "--config", path, f"https://{host}.example.test/x"],
                             capture_output=True, text=True, timeout=30)
        doc = json.loads(out.stdout)
        assert doc["route"]["metrics_name"] == label, doc["route"]
        assert doc["route"]["name"] == ("app" if host == "a" else None), doc["route"]


def test_metrics_names_are_quoted_and_shared_names_warned(tmp_path, vallum_bin):
    """A quote or an escape sequence in a name cannot break the line or reach the terminal; two
    routes with one name count in one series: a warning at the second."""
    text = (QUIET_ROUTE + '    name: "we\\"ird\\e[31m"\n  - from: https://b.example.test\n    to: http://127.0.0.1:9002\n'
            '    allow_public_unauthenticated_access: true\n    name: "we\\"ird\\e[31m"\n')
    res, path, problems = check(tmp_path, text)
    assert res.returncode == 0, res.stdout
    assert "\x1b" not in res.stdout
    lines = [ln for ln in res.stdout.splitlines() if "metrics name" in ln and not ": warning: " in ln]
    assert lines == [f'routes[0]: metrics name "we\\"ird\\u001b[31m" ({path}:3:5)',
                     f'routes[1]: metrics name "we\\"ird\\u001b[31m" ({path}:7:5)'], lines
    shared = find(problems, "routes[1]", "warning")
    assert shared["line"] == "7" and "is also routes[0]'s: both routes count in one metrics series" in shared["msg"], shared


def test_warns_about_a_route_that_only_ever_answers_403(tmp_path, vallum_bin):
    text = ("address: 127.0.0.1:0\nroutes:\n  - from: https://a.example.test\n    to: http://127.0.0.1:9001\n"
            "  - from: https://b.example.test\n    response: {status: 200, body: hi}\n")
    res, path, problems = check(tmp_path, text)
    assert res.returncode == 0, res.stdout
    got = [(p["line"], p["col"], p["key"]) for p in problems
           if p["sev"] == "warning" and p["msg"].startswith("every request to this route gets 403: it has no policy")]
    assert got == [("3", "5", "routes[0]"), ("5", "5", "routes[1]")], res.stdout


@pytest.mark.parametrize("extra,msg", [
    ("    prefix_rewrite: /app\n",
     'prefix_rewrite without prefix replaces only the leading "/": /foo reaches the upstream as /appfoo; '
     'write "/app/" or set the prefix it is meant to replace'),
    ("    prefix_rewrite: /app/\n",
     "prefix_rewrite without prefix applies to every path: /foo reaches the upstream as /app/foo"),
    ("    prefix_rewrite: /\n",
     'prefix_rewrite "/" without prefix does nothing: every path reaches the upstream unchanged'),
    ("    prefix: /\n    prefix_rewrite: /app\n",
     'prefix_rewrite "/app" replaces the matched prefix "/" with its final slash: /foo reaches the upstream '
     'as /appfoo; write "/app/"'),
    ("    prefix: /api/\n    prefix_rewrite: /v1\n",
     'prefix_rewrite "/v1" replaces the matched prefix "/api/" with its final slash: /api/foo reaches the '
     'upstream as /v1foo; write "/v1/"'),
], ids=["no-prefix", "no-prefix-mount", "no-prefix-noop", "root-prefix", "prefix-without-slash"])
def test_warns_about_prefix_rewrite_pitfalls(tmp_path, vallum_bin, extra, msg):
    res, path, problems = check(tmp_path, QUIET_ROUTE + extra)
    assert res.returncode == 0, res.stdout
    hit = find(problems, "routes[0].prefix_rewrite", "warning")
    assert hit["line"] == str(5 + extra.count("\n")) and hit["col"] == "21", hit
    assert hit["msg"] == msg, hit
    # `vallum route` shows the rewrite the warning describes.
    probe = "/api/foo" if "/api/" in extra else "/foo"
    out = subprocess.run([vallum_bin, "route", "--config", path, f"https://a.example.test{probe}"],
                         capture_output=True, text=True, timeout=30)
    doc = json.loads(out.stdout)
    shown = msg.split("reaches the upstream as ")[1].split(";")[0] if "reaches the upstream as" in msg else probe
    assert doc["upstream"]["request_line"] == f"GET {shown} HTTP/1.1", doc["upstream"]


def test_no_prefix_rewrite_warning_when_slashes_match(tmp_path, vallum_bin):
    res, path, problems = check(tmp_path, QUIET_ROUTE + "    prefix: /api/\n    prefix_rewrite: /v1/\n")
    assert res.returncode == 0 and problems == [], res.stdout


def test_route_without_an_action_is_called_a_route(tmp_path, vallum_bin):
    res, path, problems = check(tmp_path, "address: 127.0.0.1:0\nroutes:\n  - from: https://a.example.test\n")
    assert res.returncode == 1, res.stdout
    hit = find(problems, "routes[0]", "error")
    assert hit["msg"] == "route has none of `to`, `redirect` and `response`: it needs one of them", hit


@pytest.mark.parametrize("level", ["warning", "warn", "WARNING", "critical", "off", "error", "debug", "fatal",
                                   "panic", "disabled"])
def test_log_level_takes_the_names_the_log_prints(vallum_bin, level):
    res = subprocess.run([vallum_bin, "--log-level", level, "version"], capture_output=True, text=True, timeout=10)
    assert res.returncode == 0, res
    bad = subprocess.run([vallum_bin, "--log-level", "loud", "version"], capture_output=True, text=True, timeout=10)
    assert bad.returncode != 0 and "warning" in bad.stderr and "critical" in bad.stderr, bad.stderr


def test_log_level_warning_hides_info_lines(tmp_path, vallum_bin):
    """The level really applies: with --log-level warning the start-up info line is not logged,
    a warning (the generated certificate) is."""
    p = tmp_path / "config.yaml"
    p.write_text(QUIET_ROUTE)
    err_path = tmp_path / "stderr"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([vallum_bin, "--log-level", "warning", "--config", str(p), "--concurrency", "1"],
                                stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while "no certificate configured" not in err_path.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, err_path.read_text()
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(20)
    text = err_path.read_text()
    assert rc == 0, text
    assert re.search(r" warning \[\d+\] no certificate configured", text), text
    assert "listening on" not in text and " info " not in text, text


@pytest.mark.parametrize("level", ["off", "error"])
def test_log_level_applies_to_the_config_warnings_at_start(tmp_path, vallum_bin, level):
    """--log-level holds from the first line: the load's own warnings (here: a route that only
    answers 403) are not logged at `off` or `error`."""
    p = tmp_path / "config.yaml"
    p.write_text("address: 127.0.0.1:0\nroutes:\n  - from: https://a.example.test\n    to: http://127.0.0.1:9001\n")
    err_path = tmp_path / "stderr"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([vallum_bin, "--log-level", level, "--config", str(p), "--concurrency", "1"],
                                stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        assert proc.poll() is None, err_path.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(20)
    assert rc == 0 and err_path.read_text() == "", err_path.read_text()


@pytest.mark.parametrize("argv", [["check", "--bogus", "x.yaml"], ["check", "a.yaml", "b.yaml"],
                                  ["--log-level", "loud", "version"], ["route", "--config"], ["nonsense"]])
def test_usage_errors_exit_2(vallum_bin, argv):
    res = subprocess.run([vallum_bin] + argv, capture_output=True, text=True, timeout=10)
    assert res.returncode == 2, res
    assert res.stderr.strip(), res


def test_check_takes_the_top_level_config_option(tmp_path, vallum_bin):
    p = tmp_path / "config.yaml"
    p.write_text(QUIET_ROUTE)
    res = subprocess.run([vallum_bin, "--config", str(p), "check"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and res.stdout.splitlines()[-1] == "OK: 1 route, 0 warnings", res


def test_help_covers_signals_environment_and_ping(vallum_bin):
    res = subprocess.run([vallum_bin, "--help"], capture_output=True, text=True, timeout=10)
    for words in ("SIGHUP", "reloads", "saving the config file", "SIGTERM", "drain", "Environment variables",
                  "/ping", "warning", "critical", "off"):
        assert words in res.stdout, f"--help does not mention {words}:\n{res.stdout}"
    check_help = subprocess.run([vallum_bin, "check", "--help"], capture_output=True, text=True, timeout=10)
    assert "exit 0: no error, warnings allowed; 1: errors; 2: usage" in check_help.stdout, check_help.stdout
    assert "While serving" not in check_help.stdout, check_help.stdout  # the top-level help's notes


def test_diagnostics_are_printed_in_file_order(tmp_path, vallum_bin):
    """The compile step's lints (a route that only answers 403, at line 3) come before a later
    loader warning (line 7), not after every loader diagnostic."""
    text = ("address: 127.0.0.1:0\nroutes:\n  - from: https://a.example.test\n    to: http://127.0.0.1:9001\n"
            "  - from: https://b.example.test\n    to: http://127.0.0.1:9001\n    prefix_rewrite: /x\n"
            "    allow_public_unauthenticated_access: true\n")
    res, path, problems = check(tmp_path, text)
    assert res.returncode == 0, res.stdout
    assert [(p["line"], p["key"]) for p in problems] == [("3", "routes[0]"), ("7", "routes[1].prefix_rewrite")], \
        res.stdout


# ---- route uniqueness (Pomerium's Policy.RouteID: from, prefix/path/regex, to|redirect|response) ----

def _lines(res):
    return [ln for ln in res.stdout.splitlines() if ": error: " in ln or ": warning: " in ln]


def test_route_that_repeats_another_is_not_unique(tmp_path, vallum_bin):
    text = """\
address: 127.0.0.1:0
routes:
  - from: https://a.example.test
    to: http://127.0.0.1:9001
    prefix: /api
    allow_public_unauthenticated_access: true
  - from: https://b.example.test
    to: http://127.0.0.1:9002
    allow_public_unauthenticated_access: true
  - from: https://a.example.test
    prefix: /api
    to: http://127.0.0.1:9001
    allow_public_unauthenticated_access: true
  - from: https://a.example.test
    path: /api
    to: http://127.0.0.1:9001
    allow_public_unauthenticated_access: true
"""
    res, path, problems = check(tmp_path, text)
    assert res.returncode == 1, res.stdout + res.stderr
    errors = [ln for ln in _lines(res) if ": error: " in ln]
    assert errors == [f"{path}:10:5: error: routes[2]: route is not unique: same from, path matcher and to "
                      f"as routes[0] ({path}:3:5)"], res.stdout


def test_redirect_response_and_id_repeats_are_not_unique(tmp_path, vallum_bin):
    text = """\
address: 127.0.0.1:0
routes:
  - from: https://r.example.test
    redirect: {host_redirect: x.example.test}
  - from: https://r.example.test
    redirect: {host_redirect: y.example.test}
  - from: https://r.example.test
    redirect: {host_redirect: x.example.test}
  - from: https://s.example.test
    response: {status: 200, body: ok}
  - from: https://s.example.test
    response: {status: 200, body: ok}
  - from: https://t.example.test
    to: http://127.0.0.1:9001
    id: web
    allow_public_unauthenticated_access: true
  - from: https://u.example.test
    to: http://127.0.0.1:9002
    id: web
    allow_public_unauthenticated_access: true
"""
    res, path, problems = check(tmp_path, text)
    assert res.returncode == 1, res.stdout + res.stderr
    errors = [ln for ln in _lines(res) if ": error: " in ln]
    assert errors == [
        f"{path}:7:5: error: routes[2]: route is not unique: same from, path matcher and redirect as routes[0] "
        f"({path}:3:5)",
        f"{path}:11:5: error: routes[4]: route is not unique: same from, path matcher and response as routes[3] "
        f"({path}:9:5)",
        f'{path}:17:5: error: routes[6]: route is not unique: same id "web" as routes[5] ({path}:13:5)',
    ], res.stdout


# ---- certificates and keys are loaded by `vallum check` ----

GARBAGE_CERT = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
GARBAGE_KEY = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
OPENSSL_DETAIL = r"(: error:[0-9A-F]+:.*)?"


def _tls_check(tmp_path, text):
    res, path, problems = check(tmp_path, text)
    return res, path, [ln for ln in _lines(res) if ": error: " in ln]


def _one_error(errors, expected_prefix, openssl_detail=False):
    assert len(errors) == 1, errors
    if openssl_detail:
        assert re.fullmatch(re.escape(expected_prefix) + OPENSSL_DETAIL, errors[0]), errors
    else:
        assert errors[0] == expected_prefix, errors


def test_check_reports_a_missing_certificate_file(tmp_path, vallum_bin, server_cert):
    crt, key = server_cert
    missing = str(tmp_path / "missing.pem")
    text = f"address: 127.0.0.1:0\ncertificate_file: {missing}\ncertificate_key_file: {key}\n"
    res, path, errors = _tls_check(tmp_path, text)
    assert res.returncode == 1, res.stdout
    _one_error(errors, f"{path}:2:19: error: certificate_file: no such file, and not inline PEM or base64 PEM: "
                       f"{missing}")


def test_check_reports_garbage_pem_at_the_certificate_or_the_key(tmp_path, vallum_bin, server_cert):
    crt, key = server_cert
    bad_crt = tmp_path / "bad.crt"
    bad_crt.write_text(GARBAGE_CERT)
    bad_key = tmp_path / "bad.key"
    bad_key.write_text(GARBAGE_KEY)
    text = f"address: 127.0.0.1:0\ncertificates:\n  - cert: {bad_crt}\n    key: {key}\n"
    res, path, errors = _tls_check(tmp_path, text)
    assert res.returncode == 1, res.stdout
    _one_error(errors, f"{path}:3:11: error: certificates[0].cert: bad certificate PEM", openssl_detail=True)
    # A key that does not parse is reported at the key.
    text = f"address: 127.0.0.1:0\ncertificates:\n  - cert: {crt}\n    key: {bad_key}\n"
    res, path, errors = _tls_check(tmp_path, text)
    assert res.returncode == 1, res.stdout
    _one_error(errors, f"{path}:4:10: error: certificates[0].key: bad private key PEM", openssl_detail=True)


def test_check_reports_a_key_that_does_not_match_the_certificate(tmp_path, vallum_bin, ca, server_cert):
    crt, _ = server_cert
    _, other_key = ca.leaf(["other.example.test"])
    text = f"address: 127.0.0.1:0\ncertificate_file: {crt}\ncertificate_key_file: {other_key}\n"
    res, path, errors = _tls_check(tmp_path, text)
    assert res.returncode == 1, res.stdout
    _one_error(errors, f"{path}:2:19: error: certificate_file: private key does not match the certificate",
               openssl_detail=True)


def test_check_reports_a_ca_file_that_is_not_a_certificate(tmp_path, vallum_bin, ca):
    text = f"""\
address: 127.0.0.1:0
routes:
  - from: https://a.example.test
    to: https://127.0.0.1:9443
    tls_custom_ca_file: {ca.key}
    allow_public_unauthenticated_access: true
"""
    res, path, errors = _tls_check(tmp_path, text)
    assert res.returncode == 1, res.stdout
    _one_error(errors, f"{path}:5:25: error: routes[0].tls_custom_ca_file: certificate authority: no certificate "
                       "in the PEM data")
    text = f"address: 127.0.0.1:0\ncertificate_authority_file: {ca.key}\n"
    res, path, errors = _tls_check(tmp_path, text)
    assert res.returncode == 1, res.stdout
    _one_error(errors, f"{path}:2:29: error: certificate_authority: certificate authority: no certificate in the "
                       "PEM data")


def test_check_reports_client_certificate_problems_at_their_keys(tmp_path, vallum_bin, ca, server_cert):
    crt, key = server_cert
    missing = str(tmp_path / "missing.key")
    text = f"""\
address: 127.0.0.1:0
routes:
  - from: https://a.example.test
    to: https://127.0.0.1:9443
    tls_client_cert_file: {crt}
    tls_client_key_file: {missing}
    allow_public_unauthenticated_access: true
"""
    res, path, errors = _tls_check(tmp_path, text)
    assert res.returncode == 1, res.stdout
    _one_error(errors, f"{path}:6:26: error: routes[0].tls_client_key_file: client key: no such file, and not "
                       f"inline PEM or base64 PEM: {missing}")


def test_check_loads_certificates_that_are_not_used(tmp_path, vallum_bin, server_cert):
    """As Pomerium (Options.Validate, Policy.Validate): certificates with insecure_server, and a
    route's TLS files with no https upstream, are loaded and checked all the same."""
    crt, key = server_cert
    missing = str(tmp_path / "missing.pem")
    text = f"address: 127.0.0.1:0\ninsecure_server: true\ncertificate_file: {missing}\ncertificate_key_file: {key}\n"
    res, path, errors = _tls_check(tmp_path, text)
    assert res.returncode == 1, res.stdout
    _one_error(errors, f"{path}:3:19: error: certificate_file: no such file, and not inline PEM or base64 PEM: "
                       f"{missing}")
    text = f"""\
address: 127.0.0.1:0
routes:
  - from: https://a.example.test
    to: http://127.0.0.1:9001
    tls_custom_ca_file: {missing}
    allow_public_unauthenticated_access: true
"""
    res, path, errors = _tls_check(tmp_path, text)
    assert res.returncode == 1, res.stdout
    _one_error(errors, f"{path}:5:25: error: routes[0].tls_custom_ca_file: certificate authority: no such file, "
                       f"and not inline PEM or base64 PEM: {missing}")
    # Good files on an http route: only the existing "has no effect" warning.
    text = text.replace(missing, crt)
    res, path, errors = _tls_check(tmp_path, text)
    assert res.returncode == 0, res.stdout
    assert errors == [], res.stdout


# ---- listen addresses: bindable host:port, `$` not expanded ----

@pytest.mark.parametrize("key,value,message", [
    ("address", "':$PORT'", 'invalid address ":$PORT": port must be a number from 0 to 65535 '
                             "(environment variables are not expanded)"),
    ("address", "'${ADDRESS}'", 'invalid address "${ADDRESS}": invalid character "$" in host '
                                 "(environment variables are not expanded)"),
    ("address", "'127.0.0.1:70000'", 'invalid address "127.0.0.1:70000": port must be a number from 0 to 65535'),
    ("address", "'my host:8443'", 'invalid address "my host:8443": invalid character " " in host'),
    ("metrics_address", "':${METRICS_PORT}'",
     'invalid metrics_addr: expected host:port (e.g. :9090 or 127.0.0.1:9090): invalid address '
     '":${METRICS_PORT}": port must be a number from 0 to 65535 (environment variables are not expanded)'),
    ("http_redirect_addr", "':$HTTP_PORT'", 'invalid address ":$HTTP_PORT": port must be a number from 0 to '
                                            "65535 (environment variables are not expanded)"),
    ("http_redirect_addr", "'a b:80'", 'invalid address "a b:80": invalid character " " in host'),
])
def test_listen_address_that_cannot_be_bound(tmp_path, vallum_bin, key, value, message):
    text = f"{key}: {value}\n" + ("" if key == "address" else "address: 127.0.0.1:0\n")
    res, path, errors = _tls_check(tmp_path, text)
    assert res.returncode == 1, res.stdout
    _one_error(errors, f"{path}:1:{len(key) + 3}: error: {key}: {message}")


@pytest.mark.parametrize("value", ["':80'", "'\"127.0.0.1:8080\"'", "\"':80'\""])
def test_http_redirect_addr_is_still_ignored_and_its_quotes_stripped(tmp_path, vallum_bin, value):
    text = f"address: 127.0.0.1:0\nhttp_redirect_addr: {value}\n"
    res, path, problems = check(tmp_path, text)
    assert res.returncode == 0, res.stdout
    assert _lines(res) == [f"{path}:2:1: warning: http_redirect_addr: not supported yet; ignored"], res.stdout
