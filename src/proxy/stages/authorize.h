#pragma once

#include <vector>

#include "config/diagnostics.h"
#include "config/options.h"
#include "proxy/stages/stage.h"

namespace vallum::proxy {

/// Stage 8: who may pass (Pomerium's authorize, Pomerium authorize outcomes): the route's compiled policy
/// is evaluated against the session and the request. A criterion that needed a signed-in user
/// and found none → sign-in (302 for browsers, 401 otherwise); deny wins over allow; allowed →
/// the chain goes on; otherwise 403 (the reasons in the server log, and on the page with
/// `show_error_details`). A route without any policy allows nobody. The decision stays in the
/// stream's SignInState for the access log and identity headers.
StageStatus authorizeRequest(StreamContext& ctx);

/// `vallum check` (and the server log at load): a warning at every route that has no policy at
/// all, so answers 403 whatever the request (this stage runs before redirects and direct
/// responses).
void lintDeniedRoutes(const std::vector<config::Route>& routes, config::Diagnostics& diagnostics);

}  // namespace vallum::proxy
