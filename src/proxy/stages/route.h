#pragma once

#include "proxy/stages/stage.h"

namespace vallum::proxy {

/// Stage 5: the route for host, port and path (router::RouteTable: first match in config order
/// within the host's virtual host) → ctx.route; none → 404. With `merge_slashes` off a path
/// keeps its adjacent slashes (the route docs' "//" tip), but many origins read "//admin" as
/// "/admin": when the merged path would select another route (or an internal endpoint, or no
/// route) than the path as written, the answer is 400 and the log says which routes the two
/// forms select. Paths without "//" pay nothing for that check. A CONNECT matches tcp+https
/// routes only, by its authority (RouteTable::matchConnect); none → 404 and the connection
/// closes.
StageStatus matchRoute(StreamContext& ctx);

}  // namespace vallum::proxy
