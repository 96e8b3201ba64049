#include "identity/service_account.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "identity/base64url.h"
#include "identity/signed_url.h"

namespace vallum::identity {

namespace {

using nlohmann::json;

constexpr std::string_view kDefaultTokenUri = "https://oauth2.googleapis.com/token";
/// Pomerium treats a Google ID token as good for 45 minutes (Google issues them for an hour).
constexpr int64_t kUseFor = 45 * 60;
/// A token whose own `exp` is closer than this is fetched again.
constexpr int64_t kExpiryMargin = 60;

Error parseError(std::string detail) {
  return Error(Errc::ParseError, ErrorSource::Config, std::move(detail));
}

std::string member(const json& doc, const char* name) {
  auto it = doc.find(name);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<ServiceAccount> parseServiceAccount(std::string_view text) {
  const auto first = std::find_if(text.begin(), text.end(), [](char c) {
    return c != ' ' && c != '\t' && c != '\r' && c != '\n';
  });
  std::string decoded;
  if (first != text.end() && *first == '{') {
    decoded.assign(text);
  } else {
    auto raw = base64StdDecode(text);
    if (!raw) {
      return parseError("not a service-account key: neither JSON nor base64 of JSON");
    }
    decoded = std::move(*raw);
  }
  const json doc = json::parse(decoded, nullptr, false);
  if (!doc.is_object()) {
    return parseError("the service-account key is not a JSON object");
  }
  const std::string type = member(doc, "type");
  if (type != "service_account") {
    return Error(Errc::NotSupported, ErrorSource::Config,
                 "credential type \"" + type + "\" is not supported (want \"service_account\")");
  }
  ServiceAccount out;
  out.client_email = member(doc, "client_email");
  if (out.client_email.empty()) {
    return parseError("the service-account key has no client_email");
  }
  const std::string pem = member(doc, "private_key");
  if (pem.empty()) {
    return parseError("the service-account key has no private_key");
  }
  auto key = SigningKey::fromPem(pem);
  if (!key) {
    return parseError("the service-account private_key: " + key.error().detail());
  }
  if (key->alg() != "RS256") {
    return Error(Errc::NotSupported, ErrorSource::Config,
                 "the service-account private_key is not an RSA key");
  }
  out.key = std::move(*key);
  out.private_key_id = member(doc, "private_key_id");
  out.token_uri = member(doc, "token_uri");
  if (out.token_uri.empty()) {
    out.token_uri = kDefaultTokenUri;
  }
  return out;
}

std::string serviceAccountAssertion(const ServiceAccount& account, std::string_view audience,
                                    int64_t now) {
  const int64_t iat = now - 10;
  const json claims = {{"iss", account.client_email},
                       {"aud", account.token_uri},
                       {"iat", iat},
                       {"exp", iat + 3600},
                       {"target_audience", audience}};
  return account.key.signJwt(claims, account.private_key_id);
}

std::string jwtBearerGrantBody(std::string_view assertion) {
  return "grant_type=" + goQueryEscape("urn:ietf:params:oauth:grant-type:jwt-bearer") +
         "&assertion=" + goQueryEscape(assertion);
}

int64_t googleTokenUsableUntil(std::string_view token, int64_t now) {
  int64_t until = now + kUseFor;
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) {
    return until;
  }
  auto payload = base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!payload) {
    return until;
  }
  const json claims = json::parse(*payload, nullptr, false);
  if (claims.is_object()) {
    auto exp = claims.find("exp");
    if (exp != claims.end() && exp->is_number()) {
      until = std::min(until, exp->get<int64_t>() - kExpiryMargin);
    }
  }
  return std::max(until, now);
}

}  // namespace vallum::identity
