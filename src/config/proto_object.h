#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/value_reader.h"
#include "config/yaml_tree.h"

/// Internal to the config component: reading the Envoy messages a route embeds
/// (`least_request_lb_config`, `health_checks[]`, `outlier_detection`, `hash_policy[]`, ...).
/// Pomerium decoded them with protobuf-JSON rules (protojson), so a field
/// may be spelled in snake_case (`choice_count`) or lowerCamelCase (`choiceCount`); numbers may be
/// quoted; durations are strings ("5s", read with the one Go-syntax parser).
namespace vallum::config {

/// The lowerCamelCase JSON name protobuf derives from a snake_case field name: "choice_count" →
/// "choiceCount", "consecutive_5xx" → "consecutive5xx".
std::string protoJsonName(std::string_view field);

/// One field a message knows. `ignored` non-empty: the field is accepted with a warning
/// "ignored (<ignored>)" and not returned by resolveProtoFields().
struct ProtoFieldSpec {
  std::string_view name;  ///< snake_case
  std::string_view ignored = {};
};

/// A field present in the mapping, resolved to its snake_case name.
struct ProtoField {
  std::string_view name;     ///< snake_case, from the spec table
  const yaml::Entry* entry;  ///< as written
  std::string key;           ///< YAML path with the spelling as written
  const yaml::Node& value() const { return entry->value; }
  yaml::Mark keyMark() const { return entry->key_mark; }
};

/// Resolves the entries of the mapping `node` (the caller checked it is one) against `fields`.
/// Null values are unset and skipped. Unknown names: error "unknown <what> field "x"" (with a
/// suggestion when a known name is close; unknown_key.h says why it is an error). A field
/// written in both spellings: error "set twice (as "a" and "b")" at the second.
/// Fields with an `ignored` reason: warning. Returns the other fields in document order.
std::vector<ProtoField> resolveProtoFields(const yaml::Node& node, const std::string& key,
                                           std::span<const ProtoFieldSpec> fields,
                                           std::string_view what, ValueReader& r);

/// A non-negative integer that fits a uint32 (protobuf uint32 / UInt32Value).
std::optional<uint32_t> readUint32(ValueReader& r, const yaml::Node& node, const std::string& key);
/// A uint32 percentage: 0..100.
std::optional<uint32_t> readPercent(ValueReader& r, const yaml::Node& node, const std::string& key);
/// A duration that must be > 0 (Envoy's `gt: {}` rule).
std::optional<Duration> readPositiveDuration(ValueReader& r, const yaml::Node& node,
                                             const std::string& key);
/// Reads a mapping-typed value; a type error otherwise ("expected a mapping, got ...").
bool expectMap(ValueReader& r, const yaml::Node& node, const std::string& key);

/// A feature not built yet, inside an Envoy message: an error "not supported yet"
/// unless the value asks for nothing (null, "", [], {}). Returns true when it was empty.
bool notSupportedYetUnlessEmpty(ValueReader& r, const ProtoField& field);

}  // namespace vallum::config
