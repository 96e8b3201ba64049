#include "router/path_cover_index.h"

#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace vallum::router {
namespace {

config::Route route(std::string prefix, std::string path = "", std::string regex = "") {
  config::Route r;
  r.from.host = "a.test";
  r.prefix = std::move(prefix);
  r.path = std::move(path);
  r.regex = std::move(regex);
  return r;
}

TEST(PathCoverIndexTest, FindsTheFirstCoveringRoute) {
  PathCoverIndex index;
  index.add(0, route("/api/v1"));
  index.add(1, route("", "", "/items/[0-9]+"));
  index.add(2, route("/api"));
  index.add(3, route("", "/exact"));
  index.add(4, route("/"));
  EXPECT_EQ(index.firstCovering(route("/api/v1/x")), 0u);
  EXPECT_EQ(index.firstCovering(route("/api/v2")), 2u);
  EXPECT_EQ(index.firstCovering(route("", "/items/42")), 1u);
  EXPECT_EQ(index.firstCovering(route("", "/exact")), 3u);
  EXPECT_EQ(index.firstCovering(route("", "", "/api/v1/[a-z]+")), 0u);
  EXPECT_EQ(index.firstCovering(route("", "", "/items/[0-9]+")), 1u);
  EXPECT_EQ(index.firstCovering(route("/other")), 4u);
  PathCoverIndex empty;
  EXPECT_EQ(empty.firstCovering(route("/x")), PathCoverIndex::kNone);
}

}  // namespace
}  // namespace vallum::router
