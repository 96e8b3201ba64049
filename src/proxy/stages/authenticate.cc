#include "proxy/stages/authenticate.h"

#include <optional>
#include <string>

#include "common/logging.h"
#include "identity/session.h"
#include "proxy/cookies.h"
#include "proxy/oidc_client.h"
#include "proxy/session_cookie.h"
#include "proxy/sign_in_flow.h"
#include "proxy/sign_in_state.h"
#include "proxy/worker.h"

namespace vallum::proxy {

bool loadSession(StreamContext& ctx) {
  const IdentityRuntime* id = ctx.snapshot->identity.get();
  if (id == nullptr || !id->sign_in) {
    if (ctx.sign_in) {
      ctx.sign_in->signed_in = false;
    }
    return false;
  }
  SignInState& st = signInState(ctx);
  st.signed_in = false;
  st.decided = false;
  auto first = findCookie(ctx.request->headers, id->cookie_name);
  if (!first) {
    return false;
  }
  // A session in one cookie is read in place; only a chunked one (its first chunk starts with
  // the "~<count>~" marker of identity::splitCookie) is reassembled into a copy.
  std::optional<std::string> joined;
  std::string_view sealed = *first;
  if (sealed.starts_with('~')) {
    joined = readChunkedCookie(ctx.request->headers, id->cookie_name);
    if (!joined) {
      return false;
    }
    sealed = *joined;
  }
  if (st.opened_with.get() != id || st.opened_cookie != sealed) {
    auto session = identity::openSession(id->cipher, sealed, id->cookie_name);
    st.opened_with = ctx.snapshot->identity;
    st.opened_cookie.assign(sealed);
    st.opened_ok = session.has_value();
    if (session) {
      st.session = std::move(*session);
    }
  }
  st.signed_in = st.opened_ok && !identity::sessionExpired(st.session, unixNow());
  return st.signed_in;
}

namespace {

/// Refresh the ID token this long before it expires (seconds).
constexpr int64_t kRefreshMargin = 30;

/// The refresh token grant for a session whose ID token expired (Pomerium refreshes sessions
/// before the ID token expires): the session gets the new tokens and claims and the response
/// a new cookie. A refused refresh ends the session (sign in again).
boost::asio::awaitable<void> refreshSessionIo(StreamContext& ctx) {
  const IdentityRuntime& id = *ctx.snapshot->identity;
  SignInState& st = *ctx.sign_in;
  OidcTokens tokens = co_await ctx.worker->oidc().refresh(id, st.session.refresh_token);
  if (!tokens.error.empty()) {
    VALLUM_LOG_INFO("session {}: refresh refused ({}); signing in again", st.session.id,
                    tokens.error);
    st.signed_in = false;
    st.opened_ok = false;
    co_return;
  }
  applyTokens(st.session, std::move(tokens));
  const std::string sealed = identity::sealSession(id.cipher, st.session, id.cookie_name);
  st.set_cookies.clear();
  setChunkedCookie(id, ctx.request->headers, id.cookie_name, sealed,
                   st.session.expires_at - unixNow(), /*host_only=*/false, st.set_cookies);
  st.refreshed = true;
  st.opened_cookie = sealed;  // the next request carries it
}

}  // namespace

StageStatus authenticateRequest(StreamContext& ctx) {
  if (ctx.sign_in && ctx.sign_in->refresh_tried) {
    return StageStatus::Continue;  // the refresh step left the session as it should be
  }
  if (!loadSession(ctx)) {
    return StageStatus::Continue;
  }
  SignInState& st = *ctx.sign_in;
  const identity::Session& s = st.session;
  if (s.refresh_at != 0 && !s.refresh_token.empty() && ctx.worker != nullptr &&
      unixNow() >= s.refresh_at - kRefreshMargin) {
    st.refresh_tried = true;
    ctx.pending = &refreshSessionIo;
    return StageStatus::Pending;
  }
  return StageStatus::Continue;
}

}  // namespace vallum::proxy
