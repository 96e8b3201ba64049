#include "config/options.h"

#include <algorithm>

namespace vallum::config {

std::string ListenAddress::toString() const {
  std::string out;
  if (host.find(':') != std::string::npos) {
    out += '[';
    out += host;
    out += ']';
  } else {
    out += host;
  }
  out += ':';
  out += std::to_string(port);
  return out;
}

std::vector<std::string> routeUpgrades(const Route& route,
                                       const std::vector<std::string>& global_upgrades) {
  std::vector<std::string> out = route.allow_upgrades.value_or(global_upgrades);
  auto add = [&](std::string_view token) {
    if (std::find(out.begin(), out.end(), token) == out.end()) {
      out.emplace_back(token);
    }
  };
  if (route.allow_websockets) {
    add("websocket");
  }
  if (route.allow_spdy) {
    add("spdy/3.1");
  }
  return out;
}

bool longLivedRoute(const Route& route, const std::vector<std::string>& global_upgrades) {
  if (route.from.tcp()) {
    return true;  // a TCP tunnel
  }
  const std::vector<std::string> upgrades = routeUpgrades(route, global_upgrades);
  return std::find(upgrades.begin(), upgrades.end(), "websocket") != upgrades.end();
}

Duration routeTimeout(const Route& route, Duration default_upstream_timeout, bool long_lived) {
  if (route.timeout) {
    return *route.timeout;
  }
  return long_lived || route.idle_timeout ? Duration{} : default_upstream_timeout;
}

Duration streamIdleTimeout(const Route& route, bool long_lived) {
  if (route.idle_timeout) {
    return *route.idle_timeout;
  }
  return long_lived ? Duration{} : std::chrono::minutes(5);
}

}  // namespace vallum::config
