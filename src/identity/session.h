#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "identity/cookie_cipher.h"

/// The signed-in session Vallum keeps in its encrypted cookie (Pomerium's sign-in flow: Pomerium keeps the
/// same facts in the databroker's session.Session; Vallum, being stateless, carries them in the
/// cookie itself, docs/decisions.md "Identity and sign-in").
namespace vallum::identity {

struct Session {
  std::string id;      ///< random session id (Pomerium `sid`)
  std::string idp_id;  ///< which identity provider signed the user in
  std::string user;    ///< IdP subject (`sub`)
  std::string email;
  std::string name;
  std::vector<std::string> groups;
  nlohmann::json claims = nlohmann::json::object();  ///< all ID-token/userinfo claims (object)
  std::string id_token;
  std::string access_token;
  std::string refresh_token;
  int64_t issued_at = 0;   ///< unix seconds
  int64_t expires_at = 0;  ///< session end: issued_at + cookie_expire, unix seconds
  int64_t refresh_at = 0;  ///< when the ID token expires (refresh due), unix seconds

  bool operator==(const Session&) const = default;
};

/// Compact JSON with short keys; empty strings, empty lists, empty claims and zero times are
/// left out. Layout (version 1):
///   {"v":1,"id":..,"idp":..,"sub":..,"email":..,"name":..,"groups":[..],"claims":{..},
///    "idt":..,"at":..,"rt":..,"iat":..,"exp":..,"rat":..}
/// Invalid UTF-8 in any string is replaced by U+FFFD rather than failing. Never throws.
std::string encodeSession(const Session& session);

/// Strict inverse of encodeSession(): the text must be a JSON object with "v":1, and every known
/// key must have its type (string; array of strings; object; integer). Unknown keys are ignored
/// so a newer Vallum may add fields without logging users out of an older one. nullopt on bad
/// JSON, a wrong version or a wrong type. Never throws.
std::optional<Session> decodeSession(std::string_view json);

/// Seals a session for the cookie `cookie_name` (AEAD associated data "cookie\0" + cookie_name,
/// so a value cannot be replayed under another cookie name). Thread-safe (CookieCipher).
std::string sealSession(const CookieCipher& cipher, const Session& session,
                        std::string_view cookie_name);
/// Opens a value from sealSession(); nullopt on any tamper, name mismatch or decode error.
/// Expiry is not checked here: see sessionExpired().
std::optional<Session> openSession(const CookieCipher& cipher, std::string_view sealed,
                                   std::string_view cookie_name);

/// Seals a session handed from the authenticate host to a route host (Pomerium's sign-in flow step 4,
/// `pomerium_session_encrypted`): associated data "host\0" + lower-cased target host, so a value
/// minted for one route host is useless on another.
std::string sealSessionForHost(const CookieCipher& cipher, const Session& session,
                               std::string_view host);
std::optional<Session> openSessionForHost(const CookieCipher& cipher, std::string_view sealed,
                                          std::string_view host);

/// True when the session has ended: now >= expires_at (unix seconds). A session without an end
/// (expires_at 0) counts as expired.
bool sessionExpired(const Session& session, int64_t now);

}  // namespace vallum::identity
