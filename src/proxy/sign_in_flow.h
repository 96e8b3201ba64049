#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "proxy/stages/stage.h"

/// Pomerium's all-in-one sign-in flow (docs/architecture.md §5), served by Vallum itself:
///
///   route host, no session ──302──► authenticate host /.pomerium/sign_in (signed URL)
///     ──302──► identity provider (authorization code, PKCE S256, state, nonce)
///     ──► authenticate host /oauth2/callback: code exchanged, ID token verified, session
///         cookie `<cookie_name>_authenticate` set
///     ──302──► /.pomerium/sign_in again ──302──► route host /.pomerium/callback/ (signed URL,
///         session sealed for that host) ──► route cookie `<cookie_name>` set ──302──► the
///         original URL.
///
/// One sign-in on the authenticate host serves every route host (single sign-on). Signed URLs
/// are Pomerium's (HMAC-SHA-512/256 with shared_secret, 5 minutes); sessions and the CSRF
/// state are AEAD-sealed with cookie_secret. Handlers that talk to the identity provider
/// return Pending; their I/O runs on the stream, never blocking the worker. Worker thread.
namespace vallum::proxy {

/// The request's policy needs a signed-in user and there is none: a browser (Accept prefers
/// HTML and no `X-Requested-With: XMLHttpRequest`) gets 302 to the signed sign-in URL, any
/// other client 401 (Pomerium: authorize's login redirect).
StageStatus askSignIn(StreamContext& ctx);

/// Every request to the authenticate host: /.pomerium/sign_in, /oauth2/callback,
/// /.pomerium/sign_out, /.pomerium/signed_out, /robots.txt, / (→ /.pomerium/); else 404.
StageStatus answerAuthenticateHost(StreamContext& ctx);

/// Route host `/.pomerium/callback/`: the signed hand-off from the authenticate host sets the
/// route cookie and redirects to the original URL (same host only).
StageStatus answerRouteCallback(StreamContext& ctx);

/// Route host `/.pomerium/sign_out` (GET or POST): clears the route cookie and continues on
/// the authenticate host, which ends the session there and at the provider.
StageStatus answerRouteSignOut(StreamContext& ctx);

/// The request as an absolute https URL (Pomerium always redirects back over https).
std::string requestUrl(const StreamContext& ctx);

/// The percent-decoded value of query parameter `name` (form encoding: '+' is a space).
std::optional<std::string> queryParam(std::string_view query, std::string_view name);

}  // namespace vallum::proxy
