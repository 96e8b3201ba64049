"""`vallum access` (who can reach what: each route × each user of a users file, as allow, deny or
depends, in table, JSON or CSV) and `vallum route --as EMAIL` (the matching route's policy trace,
decision, reasons and the identity headers the upstream would get). Both compile the config as
`vallum check` does (no DNS) and evaluate the same compiled policies the server runs. Exit codes:
0 ok, 1 config errors, 2 usage errors."""

import json
import os
import subprocess

import pytest

from lib.vallum import REPO, vallum_binary

SIGN_IN = """\
authenticate_service_url: https://auth.example.test
idp_provider: oidc
idp_provider_url: https://idp.example.test
idp_client_id: vallum
idp_client_secret: secret
shared_secret: c3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3M=
cookie_secret: Y2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2M=
jwt_claims_headers:
  X-Pomerium-Claim-Email: email
  X-Pomerium-Claim-Department: department
"""

ROUTES = """\
routes:
  - from: https://public.example.test
    to: http://127.0.0.1:9001
    allow_public_unauthenticated_access: true
    name: public
  - from: https://app.example.test
    prefix: /admin/
    to: http://127.0.0.1:9001
    name: admin
    allowed_users: [alice@example.com]
    pass_identity_headers: true
  - from: https://app.example.test
    path: /eng
    to: http://127.0.0.1:9001
    name: eng
    policy:
      allow:
        or:
          - groups: {has: engineering}
  - from: https://app.example.test
    regex: '/hr/.*'
    to: http://127.0.0.1:9001
    name: hr
    policy:
      allow:
        and:
          - claim/department: people
  - from: https://app.example.test
    prefix: /read/
    to: http://127.0.0.1:9001
    name: read
    policy:
      allow:
        and:
          - domain: {is: example.com}
          - http_method: {is: GET}
"""

USERS = [
    {"email": "alice@example.com", "user": "sub-alice", "groups": ["engineering"]},
    {"email": "bob@example.com", "claims": {"department": ["people", "finance"]}},
    {"email": "=cmd@example.com"},
]

EMAILS = ["alice@example.com", "bob@example.com", "=cmd@example.com"]


def run(*args, env=None):
    e = {k: v for k, v in os.environ.items() if k not in ("POLICY", "ADDRESS", "ROUTES")}
    e.update(env or {})
    res = subprocess.run([vallum_binary(), *args], capture_output=True, timeout=30, env=e)
    return res.returncode, res.stdout.decode(), res.stderr.decode()


@pytest.fixture
def files(tmp_path, vallum_bin):
    config = tmp_path / "config.yaml"
    config.write_text(SIGN_IN + ROUTES)
    users = tmp_path / "users.json"
    users.write_text(json.dumps(USERS))
    return str(config), str(users)


def decisions(*values):
    return dict(zip(EMAILS, values))


# ---- vallum access ----

def test_access_json_is_exact(files):
    config, users = files
    rc, out, err = run("access", "--config", config, "--users", users, "--format", "json")
    assert rc == 0, err
    assert json.loads(out) == {
        "users": EMAILS,
        "routes": [
            {"name": "public", "from": "https://public.example.test", "path": "",
             "decisions": decisions("allow", "allow", "allow")},
            {"name": "admin", "from": "https://app.example.test", "path": "/admin/",
             "decisions": decisions("allow", "deny", "deny")},
            {"name": "eng", "from": "https://app.example.test", "path": "/eng",
             "decisions": decisions("allow", "deny", "deny")},
            {"name": "hr", "from": "https://app.example.test", "path": "/hr/.*",
             "decisions": decisions("deny", "allow", "deny")},
            {"name": "read", "from": "https://app.example.test", "path": "/read/",
             "decisions": decisions("depends", "depends", "depends"),
             "depends_on": {e: "http_method" for e in EMAILS}},
        ],
    }
    assert err == ""


def test_access_csv_quotes_and_defuses_formulas(files):
    config, users = files
    rc, out, err = run("access", "--config", config, "--users", users, "--format", "csv")
    assert rc == 0, err
    assert out == (
        "name,from,path,alice@example.com,bob@example.com,'=cmd@example.com\r\n"
        "public,https://public.example.test,,allow,allow,allow\r\n"
        "admin,https://app.example.test,/admin/,allow,deny,deny\r\n"
        "eng,https://app.example.test,/eng,allow,deny,deny\r\n"
        "hr,https://app.example.test,/hr/.*,deny,allow,deny\r\n"
        "read,https://app.example.test,/read/,depends (http_method),depends (http_method),"
        "depends (http_method)\r\n")


def test_access_table_is_aligned_and_the_default(files):
    config, users = files
    rc, out, err = run("access", "--config", config, "--users", users)
    assert rc == 0, err
    assert out == (
        "name    from                         path     alice@example.com      bob@example.com        =cmd@example.com\n"
        "public  https://public.example.test  -        allow                  allow                  allow\n"
        "admin   https://app.example.test     /admin/  allow                  deny                   deny\n"
        "eng     https://app.example.test     /eng     allow                  deny                   deny\n"
        "hr      https://app.example.test     /hr/.*   deny                   allow                  deny\n"
        "read    https://app.example.test     /read/   depends (http_method)  depends (http_method)  depends (http_method)\n")
    rc2, out2, _ = run("access", "--config", config, "--users", users, "--format", "table")
    assert (rc2, out2) == (0, out)


def test_access_unnamed_route_uses_its_metrics_name(tmp_path, vallum_bin):
    config = tmp_path / "config.yaml"
    config.write_text("routes:\n  - from: https://x.example.test\n    to: http://127.0.0.1:9001\n"
                      "    allowed_domains: [example.com]\n")
    users = tmp_path / "users.json"
    users.write_text('[{"email": "a@example.com"}, {"email": "b@other.test"}]')
    rc, out, err = run("access", "--config", str(config), "--users", str(users), "--format", "json")
    assert rc == 0, err
    route = json.loads(out)["routes"][0]
    _, check_out, _ = run("check", str(config))
    assert f'metrics name "{route["name"]}"' in check_out
    assert route["name"].startswith("route-")
    assert route["decisions"] == {"a@example.com": "allow", "b@other.test": "deny"}


def test_access_config_errors_exit_1_with_check_diagnostics(tmp_path, vallum_bin):
    config = tmp_path / "bad.yaml"
    config.write_text("routes:\n  - from: https://x.example.test\n    to: http://127.0.0.1:9001\n"
                      "    prefx: /a\n")
    users = tmp_path / "users.json"
    users.write_text("[]")
    rc, out, err = run("access", "--config", str(config), "--users", str(users))
    assert rc == 1
    assert out == ""
    assert f"{config}:4:5: error: routes[0].prefx:" in err, err


@pytest.mark.parametrize("content,message", [
    (None, "cannot read it"),
    ("[{", "invalid JSON"),
    ('{"email": "a@x"}', "expected a JSON array of users"),
    ('[{"email": "a@x", "groups": "eng"}]', "users[0].groups: expected an array of strings"),
    ('[{"email": "a@x"}, {"email": "a@x"}]', 'users[1].email: "a@x" is listed twice'),
], ids=["missing", "syntax", "not-a-list", "bad-groups", "duplicate"])
def test_access_bad_users_file_exits_2_naming_the_file(files, tmp_path, content, message):
    config, _ = files
    users = tmp_path / "bad-users.json"
    if content is not None:
        users.write_text(content)
    rc, out, err = run("access", "--config", config, "--users", str(users))
    assert rc == 2, err
    assert out == ""
    assert f"vallum access: users file {users}: " in err and message in err, err


@pytest.mark.parametrize("args", [
    ["--format", "xml"],
    ["--bogus"],
    [],  # no --users
], ids=["format", "unknown-flag", "no-users"])
def test_access_usage_errors_exit_2(files, args):
    config, users = files
    argv = ["access", "--config", config] + (["--users", users] if args != [] else []) + args
    rc, out, err = run(*argv)
    assert rc == 2, (out, err)
    assert out == ""


# ---- vallum route --as ----

def route_json(*args):
    rc, out, err = run("route", *args)
    return rc, (json.loads(out) if out else None), err


def test_route_as_allowed_user_shows_trace_decision_and_identity_headers(files):
    config, users = files
    rc, j, err = route_json("--config", config, "--as", "alice@example.com", "--users", users,
                            "https://app.example.test/admin/x")
    assert rc == 0, err
    assert j["route"]["name"] == "admin"
    assert j["result"] == "forward"
    assert j["decision"] == "allow"
    assert j["reasons"] == ["email-ok"]
    assert j["summary"] == "allow (email-ok)"
    assert j["as"] == {"email": "alice@example.com", "user": "sub-alice", "groups": ["engineering"],
                       "claims": {"email": "alice@example.com"}}
    # allowed_users folds into `user` or `email` criteria (Pomerium ToPPL); no config line.
    assert j["policy"]["trace"] == [
        {"kind": "action", "depth": 0, "label": "allow", "key": "", "line": None, "result": True,
         "reasons": ["email-ok"]},
        {"kind": "block", "depth": 1, "label": "or", "key": "routes[1]", "line": None, "result": True,
         "reasons": ["email-ok"]},
        {"kind": "criterion", "depth": 2, "label": "user", "key": "routes[1].allowed_users[0]", "line": None,
         "result": False, "reasons": ["user-unauthorized"]},
        {"kind": "criterion", "depth": 2, "label": "email", "key": "routes[1].allowed_users[0]", "line": None,
         "result": True, "reasons": ["email-ok"]},
        {"kind": "action", "depth": 0, "label": "deny", "key": "", "line": None, "result": False, "reasons": []},
        {"kind": "decision", "depth": 0, "label": "decision", "key": "", "line": None, "result": True,
         "reasons": ["email-ok"]},
    ]
    ih = j["identity_headers"]
    claims = ih["X-Pomerium-Jwt-Assertion"]
    assert {k: claims[k] for k in ("iss", "aud", "sub", "user", "email", "groups", "jti")} == {
        "iss": "app.example.test", "aud": "app.example.test", "sub": "sub-alice", "user": "sub-alice",
        "email": "alice@example.com", "groups": ["engineering"], "jti": "<jti>"}
    assert claims["exp"] - claims["iat"] == 300
    assert ih["X-Pomerium-Claim-Email"] == "alice@example.com"
    assert ih["X-Pomerium-Claim-Department"] == ""
    headers = dict((h[0], h[1]) for h in j["upstream"]["headers"])
    assert headers["X-Pomerium-Jwt-Assertion"] == "<not signed by vallum route: see identity_headers>"
    assert headers["X-Pomerium-Claim-Email"] == "alice@example.com"
    assert "Cookie" not in headers
    assert "eyJ" not in json.dumps(j)  # no signed token anywhere


def test_route_as_denied_user_and_claims_from_the_users_file(files):
    config, users = files
    rc, j, err = route_json("--config", config, "--as", "bob@example.com", "--users", users,
                            "https://app.example.test/admin/x")
    assert rc == 0, err
    assert (j["result"], j["status"], j["decision"], j["reasons"]) == (
        "deny", 403, "deny", ["email-unauthorized", "user-unauthorized"])
    rc, j, err = route_json("--config", config, "--as", "bob@example.com", "--users", users,
                            "https://app.example.test/hr/payroll")
    assert (j["decision"], j["reasons"]) == ("allow", ["claim-ok"]), j


def test_route_as_trace_names_the_policy_lines(files):
    config, users = files
    rc, j, err = route_json("--config", config, "--as", "bob@example.com", "--users", users,
                            "https://app.example.test/eng")
    assert rc == 0, err
    lines = (SIGN_IN + ROUTES).splitlines()
    groups_line = next(i for i, text in enumerate(lines, 1) if "groups: {has: engineering}" in text)
    crit = [t for t in j["policy"]["trace"] if t["kind"] == "criterion"]
    assert crit == [{"kind": "criterion", "depth": 2, "label": "groups", "key": "routes[2].policy.allow.or[0]",
                     "line": groups_line, "result": False, "reasons": ["groups-unauthorized"]}]
    assert (j["decision"], j["reasons"], j["result"], j["status"]) == ("deny", ["groups-unauthorized"], "deny", 403)


def test_route_as_without_users_file_is_just_the_email(files):
    config, _ = files
    rc, j, err = route_json("--config", config, "--as", "carol@example.com", "-X", "POST",
                            "https://app.example.test/read/doc")
    assert rc == 0, err
    assert j["as"] == {"email": "carol@example.com", "user": "carol@example.com", "groups": [],
                       "claims": {"email": "carol@example.com"}}
    assert (j["decision"], j["reasons"]) == ("deny", ["http-method-unauthorized"])
    rc, j, err = route_json("--config", config, "--as", "carol@example.com",
                            "https://app.example.test/read/doc")
    assert (j["decision"], j["reasons"], j["result"]) == ("allow", ["domain-ok", "http-method-ok"],
                                                          "forward")
    assert j["identity_headers"] is None


def test_route_anonymous_needs_sign_in(files):
    config, _ = files
    rc, j, err = route_json("--config", config, "--anonymous", "https://app.example.test/admin/x")
    assert rc == 0, err
    assert j["as"] is None
    assert (j["decision"], j["reasons"], j["sign_in_required"]) == ("deny", ["user-unauthenticated"], True)
    assert j["summary"] == "deny: sign-in required (user-unauthenticated)"


def test_route_without_as_is_unchanged(files):
    config, _ = files
    rc, j, err = route_json("--config", config, "https://public.example.test/")
    assert rc == 0, err
    for key in ("as", "decision", "reasons", "policy", "identity_headers", "summary"):
        assert key not in j


def test_route_as_no_route(files):
    config, _ = files
    rc, j, err = route_json("--config", config, "--as", "alice@example.com", "https://nowhere.example.test/")
    assert rc == 1
    assert (j["result"], j["decision"], j["reasons"]) == ("no_route", "deny", ["route-not-found"])


@pytest.mark.parametrize("args,message", [
    (["--as", "nobody@example.com", "--users", "USERS"], 'no user with email "nobody@example.com"'),
    (["--users", "USERS"], "--users needs --as EMAIL"),
    (["--as", "a@example.com", "--anonymous"], "--anonymous cannot be combined"),
    (["--as", "a@example.com", "--users", "MISSING"], "cannot read it"),
], ids=["unknown-user", "users-without-as", "as-and-anonymous", "missing-users-file"])
def test_route_as_usage_errors_exit_2(files, tmp_path, args, message):
    config, users = files
    args = [users if a == "USERS" else str(tmp_path / "missing.json") if a == "MISSING" else a for a in args]
    rc, out, err = run("route", "--config", config, *args, "https://app.example.test/admin/x")
    assert rc == 2, (out, err)
    assert out == ""
    assert message in err, err


# ---- the README's example config ----

QUICKSTART = os.path.join(REPO, "examples", "quickstart.yaml")


@pytest.mark.skipif(not os.path.isfile(QUICKSTART), reason="no examples/quickstart.yaml")
def test_quickstart_access_and_route_as(tmp_path, vallum_bin):
    users = tmp_path / "users.json"
    users.write_text('[{"email": "alice@example.com", "groups": ["admins"]}, {"email": "bob@example.com"}]')
    rc, out, err = run("access", "--config", QUICKSTART, "--users", str(users), "--format", "json")
    assert rc == 0, err
    j = json.loads(out)
    assert j["users"] == ["alice@example.com", "bob@example.com"]
    got = {r["name"]: (r["path"], r["decisions"]) for r in j["routes"]}
    assert got == {
        "private": ("/private/", {"alice@example.com": "deny", "bob@example.com": "deny"}),
        "api": ("/api/", {"alice@example.com": "allow", "bob@example.com": "allow"}),
        "demo": ("", {"alice@example.com": "allow", "bob@example.com": "allow"}),
    }
    rc, out, err = run("access", "--config", QUICKSTART, "--users", str(users))
    assert rc == 0 and out.splitlines()[0].split() == ["name", "from", "path", "alice@example.com",
                                                        "bob@example.com"], (out, err)
    rc, j, err = route_json("--config", QUICKSTART, "--as", "alice@example.com",
                            "https://localhost/private/x")
    assert rc == 0, err
    assert (j["route"]["name"], j["decision"], j["reasons"]) == ("private", "deny", [])
    assert j["policy"]["trace"][-1] == {"kind": "decision", "depth": 0, "label": "decision", "key": "",
                                        "line": None, "result": False, "reasons": []}
    rc, j, err = route_json("--config", QUICKSTART, "--as", "alice@example.com",
                            "https://localhost/api/hello")
    assert (j["route"]["name"], j["result"], j["decision"], j["reasons"]) == ("api", "forward", "allow",
                                                                             ["accept"])
