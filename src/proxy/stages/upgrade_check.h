#pragma once

#include <string_view>

#include "http/message.h"
#include "proxy/stages/stage.h"

namespace vallum::proxy {

/// The protocol an HTTP/1.1 request asks to switch to (RFC 9110 §7.8: `Connection` lists the
/// `upgrade` token, any case and position, and `Upgrade` names the protocol), or "" when it asks
/// for none. `h2c` is not an upgrade Vallum offers: such a request is served over HTTP/1.1, as
/// Envoy does.
std::string_view requestedUpgrade(const http::RequestHeaders& request);

/// Stage 6 (Envoy upgrade_configs): an upgrade the route does not allow is refused with 403
/// before authentication — an anonymous client gets 403, not a sign-in redirect — and nothing
/// reaches the upstream. No route allows an upgrade yet (`allow_websockets`, `allow_spdy` and
/// `allow_upgrades` are refused at load until tunnels exist).
StageStatus checkUpgrade(StreamContext& ctx);

}  // namespace vallum::proxy
