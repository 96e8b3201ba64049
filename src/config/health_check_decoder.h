#pragma once

#include <optional>
#include <string>

#include "config/options.h"
#include "config/value_reader.h"
#include "config/yaml_tree.h"

/// Internal to the config component: one `health_checks[i]` entry → HealthCheck.
namespace vallum::config {

/// Decodes and validates one entry of a route's `health_checks` list (Envoy core.v3.HealthCheck
/// with protobuf-JSON field names, as Pomerium's route option `health_checks`).
/// `key` is its YAML path ("routes[0].health_checks[1]"). Every problem is reported through
/// `r`; nullopt when any of them is an error.
std::optional<HealthCheck> decodeHealthCheck(const yaml::Node& node, const std::string& key,
                                             ValueReader& r);

}  // namespace vallum::config
