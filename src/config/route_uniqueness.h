#pragma once

#include <vector>

#include "config/diagnostics.h"
#include "config/options.h"

/// Internal to the config component: Pomerium's rule that no two routes share a route ID.
namespace vallum::config {

/// Reports, at the later route's position, every route whose identity repeats an earlier
/// route's: the same explicit `id`, or (without `id`) the same `from` as written, the same
/// `prefix`, `path` and `regex` as written, and the same action: the `to` list (URLs as
/// written, in order, with their weights), else the `redirect`, else the `response` (the action
/// Vallum serves: redirect wins over response, which wins over to). These are the inputs of
/// Pomerium's Policy.RouteID(); Pomerium refuses such a config (docs/decisions.md). Routes
/// without `from` or without an action are left out (they are errors already).
///
/// Messages: `route is not unique: same from, path matcher and to as routes[1] (FILE:L:C)` (or
/// "and redirect", "and response"), `route is not unique: same id "x" as routes[1] (FILE:L:C)`.
/// Pure; any thread.
void checkRouteUniqueness(const std::vector<Route>& routes, Diagnostics& diagnostics);

}  // namespace vallum::config
