#include "proxy/oidc_client.h"

#include "common/clock.h"
#include "common/strings.h"
#include "identity/signed_url.h"
#include "upstream/http_fetch.h"

// GCC 12 at -O2 reports -Wmismatched-new-delete on the coroutine frame of tokenRequest(): a
// false positive with the class-specific operator new/delete asio gives coroutine frames (the
// frame is allocated and freed by the same awaitable_frame_base operators).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace vallum::proxy {

namespace asio = boost::asio;

namespace {

constexpr auto kFetchTimeout = std::chrono::seconds(10);
constexpr auto kCacheFor = std::chrono::hours(1);

std::string jsonString(const nlohmann::json& doc, const char* key) {
  auto it = doc.find(key);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string discoveryUrl(std::string issuer) {
  while (!issuer.empty() && issuer.back() == '/') {
    issuer.pop_back();
  }
  return issuer + "/.well-known/openid-configuration";
}

}  // namespace

asio::awaitable<const OidcEndpoints*> OidcClient::endpoints(const IdentityRuntime& rt,
                                                            std::string& error) {
  auto now = std::chrono::steady_clock::now();
  auto it = providers_.find(rt.issuer);
  if (it != providers_.end() && now - it->second.fetched < kCacheFor) {
    co_return &it->second.endpoints;
  }
  upstream::FetchRequest request;
  request.url = discoveryUrl(rt.issuer);
  request.headers.emplace_back("Accept", "application/json");
  upstream::FetchResponse response =
      co_await upstream::fetch(executor_, post_, request, rt.idp_tls.get(), kFetchTimeout);
  if (response.status != 200) {
    error = "discovery " + request.url + ": " +
            (response.status == 0 ? response.error : "status " + std::to_string(response.status));
    co_return nullptr;
  }
  auto doc = nlohmann::json::parse(response.body, nullptr, false);
  if (!doc.is_object()) {
    error = "discovery " + request.url + ": not a JSON object";
    co_return nullptr;
  }
  Provider provider;
  provider.endpoints.issuer = jsonString(doc, "issuer");
  provider.endpoints.authorization_endpoint = jsonString(doc, "authorization_endpoint");
  provider.endpoints.token_endpoint = jsonString(doc, "token_endpoint");
  provider.endpoints.jwks_uri = jsonString(doc, "jwks_uri");
  provider.endpoints.end_session_endpoint = jsonString(doc, "end_session_endpoint");
  if (provider.endpoints.authorization_endpoint.empty() ||
      provider.endpoints.token_endpoint.empty() || provider.endpoints.jwks_uri.empty()) {
    error = "discovery " + request.url + ": missing authorization, token or jwks endpoint";
    co_return nullptr;
  }
  // OIDC Discovery §4.3: the issuer in the document must be the one configured.
  std::string want = rt.issuer, got = provider.endpoints.issuer;
  while (!want.empty() && want.back() == '/') want.pop_back();
  while (!got.empty() && got.back() == '/') got.pop_back();
  if (want != got) {
    error = "discovery " + request.url + ": issuer " + config::quoted(provider.endpoints.issuer) +
            " is not the configured idp_provider_url";
    co_return nullptr;
  }
  provider.fetched = now;
  auto& slot = providers_[rt.issuer];
  slot = std::move(provider);
  co_return &slot.endpoints;
}

asio::awaitable<bool> OidcClient::fetchJwks(const IdentityRuntime& rt, Provider& provider,
                                            std::string& error) {
  upstream::FetchRequest request;
  request.url = provider.endpoints.jwks_uri;
  upstream::FetchResponse response =
      co_await upstream::fetch(executor_, post_, request, rt.idp_tls.get(), kFetchTimeout);
  if (response.status != 200) {
    error = "jwks " + request.url + ": " +
            (response.status == 0 ? response.error : "status " + std::to_string(response.status));
    co_return false;
  }
  provider.jwks = identity::Jwks::parse(response.body);
  if (!provider.jwks) {
    error = "jwks " + request.url + ": not a usable JWK set";
    co_return false;
  }
  co_return true;
}

asio::awaitable<OidcTokens> OidcClient::tokenRequest(const IdentityRuntime& rt, std::string body,
                                                     std::string nonce) {
  OidcTokens out;
  std::string error;
  const OidcEndpoints* ep = co_await endpoints(rt, error);
  if (ep == nullptr) {
    out.error = error;
    co_return out;
  }
  upstream::FetchRequest request;
  request.method = "POST";
  request.url = ep->token_endpoint;
  request.body = std::move(body);
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  request.headers.emplace_back("Accept", "application/json");
  // client_secret_basic (RFC 6749 §2.3.1): both parts form-encoded, then base64.
  request.headers.emplace_back(
      "Authorization",
      "Basic " + strings::base64Encode(identity::goQueryEscape(rt.client_id) + ":" +
                                       identity::goQueryEscape(rt.client_secret)));
  upstream::FetchResponse response =
      co_await upstream::fetch(executor_, post_, request, rt.idp_tls.get(), kFetchTimeout);
  auto doc = nlohmann::json::parse(response.body, nullptr, false);
  if (response.status != 200 || !doc.is_object()) {
    out.error = "token endpoint: " +
                (response.status == 0
                     ? response.error
                     : "status " + std::to_string(response.status) +
                           (doc.is_object() ? " " + jsonString(doc, "error") : std::string()));
    co_return out;
  }
  out.id_token = jsonString(doc, "id_token");
  out.access_token = jsonString(doc, "access_token");
  out.refresh_token = jsonString(doc, "refresh_token");
  if (out.id_token.empty()) {
    out.error = "token endpoint: no id_token in the answer";
    co_return out;
  }
  Provider& provider = providers_[rt.issuer];
  identity::IdTokenExpectations expect;
  expect.issuer = provider.endpoints.issuer;
  expect.client_id = rt.client_id;
  if (!nonce.empty()) {
    expect.nonce = nonce;
  }
  expect.now = unixNow();
  // Keys are fetched when missing, and again once for a key id the set does not have.
  if (!provider.jwks) {
    const bool fetched = co_await fetchJwks(rt, provider, error);
    if (!fetched) {
      out.error = error;
      co_return out;
    }
  }
  identity::IdTokenResult verified = identity::verifyIdToken(out.id_token, *provider.jwks, expect);
  if (verified.error == identity::IdTokenError::UnknownKid) {
    const bool fetched = co_await fetchJwks(rt, provider, error);
    if (!fetched) {
      out.error = error;
      co_return out;
    }
    verified = identity::verifyIdToken(out.id_token, *provider.jwks, expect);
  }
  if (!verified.ok()) {
    out.error = "id token: " + std::string(identity::idTokenErrorName(verified.error)) +
                (verified.detail.empty() ? "" : " (" + verified.detail + ")");
    co_return out;
  }
  out.claims = std::move(verified.claims);
  co_return out;
}

asio::awaitable<OidcTokens> OidcClient::exchangeCode(const IdentityRuntime& rt,
                                                     std::string_view code,
                                                     std::string_view verifier,
                                                     std::string_view nonce) {
  std::string body = "grant_type=authorization_code&code=" + identity::goQueryEscape(code) +
                     "&redirect_uri=" + identity::goQueryEscape(rt.callback_url) +
                     "&code_verifier=" + identity::goQueryEscape(verifier);
  OidcTokens tokens = co_await tokenRequest(rt, std::move(body), std::string(nonce));
  co_return tokens;
}

asio::awaitable<OidcTokens> OidcClient::refresh(const IdentityRuntime& rt,
                                                std::string_view refresh_token) {
  std::string body =
      "grant_type=refresh_token&refresh_token=" + identity::goQueryEscape(refresh_token);
  OidcTokens tokens = co_await tokenRequest(rt, std::move(body), std::string());
  co_return tokens;
}

}  // namespace vallum::proxy
