#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "config/value_reader.h"
#include "config/yaml_tree.h"

/// Internal to the config component: unknown keys inside a route.
///
/// Vallum is stricter than Pomerium here (docs/decisions.md, "A typo never widens access"): an
/// unknown key inside a route, or inside an object a route holds, is an error, never a warning.
/// A misspelled matcher (`prefx: /public`) or a key cut in half by a truncated write may be the
/// very option that limits the route; serving the route without it could widen access.
namespace vallum::config {

/// The known name `name` most likely stands for: the closest one within one edit per three
/// characters of `name` (at least one, at most two; an edit is an insertion, deletion,
/// substitution or swap of neighbours), else the only one that starts with `name` (a key cut
/// short) when `name` has at least three characters. nullopt when there is no single best
/// candidate.
std::optional<std::string_view> closestName(std::string_view name,
                                            std::span<const std::string_view> known);

/// Reports `entry` (whose YAML path is `key`) as an error "unknown <what> "x"", with "did you
/// mean "y"?" when closestName() finds one among `known`.
void reportUnknownKey(ValueReader& r, const yaml::Entry& entry, const std::string& key,
                      std::string_view what, std::span<const std::string_view> known);

}  // namespace vallum::config
