#pragma once

#include <string_view>

#include "proxy/stages/stage.h"

namespace vallum::proxy {

/// Paths Vallum answers itself on every host, ahead of user routes (Pomerium's internal
/// routes: /ping, /healthz, /.pomerium/, /.well-known/pomerium).
bool isInternalPath(std::string_view path);

/// Stage 3: /ping and /healthz answer GET/HEAD with 200 "OK\n" (another method: 405);
/// /.pomerium[/…] and /.well-known/pomerium[/…] answer 404 until sign-in serves them. Never
/// forwarded.
StageStatus answerInternalEndpoints(StreamContext& ctx);

}  // namespace vallum::proxy
