#include "config/options.h"

#include <gtest/gtest.h>

namespace vallum::config {
namespace {

TEST(ListenAddressTest, ToString) {
  EXPECT_EQ((ListenAddress{"", 443}).toString(), ":443");
  EXPECT_EQ((ListenAddress{"localhost", 0}).toString(), "localhost:0");
  EXPECT_EQ((ListenAddress{"127.0.0.1", 8443}).toString(), "127.0.0.1:8443");
  EXPECT_EQ((ListenAddress{"::1", 8080}).toString(), "[::1]:8080");
  EXPECT_EQ((ListenAddress{"::", 80}).toString(), "[::]:80");
}

TEST(ListenAddressTest, DefaultIsPort443) { EXPECT_EQ(ListenAddress{}.toString(), ":443"); }

TEST(RouteTimeoutTest, RouteValueWinsOverDefault) {
  Route route;
  EXPECT_EQ(routeTimeout(route, 30s), 30s);
  route.timeout = 60s;
  EXPECT_EQ(routeTimeout(route, 30s), 60s);
  route.timeout = 0s;  // explicit 0 disables the timeout
  EXPECT_EQ(routeTimeout(route, 30s), 0s);
}

TEST(OptionsTest, Defaults) {
  Options o;
  EXPECT_EQ(o.address.toString(), ":443");
  EXPECT_FALSE(o.insecure_server);
  EXPECT_EQ(o.default_upstream_timeout, 30s);
  EXPECT_EQ(o.timeout_read, 30s);
  EXPECT_EQ(o.timeout_write, 0s);
  EXPECT_EQ(o.timeout_idle, 5min);
  EXPECT_TRUE(o.normalize_path);
  EXPECT_FALSE(o.merge_slashes);
  EXPECT_EQ(o.path_with_escaped_slashes_action, EscapedSlashesAction::RejectRequest);
  EXPECT_EQ(o.headers_with_underscores_action, UnderscoresAction::RejectRequest);
  EXPECT_EQ(o.log_level, "info");
}

}  // namespace
}  // namespace vallum::config
