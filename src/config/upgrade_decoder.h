#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/options.h"
#include "config/value_reader.h"
#include "config/yaml_tree.h"

/// Internal to the config component: the keys of long-lived traffic — the upgrades a route
/// allows (Pomerium `allow_websockets`, `allow_spdy`, `allow_upgrades`, the last also global)
/// and the route's `idle_timeout`. Control thread.
namespace vallum::config {

class UpgradeDecoder {
 public:
  /// True for the route keys decoded here.
  static bool handlesRoute(std::string_view name);
  /// Decodes one route key (non-null value) into `route`.
  static void decodeRoute(ValueReader& r, const yaml::Entry& e, const std::string& key,
                          Route& route);
  /// `allow_upgrades` (route or global): a list of upgrade tokens, lower-cased (they match the
  /// `Upgrade` field case-insensitively). An empty token, or one that is not an RFC 9110 token
  /// (with `/` allowed for versions, as in "spdy/3.1"), is an error.
  static std::vector<std::string> readUpgradeTokens(ValueReader& r, const yaml::Node& v,
                                                    const std::string& key);
};

}  // namespace vallum::config
