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

/// Stage 6 (Envoy upgrade_configs; Pomerium `allow_websockets`, `allow_spdy`,
/// `allow_upgrades`): an upgrade the route allows (RouteRuntime::upgrades, matched
/// case-insensitively against the whole `Upgrade` value) is noted in ctx.upgrade — the request
/// goes upstream with its `Connection: upgrade` and `Upgrade`, and a `101` turns the connection
/// into a tunnel (Forwarder). Any other upgrade is refused with 403 before authentication — an
/// anonymous client gets 403, not a sign-in redirect — and nothing reaches the upstream.
StageStatus checkUpgrade(StreamContext& ctx);

}  // namespace vallum::proxy
