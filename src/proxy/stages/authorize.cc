#include "proxy/stages/authorize.h"

namespace vallum::proxy {

StageStatus authorizeRequest(StreamContext& ctx) {
  if (!ctx.route->is_public) {
    return replyWith(ctx, 403, "access denied: no policy of this route allows the request");
  }
  return StageStatus::Continue;
}

}  // namespace vallum::proxy
