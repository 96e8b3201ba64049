"""Environment variables override top-level options as in Pomerium, `POLICY` (base64 YAML list of
routes) included."""

import base64

from lib.helpers import base_config, route
from lib.yamlgen import dump


def test_policy_env_routes_are_served(vallum, upstream, server_cert):
    u = upstream("envpolicy")
    policy = dump({"x": [route("https://env.example.test", u.url)]}).split("\n", 1)[1]
    # dump() of {"x": [...]} indents the list by two spaces under "x:"; dedent it
    policy = "\n".join(line[2:] for line in policy.splitlines()) + "\n"
    v = vallum(base_config(server_cert, routes=[]), env={"POLICY": base64.b64encode(policy.encode()).decode()})
    r = v.get("/from-env", "env.example.test")
    assert r.status == 200 and r.json()["target"] == "/from-env", r


def test_address_and_insecure_server_from_env(vallum, upstream, server_cert):
    u = upstream("envaddr")
    cfg = base_config(server_cert, routes=[route("https://a.example.test", u.url)])
    cfg["address"] = "192.0.2.1:0"  # not a local address: only the override makes this start
    v = vallum(cfg, env={"ADDRESS": "127.0.0.1:0", "INSECURE_SERVER": "true"})
    assert v.scheme == "http" and v.listen_host == "127.0.0.1", v.stderr_text()[-500:]
    r = v.get("/plain", "a.example.test")
    assert r.status == 200 and r.json()["target"] == "/plain", r
    # over the plain listener the upstream learns the client spoke http
    assert [val for k, val in r.json()["headers"] if k.lower() == "x-forwarded-proto"] == ["http"]
