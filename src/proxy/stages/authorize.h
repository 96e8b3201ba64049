#pragma once

#include <vector>

#include "config/diagnostics.h"
#include "config/options.h"
#include "proxy/stages/stage.h"

namespace vallum::proxy {

/// Stage 7: who may pass. Until sign-in and policies exist only routes with
/// `allow_public_unauthenticated_access` do; any other route answers 403 (as in
/// Pomerium, a route without a policy allows nobody).
StageStatus authorizeRequest(StreamContext& ctx);

/// `vallum check` (and the server log at load): a warning at every route the rule above
/// answers 403 whatever the request — today every route that is not public, whatever its
/// action (this stage runs before redirects and direct responses).
void lintDeniedRoutes(const std::vector<config::Route>& routes, config::Diagnostics& diagnostics);

}  // namespace vallum::proxy
