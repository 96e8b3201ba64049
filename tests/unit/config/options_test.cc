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

// Pomerium builds Envoy upgrade_configs from allow_upgrades (route, else global) plus the two
// booleans; tokens match case-insensitively, so they are kept lower case.
TEST(RouteUpgradesTest, BooleansAddToTheRouteOrGlobalList) {
  Route route;
  const std::vector<std::string> global = {"foo"};
  EXPECT_EQ(routeUpgrades(route, {}), std::vector<std::string>{});
  EXPECT_EQ(routeUpgrades(route, global), global);
  route.allow_upgrades = std::vector<std::string>{"bar"};
  EXPECT_EQ(routeUpgrades(route, global), std::vector<std::string>{"bar"});  // route wins
  route.allow_websockets = true;
  route.allow_spdy = true;
  EXPECT_EQ(routeUpgrades(route, global),
            (std::vector<std::string>{"bar", "websocket", "spdy/3.1"}));
  route.allow_upgrades = std::vector<std::string>{"websocket"};
  EXPECT_EQ(routeUpgrades(route, global), (std::vector<std::string>{"websocket", "spdy/3.1"}));
}

// Pomerium: websockets make a route long-lived, and its timeout and idle timeout default to
// 0; the route docs add that idle_timeout without timeout leaves the timeout unlimited.
TEST(RouteTimeoutTest, LongLivedRoutesDefaultToNoTimeouts) {
  Route route;
  EXPECT_FALSE(longLivedRoute(route, {}));
  EXPECT_TRUE(longLivedRoute(route, {"websocket"}));  // the global list
  route.allow_spdy = true;
  EXPECT_FALSE(longLivedRoute(route, {}));
  route.allow_websockets = true;
  EXPECT_TRUE(longLivedRoute(route, {}));
  EXPECT_EQ(routeTimeout(route, 30s, true), 0s);
  EXPECT_EQ(streamIdleTimeout(route, true), 0s);
  EXPECT_EQ(tunnelIdleTimeout(route), 0s);
  route.timeout = 10s;
  route.idle_timeout = 2s;
  EXPECT_EQ(routeTimeout(route, 30s, true), 10s);
  EXPECT_EQ(streamIdleTimeout(route, true), 2s);
  EXPECT_EQ(tunnelIdleTimeout(route), 2s);

  Route plain;
  EXPECT_EQ(streamIdleTimeout(plain, false), 5min);  // Envoy's stream_idle_timeout
  EXPECT_EQ(tunnelIdleTimeout(plain), 0s);
  plain.idle_timeout = 60s;
  EXPECT_EQ(routeTimeout(plain, 30s, false), 0s);
  EXPECT_EQ(streamIdleTimeout(plain, false), 60s);
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
