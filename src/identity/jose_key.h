#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/types.h>
#include <nlohmann/json.hpp>

/// Internal JOSE key plumbing shared by signing_key.cc and id_token.cc: JWK ⇄ EVP_PKEY
/// (RFC 7517/7518 §6), RFC 7638 thumbprints and the JWS ECDSA signature form (RFC 7518 §3.4).
/// Implemented on OpenSSL 3 EVP directly rather than cjose: cjose 0.6 needs jansson next to our
/// nlohmann::json, and does not let us pin the algorithm to the key type (alg-confusion checks),
/// the ECDSA r||s length or the accepted curves as tightly as a few EVP calls do.
/// Pure functions; thread-safe (EVP_PKEY objects are only read once built).
namespace vallum::identity::jose {

using PkeyPtr = std::shared_ptr<EVP_PKEY>;

enum class KeyType { EcP256, EcP384, Rsa };

/// Wraps (takes ownership of) a raw key; null stays null.
PkeyPtr adopt(EVP_PKEY* pkey);

/// Key type of pkey, or nullopt for other curves/algorithms and RSA below 2048 bits.
std::optional<KeyType> keyType(EVP_PKEY* pkey);

/// Public JWK members only: {"kty":"EC","crv":..,"x":..,"y":..} or {"kty":"RSA","n":..,"e":..}.
/// nullopt when keyType() is nullopt.
std::optional<nlohmann::json> publicJwk(EVP_PKEY* pkey);

/// Lower-case hex SHA-256 of the RFC 7638 §3 canonical JSON of the required members of a
/// public JWK (EC: crv,kty,x,y; RSA: e,kty,n), keys sorted and no whitespace.
std::string thumbprintHex(const nlohmann::json& public_jwk);

/// Builds a public key from a JWK object (EC P-256/P-384 with point-on-curve check, RSA with
/// n ≥ 2048 bits). nullptr on any missing/ill-typed member or invalid key.
PkeyPtr publicKeyFromJwk(const nlohmann::json& jwk);

/// DER ECDSA-Sig-Value → fixed-size r||s (2 × coordinate_size bytes). nullopt if malformed.
std::optional<std::string> ecdsaDerToJose(std::string_view der, size_t coordinate_size);
/// r||s (even length) → DER ECDSA-Sig-Value. nullopt if malformed.
std::optional<std::string> ecdsaJoseToDer(std::string_view raw);

/// SHA-256 digest (32 raw bytes).
std::string sha256(std::string_view data);

}  // namespace vallum::identity::jose
