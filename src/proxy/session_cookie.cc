#include "proxy/session_cookie.h"

#include "identity/cookie_cipher.h"
#include "proxy/cookies.h"

namespace vallum::proxy {

void applyTokens(identity::Session& session, OidcTokens tokens) {
  const nlohmann::json& claims = tokens.claims;
  auto text = [&](const char* key) {
    auto it = claims.find(key);
    return it != claims.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  session.user = text("sub");
  session.email = text("email");
  session.name = text("name");
  session.groups.clear();
  if (auto it = claims.find("groups"); it != claims.end() && it->is_array()) {
    for (const auto& g : *it) {
      if (g.is_string()) {
        session.groups.push_back(g.get<std::string>());
      }
    }
  }
  session.refresh_at = 0;
  if (auto it = claims.find("exp"); it != claims.end() && it->is_number_integer()) {
    session.refresh_at = it->get<int64_t>();
  }
  session.claims = std::move(tokens.claims);
  session.id_token = std::move(tokens.id_token);
  session.access_token = std::move(tokens.access_token);
  if (!tokens.refresh_token.empty()) {
    session.refresh_token = std::move(tokens.refresh_token);
  }
}

void setChunkedCookie(const IdentityRuntime& id, const http::HeaderMap& request,
                      std::string_view name, std::string_view value, int64_t max_age,
                      bool host_only, std::vector<std::string>& out) {
  auto chunks = identity::splitCookie(name, value);
  for (const auto& [chunk_name, chunk_value] : chunks) {
    out.push_back(id.setCookie(chunk_name, chunk_value, max_age, host_only));
  }
  for (size_t i = chunks.size(); i < identity::kMaxCookieChunks; ++i) {
    std::string stale = std::string(name) + "_" + std::to_string(i);
    if (findCookie(request, stale)) {
      out.push_back(id.setCookie(stale, "", -1, host_only));
    }
  }
}

void clearChunkedCookie(const IdentityRuntime& id, const http::HeaderMap& request,
                        std::string_view name, bool host_only, std::vector<std::string>& out) {
  out.push_back(id.setCookie(name, "", -1, host_only));
  for (size_t i = 1; i < identity::kMaxCookieChunks; ++i) {
    std::string chunk = std::string(name) + "_" + std::to_string(i);
    if (findCookie(request, chunk)) {
      out.push_back(id.setCookie(chunk, "", -1, host_only));
    }
  }
}

}  // namespace vallum::proxy
