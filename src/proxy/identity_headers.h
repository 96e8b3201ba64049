#pragma once

#include <string>

#include "http/header_list.h"
#include "http/header_map.h"
#include "proxy/stream_context.h"

/// The identity an upstream learns (Pomerium's identity headers, Pomerium identity headers docs): the
/// signed `X-Pomerium-Jwt-Assertion` (ES256 with the signing key; claims of §9.2) and the
/// `jwt_claims_headers`. The signed JWT is kept in the stream's SignInState and reused while
/// the session, route and host are the same and it has more than a minute to live, so a
/// keep-alive client does not pay a signature per request. Worker thread.
namespace vallum::proxy {

/// The assertion for this request (signed now or reused). `route` may be null (the internal
/// endpoints). Anonymous requests get one too (empty user), as in Pomerium.
const std::string& identityJwt(StreamContext& ctx, const RouteRuntime* route);

/// The assertion's claims minus iss, aud, exp, iat and jti (`/.pomerium/user`), as JSON text.
std::string userInfoJson(StreamContext& ctx);

/// Appends the identity headers of a route with pass_identity_headers to `out`: the
/// assertion, `X-Pomerium-Jwt-Assertion-For` (the client's own -For, else the client's
/// assertion: service chains), then one field per jwt_claims_headers entry (a missing claim
/// gives an empty value). Names for which `skip(name)` is true (set_request_headers) are left
/// out.
template <class Skip>
void appendIdentityHeaders(StreamContext& ctx, const http::HeaderMap& client, http::HeaderList& out,
                           Skip&& skip);

namespace detail {
/// The claim header values of the current assertion, in jwt_claims_headers order.
const std::vector<std::string>& claimValues(StreamContext& ctx);
}  // namespace detail

template <class Skip>
void appendIdentityHeaders(StreamContext& ctx, const http::HeaderMap& client, http::HeaderList& out,
                           Skip&& skip) {
  const std::string& jwt = identityJwt(ctx, ctx.route);
  if (!skip("x-pomerium-jwt-assertion")) {
    out.add("X-Pomerium-Jwt-Assertion", jwt);
  }
  if (!skip("x-pomerium-jwt-assertion-for")) {
    if (auto chained = client.get("x-pomerium-jwt-assertion-for")) {
      out.add("X-Pomerium-Jwt-Assertion-For", *chained);
    } else if (auto theirs = client.get("x-pomerium-jwt-assertion")) {
      out.add("X-Pomerium-Jwt-Assertion-For", *theirs);
    }
  }
  const auto& headers = ctx.snapshot->identity->claim_headers;
  const std::vector<std::string>& values = detail::claimValues(ctx);
  for (size_t i = 0; i < headers.size() && i < values.size(); ++i) {
    if (!skip(headers[i].header)) {
      out.add(headers[i].header, values[i]);
    }
  }
}

}  // namespace vallum::proxy
