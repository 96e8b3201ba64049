// Pomerium's route uniqueness (Policy.RouteID): config/route_uniqueness.h, run by the loader.
#include "config/route_uniqueness.h"

#include <cctype>

#include <gtest/gtest.h>

#include "config/loader.h"
#include "config_test_util.h"

namespace vallum::config {
namespace {

using test::hasDiag;
using test::load;
using test::loaded;
using E = Severity;

size_t countErrors(const LoadResult& r, std::string_view needle) {
  size_t n = 0;
  for (const Diagnostic& d : r.diagnostics.items()) {
    n += d.severity == E::Error && d.message.find(needle) != std::string::npos ? 1 : 0;
  }
  return n;
}

TEST(RouteUniquenessTest, SameFromMatcherAndToIsAnErrorNamingBothRoutes) {
  LoadResult r = load(
      "routes:\n"
      "  - from: https://a.example.com\n"
      "    to: http://a:80\n"
      "    prefix: /x\n"
      "  - from: https://b.example.com\n"
      "    to: http://b:80\n"
      "  - from: https://a.example.com\n"
      "    prefix: /x\n"
      "    to: http://a:80\n");
  EXPECT_TRUE(hasDiag(r, {E::Error, 7, 5, "routes[2]",
                          "route is not unique: same from, path matcher and to as routes[0] "
                          "(config.yaml:2:5)"}));
  EXPECT_EQ(countErrors(r, "not unique"), 1u) << r.diagnostics.formatAll();
  EXPECT_EQ(r.diagnostics.items().front().format(),
            "config.yaml:7:5: error: routes[2]: route is not unique: same from, path matcher and "
            "to as routes[0] (config.yaml:2:5)");
}

TEST(RouteUniquenessTest, EachRepeatNamesTheFirstRoute) {
  LoadResult r = load(
      "policy:\n"
      "  - from: https://a.example.com\n"
      "    to: http://a:80\n"
      "routes:\n"
      "  - from: https://a.example.com\n"
      "    to: http://a:80\n"
      "  - from: https://a.example.com\n"
      "    to: http://a:80\n");
  EXPECT_TRUE(hasDiag(r, {E::Error, 5, 5, "routes[0]", "as policy[0] (config.yaml:2:5)"}));
  EXPECT_TRUE(hasDiag(r, {E::Error, 7, 5, "routes[1]", "as policy[0] (config.yaml:2:5)"}));
  EXPECT_EQ(countErrors(r, "not unique"), 2u) << r.diagnostics.formatAll();
}

struct DistinctCase {
  std::string label;
  std::string second;  // the second route's keys, after "  - from: https://a.example.com\n"
};

class RouteUniquenessDistinctTest : public ::testing::TestWithParam<DistinctCase> {};

TEST_P(RouteUniquenessDistinctTest, DifferentRoutesAreUnique) {
  LoadResult r = load(
      "routes:\n"
      "  - from: https://a.example.com\n"
      "    to: http://a:80\n"
      "    prefix: /x\n"
      "  - from: https://a.example.com\n" +
      GetParam().second);
  EXPECT_EQ(countErrors(r, "not unique"), 0u) << r.diagnostics.formatAll();
}

INSTANTIATE_TEST_SUITE_P(
    All, RouteUniquenessDistinctTest,
    ::testing::Values(
        DistinctCase{"other to", "    to: http://b:80\n    prefix: /x\n"},
        DistinctCase{"other prefix", "    to: http://a:80\n    prefix: /y\n"},
        // The same text as another kind of matcher is another matcher.
        DistinctCase{"path instead of prefix", "    to: http://a:80\n    path: /x\n"},
        DistinctCase{"regex instead of prefix", "    to: http://a:80\n    regex: /x\n"},
        DistinctCase{"no matcher", "    to: http://a:80\n"},
        DistinctCase{"one more to", "    to: [http://a:80, http://b:80]\n    prefix: /x\n"},
        DistinctCase{"weighted to", "    to: ['http://a:80,2']\n    prefix: /x\n"},
        DistinctCase{"redirect instead of to",
                     "    redirect: {host_redirect: a}\n    prefix: /x\n"},
        DistinctCase{"explicit id", "    to: http://a:80\n    prefix: /x\n    id: mine\n"}),
    [](const ::testing::TestParamInfo<DistinctCase>& param_info) {
      std::string name;
      for (char c : param_info.param.label) {
        name += (std::isalnum(static_cast<unsigned char>(c)) != 0) ? c : '_';
      }
      return name;
    });

TEST(RouteUniquenessTest, FromIsComparedAsWritten) {
  // Pomerium hashes `from` as written; the shadowed-route lint covers equivalent spellings.
  LoadResult r = load(
      "routes:\n"
      "  - from: https://a.example.com\n"
      "    to: http://a:80\n"
      "  - from: https://A.example.com\n"
      "    to: http://a:80\n");
  EXPECT_EQ(countErrors(r, "not unique"), 0u) << r.diagnostics.formatAll();
}

TEST(RouteUniquenessTest, RedirectRoutesCompareTheRedirect) {
  LoadResult r = load(
      "routes:\n"
      "  - from: https://a.example.com\n"
      "    redirect: {host_redirect: b.example.com, response_code: 302}\n"
      "  - from: https://a.example.com\n"
      "    redirect: {host_redirect: c.example.com, response_code: 302}\n"
      "  - from: https://a.example.com\n"
      "    redirect: {response_code: 302, host_redirect: b.example.com}\n");
  EXPECT_TRUE(hasDiag(r, {E::Error, 6, 5, "routes[2]",
                          "route is not unique: same from, path matcher and redirect as routes[0] "
                          "(config.yaml:2:5)"}));
  EXPECT_EQ(countErrors(r, "not unique"), 1u) << r.diagnostics.formatAll();
}

TEST(RouteUniquenessTest, ResponseRoutesCompareTheResponse) {
  LoadResult r = load(
      "routes:\n"
      "  - from: https://a.example.com\n"
      "    response: {status: 200, body: ok}\n"
      "  - from: https://a.example.com\n"
      "    response: {status: 200, body: other}\n"
      "  - from: https://a.example.com\n"
      "    response: {status: 503, body: ok}\n"
      "  - from: https://a.example.com\n"
      "    response: {body: ok, status: 200}\n");
  EXPECT_TRUE(hasDiag(r, {E::Error, 8, 5, "routes[3]",
                          "route is not unique: same from, path matcher and response as routes[0] "
                          "(config.yaml:2:5)"}));
  EXPECT_EQ(countErrors(r, "not unique"), 1u) << r.diagnostics.formatAll();
}

TEST(RouteUniquenessTest, SameExplicitIdIsAnError) {
  LoadResult r = load(
      "routes:\n"
      "  - from: https://a.example.com\n"
      "    to: http://a:80\n"
      "    id: web\n"
      "  - from: https://b.example.com\n"
      "    to: http://b:80\n"
      "    id: web\n");
  EXPECT_TRUE(hasDiag(r, {E::Error, 5, 5, "routes[1]",
                          "route is not unique: same id \"web\" as routes[0] (config.yaml:2:5)"}));
  EXPECT_EQ(countErrors(r, "not unique"), 1u) << r.diagnostics.formatAll();
}

TEST(RouteUniquenessTest, RoutesFromThePolicyVariableNameTheirSource) {
  // $POLICY = "- from: https://a.example.com\n  to: http://a:80\n"
  LoadResult r = load(
      "routes:\n"
      "  - from: https://a.example.com\n"
      "    to: http://a:80\n",
      {{"POLICY", "LSBmcm9tOiBodHRwczovL2EuZXhhbXBsZS5jb20KICB0bzogaHR0cDovL2E6ODAK"}});
  // POLICY replaces the file's `policy:` and comes first: the file's route repeats it.
  EXPECT_TRUE(hasDiag(r, {E::Error, 2, 5, "routes[0]",
                          "same from, path matcher and to as $POLICY[0] ($POLICY:1:3)"}));
}

TEST(RouteUniquenessTest, RoutesWithoutFromOrActionAreLeftToTheirOwnErrors) {
  LoadResult r = load(
      "routes:\n"
      "  - from: https://a.example.com\n"
      "  - from: https://a.example.com\n"
      "  - to: http://a:80\n"
      "  - to: http://a:80\n");
  EXPECT_EQ(countErrors(r, "not unique"), 0u) << r.diagnostics.formatAll();
}

TEST(RouteUniquenessTest, DirectCallReportsAtTheLaterRoute) {
  Route a;
  a.key = "routes[0]";
  a.pos = {"c.yaml", 2, 5};
  a.from.raw = "https://a";
  a.to.push_back(UpstreamUrl{});
  a.to.back().raw = "http://a";
  Route b = a;
  b.key = "routes[1]";
  b.pos = {"c.yaml", 4, 5};
  Diagnostics diagnostics;
  checkRouteUniqueness({a, b}, diagnostics);
  ASSERT_EQ(diagnostics.errorCount(), 1u);
  EXPECT_EQ(diagnostics.items().front().format(),
            "c.yaml:4:5: error: routes[1]: route is not unique: same from, path matcher and to as "
            "routes[0] (c.yaml:2:5)");
  EXPECT_TRUE(loaded(load(test::routeWith(""))));
}

}  // namespace
}  // namespace vallum::config
