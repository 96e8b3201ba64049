#pragma once

#include <vector>

#include "config/diagnostics.h"
#include "config/options.h"

namespace vallum::router {

/// Adds a warning for every route that can never match because an earlier route always wins
/// for every request it would see (`vallum check`'s shadowed-route lint). Conservative: it only
/// warns when that is certain. Route B is shadowed by an earlier route A when
/// * both are in the same host group of RouteTable — the same concrete host with the same port
///   constraint, or both wildcard routes with the same port constraint where A's pattern covers
///   B's (a concrete host is never shadowed by a wildcard route: it never falls back to one);
/// * and A's path matcher accepts every path B's accepts: a prefix covers a longer prefix, an
///   exact path or a regex whose possible matches all start with it ("/" covers everything); an
///   exact path covers the same path; a regex covers an exact path it fully matches and an
///   identical regex.
/// The warning is at B's position, key B.key, and names A.
void lintShadowedRoutes(const std::vector<config::Route>& routes, config::Diagnostics& diagnostics);

/// True when every request `later` would see is matched by `earlier` (the rule above).
bool routeShadows(const config::Route& earlier, const config::Route& later);

}  // namespace vallum::router
