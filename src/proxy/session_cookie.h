#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/header_map.h"
#include "identity/session.h"
#include "proxy/identity_runtime.h"
#include "proxy/oidc_client.h"

/// Writing sessions: the session fields a token endpoint answer gives, and the Set-Cookie
/// values that store a sealed session (chunked when large) or clear it. Shared by the sign-in
/// flow and the refresh in the authenticate stage. Worker thread.
namespace vallum::proxy {

/// Fills the session's identity and tokens from a verified token answer (OIDC Core §2: sub,
/// email, name, groups; refresh due when the ID token expires). A refresh answer without a new
/// refresh token keeps the old one (RFC 6749 §6).
void applyTokens(identity::Session& session, OidcTokens tokens);

/// Set-Cookie values storing `value` in cookie `name` (chunked: identity::splitCookie) for
/// `max_age` seconds, plus the expiry of chunks a previous, larger value left in `request`.
void setChunkedCookie(const IdentityRuntime& id, const http::HeaderMap& request,
                      std::string_view name, std::string_view value, int64_t max_age,
                      bool host_only, std::vector<std::string>& out);

/// Set-Cookie values expiring cookie `name` and every chunk of it `request` carries.
void clearChunkedCookie(const IdentityRuntime& id, const http::HeaderMap& request,
                        std::string_view name, bool host_only, std::vector<std::string>& out);

}  // namespace vallum::proxy
