#include "identity/id_token.h"

#include <cmath>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "identity/base64url.h"

namespace vallum::identity {
namespace {

using nlohmann::json;

constexpr size_t kMaxTokenBytes = 64 * 1024;
constexpr size_t kMaxJwksBytes = 1024 * 1024;

struct Algorithm {
  std::string_view name;
  const EVP_MD* (*digest)();
  jose::KeyType key_type;
  bool pss;
};

const Algorithm* findAlgorithm(std::string_view name) {
  static const Algorithm kAlgorithms[] = {
      {"RS256", EVP_sha256, jose::KeyType::Rsa, false},
      {"RS384", EVP_sha384, jose::KeyType::Rsa, false},
      {"RS512", EVP_sha512, jose::KeyType::Rsa, false},
      {"PS256", EVP_sha256, jose::KeyType::Rsa, true},
      {"PS384", EVP_sha384, jose::KeyType::Rsa, true},
      {"PS512", EVP_sha512, jose::KeyType::Rsa, true},
      {"ES256", EVP_sha256, jose::KeyType::EcP256, false},
      {"ES384", EVP_sha384, jose::KeyType::EcP384, false},
  };
  for (const Algorithm& a : kAlgorithms) {
    if (a.name == name) {
      return &a;
    }
  }
  return nullptr;
}

IdTokenResult fail(IdTokenError error, std::string detail) {
  IdTokenResult r;
  r.error = error;
  r.detail = std::move(detail);
  return r;
}

std::optional<json> decodeJsonObject(std::string_view part) {
  std::optional<std::string> text = base64UrlDecode(part);
  if (!text) {
    return std::nullopt;
  }
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return std::nullopt;
  }
  return j;
}

bool verifyWith(const Algorithm& alg, EVP_PKEY* pkey, std::string_view input,
                std::string_view signature) {
  std::string der_holder;
  if (alg.key_type != jose::KeyType::Rsa) {
    const size_t width = alg.key_type == jose::KeyType::EcP256 ? 32 : 48;
    if (signature.size() != 2 * width) {
      return false;
    }
    std::optional<std::string> der = jose::ecdsaJoseToDer(signature);
    if (!der) {
      return false;
    }
    der_holder = std::move(*der);
    signature = der_holder;
  }
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = md != nullptr && EVP_DigestVerifyInit(md, &pctx, alg.digest(), nullptr, pkey) == 1;
  if (ok && alg.pss) {
    // RFC 7518 §3.5: MGF1 with the same hash, salt length = hash length.
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, alg.digest()) == 1;
  }
  ok = ok && EVP_DigestVerify(
                 md, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                 reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(md);
  ERR_clear_error();
  return ok;
}

// A NumericDate (RFC 7519 §2): integer or (rarely, from some IdPs) fractional seconds.
std::optional<int64_t> numericDate(const json& claims, const char* key, bool& present) {
  const auto it = claims.find(key);
  present = it != claims.end();
  if (!present) {
    return std::nullopt;
  }
  if (it->is_number_integer()) {
    if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(INT64_MAX / 2)) {
      return INT64_MAX / 2;
    }
    const int64_t v = it->get<int64_t>();
    return std::max(v, INT64_MIN / 2);
  }
  if (it->is_number_float()) {
    const double v = it->get<double>();
    if (!std::isfinite(v)) {
      return std::nullopt;
    }
    return int64_t(std::clamp(std::floor(v), double(INT64_MIN / 2), double(INT64_MAX / 2)));
  }
  return std::nullopt;
}

}  // namespace

std::optional<Jwks> Jwks::parse(std::string_view text) {
  if (text.size() > kMaxJwksBytes) {
    return std::nullopt;
  }
  const json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return std::nullopt;
  }
  const auto keys = j.find("keys");
  if (keys == j.end() || !keys->is_array()) {
    return std::nullopt;
  }
  Jwks out;
  for (const json& k : *keys) {
    if (!k.is_object()) {
      continue;
    }
    const auto use = k.find("use");
    if (use != k.end() && *use != "sig") {
      continue;
    }
    Key key;
    if (const auto kid = k.find("kid"); kid != k.end()) {
      if (!kid->is_string()) {
        continue;
      }
      key.kid = kid->get<std::string>();
    }
    if (const auto alg = k.find("alg"); alg != k.end()) {
      if (!alg->is_string()) {
        continue;
      }
      key.alg = alg->get<std::string>();
    }
    key.pkey = jose::publicKeyFromJwk(k);
    const std::optional<jose::KeyType> type = jose::keyType(key.pkey.get());
    if (!type) {
      continue;
    }
    key.type = *type;
    out.keys_.push_back(std::move(key));
  }
  ERR_clear_error();
  return out;
}

bool Jwks::has(std::string_view kid) const {
  for (const Key& k : keys_) {
    if (k.kid == kid) {
      return true;
    }
  }
  return false;
}

std::string_view idTokenErrorName(IdTokenError error) {
  switch (error) {
    case IdTokenError::None:
      return "ok";
    case IdTokenError::Malformed:
      return "malformed";
    case IdTokenError::UnsupportedAlgorithm:
      return "unsupported_algorithm";
    case IdTokenError::UnknownKid:
      return "unknown_kid";
    case IdTokenError::BadSignature:
      return "bad_signature";
    case IdTokenError::WrongIssuer:
      return "wrong_issuer";
    case IdTokenError::WrongAudience:
      return "wrong_audience";
    case IdTokenError::Expired:
      return "expired";
    case IdTokenError::NotYetValid:
      return "not_yet_valid";
    case IdTokenError::IssuedInFuture:
      return "issued_in_future";
    case IdTokenError::WrongNonce:
      return "wrong_nonce";
  }
  return "unknown";
}

IdTokenResult verifyIdToken(std::string_view token, const Jwks& jwks,
                            const IdTokenExpectations& expect) {
  if (token.size() > kMaxTokenBytes) {
    return fail(IdTokenError::Malformed, "token too large");
  }
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return fail(IdTokenError::Malformed, "not a compact JWS");
  }
  const std::string_view signing_input = token.substr(0, dot2);
  const std::optional<json> header = decodeJsonObject(token.substr(0, dot1));
  if (!header) {
    return fail(IdTokenError::Malformed, "bad header");
  }
  const auto alg_it = header->find("alg");
  if (alg_it == header->end() || !alg_it->is_string()) {
    return fail(IdTokenError::Malformed, "header without alg");
  }
  const std::string& alg_name = alg_it->get_ref<const std::string&>();
  const Algorithm* alg = findAlgorithm(alg_name);
  if (alg == nullptr) {
    return fail(IdTokenError::UnsupportedAlgorithm, "alg " + alg_name.substr(0, 16));
  }
  if (header->contains("crit")) {
    return fail(IdTokenError::UnsupportedAlgorithm, "crit header");  // RFC 7515 §4.1.11
  }
  const std::optional<std::string> signature = base64UrlDecode(token.substr(dot2 + 1));
  if (!signature) {
    return fail(IdTokenError::Malformed, "bad signature encoding");
  }
  const std::optional<json> claims = decodeJsonObject(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!claims) {
    return fail(IdTokenError::Malformed, "bad payload");
  }

  std::optional<std::string> kid;
  if (const auto k = header->find("kid"); k != header->end()) {
    if (!k->is_string()) {
      return fail(IdTokenError::Malformed, "kid not a string");
    }
    kid = k->get<std::string>();
    if (!jwks.has(*kid)) {
      return fail(IdTokenError::UnknownKid, "kid not in JWKS");
    }
  }
  bool verified = false;
  for (const Jwks::Key& key : jwks.keys()) {
    if ((kid && key.kid != *kid) || key.type != alg->key_type ||
        (!key.alg.empty() && key.alg != alg->name)) {
      continue;
    }
    if (verifyWith(*alg, key.pkey.get(), signing_input, *signature)) {
      verified = true;
      break;
    }
  }
  if (!verified) {
    return fail(IdTokenError::BadSignature, "signature does not verify");
  }

  const auto iss = claims->find("iss");
  if (iss == claims->end() || !iss->is_string() || *iss != expect.issuer) {
    return fail(IdTokenError::WrongIssuer, "iss mismatch");
  }
  const auto aud = claims->find("aud");
  bool audience_ok = false;
  if (aud != claims->end() && aud->is_string()) {
    audience_ok = *aud == expect.client_id;
  } else if (aud != claims->end() && aud->is_array()) {
    for (const json& a : *aud) {
      audience_ok = audience_ok || (a.is_string() && a == expect.client_id);
    }
  }
  const auto azp = claims->find("azp");
  if (!audience_ok || (azp != claims->end() && (!azp->is_string() || *azp != expect.client_id))) {
    return fail(IdTokenError::WrongAudience, "aud/azp mismatch");
  }
  bool present = false;
  const std::optional<int64_t> exp = numericDate(*claims, "exp", present);
  if (!exp) {
    return fail(IdTokenError::Malformed, "exp missing or not a number");
  }
  if (expect.now >= *exp + expect.leeway_seconds) {
    return fail(IdTokenError::Expired, "token expired");
  }
  const std::optional<int64_t> iat = numericDate(*claims, "iat", present);
  if (!iat) {
    return fail(IdTokenError::Malformed, "iat missing or not a number");
  }
  if (expect.now + expect.leeway_seconds < *iat) {
    return fail(IdTokenError::IssuedInFuture, "iat in the future");
  }
  const std::optional<int64_t> nbf = numericDate(*claims, "nbf", present);
  if (present && !nbf) {
    return fail(IdTokenError::Malformed, "nbf not a number");
  }
  if (nbf && expect.now + expect.leeway_seconds < *nbf) {
    return fail(IdTokenError::NotYetValid, "nbf in the future");
  }
  if (expect.nonce) {
    const auto nonce = claims->find("nonce");
    if (nonce == claims->end() || !nonce->is_string() || *nonce != *expect.nonce) {
      return fail(IdTokenError::WrongNonce, "nonce mismatch");
    }
  }
  IdTokenResult ok;
  ok.error = IdTokenError::None;
  ok.claims = std::move(*claims);
  return ok;
}

}  // namespace vallum::identity
