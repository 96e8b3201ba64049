#include "router/lint.h"

#include <random>

#include <gtest/gtest.h>

namespace vallum::router {
namespace {

config::Route route(std::string host, std::string prefix = "", std::string path = "",
                    std::string regex = "", std::optional<uint16_t> port = std::nullopt) {
  config::Route r;
  r.from.host = std::move(host);
  r.from.wildcard = r.from.host.find('*') != std::string::npos;
  r.from.port = port;
  r.prefix = std::move(prefix);
  r.path = std::move(path);
  r.regex = std::move(regex);
  return r;
}

TEST(RouteShadowsTest, BroadPrefixFirstShadowsNarrowerRoutes) {
  EXPECT_TRUE(routeShadows(route("a.test", "/"), route("a.test", "/api")));
  EXPECT_TRUE(routeShadows(route("a.test"), route("a.test", "", "/exact")));
  EXPECT_TRUE(routeShadows(route("a.test", "/api"), route("a.test", "/api/v1")));
  EXPECT_TRUE(routeShadows(route("a.test", "/api"), route("a.test", "/api")));
  EXPECT_TRUE(routeShadows(route("a.test", "/api/"), route("a.test", "", "", "/api/v[0-9]+/.*")));
}

TEST(RouteShadowsTest, NearMissesAreNotShadowed) {
  // "/ap" also sees "/apx", which "/api" does not match.
  EXPECT_FALSE(routeShadows(route("a.test", "/api"), route("a.test", "/ap")));
  // "/api" also sees "/api" itself, which "/api/" does not match.
  EXPECT_FALSE(routeShadows(route("a.test", "/api/"), route("a.test", "/api")));
  EXPECT_FALSE(routeShadows(route("a.test", "/api"), route("b.test", "/api")));
  EXPECT_FALSE(routeShadows(route("a.test", "", "/x"), route("a.test", "/x")));
  EXPECT_FALSE(routeShadows(route("a.test", "/api/"), route("a.test", "", "", "/(api|web)/.*")));
  // Different port constraints are different virtual hosts.
  EXPECT_FALSE(routeShadows(route("a.test", "/", "", "", 8443), route("a.test", "/x")));
}

TEST(RouteShadowsTest, RegexesAndExactPaths) {
  EXPECT_TRUE(
      routeShadows(route("a.test", "", "", "/items/[0-9]+"), route("a.test", "", "/items/42")));
  EXPECT_FALSE(
      routeShadows(route("a.test", "", "", "/items/[0-9]+"), route("a.test", "", "/items/x")));
  EXPECT_TRUE(routeShadows(route("a.test", "", "", "/a.*"), route("a.test", "", "", "/a.*")));
  EXPECT_FALSE(routeShadows(route("a.test", "", "", "/a.*"), route("a.test", "/a")));
}

TEST(RouteShadowsTest, WildcardHosts) {
  EXPECT_TRUE(routeShadows(route("*.example.com"), route("*.a.example.com", "/x")));
  EXPECT_FALSE(routeShadows(route("*.a.example.com"), route("*.example.com")));
  // A concrete host never falls back to a wildcard route, so neither shadows the other.
  EXPECT_FALSE(routeShadows(route("*.example.com"), route("www.example.com")));
  EXPECT_FALSE(routeShadows(route("www.example.com"), route("*.example.com")));
}

TEST(LintShadowedRoutesTest, WarnsAtTheShadowedRouteNamingTheWinner) {
  std::vector<config::Route> routes = {route("a.test", "/"), route("a.test", "/api"),
                                       route("b.test", "/api"), route("a.test", "/ap")};
  for (size_t i = 0; i < routes.size(); ++i) {
    routes[i].key = "routes[" + std::to_string(i) + "]";
    routes[i].pos = {"config.yaml", int(2 + 3 * i), 5};
  }
  config::Diagnostics diagnostics;
  lintShadowedRoutes(routes, diagnostics);
  ASSERT_EQ(diagnostics.warningCount(), 2u) << diagnostics.formatAll();
  EXPECT_EQ(diagnostics.items()[0].key, "routes[1]");
  EXPECT_EQ(diagnostics.items()[0].pos.line, 5);
  EXPECT_EQ(diagnostics.items()[0].message,
            "can never match: routes[0] (line 2) comes first and matches every request this "
            "route would see");
  EXPECT_EQ(diagnostics.items()[1].key, "routes[3]");
}

// The indexed lint must report exactly what comparing every earlier route with routeShadows()
// reports: the first shadowing route of each shadowed one.
TEST(LintShadowedRoutesTest, AgreesWithThePairwiseRuleOnRandomConfigs) {
  const std::vector<std::string> hosts = {"a.test",     "b.test",    "*.test", "*.x.test",
                                          "*.y.x.test", "w*.x.test", "*.x.*",  "*"};
  const std::vector<std::string> prefixes = {"", "/", "/a", "/a/", "/a/b", "/ab", "/b"};
  const std::vector<std::string> paths = {"/a", "/a/b", "/a/b/c", "/b", "/ab/1"};
  const std::vector<std::string> regexes = {"/a/.*", "/a/b/[0-9]+", "/(a|b)/x", "/ab/[0-9]",
                                            ".*",    "/a/b(",       "/b"};
  std::mt19937 random(12345);
  auto pick = [&random](const std::vector<std::string>& from) {
    return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(random)];
  };
  size_t total_warnings = 0;
  for (int round = 0; round < 200; ++round) {
    std::vector<config::Route> routes;
    for (int i = 0; i < 25; ++i) {
      int kind = std::uniform_int_distribution<int>(0, 5)(random);
      std::optional<uint16_t> port;
      if (std::uniform_int_distribution<int>(0, 5)(random) == 0) {
        port = 8443;
      }
      routes.push_back(route(pick(hosts), kind <= 3 ? pick(prefixes) : "",
                             kind == 4 ? pick(paths) : "", kind == 5 ? pick(regexes) : "", port));
      routes.back().key = "routes[" + std::to_string(i) + "]";
    }
    std::vector<std::string> expected;
    for (size_t j = 0; j < routes.size(); ++j) {
      for (size_t i = 0; i < j; ++i) {
        if (routeShadows(routes[i], routes[j])) {
          expected.push_back(routes[j].key + " by " + routes[i].key);
          break;
        }
      }
    }
    config::Diagnostics diagnostics;
    lintShadowedRoutes(routes, diagnostics);
    std::vector<std::string> got;
    for (const config::Diagnostic& d : diagnostics.items()) {
      std::string by = d.message.substr(std::string("can never match: ").size());
      got.push_back(d.key + " by " + by.substr(0, by.find(' ')));
    }
    ASSERT_EQ(got, expected) << "round " << round;
    total_warnings += got.size();
  }
  EXPECT_GT(total_warnings, 500u);  // the random configs do exercise the rule
}

}  // namespace
}  // namespace vallum::router
