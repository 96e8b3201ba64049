#include "config/rewrite_lint.h"

#include <gtest/gtest.h>

#include "config_test_util.h"

// The trailing-slash lints of path rewriting, through the loader (routeWith: from a.example.com
// at line 2, `to` http://app:8080 at line 3).

namespace vallum::config {
namespace {

using E = Severity;
using test::clean;
using test::hasDiag;
using test::load;
using test::routeWith;

TEST(RewriteLintTest, ToPathWithoutSlashUnderASlashedPrefix) {
  LoadResult r = load(
      "routes:\n  - from: https://a.example.com\n    to: http://app:8080/v1\n    prefix: /api/\n");
  EXPECT_TRUE(hasDiag(r, {E::Warning, 3, 9, "routes[0].to",
                          "/api/foo reaches the upstream as /v1foo; write \"/v1/\""}));
}

TEST(RewriteLintTest, PrefixRewriteWithoutPrefix) {
  EXPECT_TRUE(hasDiag(load(routeWith("    prefix_rewrite: /app\n")),
                      {E::Warning, 4, 21, "routes[0].prefix_rewrite",
                       "replaces only the leading \"/\": /foo reaches the upstream as /appfoo"}));
  EXPECT_TRUE(hasDiag(load(routeWith("    prefix_rewrite: /app/\n")),
                      {E::Warning, 4, 21, "routes[0].prefix_rewrite",
                       "applies to every path: /foo reaches the upstream as /app/foo"}));
  EXPECT_TRUE(hasDiag(load(routeWith("    prefix_rewrite: /\n")),
                      {E::Warning, 4, 21, "routes[0].prefix_rewrite", "does nothing"}));
}

TEST(RewriteLintTest, SlashesOfPrefixAndRewrite) {
  EXPECT_TRUE(hasDiag(load(routeWith("    prefix: /api/\n    prefix_rewrite: /v1\n")),
                      {E::Warning, 5, 21, "routes[0].prefix_rewrite",
                       "/api/foo reaches the upstream as /v1foo; write \"/v1/\""}));
  EXPECT_TRUE(hasDiag(load(routeWith("    prefix: /api\n    prefix_rewrite: /\n")),
                      {E::Warning, 5, 21, "routes[0].prefix_rewrite", "reaches the upstream as //x"}));
  EXPECT_TRUE(clean(load(routeWith("    prefix: /api/\n    prefix_rewrite: /v1/\n"))));
  EXPECT_TRUE(clean(load(routeWith("    path: /exact\n    prefix_rewrite: /other\n"))));
}

}  // namespace
}  // namespace vallum::config
