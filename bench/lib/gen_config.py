#!/usr/bin/env python3
"""Generates large Vallum configs for the config-loading benchmark (bench/config-load.sh).

    gen_config.py routes N [--port P] [--health-checks K]  > big.yaml
    gen_config.py map-keys N                                > wide.yaml

`routes`: N realistic routes. Every route has its own host (`svcI.tenantJ.example.com`, 100
hosts per tenant domain) and prefix; about one in five also sets request headers, one in seven a
prefix rewrite, one in eleven a host rewrite, one in thirteen a weighted list of upstreams with a
load-balancing policy (round robin, least request with `least_request_lb_config`, ring hash with
a `hash_policy`), one in seventeen removes headers, one in nineteen is an exact `path` route and
one in twenty-three a `regex` route. A few wildcard routes come last. Upstreams are loopback
addresses (no DNS lookups). `--health-checks K` gives the first K routes an HTTP health check
against `--port`.

`map-keys`: one route whose `set_request_headers` mapping has N keys (the YAML loader's
per-mapping cost).
"""

from __future__ import annotations

import argparse
import sys


def route_lines(i: int, port: int, health: bool) -> list[str]:
    tenant = i // 100
    host = f"svc{i}.tenant{tenant}.example.com"
    up = f"http://127.0.{(i // 250) % 250}.{1 + i % 250}:{8000 + i % 1000}"
    if health:
        up = f"http://127.0.0.1:{port}"
    out = [f"  - from: https://{host}"]
    if i % 13 == 5 and not health:
        out.append("    to:")
        for k in range(3):
            out.append(f"      - {up[:-4]}{8100 + k},{k + 1}")
        policy = ("ROUND_ROBIN", "LEAST_REQUEST", "RING_HASH")[(i // 13) % 3]
        out.append(f"    lb_policy: {policy}")
        if policy == "LEAST_REQUEST":
            out.append("    least_request_lb_config:")
            out.append("      choice_count: 3")
        elif policy == "RING_HASH":
            out.append("    ring_hash_lb_config:")
            out.append("      minimum_ring_size: 1024")
            out.append("    hash_policy:")
            out.append("      - header:")
            out.append("          header_name: x-user-id")
    else:
        out.append(f"    to: {up}/")
    if i % 19 == 7:
        out.append(f"    path: /exact/{i}")
    elif i % 23 == 11:
        out.append(f"    regex: '^/r{i}/[0-9]+$'")
    else:
        out.append(f"    prefix: /app{i % 50}/")
    if i % 7 == 3:
        out.append(f"    prefix_rewrite: /v{i % 3}/")
    if i % 5 == 1:
        out.append("    set_request_headers:")
        out.append(f"      X-Tenant: tenant{tenant}")
        out.append("      X-Forwarded-User: ${pomerium.request.headers.x-user}")
    if i % 17 == 2:
        out.append("    remove_request_headers: [x-debug, x-internal]")
    if i % 11 == 4:
        out.append(f"    host_rewrite: internal{i}.svc.cluster.local")
    out.append(f"    timeout: {10 + i % 50}s")
    out.append(f"    name: route-{i}")
    if health:
        out.append("    health_checks:")
        out.append("      - timeout: 1s")
        out.append("        interval: 5s")
        out.append("        unhealthy_threshold: 2")
        out.append("        healthy_threshold: 1")
        out.append("        http_health_check:")
        out.append("          path: /healthz")
    out.append("    allow_public_unauthenticated_access: true")
    return out


def routes_config(n: int, port: int, health_checks: int) -> str:
    lines = ["insecure_server: true", "address: 127.0.0.1:0", "routes:"]
    wildcards = max(1, n // 1000)
    for i in range(n - wildcards):
        lines += route_lines(i, port, i < health_checks)
    for w in range(wildcards):
        lines += [f"  - from: https://*.wild{w}.example.com",
                  f"    to: http://127.0.0.1:{9000 + w}/",
                  "    allow_public_unauthenticated_access: true"]
    return "\n".join(lines) + "\n"


def map_keys_config(n: int) -> str:
    lines = ["insecure_server: true", "address: 127.0.0.1:0", "routes:",
             "  - from: https://wide.example.com", "    to: http://127.0.0.1:9000/",
             "    allow_public_unauthenticated_access: true", "    set_request_headers:"]
    lines += [f"      X-Header-{k}: value-{k}" for k in range(n)]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="kind", required=True)
    r = sub.add_parser("routes")
    r.add_argument("n", type=int)
    r.add_argument("--port", type=int, default=9)
    r.add_argument("--health-checks", type=int, default=0)
    m = sub.add_parser("map-keys")
    m.add_argument("n", type=int)
    a = p.parse_args()
    if a.kind == "routes":
        sys.stdout.write(routes_config(a.n, a.port, a.health_checks))
    else:
        sys.stdout.write(map_keys_config(a.n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
