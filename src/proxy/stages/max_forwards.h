#pragma once

#include "proxy/stages/stage.h"

namespace vallum::proxy {

/// Stage 4 (RFC 9110 §7.6.2): a TRACE or OPTIONS whose Max-Forwards is 0 must not be forwarded;
/// Vallum answers as the final recipient — OPTIONS with 200 and Allow, TRACE with 200
/// `message/http` reflecting the request head without Cookie, Authorization and
/// Proxy-Authorization (§9.3.8). The decrement of a larger value happens in rewrite_request.
StageStatus answerMaxForwards(StreamContext& ctx);

}  // namespace vallum::proxy
