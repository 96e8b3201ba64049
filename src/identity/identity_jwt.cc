#include "identity/identity_jwt.h"

#include <algorithm>
#include <array>

namespace vallum::identity {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 11> kBaseClaims = {
    "iss", "aud", "jti", "iat", "exp", "sub", "user", "email", "groups", "sid", "name"};

std::string_view hostWithoutPort(std::string_view host) {
  if (host.starts_with('[')) {
    const size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  const size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && host.find(':') == colon) {
    return host.substr(0, colon);
  }
  return host;
}

// One value of a claim as text (string as-is, anything else as compact JSON).
std::string scalarText(const json& v) {
  if (v.is_string()) {
    return v.get<std::string>();
  }
  if (v.is_null()) {
    return {};
  }
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string joined(const json& v) {
  if (!v.is_array()) {
    return scalarText(v);
  }
  std::string out;
  bool first = true;
  for (const json& e : v) {
    if (!first) {
      out.push_back(',');
    }
    first = false;
    out += scalarText(e);
  }
  return out;
}

}  // namespace

json assertionClaims(const Session* session, std::string_view host, bool issuer_uri_format,
                     int64_t now, std::string_view jti, std::span<const std::string> groups_filter,
                     std::span<const std::string> extra_claims) {
  const std::string hostname(hostWithoutPort(host));
  json claims = json::object();
  claims["iss"] = issuer_uri_format ? "https://" + hostname + "/" : hostname;
  claims["aud"] = hostname;
  claims["jti"] = std::string(jti);
  claims["iat"] = now;
  claims["exp"] = now + kAssertionLifetimeSeconds;
  json groups = json::array();
  std::string name;
  if (session != nullptr) {
    claims["sub"] = session->user;
    claims["user"] = session->user;
    claims["email"] = session->email;
    claims["sid"] = session->id;
    for (const std::string& g : session->groups) {
      if (groups_filter.empty() ||
          std::find(groups_filter.begin(), groups_filter.end(), g) != groups_filter.end()) {
        groups.push_back(g);
      }
    }
    const json& session_claims = session->claims;
    if (session_claims.is_object() && session_claims.contains("name") &&
        !session_claims["name"].is_null()) {
      name = joined(session_claims["name"]);
    } else {
      name = session->name;
    }
  } else {
    claims["sub"] = "";
    claims["user"] = "";
    claims["email"] = "";
    claims["sid"] = "";
  }
  claims["groups"] = std::move(groups);
  claims["name"] = name;
  if (session != nullptr && session->claims.is_object()) {
    for (const std::string& extra : extra_claims) {
      if (std::find(kBaseClaims.begin(), kBaseClaims.end(), extra) != kBaseClaims.end()) {
        continue;
      }
      const auto it = session->claims.find(extra);
      if (it != session->claims.end() && !it->is_null()) {
        claims[extra] = joined(*it);
      }
    }
  }
  return claims;
}

std::string claimHeaderValue(const json& claims, std::string_view claim) {
  if (!claims.is_object()) {
    return {};
  }
  const auto it = claims.find(claim);
  if (it == claims.end()) {
    return {};
  }
  return joined(*it);
}

}  // namespace vallum::identity
