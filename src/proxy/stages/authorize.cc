#include "proxy/stages/authorize.h"

namespace vallum::proxy {

StageStatus authorizeRequest(StreamContext& ctx) {
  if (!ctx.route->is_public) {
    return replyWith(ctx, 403, "access denied: no policy of this route allows the request");
  }
  return StageStatus::Continue;
}

void lintDeniedRoutes(const std::vector<config::Route>& routes, config::Diagnostics& diagnostics) {
  for (const config::Route& route : routes) {
    if (!route.allow_public_unauthenticated_access) {
      diagnostics.warning(route.pos, route.key,
                          "every request to this route gets 403: it has no policy and is not "
                          "public (policies need sign-in, not supported yet; to serve it "
                          "without sign-in set allow_public_unauthenticated_access: true)");
    }
  }
}

}  // namespace vallum::proxy
