#pragma once

#include <string_view>
#include <vector>

#include "http/header_map.h"

/// Hop-by-hop fields (RFC 9110 §7.6.1): what one connection's Connection header says about
/// that connection alone, never forwarded. Pure functions; any thread.
namespace vallum::http {

/// Appends to `out` (cleared first) the field names listed in Connection fields other than the
/// connection options close, keep-alive and upgrade.
void collectConnectionNominated(const HeaderMap& headers, std::vector<std::string_view>& out);

/// Whether `name` is among `nominated` (case-insensitive).
bool isNominated(std::string_view name, const std::vector<std::string_view>& nominated);

}  // namespace vallum::http
