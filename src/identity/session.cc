#include "identity/session.h"

#include <exception>

#include "common/strings.h"

namespace vallum::identity {
namespace {

using nlohmann::json;

constexpr int kSessionVersion = 1;

void putString(json& j, const char* key, const std::string& value) {
  if (!value.empty()) {
    j[key] = value;
  }
}

void putTime(json& j, const char* key, int64_t value) {
  if (value != 0) {
    j[key] = value;
  }
}

bool getString(const json& j, const char* key, std::string& out) {
  const auto it = j.find(key);
  if (it == j.end()) {
    return true;
  }
  if (!it->is_string()) {
    return false;
  }
  out = it->get_ref<const std::string&>();
  return true;
}

bool getTime(const json& j, const char* key, int64_t& out) {
  const auto it = j.find(key);
  if (it == j.end()) {
    return true;
  }
  if (it->is_number_integer()) {
    out = it->get<int64_t>();  // number_unsigned above INT64_MAX is rejected below
    return !it->is_number_unsigned() || it->get<uint64_t>() <= uint64_t(INT64_MAX);
  }
  return false;
}

std::string contextFor(std::string_view kind, std::string_view value) {
  std::string ad(kind);
  ad.push_back('\0');
  ad.append(value);
  return ad;
}

}  // namespace

std::string encodeSession(const Session& session) {
  json j = json::object();
  j["v"] = kSessionVersion;
  putString(j, "id", session.id);
  putString(j, "idp", session.idp_id);
  putString(j, "sub", session.user);
  putString(j, "email", session.email);
  putString(j, "name", session.name);
  if (!session.groups.empty()) {
    j["groups"] = session.groups;
  }
  if (session.claims.is_object() && !session.claims.empty()) {
    j["claims"] = session.claims;
  }
  putString(j, "idt", session.id_token);
  putString(j, "at", session.access_token);
  putString(j, "rt", session.refresh_token);
  putTime(j, "iat", session.issued_at);
  putTime(j, "exp", session.expires_at);
  putTime(j, "rat", session.refresh_at);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<Session> decodeSession(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return std::nullopt;
  }
  const auto version = j.find("v");
  if (version == j.end() || !version->is_number_integer() ||
      version->get<int64_t>() != kSessionVersion) {
    return std::nullopt;
  }
  Session s;
  if (!getString(j, "id", s.id) || !getString(j, "idp", s.idp_id) || !getString(j, "sub", s.user) ||
      !getString(j, "email", s.email) || !getString(j, "name", s.name) ||
      !getString(j, "idt", s.id_token) || !getString(j, "at", s.access_token) ||
      !getString(j, "rt", s.refresh_token) || !getTime(j, "iat", s.issued_at) ||
      !getTime(j, "exp", s.expires_at) || !getTime(j, "rat", s.refresh_at)) {
    return std::nullopt;
  }
  if (const auto groups = j.find("groups"); groups != j.end()) {
    if (!groups->is_array()) {
      return std::nullopt;
    }
    for (const json& g : *groups) {
      if (!g.is_string()) {
        return std::nullopt;
      }
      s.groups.push_back(g.get<std::string>());
    }
  }
  if (const auto claims = j.find("claims"); claims != j.end()) {
    if (!claims->is_object()) {
      return std::nullopt;
    }
    s.claims = std::move(*claims);
  }
  return s;
}

std::string sealSession(const CookieCipher& cipher, const Session& session,
                        std::string_view cookie_name) {
  return cipher.seal(encodeSession(session), contextFor("cookie", cookie_name));
}

std::optional<Session> openSession(const CookieCipher& cipher, std::string_view sealed,
                                   std::string_view cookie_name) {
  const std::optional<std::string> plain = cipher.open(sealed, contextFor("cookie", cookie_name));
  if (!plain) {
    return std::nullopt;
  }
  return decodeSession(*plain);
}

std::string sealSessionForHost(const CookieCipher& cipher, const Session& session,
                               std::string_view host) {
  return cipher.seal(encodeSession(session), contextFor("host", strings::lowerAscii(host)));
}

std::optional<Session> openSessionForHost(const CookieCipher& cipher, std::string_view sealed,
                                          std::string_view host) {
  const std::optional<std::string> plain =
      cipher.open(sealed, contextFor("host", strings::lowerAscii(host)));
  if (!plain) {
    return std::nullopt;
  }
  return decodeSession(*plain);
}

bool sessionExpired(const Session& session, int64_t now) { return now >= session.expires_at; }

}  // namespace vallum::identity
