#include "proxy/sign_in_flow.h"

#include <chrono>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/logging.h"
#include "common/strings.h"
#include "config/url.h"
#include "identity/pkce.h"
#include "identity/session.h"
#include "identity/signed_url.h"
#include "proxy/cookies.h"
#include "proxy/local_reply.h"
#include "proxy/oidc_client.h"
#include "proxy/session_cookie.h"
#include "proxy/sign_in_state.h"
#include "proxy/worker.h"

namespace vallum::proxy {

namespace asio = boost::asio;

namespace {

using identity::goQueryEscape;

/// How long the CSRF state of one sign-in lives (the user's time at the provider).
constexpr int64_t kStateLifetimeSeconds = 600;

const IdentityRuntime& runtime(const StreamContext& ctx) { return *ctx.snapshot->identity; }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Ends the stream with a 302 to `location`, with the state's Set-Cookie values.
StageStatus redirectTo(StreamContext& ctx, std::string location) {
  replyWith(ctx, 302, {});
  ctx.reply.kind = LocalReply::Kind::Redirect;
  ctx.reply_location = std::move(location);
  ctx.reply.location = ctx.reply_location;
  ctx.reply.headers.add("Cache-Control", "no-store");
  if (ctx.sign_in) {
    for (const std::string& cookie : ctx.sign_in->set_cookies) {
      ctx.reply.headers.addCopy("Set-Cookie", cookie);
    }
  }
  return StageStatus::LocalReply;
}

/// The session of the authenticate host's own cookie, if valid.
std::optional<identity::Session> authenticateSession(const StreamContext& ctx) {
  const IdentityRuntime& id = runtime(ctx);
  auto sealed = readChunkedCookie(ctx.request->headers, id.authenticate_cookie_name);
  if (!sealed) {
    return std::nullopt;
  }
  auto session = identity::openSession(id.cipher, *sealed, id.authenticate_cookie_name);
  if (!session || identity::sessionExpired(*session, unixNow())) {
    return std::nullopt;
  }
  return session;
}

bool signatureOk(StreamContext& ctx) {
  const auto status =
      identity::checkSignedUrl(runtime(ctx).shared_secret, requestUrl(ctx), unixNow());
  return status == identity::SignedUrlStatus::Ok;
}

/// A pending step's reply is complete: the stage returns it when the chain runs again.
void replyReady(StreamContext& ctx) { ctx.pending_reply_ready = true; }

StageStatus pendingWith(StreamContext& ctx, StreamContext::PendingStep io) {
  ctx.pending = io;
  return StageStatus::Pending;
}

// ---- /.pomerium/sign_in on the authenticate host ----

/// Hands the session to the route host: a signed URL carrying the session sealed for it.
StageStatus handOff(StreamContext& ctx, const identity::Session& session,
                    const std::string& redirect_uri) {
  const IdentityRuntime& id = runtime(ctx);
  auto parts = config::splitUrl(redirect_uri);
  std::string host = strings::lowerAscii(parts->host);
  std::string url = "https://" + parts->authority +
                    "/.pomerium/callback/?pomerium_session_encrypted=" +
                    goQueryEscape(identity::sealSessionForHost(id.cipher, session, host)) +
                    "&pomerium_redirect_uri=" + goQueryEscape(redirect_uri);
  return redirectTo(ctx, identity::signUrl(id.shared_secret, url, unixNow()));
}

asio::awaitable<void> startSignInIo(StreamContext& ctx) {
  const IdentityRuntime& id = runtime(ctx);
  SignInState& st = *ctx.sign_in;
  std::string error;
  const OidcEndpoints* ep = co_await ctx.worker->oidc().endpoints(id, error);
  if (ep == nullptr) {
    VALLUM_LOG_WARN("sign-in: identity provider unavailable: {}", error);
    replyWith(ctx, 503, "the identity provider is unavailable");
    replyReady(ctx);
    co_return;
  }
  const std::string state = identity::randomToken(32);
  const std::string nonce = identity::randomToken(32);
  const std::string verifier = identity::randomToken(32);
  nlohmann::json csrf = {
      {"s", state}, {"n", nonce}, {"v", verifier}, {"r", st.return_url}, {"t", unixNow()}};
  st.set_cookies.clear();
  st.set_cookies.push_back(id.setCookie(id.csrf_cookie_name,
                                        id.cipher.seal(csrf.dump(), id.csrf_cookie_name),
                                        kStateLifetimeSeconds, /*host_only=*/true));
  std::string url = ep->authorization_endpoint;
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += "client_id=" + goQueryEscape(id.client_id) +
         "&redirect_uri=" + goQueryEscape(id.callback_url) + "&response_type=code" +
         "&scope=" + goQueryEscape(id.scopes) + "&state=" + goQueryEscape(state) +
         "&nonce=" + goQueryEscape(nonce) +
         "&code_challenge=" + identity::pkceChallengeS256(verifier) + "&code_challenge_method=S256";
  for (const config::HeaderSetting& p : id.request_params) {
    url += "&" + goQueryEscape(p.name) + "=" + goQueryEscape(p.value);
  }
  redirectTo(ctx, std::move(url));
  replyReady(ctx);
}

StageStatus signIn(StreamContext& ctx) {
  if (!signatureOk(ctx)) {
    return replyWith(ctx, 400, "invalid or expired sign-in link");
  }
  auto redirect = queryParam(ctx.target.query, "pomerium_redirect_uri");
  if (!redirect) {
    return replyWith(ctx, 400, "missing pomerium_redirect_uri");
  }
  auto parts = config::splitUrl(*redirect);
  if (!parts || parts->scheme != "https" || parts->host.empty()) {
    return replyWith(ctx, 400, "bad pomerium_redirect_uri");
  }
  SignInState& st = signInState(ctx);
  st.set_cookies.clear();
  if (auto session = authenticateSession(ctx)) {
    return handOff(ctx, *session, *redirect);
  }
  st.return_url = requestUrl(ctx);
  return pendingWith(ctx, &startSignInIo);
}

// ---- /oauth2/callback on the authenticate host ----

asio::awaitable<void> callbackIo(StreamContext& ctx) {
  const IdentityRuntime& id = runtime(ctx);
  SignInState& st = *ctx.sign_in;
  OidcTokens tokens = co_await ctx.worker->oidc().exchangeCode(id, st.code, st.verifier, st.nonce);
  if (!tokens.error.empty()) {
    VALLUM_LOG_WARN("sign-in: {}", tokens.error);
    replyWith(ctx, 401, "sign-in failed");
    replyReady(ctx);
    co_return;
  }
  const int64_t now = unixNow();
  identity::Session session;
  session.id = identity::randomToken(16);
  session.idp_id = id.issuer;
  session.issued_at = now;
  session.expires_at = now + id.cookie_expire_seconds;
  applyTokens(session, std::move(tokens));
  st.set_cookies.clear();
  setChunkedCookie(id, ctx.request->headers, id.authenticate_cookie_name,
                   identity::sealSession(id.cipher, session, id.authenticate_cookie_name),
                   id.cookie_expire_seconds, /*host_only=*/true, st.set_cookies);
  st.set_cookies.push_back(id.setCookie(id.csrf_cookie_name, "", -1, /*host_only=*/true));
  VALLUM_LOG_INFO("sign-in: {} signed in (session {})",
                  session.email.empty() ? session.user : session.email, session.id);
  redirectTo(ctx, st.return_url);
  replyReady(ctx);
}

StageStatus oauthCallback(StreamContext& ctx) {
  const IdentityRuntime& id = runtime(ctx);
  const std::string_view query = ctx.target.query;
  if (auto error = queryParam(query, "error")) {
    const bool denied = *error == "access_denied" || *error == "unauthorized_client";
    return replyWith(ctx, denied ? 401 : 400, "the identity provider refused the sign-in");
  }
  auto code = queryParam(query, "code");
  auto state = queryParam(query, "state");
  if (!code || code->empty() || !state || state->empty()) {
    return replyWith(ctx, 400, "missing code or state");
  }
  auto sealed = findCookie(ctx.request->headers, id.csrf_cookie_name);
  std::optional<std::string> csrf_text =
      sealed ? id.cipher.open(*sealed, id.csrf_cookie_name) : std::nullopt;
  auto csrf = csrf_text ? nlohmann::json::parse(*csrf_text, nullptr, false) : nlohmann::json();
  if (!csrf.is_object() || !csrf["s"].is_string() || !csrf["t"].is_number_integer() ||
      csrf["s"].get<std::string>() != *state ||
      unixNow() - csrf["t"].get<int64_t>() > kStateLifetimeSeconds) {
    return replyWith(ctx, 400, "invalid sign-in state");
  }
  SignInState& st = signInState(ctx);
  st.code = std::move(*code);
  st.nonce = csrf.value("n", "");
  st.verifier = csrf.value("v", "");
  st.return_url = csrf.value("r", "");
  return pendingWith(ctx, &callbackIo);
}

// ---- /.pomerium/sign_out on the authenticate host ----

asio::awaitable<void> signOutIo(StreamContext& ctx) {
  const IdentityRuntime& id = runtime(ctx);
  SignInState& st = *ctx.sign_in;
  std::string error;
  const OidcEndpoints* ep = co_await ctx.worker->oidc().endpoints(id, error);
  std::string location;
  if (ep != nullptr && !ep->end_session_endpoint.empty()) {
    location = ep->end_session_endpoint;
    location += location.find('?') == std::string::npos ? '?' : '&';
    location += "client_id=" + goQueryEscape(id.client_id);
    if (!st.code.empty()) {  // the ID token of the ended session
      location += "&id_token_hint=" + goQueryEscape(st.code);
    }
    if (!st.redirect_uri.empty()) {
      location += "&post_logout_redirect_uri=" + goQueryEscape(st.redirect_uri);
    }
  } else {
    location = st.redirect_uri.empty() ? id.authenticate_origin + "/.pomerium/signed_out"
                                       : st.redirect_uri;
  }
  redirectTo(ctx, std::move(location));
  replyReady(ctx);
}

StageStatus signOut(StreamContext& ctx) {
  const IdentityRuntime& id = runtime(ctx);
  if (!signatureOk(ctx)) {
    return replyWith(ctx, 400, "invalid or expired sign-out link");
  }
  SignInState& st = signInState(ctx);
  st.set_cookies.clear();
  st.code.clear();
  if (auto session = authenticateSession(ctx)) {
    st.code = session->id_token;
    VALLUM_LOG_INFO("sign-out: session {} ended", session->id);
  }
  clearChunkedCookie(id, ctx.request->headers, id.authenticate_cookie_name, true, st.set_cookies);
  st.redirect_uri = queryParam(ctx.target.query, "pomerium_redirect_uri").value_or("");
  return pendingWith(ctx, &signOutIo);
}

}  // namespace

std::string requestUrl(const StreamContext& ctx) {
  std::string url = "https://";
  url += ctx.authority;
  url += ctx.target.path;
  if (ctx.target.has_query) {
    url += '?';
    url += ctx.target.query;
  }
  return url;
}

std::optional<std::string> queryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t end = query.find('&');
    std::string_view pair = query.substr(0, end);
    query = end == std::string_view::npos ? std::string_view() : query.substr(end + 1);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (key != name) {
      continue;
    }
    std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        out += ' ';
      } else if (raw[i] == '%' && i + 2 < raw.size() + 0 && hexValue(raw[i + 1]) >= 0 &&
                 hexValue(raw[i + 2]) >= 0) {
        out += static_cast<char>(hexValue(raw[i + 1]) * 16 + hexValue(raw[i + 2]));
        i += 2;
      } else {
        out += raw[i];
      }
    }
    return out;
  }
  return std::nullopt;
}

StageStatus askSignIn(StreamContext& ctx) {
  const IdentityRuntime* id = ctx.snapshot->identity.get();
  if (id == nullptr || !id->sign_in) {
    return replyWith(ctx, 401, "sign-in is not configured");
  }
  const http::HeaderMap& headers = ctx.request->headers;
  const auto xrw = headers.get("x-requested-with");
  const bool browser =
      negotiateReplyFormat(headers.get(http::HeaderId::Accept)) == ReplyFormat::Html &&
      !(xrw && strings::iequals(*xrw, "XMLHttpRequest"));
  if (!browser) {
    return replyWith(ctx, 401, "Unauthenticated");
  }
  std::string url = id->authenticate_origin +
                    "/.pomerium/sign_in?pomerium_redirect_uri=" + goQueryEscape(requestUrl(ctx));
  if (ctx.sign_in) {
    ctx.sign_in->set_cookies.clear();
  }
  return redirectTo(ctx, identity::signUrl(id->shared_secret, url, unixNow()));
}

StageStatus answerAuthenticateHost(StreamContext& ctx) {
  const std::string_view path = ctx.path;
  if (path == "/.pomerium/sign_in") {
    return signIn(ctx);
  }
  if (path == "/oauth2/callback") {
    return oauthCallback(ctx);
  }
  if (path == "/.pomerium/sign_out") {
    return signOut(ctx);
  }
  if (path == "/.pomerium/signed_out") {
    replyWith(ctx, 200, {});
    ctx.reply.kind = LocalReply::Kind::Text;
    ctx.reply.body = "You are signed out.\n";
    return StageStatus::LocalReply;
  }
  if (path == "/robots.txt") {
    replyWith(ctx, 200, {});
    ctx.reply.kind = LocalReply::Kind::Text;
    ctx.reply.body = "User-agent: *\nDisallow: /\n";
    return StageStatus::LocalReply;
  }
  if (path == "/") {
    return redirectTo(ctx, "/.pomerium/");
  }
  return replyWith(ctx, 404, "not found");
}

StageStatus answerRouteCallback(StreamContext& ctx) {
  const IdentityRuntime* id = ctx.snapshot->identity.get();
  if (id == nullptr || !id->sign_in) {
    return replyWith(ctx, 404, "not found");
  }
  if (!signatureOk(ctx)) {
    return replyWith(ctx, 400, "invalid or expired sign-in link");
  }
  auto sealed = queryParam(ctx.target.query, "pomerium_session_encrypted");
  auto redirect = queryParam(ctx.target.query, "pomerium_redirect_uri");
  if (!sealed || !redirect) {
    return replyWith(ctx, 400, "missing session or redirect");
  }
  auto session = identity::openSessionForHost(id->cipher, *sealed, ctx.host);
  auto parts = config::splitUrl(*redirect);
  if (!session || !parts || strings::lowerAscii(parts->host) != ctx.host) {
    return replyWith(ctx, 400, "invalid sign-in hand-off");
  }
  const int64_t max_age = session->expires_at - unixNow();
  if (max_age <= 0) {
    return replyWith(ctx, 400, "the session has expired");
  }
  SignInState& st = signInState(ctx);
  st.set_cookies.clear();
  setChunkedCookie(*id, ctx.request->headers, id->cookie_name,
                   identity::sealSession(id->cipher, *session, id->cookie_name), max_age,
                   /*host_only=*/false, st.set_cookies);
  return redirectTo(ctx, *redirect);
}

StageStatus answerRouteSignOut(StreamContext& ctx) {
  const IdentityRuntime* id = ctx.snapshot->identity.get();
  if (id == nullptr || !id->sign_in) {
    return replyWith(ctx, 404, "not found");
  }
  SignInState& st = signInState(ctx);
  st.set_cookies.clear();
  clearChunkedCookie(*id, ctx.request->headers, id->cookie_name, false, st.set_cookies);
  std::string after = id->signout_redirect_url.empty()
                          ? "https://" + std::string(ctx.authority) + "/"
                          : id->signout_redirect_url;
  std::string url =
      id->authenticate_origin + "/.pomerium/sign_out?pomerium_redirect_uri=" + goQueryEscape(after);
  return redirectTo(ctx, identity::signUrl(id->shared_secret, url, unixNow()));
}

}  // namespace vallum::proxy
