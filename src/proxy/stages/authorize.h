#pragma once

#include "proxy/stages/stage.h"

namespace vallum::proxy {

/// Stage 7: who may pass. Until sign-in and policies exist only routes with
/// `allow_public_unauthenticated_access` do; any other route answers 403 (spec §7: a route
/// without a policy allows nobody).
StageStatus authorizeRequest(StreamContext& ctx);

}  // namespace vallum::proxy
