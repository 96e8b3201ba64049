#pragma once

#include "proxy/stages/stage.h"

namespace vallum::proxy {

/// Stage 7: who is asking. With sign-in configured, the route cookie (`cookie_name`, chunks
/// reassembled) is opened with cookie_secret (AES-256-GCM; a tampered, foreign or expired
/// cookie counts as no session) into the stream's SignInState. Never replies: whether a user
/// is needed is the policy's to say (authorize). The same cookie as the stream's previous
/// request is not opened again.
StageStatus authenticateRequest(StreamContext& ctx);

/// Loads the session as the stage does (the internal endpoints that need a user call it before
/// routing). Returns whether a valid session was found.
bool loadSession(StreamContext& ctx);

}  // namespace vallum::proxy
