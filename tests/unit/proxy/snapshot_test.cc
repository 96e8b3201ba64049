#include "proxy/snapshot.h"

#include <gtest/gtest.h>

#include "config/loader.h"
#include "policy/ast.h"

namespace vallum::proxy {
namespace {

SnapshotConstSharedPtr build(const std::string& yaml, config::Diagnostics* out = nullptr) {
  config::LoadResult loaded = config::loadString(yaml, "test.yaml", config::emptyEnvironment());
  EXPECT_TRUE(loaded.options.has_value()) << loaded.diagnostics.formatAll();
  if (!loaded.options) {
    return nullptr;
  }
  SnapshotBuildOptions build_options;
  build_options.resolve_dns = false;
  auto snapshot = buildSnapshot(std::move(*loaded.options), build_options, loaded.diagnostics);
  if (out != nullptr) {
    *out = loaded.diagnostics;
  }
  return snapshot;
}

TEST(BuildSnapshotTest, ToPathBecomesThePrefixRewrite) {
  auto s = build(R"(
insecure_server: true
address: 127.0.0.1:0
routes:
  - from: https://a.test
    prefix: /api/
    to: http://127.0.0.1:9001/v1/
    allow_public_unauthenticated_access: true
  - from: https://a.test
    path: /exact
    to: http://127.0.0.1:9001/other
  - from: https://a.test
    to: http://127.0.0.1:9001
    timeout: 5s
    name: named
)");
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->routes.size(), 3u);
  EXPECT_EQ(s->routes[0].to_path, "/v1/");
  EXPECT_EQ(s->routes[0].match_kind, RouteRuntime::MatchKind::Prefix);
  EXPECT_EQ(s->routes[0].match_prefix, "/api/");
  ASSERT_TRUE(s->routes[0].policy);
  EXPECT_EQ(s->routes[0].policy->rules.size(), 1u);  // the public route's legacy `accept` rule
  EXPECT_EQ(s->routes[0].timeout, std::chrono::seconds(30));  // default_upstream_timeout
  EXPECT_EQ(s->routes[1].match_kind, RouteRuntime::MatchKind::WholePath);
  EXPECT_TRUE(s->routes[1].policy->rules.empty());  // no policy: nobody passes
  EXPECT_EQ(s->routes[2].to_path, "");
  EXPECT_EQ(s->routes[2].match_prefix, "/");
  EXPECT_EQ(s->routes[2].timeout, std::chrono::seconds(5));
  EXPECT_EQ(s->routes[2].log_name, "named");
  EXPECT_EQ(s->routes[0].log_name.rfind("route-", 0), 0u);
  EXPECT_EQ(s->tls, nullptr);  // insecure_server
  EXPECT_EQ(s->table.match("a.test", 80, "/api/x"), 0u);
}

// Pomerium: the audience of the Google ID token is https:// + the host of the last `to`.
TEST(BuildSnapshotTest, ServerlessAudienceIsTheLastUpstreamHost) {
  auto s = build(R"(
insecure_server: true
address: 127.0.0.1:0
routes:
  - from: https://a.test
    to: [http://127.0.0.1:9001, "https://service-abc.a.run.app:8443/path"]
    enable_google_cloud_serverless_authentication: true
    allow_public_unauthenticated_access: true
  - from: https://b.test
    to: http://127.0.0.1:9001
    allow_public_unauthenticated_access: true
)");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->routes[0].gcp_audience, "https://service-abc.a.run.app");
  EXPECT_EQ(s->routes[1].gcp_audience, "");
}

TEST(BuildSnapshotTest, TlsContextIsBuiltUnlessInsecure) {
  auto s = build("address: 127.0.0.1:0\n");
  ASSERT_NE(s, nullptr);
  ASSERT_NE(s->tls, nullptr);
  EXPECT_TRUE(s->tls->selfSigned());
}

TEST(BuildSnapshotTest, BadCertificateFailsWithPosition) {
  config::Diagnostics diagnostics;
  auto s = build("certificates:\n  - cert: /nonexistent/c.pem\n    key: /nonexistent/k.pem\n",
                 &diagnostics);
  EXPECT_EQ(s, nullptr);
  ASSERT_GE(diagnostics.errorCount(), 1u);
  EXPECT_EQ(diagnostics.items().front().pos.line, 2);
  EXPECT_EQ(diagnostics.items().front().key, "certificates[0].cert");
}

TEST(RouteIdTest, StableAndSensitiveToIdentityFields) {
  config::Route a;
  a.from.raw = "https://a.test";
  a.prefix = "/x";
  config::Route b = a;
  EXPECT_EQ(routeId(a), routeId(b));
  EXPECT_EQ(routeId(a).size(), 16u);
  b.prefix = "/y";
  EXPECT_NE(routeId(a), routeId(b));
  b.id = "explicit";
  EXPECT_EQ(routeId(b), "explicit");
}

}  // namespace
}  // namespace vallum::proxy
