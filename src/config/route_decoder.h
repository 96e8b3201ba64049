#pragma once

#include <string>

#include "config/options.h"
#include "config/value_reader.h"
#include "config/yaml_tree.h"

/// Internal to the config component: one route mapping → Route (Pomerium's route options).
namespace vallum::config {

/// Decodes and validates the route at `node` whose YAML path is `key` ("routes[3]",
/// "$POLICY[0]"). Every problem is reported through `reader`; the returned Route is only
/// meaningful when none of them is an error. `index` is left for the caller to set.
Route decodeRoute(const yaml::Node& node, const std::string& key, ValueReader& reader);

}  // namespace vallum::config
