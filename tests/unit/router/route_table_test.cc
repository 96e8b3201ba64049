#include "router/route_table.h"

#include <gtest/gtest.h>

namespace vallum::router {
namespace {

config::Route makeRoute(std::string host, std::optional<uint16_t> port = std::nullopt) {
  config::Route r;
  r.from.raw = "https://" + host;
  r.from.scheme = "https";
  r.from.host = host;
  r.from.port = port;
  r.from.wildcard = host.find('*') != std::string::npos;
  return r;
}

config::Route withPrefix(config::Route r, std::string prefix) {
  r.prefix = std::move(prefix);
  return r;
}
config::Route withPath(config::Route r, std::string path) {
  r.path = std::move(path);
  return r;
}
config::Route withRegex(config::Route r, std::string regex) {
  r.regex = std::move(regex);
  return r;
}

RouteTable build(const std::vector<config::Route>& routes) {
  auto table = RouteTable::build(routes);
  EXPECT_TRUE(table.has_value());
  return std::move(*table);
}

TEST(WildcardHostMatchesTest, StarSpansAnyNumberOfLabels) {
  EXPECT_TRUE(wildcardHostMatches("*.example.com", "a.example.com"));
  EXPECT_TRUE(wildcardHostMatches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(wildcardHostMatches("*.example.com", "example.com"));
  EXPECT_FALSE(wildcardHostMatches("*.example.com", "a.example.org"));
  EXPECT_TRUE(wildcardHostMatches("app-*.example.com", "app-1.example.com"));
  EXPECT_TRUE(wildcardHostMatches("*", "anything.test"));
  EXPECT_TRUE(wildcardHostMatches("a.*.example.com", "a.b.c.example.com"));
  EXPECT_FALSE(wildcardHostMatches("a.*.example.com", "b.c.example.com"));
}

TEST(PathMatcherTest, PrefixIsAPlainStringPrefix) {
  auto m = PathMatcher::fromRoute(withPrefix(makeRoute("h"), "/admin"));
  ASSERT_TRUE(m.has_value());
  EXPECT_TRUE(m->matches("/admin"));
  EXPECT_TRUE(m->matches("/admin/x"));
  EXPECT_TRUE(m->matches("/administrator"));  // not segment aware (Pomerium `prefix`)
  EXPECT_FALSE(m->matches("/Admin"));         // case-sensitive
  EXPECT_FALSE(m->matches("/adm"));
}

TEST(PathMatcherTest, NoSpecifierMatchesEverything) {
  auto m = PathMatcher::fromRoute(makeRoute("h"));
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->kind(), PathMatcher::Kind::Prefix);
  EXPECT_TRUE(m->matches("/"));
  EXPECT_TRUE(m->matches("/any/thing"));
}

TEST(PathMatcherTest, PathIsExact) {
  auto m = PathMatcher::fromRoute(withPath(makeRoute("h"), "/exact"));
  ASSERT_TRUE(m.has_value());
  EXPECT_TRUE(m->matches("/exact"));
  EXPECT_FALSE(m->matches("/exact/"));
  EXPECT_FALSE(m->matches("/exactly"));
}

TEST(PathMatcherTest, RegexIsAFullMatch) {
  auto m = PathMatcher::fromRoute(withRegex(makeRoute("h"), "/items/[0-9]+"));
  ASSERT_TRUE(m.has_value());
  EXPECT_TRUE(m->matches("/items/42"));
  EXPECT_FALSE(m->matches("/items/42/x"));  // anchored at the end
  EXPECT_FALSE(m->matches("/x/items/42"));  // anchored at the start
}

TEST(PathMatcherTest, PrecedenceIsRegexThenPathThenPrefix) {
  config::Route r = makeRoute("h");
  r.prefix = "/p";
  r.path = "/exact";
  r.regex = "/re.*";
  auto m = PathMatcher::fromRoute(r);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->kind(), PathMatcher::Kind::Regex);
  r.regex.clear();
  m = PathMatcher::fromRoute(r);
  EXPECT_EQ(m->kind(), PathMatcher::Kind::Exact);
}

TEST(PathMatcherTest, InvalidRegexIsAnError) {
  auto m = PathMatcher::fromRoute(withRegex(makeRoute("h"), "/(unclosed"));
  EXPECT_FALSE(m.has_value());
}

TEST(RouteTableTest, FirstMatchInConfigOrderWins) {
  RouteTable t = build({withPrefix(makeRoute("a.test"), "/"), withPrefix(makeRoute("a.test"), "/api")});
  EXPECT_EQ(t.match("a.test", 443, "/api/x"), 0u);  // the broad route hides the later one
  RouteTable t2 = build({withPrefix(makeRoute("a.test"), "/api"), withPrefix(makeRoute("a.test"), "/")});
  EXPECT_EQ(t2.match("a.test", 443, "/api/x"), 0u);
  EXPECT_EQ(t2.match("a.test", 443, "/other"), 1u);
}

TEST(RouteTableTest, UnknownHostHasNoRoute) {
  RouteTable t = build({makeRoute("a.test")});
  EXPECT_EQ(t.match("b.test", 443, "/"), RouteTable::kNoRoute);
}

TEST(RouteTableTest, HostWithoutPortMatchesAnyPort) {
  RouteTable t = build({makeRoute("a.test")});
  EXPECT_EQ(t.match("a.test", 443, "/"), 0u);
  EXPECT_EQ(t.match("a.test", 8443, "/"), 0u);
}

TEST(RouteTableTest, ExplicitPortMatchesOnlyThatPort) {
  RouteTable t = build({makeRoute("a.test", 8443)});
  EXPECT_EQ(t.match("a.test", 8443, "/"), 0u);
  EXPECT_EQ(t.match("a.test", 443, "/"), RouteTable::kNoRoute);
}

TEST(RouteTableTest, ExplicitPortRoutesBeatAnyPortRoutesForThatPort) {
  RouteTable t = build({makeRoute("a.test"), makeRoute("a.test", 8443)});
  EXPECT_EQ(t.match("a.test", 8443, "/"), 1u);
  EXPECT_EQ(t.match("a.test", 9000, "/"), 0u);
}

TEST(RouteTableTest, ConcreteHostBeatsWildcardWhateverTheOrder) {
  RouteTable t = build({makeRoute("*.example.com"), makeRoute("www.example.com")});
  EXPECT_EQ(t.match("www.example.com", 443, "/"), 1u);
  EXPECT_EQ(t.match("api.example.com", 443, "/"), 0u);
}

TEST(RouteTableTest, ConcreteHostNeverFallsBackToWildcard) {
  // Envoy virtual hosts: a host with routes of its own gets 404 when none matches the path.
  RouteTable t = build({withPrefix(makeRoute("www.example.com"), "/app"), makeRoute("*.example.com")});
  EXPECT_EQ(t.match("www.example.com", 443, "/app/x"), 0u);
  EXPECT_EQ(t.match("www.example.com", 443, "/other"), RouteTable::kNoRoute);
  EXPECT_EQ(t.match("other.example.com", 443, "/other"), 1u);
}

TEST(RouteTableTest, WildcardRoutesInConfigOrder) {
  RouteTable t = build({withPrefix(makeRoute("*.example.com"), "/a"), makeRoute("*.example.com"),
                        makeRoute("*.b.example.com")});
  EXPECT_EQ(t.match("x.b.example.com", 443, "/a/1"), 0u);
  EXPECT_EQ(t.match("x.b.example.com", 443, "/z"), 1u);
}

TEST(RouteTableTest, WildcardWithPort) {
  RouteTable t = build({makeRoute("*.example.com", 8443)});
  EXPECT_EQ(t.match("a.example.com", 8443, "/"), 0u);
  EXPECT_EQ(t.match("a.example.com", 443, "/"), RouteTable::kNoRoute);
}

TEST(RouteTableTest, HostOnlyWithOtherPortsFallsBackToWildcards) {
  // a.example.com:9000 has no virtual host of its own (only :8443 does), so the catch-all
  // wildcard routes serve it, as Envoy's domain matching does.
  RouteTable t = build({makeRoute("a.example.com", 8443), makeRoute("*.example.com")});
  EXPECT_EQ(t.match("a.example.com", 9000, "/"), 1u);
}

TEST(RouteTableTest, PathMatchingIsCaseSensitive) {
  RouteTable t = build({withPath(makeRoute("a.test"), "/Login")});
  EXPECT_EQ(t.match("a.test", 443, "/Login"), 0u);
  EXPECT_EQ(t.match("a.test", 443, "/login"), RouteTable::kNoRoute);
}

TEST(RouteTableTest, MixedSpecifiersOnOneHost) {
  RouteTable t = build({withPath(makeRoute("a.test"), "/exact"), withRegex(makeRoute("a.test"), "/r/[a-z]+"),
                        withPrefix(makeRoute("a.test"), "/p/"), makeRoute("a.test")});
  EXPECT_EQ(t.match("a.test", 443, "/exact"), 0u);
  EXPECT_EQ(t.match("a.test", 443, "/exact/"), 3u);
  EXPECT_EQ(t.match("a.test", 443, "/r/abc"), 1u);
  EXPECT_EQ(t.match("a.test", 443, "/r/ABC"), 3u);
  EXPECT_EQ(t.match("a.test", 443, "/p/x"), 2u);
  EXPECT_EQ(t.match("a.test", 443, "/"), 3u);
}

}  // namespace
}  // namespace vallum::router
