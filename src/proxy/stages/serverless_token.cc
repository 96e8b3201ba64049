#include "proxy/stages/serverless_token.h"

#include "common/clock.h"
#include "proxy/google_id_tokens.h"
#include "proxy/worker.h"

// GCC 12 at -O2 reports -Wmismatched-new-delete on asio coroutine frames: a false positive
// (see oidc_client.cc).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace vallum::proxy {

namespace {

boost::asio::awaitable<void> fetchTokenIo(StreamContext& ctx) {
  co_await ctx.worker->googleIdTokens().fetch(*ctx.snapshot->identity, ctx.route->gcp_audience);
}

}  // namespace

StageStatus fetchServerlessToken(StreamContext& ctx) {
  const RouteRuntime* route = ctx.route;
  if (route == nullptr || route->gcp_audience.empty() || ctx.serverless_token_fetched ||
      ctx.worker == nullptr || ctx.snapshot->identity == nullptr) {
    return StageStatus::Continue;
  }
  if (ctx.worker->googleIdTokens().find(*ctx.snapshot->identity, route->gcp_audience, unixNow()) !=
      nullptr) {
    return StageStatus::Continue;
  }
  ctx.serverless_token_fetched = true;
  ctx.pending = &fetchTokenIo;
  return StageStatus::Pending;
}

}  // namespace vallum::proxy
