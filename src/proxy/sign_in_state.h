#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "identity/session.h"
#include "policy/evaluator.h"
#include "proxy/identity_runtime.h"

/// What the identity stages of one stream keep (docs/architecture.md §5): the session read from
/// the request's cookie, the policy decision, the identity JWT of the last request, and the
/// sign-in endpoints' state across their I/O. Owned by a StreamContext (created on the first
/// request that needs it, then kept from request to request, so steady state allocates
/// nothing); worker thread only.
namespace vallum::proxy {

struct StreamContext;

struct SignInState {
  // -- authenticate
  identity::Session session;
  bool signed_in = false;
  /// The sealed cookie `session` was opened from: the next request carrying the same cookie
  /// skips decryption and parsing (keep-alive connections, recycled HTTP/2 streams).
  std::string opened_cookie;
  IdentityRuntimeConstSharedPtr opened_with;  ///< the keys opened_cookie was opened with
  bool opened_ok = false;

  bool refresh_tried = false;  ///< this request ran the refresh step (reset per request)
  bool refreshed = false;      ///< the session was refreshed: set_cookies go on the response

  // -- authorize
  policy::Decision decision;
  bool decided = false;

  // -- identity headers: the signed assertion, reused while session, route and host hold
  std::string jwt;
  std::string jwt_session;  ///< session id the JWT is for ("" anonymous)
  std::string jwt_host;
  const void* jwt_route = nullptr;
  int64_t jwt_refresh_after = 0;           ///< unix seconds: sign again after this
  IdentityRuntimeConstSharedPtr jwt_keys;  ///< the signing keys of `jwt`
  std::vector<std::string> claim_values;   ///< jwt_claims_headers values of `jwt`'s claims

  // -- sign-in endpoints across their I/O (see proxy/sign_in_flow.cc)
  std::string code, verifier, nonce, return_url, redirect_uri;
  std::vector<std::string> set_cookies;  ///< Set-Cookie values of the reply
};

/// The stream's SignInState, created on first use.
SignInState& signInState(StreamContext& ctx);

}  // namespace vallum::proxy
