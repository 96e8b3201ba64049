"""A typo never widens access: an unknown key inside a route, or inside an object a route holds,
is an error for `vallum check`, at start-up and on reload (Vallum is stricter than Pomerium here;
docs/decisions.md). Unknown top-level keys stay warnings (test_check.py)."""

import re

import pytest

from lib.helpers import find_line_col, route, wait_until
from lib.vallum import VallumDied, run_check

LINE_RE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning): (?P<key>[^:]+): (?P<msg>.+)$")

TYPO = """\
address: 127.0.0.1:0
routes:
  - from: https://a.example.test
    to: http://127.0.0.1:9001
    prefx: /public
    allow_public_unauthenticated_access: true
  - from: https://a.example.test
    to: http://127.0.0.1:9002
"""


def problems_of(stdout):
    return [m.groupdict() for m in map(LINE_RE.match, stdout.splitlines()) if m]


def test_check_rejects_a_misspelled_matcher(tmp_path, vallum_bin):
    p = tmp_path / "typo.yaml"
    p.write_text(TYPO)
    res = run_check(str(p))
    assert res.returncode == 1, res.stdout + res.stderr
    line, col = find_line_col(TYPO, "prefx")
    assert res.stdout.splitlines() == [
        f'{p}:{line}:{col}: error: routes[0].prefx: unknown route option "prefx" (did you mean "prefix"?)'
    ], res.stdout


NESTED = """\
address: 127.0.0.1:0
routes:
  - from: https://r.example.test
    redirect: {host_redirect: b.example.test, stip_query: true}
  - from: https://d.example.test
    response: {status: 200, bdy: ok}
  - from: https://h.example.test
    to: http://127.0.0.1:9001
    health_checks:
      - timeout: 1s
        interval: 5s
        unhealthy_threshold: 2
        healthy_threshold: 1
        http_health_check: {path: /healthz, expected_status: [{start: 200, end: 300}]}
  - from: https://o.example.test
    to: [http://127.0.0.1:9001, http://127.0.0.1:9002]
    outlier_detection: {consecutive_5xx: 3, max_ejection_prcent: 50}
  - from: https://l.example.test
    to: [http://127.0.0.1:9001, http://127.0.0.1:9002]
    lb_policy: RING_HASH
    ring_hash_lb_config: {minimum_ring_sise: 1024}
    hash_policy:
      - header: {header_name: x-user}
        terminl: true
  - from: https://w.example.test
    to: http://127.0.0.1:9001
    rewrite_response_headers: [{header: Location, prefix: 'http://a/', valu: /}]
"""


@pytest.mark.parametrize("key,needle,message", [
    ("routes[0].redirect.stip_query", "stip_query",
     'unknown redirect option "stip_query" (did you mean "strip_query"?)'),
    ("routes[1].response.bdy", "bdy", 'unknown response option "bdy" (did you mean "body"?)'),
    ("routes[2].health_checks[0].http_health_check.expected_status", "expected_status:",
     'unknown http_health_check field "expected_status" (did you mean "expected_statuses"?)'),
    ("routes[3].outlier_detection.max_ejection_prcent", "max_ejection_prcent",
     'unknown outlier_detection field "max_ejection_prcent" (did you mean "max_ejection_percent"?)'),
    ("routes[4].ring_hash_lb_config.minimum_ring_sise", "minimum_ring_sise",
     'unknown ring_hash_lb_config field "minimum_ring_sise" (did you mean "minimum_ring_size"?)'),
    ("routes[4].hash_policy[0].terminl", "terminl",
     'unknown hash_policy field "terminl" (did you mean "terminal"?)'),
    ("routes[5].rewrite_response_headers[0].valu", "valu",
     'unknown rewrite_response_headers option "valu" (did you mean "value"?)'),
])
def test_check_rejects_unknown_keys_in_nested_route_objects(tmp_path, vallum_bin, key, needle, message):
    p = tmp_path / "nested.yaml"
    p.write_text(NESTED)
    res = run_check(str(p))
    assert res.returncode == 1, res.stdout + res.stderr
    hits = [x for x in problems_of(res.stdout) if x["key"] == key]
    assert len(hits) == 1, res.stdout
    line, col = find_line_col(NESTED, needle)
    assert (hits[0]["sev"], int(hits[0]["line"]), int(hits[0]["col"]), hits[0]["msg"]) == \
        ("error", line, col, message), res.stdout


def test_startup_with_an_unknown_route_key_fails(vallum):
    v = vallum(TYPO, start=False)
    with pytest.raises(VallumDied):
        v.start(timeout=15)
    assert v.returncode == 1, v.returncode
    line, col = find_line_col(TYPO, "prefx")
    assert (f'{v.config_path}:{line}:{col}: error: routes[0].prefx: unknown route option "prefx"'
            in v.stderr_text()), v.stderr_text()[-2000:]


def status_of(v, host, path):
    try:
        return v.get(path, host).status
    except OSError:
        return -1


def test_reload_with_an_unknown_route_key_keeps_the_last_good_config(vallum, upstream):
    """The public route /public is first; the catch-all after it is not public (403). A reload
    that misspells `prefix` would make the public route a catch-all and open /admin: it must be
    refused as a whole (not even the route it adds is applied), and a later good reload works."""
    pub, private = upstream("public"), upstream("private")

    def cfg(prefix_key, extra=()):
        return vallum.config([
            route("https://a.example.test", pub.url, **{prefix_key: "/public"}),
            route("https://a.example.test", private.url, allow_public_unauthenticated_access=False),
            *extra,
        ])

    v = vallum(cfg("prefix"))
    assert v.get("/public/x", "a.example.test").status == 200
    assert v.get("/admin", "a.example.test").status == 403

    mark = len(v.stderr_text())
    bad = cfg("prefx", [route("https://b.example.test", pub.url)])
    v.reload(bad)
    line, col = find_line_col(v.config_text, "prefx")
    v.wait_stderr(rf'{re.escape(v.config_path)}:{line}:{col}: error: routes\[0\]\.prefx: unknown route option "prefx"',
                  10, after=mark)
    v.wait_stderr(r"reload failed; keeping the running config", 10, after=mark)
    assert v.get("/admin", "a.example.test").status == 403
    assert v.get("/public/x", "a.example.test").status == 200
    assert status_of(v, "b.example.test", "/") == 404
    assert [r.path for r in pub.requests()] == ["/public/x", "/public/x"]

    v.reload(cfg("prefix", [route("https://b.example.test", pub.url)]))
    wait_until(lambda: status_of(v, "b.example.test", "/") == 200, 10, 0.1, "good reload after a bad one")
    assert v.get("/admin", "a.example.test").status == 403
