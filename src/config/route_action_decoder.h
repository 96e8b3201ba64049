#pragma once

#include <optional>
#include <string>

#include "config/options.h"
#include "config/value_reader.h"
#include "config/yaml_tree.h"

/// Internal to the config component: the route actions other than forwarding (Pomerium route
/// options), `redirect` (Envoy's RedirectAction) and `response` (a direct response). An
/// unknown key in either is an error (unknown_key.h).
namespace vallum::config {

/// Decodes the `redirect` mapping at `node` (YAML path `key`). Every problem is reported through
/// `reader`; nullopt only when the value is not a mapping. The action is meaningful only when
/// no error was reported.
std::optional<RedirectAction> decodeRedirect(const yaml::Node& node, const std::string& key,
                                             ValueReader& reader);

/// Decodes the `response` mapping at `node` (YAML path `key`): `status` (required, 200..599)
/// and `body`. Same reporting as decodeRedirect.
std::optional<DirectResponse> decodeResponse(const yaml::Node& node, const std::string& key,
                                             ValueReader& reader);

}  // namespace vallum::config
