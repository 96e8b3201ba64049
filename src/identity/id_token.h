#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "identity/jose_key.h"

/// Verification of OIDC ID tokens (OpenID Connect Core 1.0 §3.1.3.7) against the provider's
/// JWKS (RFC 7517). OpenSSL 3 EVP directly (jose_key.h says why not cjose).
///
/// No decodeJwtPayloadUnverified(): a refresh-token response's id_token is verified like any
/// other (with nonce not checked, OIDC Core §12.2), so nothing needs unverified payloads.
namespace vallum::identity {

/// A provider's signing keys, parsed once per JWKS fetch. Immutable; share freely across
/// threads (e.g. in a snapshot).
class Jwks {
 public:
  /// Parses {"keys":[...]}. Keys that are not signature keys ("use" other than "sig"), or of
  /// an unsupported type (only EC P-256/P-384 and RSA ≥ 2048 bits) or invalid (point off the
  /// curve) are skipped, so one exotic key does not disable a provider. nullopt when the text
  /// is not JSON, has no "keys" array, or is over 1 MiB. Never throws.
  static std::optional<Jwks> parse(std::string_view json);

  /// True when a usable key has this "kid".
  bool has(std::string_view kid) const;
  /// Number of usable keys.
  size_t size() const { return keys_.size(); }

  struct Key {
    std::string kid;  ///< may be empty
    std::string alg;  ///< the JWK's "alg" if present, else empty (any alg of the key type)
    jose::KeyType type;
    jose::PkeyPtr pkey;
  };
  const std::vector<Key>& keys() const { return keys_; }

 private:
  std::vector<Key> keys_;
};

enum class IdTokenError {
  None,
  Malformed,             ///< not three base64url parts / JSON objects, bad or missing claim type
  UnsupportedAlgorithm,  ///< "none", HS*, unknown alg, or a "crit" header
  UnknownKid,            ///< header kid not in the JWKS: refetch the JWKS once and retry
  BadSignature,          ///< no key of the JWKS verifies the signature (or alg/key mismatch)
  WrongIssuer,           ///< iss != expected issuer
  WrongAudience,         ///< aud lacks client_id, or azp present and != client_id
  Expired,               ///< now >= exp + leeway
  NotYetValid,           ///< nbf present and now + leeway < nbf
  IssuedInFuture,        ///< now + leeway < iat
  WrongNonce,            ///< expected nonce given and the nonce claim differs or is missing
};

/// Stable short name ("unknown_kid") for logs and metrics labels.
std::string_view idTokenErrorName(IdTokenError error);

struct IdTokenExpectations {
  std::string issuer;                ///< exact string compare (OIDC Core §3.1.3.7 step 2)
  std::string client_id;             ///< must be in aud (string or array)
  std::optional<std::string> nonce;  ///< checked when set (authorization-code flow)
  int64_t now = 0;                   ///< unix seconds
  int64_t leeway_seconds = 60;       ///< clock skew allowed on exp, nbf and iat
};

struct IdTokenResult {
  IdTokenError error = IdTokenError::Malformed;
  std::string detail;                                ///< for logs; never holds the token
  nlohmann::json claims = nlohmann::json::object();  ///< payload when error == None
  bool ok() const { return error == IdTokenError::None; }
};

/// Verifies a compact JWS ID token. Algorithms: RS256, RS384, RS512, PS256, PS384, PS512 (RSA
/// keys), ES256 (P-256), ES384 (P-384); the algorithm must match the key type and the JWK's
/// "alg" when present (no alg confusion). A header kid selects exactly that key; without a kid
/// every key of a matching type is tried. Claims checked after the signature: iss, aud, azp,
/// exp (required), iat (required), nbf (optional), nonce. Tokens over 64 KiB are Malformed.
/// Never throws; thread-safe.
IdTokenResult verifyIdToken(std::string_view token, const Jwks& jwks,
                            const IdTokenExpectations& expect);

}  // namespace vallum::identity
