#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "identity/jose_key.h"

/// The key that signs X-Pomerium-Jwt-Assertion (Pomerium identity headers docs) and the JWKS that publishes it at
/// /.well-known/pomerium/jwks.json. OpenSSL 3 EVP directly (see jose_key.h for why not cjose).
namespace vallum::identity {

class SigningKey {
 public:
  /// Pomerium `signing_key` / `signing_key_file` contents. Like Pomerium's
  /// Options.GetSigningKey(): surrounding whitespace is trimmed, and text that decodes as
  /// standard base64 (CR/LF ignored) is replaced by its decoding. Then every PEM block is read:
  /// "EC PRIVATE KEY" (SEC 1), "PRIVATE KEY" (PKCS #8), "RSA PRIVATE KEY", "PUBLIC KEY". The
  /// first block must be a private key and signs; every block's public key is published in
  /// jwksJson() (key rotation: publish the next key before signing with it). Supported keys: EC
  /// P-256 (ES256) and RSA ≥ 2048 bits (RS256). Errors (Errc::ParseError / NotSupported, source
  /// Config) never include key bytes.
  static Result<SigningKey> fromPem(std::string_view pem_or_base64_pem);

  /// Pomerium's fallback when no signing key is configured (config/options.go
  /// deriveSigningKey, v0.33): HKDF-SHA256(ikm = shared_secret, salt = none, info =
  /// "derived-jwt-signing-key") read as a stream into filippo.io/keygen.ECDSALegacy(P-256):
  /// 40 bytes b (N.BitLen()/8 + 8, io.ReadFull, no randutil.MaybeReadByte), d = b mod (n−1) + 1.
  /// shared_secret: the raw (base64-decoded) shared secret bytes, as GetSharedKey() returns.
  /// Empty secret → Errc::InvalidArgument. Deterministic: same secret, same key, same kid.
  static Result<SigningKey> derive(std::string_view shared_secret);

  /// A fresh random P-256 key (Pomerium's last resort when derivation fails).
  static Result<SigningKey> generate();

  /// An empty key (a placeholder member until fromPem()/derive() provide the real one):
  /// valid() is false, alg()/kid() are "", publicJwk() is null, jwksJson() is {"keys":[]} and
  /// signJwt() returns "".
  SigningKey() = default;

  bool valid() const { return !keys_.empty(); }
  /// "ES256" or "RS256".
  const std::string& alg() const;
  /// Lower-case hex of the RFC 7638 SHA-256 JWK thumbprint of the signing key (Pomerium identity headers docs).
  const std::string& kid() const;
  /// Public JWK of the signing key with use/alg/kid, e.g.
  /// {"kty":"EC","crv":"P-256","x":..,"y":..,"use":"sig","alg":"ES256","kid":..}.
  const nlohmann::json& publicJwk() const;

  /// {"keys":[<publicJwk of every published key, signing key first>]} as compact JSON.
  std::string jwksJson() const;

  /// Compact JWS (RFC 7515 §7.1) over claims with header {"alg":alg(),"kid":kid(),"typ":"JWT"};
  /// ES256 signatures are the 64-byte JOSE r||s (RFC 7518 §3.4), not DER. Invalid UTF-8 in
  /// claim strings is replaced by U+FFFD. Returns "" only if OpenSSL fails (out of memory).
  /// Thread-safe: const, and concurrent signing with one EVP_PKEY is safe in OpenSSL 3.
  /// `kid`: the header's key id when the verifier names keys its own way (a Google service
  /// account's private_key_id); empty → kid().
  std::string signJwt(const nlohmann::json& claims, std::string_view kid = {}) const;

 private:
  struct Published {
    jose::PkeyPtr pkey;
    std::string alg;
    std::string kid;
    nlohmann::json jwk;
  };
  static Result<Published> publish(jose::PkeyPtr pkey);

  jose::PkeyPtr private_key_;
  std::vector<Published> keys_;  // empty only when !valid(); keys_[0] is private_key_'s
};

}  // namespace vallum::identity
