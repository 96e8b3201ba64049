#pragma once

#include "proxy/stages/stage.h"

namespace vallum::proxy {

/// Stage 10 (Pomerium route option enable_google_cloud_serverless_authentication): a route
/// that forwards to Cloud Run or Cloud Functions needs a Google-signed ID token for its
/// audience. When the worker keeps none that is still usable, the stage returns Pending and
/// fetches one (GoogleIdTokens::fetch: the service account's token exchange or the metadata
/// server); the stream waits, the worker does not. Whatever the outcome the chain goes on:
/// rewrite_request sends `Authorization: Bearer <token>` when there is a token, and nothing
/// (the failure logged) when there is none, as Pomerium does. Other routes: Continue.
StageStatus fetchServerlessToken(StreamContext& ctx);

}  // namespace vallum::proxy
