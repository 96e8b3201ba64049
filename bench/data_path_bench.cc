// Micro-benchmarks of the request path's pure functions: route matching, HTTP/1.1 parsing,
// path normalization, upstream head building. Run: build/release/bench/data_path_bench
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "config/loader.h"
#include "http/http1/parser.h"
#include "http/path.h"
#include "http/http1/writer.h"
#include "proxy/stages/rewrite_request.h"
#include "proxy/stages/stage_chain.h"
#include "proxy/snapshot.h"
#include "router/route_table.h"

namespace {

using namespace vallum;

std::string routesYaml(int hosts, int routes_per_host) {
  std::string y = "insecure_server: true\naddress: 127.0.0.1:0\nroutes:\n";
  for (int h = 0; h < hosts; ++h) {
    for (int r = 0; r < routes_per_host; ++r) {
      y += "  - from: https://app" + std::to_string(h) + ".example.com\n";
      y += "    prefix: /api/v" + std::to_string(r) + "/\n";
      y += "    to: http://127.0.0.1:" + std::to_string(10000 + r) + "\n";
      y += "    allow_public_unauthenticated_access: true\n";
    }
  }
  y += "  - from: https://*.wild.example.com\n    regex: '/items/[0-9]+'\n    to: http://127.0.0.1:9\n";
  return y;
}

proxy::SnapshotConstSharedPtr makeSnapshot(int hosts, int routes_per_host) {
  auto loaded = config::loadString(routesYaml(hosts, routes_per_host), "bench.yaml",
                                   config::emptyEnvironment());
  proxy::SnapshotBuildOptions options;
  options.resolve_dns = false;
  return proxy::buildSnapshot(std::move(*loaded.options), options, loaded.diagnostics);
}

void BM_RouteMatchPrefix(benchmark::State& state) {
  auto snapshot = makeSnapshot(int(state.range(0)), 10);
  for (auto _ : state) {
    benchmark::DoNotOptimize(snapshot->table.match("app3.example.com", 443, "/api/v9/users/42"));
  }
}
BENCHMARK(BM_RouteMatchPrefix)->Arg(10)->Arg(1000);

void BM_RouteMatchWildcardRegex(benchmark::State& state) {
  auto snapshot = makeSnapshot(100, 10);
  for (auto _ : state) {
    benchmark::DoNotOptimize(snapshot->table.match("a.b.wild.example.com", 443, "/items/12345"));
  }
}
BENCHMARK(BM_RouteMatchWildcardRegex);

const std::string kRequest =
    "GET /api/v1/users/42?page=2 HTTP/1.1\r\nHost: app3.example.com\r\nUser-Agent: bench/1.0\r\n"
    "Accept: application/json\r\nAccept-Encoding: gzip, deflate\r\nCookie: session=abcdef0123456789\r\n"
    "X-Forwarded-For: 10.0.0.1\r\n\r\n";

void BM_ParseRequestHead(benchmark::State& state) {
  http::http1::RequestParser parser;
  std::vector<std::string_view> body;
  for (auto _ : state) {
    parser.reset();
    body.clear();
    benchmark::DoNotOptimize(parser.execute(kRequest, body));
  }
  state.SetBytesProcessed(int64_t(state.iterations() * kRequest.size()));
}
BENCHMARK(BM_ParseRequestHead);

void BM_NormalizePath(benchmark::State& state) {
  http::PathOptions options;
  std::string scratch;
  std::string_view out;
  const std::string path = state.range(0) ? "/a/./b/../c/d//e" : "/api/v1/users/42";
  for (auto _ : state) {
    benchmark::DoNotOptimize(http::normalizePath(path, options, scratch, out));
  }
}
BENCHMARK(BM_NormalizePath)->Arg(0)->Arg(1);

void BM_DecideAndBuildUpstreamHead(benchmark::State& state) {
  auto snapshot = makeSnapshot(10, 10);
  http::http1::RequestParser parser;
  std::vector<std::string_view> body;
  parser.execute(kRequest, body);
  proxy::StreamContext ctx;
  std::string out;
  for (auto _ : state) {
    ctx.reset(snapshot.get(), true, &parser.head());
    ctx.client_ip = "10.0.0.2";
    ctx.request_id = "0123456789abcdef0123456789abcdef";
    if (proxy::runStages(ctx) == proxy::StageStatus::Continue) {
      ctx.upstream.authority = ctx.route->cluster.endpoints[0].authority;
      out.clear();
      http::http1::appendRequestHead(ctx.upstream, out);
    }
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_DecideAndBuildUpstreamHead);

proxy::SnapshotConstSharedPtr rewriteSnapshot() {
  auto loaded = config::loadString(R"(
insecure_server: true
routes:
  - from: https://plain.example.com
    to: http://127.0.0.1:1
  - from: https://prefix.example.com
    prefix: /api/
    prefix_rewrite: /v2/
    to: http://127.0.0.1:1
  - from: https://regex.example.com
    regex_rewrite_pattern: '^/service/([^/]+)(/.*)$'
    regex_rewrite_substitution: '\2/instance/\1'
    to: http://127.0.0.1:1
)", "bench.yaml", config::emptyEnvironment());
  proxy::SnapshotBuildOptions options;
  options.resolve_dns = false;
  return proxy::buildSnapshot(std::move(*loaded.options), options, loaded.diagnostics);
}

/// The upstream path of a request: no rewrite (0), prefix_rewrite (1), regex rewrite (2).
void BM_UpstreamPath(benchmark::State& state) {
  auto snapshot = rewriteSnapshot();
  const proxy::RouteRuntime& route = snapshot->routes[size_t(state.range(0))];
  http::RequestTarget target;
  http::parseRequestTarget(state.range(0) == 1 ? "/api/users/42?page=2"
                                               : "/service/foo/v1/api?page=2",
                           target);
  std::string out;
  for (auto _ : state) {
    out.clear();
    proxy::appendUpstreamPath(route, target.path, target, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_UpstreamPath)->Arg(0)->Arg(1)->Arg(2);

}  // namespace

BENCHMARK_MAIN();
