#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "identity/session.h"

/// The claims of X-Pomerium-Jwt-Assertion (Pomerium identity headers docs) and the X-Pomerium-Claim-* header values
/// taken from them (Pomerium identity headers docs). Signing is SigningKey::signJwt(). Pure functions; thread-safe.
namespace vallum::identity {

inline constexpr int64_t kAssertionLifetimeSeconds = 300;  ///< exp = iat + 5 min

/// Builds the assertion claims.
///  - session: the signed-in session, or null for an anonymous request (public routes still get
///    a JWT; sub/user/email/sid/name are then "" and groups []).
///  - host: request host; a port (":443", "[::1]:8443") is removed. iss = host, or
///    "https://<host>/" when issuer_uri_format (jwt_issuer_format: uri); aud = host (a string).
///  - now: unix seconds → iat; exp = now + 300. No nbf.
///  - jti: the caller's random UUIDv4.
///  - groups_filter: jwt_groups_filter (global ∪ route); empty keeps every group, otherwise
///    only listed groups survive, in the session's order. Vallum has no directory data, so
///    groups come from the session's groups claim. Always an array, never null.
///  - extra_claims: jwt_claims_headers claim names; each one that is not a base claim (iss,
///    aud, jti, iat, exp, sub, user, email, groups, sid, name) is copied from session->claims as
///    a string (arrays joined with ",", numbers/bools default formatting); absent → omitted.
/// name = claims["name"] (a list joined with ","), else session->name, else "".
nlohmann::json assertionClaims(const Session* session, std::string_view host,
                               bool issuer_uri_format, int64_t now, std::string_view jti,
                               std::span<const std::string> groups_filter,
                               std::span<const std::string> extra_claims);

/// The X-Pomerium-Claim-<claim> value: strings as-is; arrays joined with "," (no space; string
/// elements as-is, others as JSON); integers in decimal; other numbers and bools as JSON text;
/// null or missing → "" (the header is still sent, Pomerium identity headers docs); objects as compact JSON.
std::string claimHeaderValue(const nlohmann::json& claims, std::string_view claim);

}  // namespace vallum::identity
