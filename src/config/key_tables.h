#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "config/value_reader.h"

/// Internal to the config component: every option name Vallum recognizes, with its type and
/// what Vallum does with it (Pomerium's route and global options; docs/decisions.md).
namespace vallum::config {

enum class KeyStatus {
  Implemented,      ///< decoded into Options / Route
  NotSupportedYet,  ///< global: warning "not supported yet; ignored"; route: error unless empty
  Removed,          ///< removed from Pomerium, which refuses to start with it: error
  OutOfScope,       ///< outside Vallum's scope (SSH, MCP): error "not supported"
};

struct KeySpec {
  std::string_view name;
  ValueType type = ValueType::Any;
  KeyStatus status = KeyStatus::NotSupportedYet;
  /// Accepted values (case-insensitive) of an enum-like string; empty = any string.
  std::vector<std::string_view> allowed = {};
  /// Route keys: an empty mapping still asks for something (`outlier_detection: {}` enables
  /// detection with Envoy's defaults; `redirect: {}` makes a redirect route).
  bool empty_map_asks = false;
  /// Removed / out-of-scope keys: what to say instead of the generic message.
  std::string_view message = {};
};

/// Top-level options, in documentation order (the environment is consulted in this order).
std::span<const KeySpec> globalKeys();
/// Route options.
std::span<const KeySpec> routeKeys();

/// The names of routeKeys(), for "did you mean" suggestions.
std::span<const std::string_view> routeKeyNames();

/// Lookup by exact (case-sensitive, as in Pomerium's YAML) name; nullptr when unknown.
const KeySpec* findGlobalKey(std::string_view name);
const KeySpec* findRouteKey(std::string_view name);

}  // namespace vallum::config
