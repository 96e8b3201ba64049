#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "identity/id_token.h"
#include "proxy/identity_runtime.h"
#include "upstream/http_fetch.h"

/// The relying-party side of OpenID Connect for sign-in (OIDC Core 1.0 §3.1, OIDC Discovery
/// 1.0, RFC 6749 §4.1 and §6, PKCE RFC 7636): discovery, the token endpoint, ID-token
/// verification against the provider's JWKS. One per worker (no locks): each worker fetches
/// the discovery document and JWKS itself and caches them for an hour; an ID token signed
/// with an unknown key id refetches the JWKS once.
namespace vallum::proxy {

/// The provider endpoints of its discovery document.
struct OidcEndpoints {
  std::string issuer;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
  std::string end_session_endpoint;  ///< empty when not advertised
};

/// A token endpoint answer with its ID token verified.
struct OidcTokens {
  std::string error;  ///< empty on success; otherwise why (for the log, never a token)
  std::string id_token;
  std::string access_token;
  std::string refresh_token;
  nlohmann::json claims = nlohmann::json::object();  ///< the verified ID token's payload
};

class OidcClient {
 public:
  OidcClient(boost::asio::any_io_executor executor, upstream::PostToOwner post)
      : executor_(std::move(executor)), post_(std::move(post)) {}

  /// The discovery document of `rt.issuer` (cached); null with `error` set when it cannot be
  /// fetched or lacks an endpoint.
  boost::asio::awaitable<const OidcEndpoints*> endpoints(const IdentityRuntime& rt,
                                                         std::string& error);
  /// The authorization code grant (RFC 6749 §4.1.3) with the PKCE verifier; the ID token must
  /// carry `nonce`.
  boost::asio::awaitable<OidcTokens> exchangeCode(const IdentityRuntime& rt, std::string_view code,
                                                  std::string_view verifier,
                                                  std::string_view nonce);
  /// The refresh token grant (RFC 6749 §6); the new ID token is verified (no nonce).
  boost::asio::awaitable<OidcTokens> refresh(const IdentityRuntime& rt,
                                             std::string_view refresh_token);

 private:
  struct Provider {
    OidcEndpoints endpoints;
    std::optional<identity::Jwks> jwks;
    std::chrono::steady_clock::time_point fetched{};
  };
  boost::asio::awaitable<OidcTokens> tokenRequest(const IdentityRuntime& rt, std::string body,
                                                  std::string nonce);
  boost::asio::awaitable<bool> fetchJwks(const IdentityRuntime& rt, Provider& provider,
                                         std::string& error);

  boost::asio::any_io_executor executor_;
  upstream::PostToOwner post_;
  std::unordered_map<std::string, Provider> providers_;  ///< by issuer
};

}  // namespace vallum::proxy
