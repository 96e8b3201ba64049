#pragma once

#include <string_view>

#include "proxy/stages/stage.h"

namespace vallum::proxy {

/// Paths Vallum answers itself on every host, ahead of user routes (Pomerium's internal
/// routes: /ping, /healthz, /.pomerium/, /.well-known/pomerium).
bool isInternalPath(std::string_view path);

/// Stage 3: /ping and /healthz answer GET/HEAD with 200 "OK\n" (another method: 405) on any
/// host; every path of the authenticate host goes to the sign-in flow (proxy/sign_in_flow.h);
/// /.pomerium/callback/ and /.pomerium/sign_out are the route side of it; the identity
/// endpoints (proxy/identity_endpoints.h) answer theirs; any other /.pomerium[/…] or
/// /.well-known/pomerium[/…] path is 404. Never forwarded.
StageStatus answerInternalEndpoints(StreamContext& ctx);

}  // namespace vallum::proxy
