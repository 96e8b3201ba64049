#include "identity/jose_key.h"

#include <vector>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "identity/base64url.h"

namespace vallum::identity::jose {
namespace {

using nlohmann::json;

struct BnDeleter {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;

std::string bnBytes(const BIGNUM* bn, int width) {
  const int n = width > 0 ? width : BN_num_bytes(bn);
  std::string out(size_t(n), '\0');
  if (BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), n) != n) {
    return {};
  }
  return out;
}

BnPtr getBn(EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) {
    return nullptr;
  }
  return BnPtr(bn);
}

std::optional<std::string> member(const json& jwk, const char* key) {
  const auto it = jwk.find(key);
  if (it == jwk.end() || !it->is_string()) {
    return std::nullopt;
  }
  return base64UrlDecode(it->get_ref<const std::string&>());
}

PkeyPtr fromData(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* pkey = nullptr;
  if (params == nullptr || ctx == nullptr || EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    pkey = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  PkeyPtr out = adopt(pkey);
  if (out) {
    // Reject points off the curve / degenerate RSA moduli before anyone verifies with them.
    EVP_PKEY_CTX* check = EVP_PKEY_CTX_new_from_pkey(nullptr, out.get(), nullptr);
    const bool ok = check != nullptr && EVP_PKEY_public_check(check) == 1;
    EVP_PKEY_CTX_free(check);
    if (!ok) {
      return nullptr;
    }
  }
  return out;
}

}  // namespace

PkeyPtr adopt(EVP_PKEY* pkey) {
  return PkeyPtr(pkey, [](EVP_PKEY* p) { EVP_PKEY_free(p); });
}

std::optional<KeyType> keyType(EVP_PKEY* pkey) {
  if (pkey == nullptr) {
    return std::nullopt;
  }
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) != 1) {
      return std::nullopt;
    }
    const std::string_view name(group, len);
    if (name == "prime256v1" || name == "P-256") {
      return KeyType::EcP256;
    }
    if (name == "secp384r1" || name == "P-384") {
      return KeyType::EcP384;
    }
    return std::nullopt;
  }
  if (EVP_PKEY_is_a(pkey, "RSA") && EVP_PKEY_get_bits(pkey) >= 2048) {
    return KeyType::Rsa;
  }
  return std::nullopt;
}

std::optional<json> publicJwk(EVP_PKEY* pkey) {
  const std::optional<KeyType> type = keyType(pkey);
  if (!type) {
    return std::nullopt;
  }
  json jwk = json::object();
  if (*type == KeyType::Rsa) {
    BnPtr n = getBn(pkey, OSSL_PKEY_PARAM_RSA_N);
    BnPtr e = getBn(pkey, OSSL_PKEY_PARAM_RSA_E);
    if (!n || !e) {
      return std::nullopt;
    }
    jwk["kty"] = "RSA";
    jwk["n"] = base64UrlEncode(bnBytes(n.get(), 0));
    jwk["e"] = base64UrlEncode(bnBytes(e.get(), 0));
    return jwk;
  }
  const int width = *type == KeyType::EcP256 ? 32 : 48;
  BnPtr x = getBn(pkey, OSSL_PKEY_PARAM_EC_PUB_X);
  BnPtr y = getBn(pkey, OSSL_PKEY_PARAM_EC_PUB_Y);
  if (!x || !y) {
    return std::nullopt;
  }
  jwk["kty"] = "EC";
  jwk["crv"] = *type == KeyType::EcP256 ? "P-256" : "P-384";
  jwk["x"] = base64UrlEncode(bnBytes(x.get(), width));
  jwk["y"] = base64UrlEncode(bnBytes(y.get(), width));
  return jwk;
}

std::string thumbprintHex(const json& public_jwk) {
  json required = json::object();
  const bool ec = public_jwk.value("kty", "") == "EC";
  for (const char* key : ec ? std::vector<const char*>{"crv", "kty", "x", "y"}
                            : std::vector<const char*>{"e", "kty", "n"}) {
    if (const auto it = public_jwk.find(key); it != public_jwk.end()) {
      required[key] = *it;
    }
  }
  // nlohmann::json objects iterate in sorted key order; dump() adds no whitespace.
  const std::string digest = sha256(required.dump());
  std::string hex;
  for (unsigned char c : digest) {
    hex.push_back("0123456789abcdef"[c >> 4]);
    hex.push_back("0123456789abcdef"[c & 15]);
  }
  return hex;
}

PkeyPtr publicKeyFromJwk(const json& jwk) {
  if (!jwk.is_object()) {
    return nullptr;
  }
  const auto kty = jwk.find("kty");
  if (kty == jwk.end() || !kty->is_string()) {
    return nullptr;
  }
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (bld == nullptr) {
    return nullptr;
  }
  PkeyPtr out;
  if (*kty == "RSA") {
    const std::optional<std::string> n = member(jwk, "n");
    const std::optional<std::string> e = member(jwk, "e");
    if (n && e && !n->empty() && !e->empty() && n->size() <= 1024 && e->size() <= 8) {
      BnPtr bn_n(
          BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), int(n->size()), nullptr));
      BnPtr bn_e(
          BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), int(e->size()), nullptr));
      if (bn_n && bn_e && BN_num_bits(bn_n.get()) >= 2048 &&
          OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n.get()) == 1 &&
          OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e.get()) == 1) {
        out = fromData("RSA", bld);
      }
    }
  } else if (*kty == "EC") {
    const auto crv = jwk.find("crv");
    const std::optional<std::string> x = member(jwk, "x");
    const std::optional<std::string> y = member(jwk, "y");
    const char* group = nullptr;
    size_t width = 0;
    if (crv != jwk.end() && *crv == "P-256") {
      group = "prime256v1";
      width = 32;
    } else if (crv != jwk.end() && *crv == "P-384") {
      group = "secp384r1";
      width = 48;
    }
    if (group != nullptr && x && y && x->size() == width && y->size() == width) {
      const std::string point = "\x04" + *x + *y;
      if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1 &&
          OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                           point.size()) == 1) {
        out = fromData("EC", bld);
      }
    }
  }
  OSSL_PARAM_BLD_free(bld);
  return out;
}

std::optional<std::string> ecdsaDerToJose(std::string_view der, size_t coordinate_size) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, long(der.size()));
  if (sig == nullptr) {
    return std::nullopt;
  }
  std::string out(coordinate_size * 2, '\0');
  auto* buf = reinterpret_cast<unsigned char*>(out.data());
  const int width = int(coordinate_size);
  const bool ok = BN_bn2binpad(ECDSA_SIG_get0_r(sig), buf, width) == width &&
                  BN_bn2binpad(ECDSA_SIG_get0_s(sig), buf + width, width) == width;
  ECDSA_SIG_free(sig);
  return ok ? std::optional<std::string>(std::move(out)) : std::nullopt;
}

std::optional<std::string> ecdsaJoseToDer(std::string_view raw) {
  if (raw.empty() || raw.size() % 2 != 0) {
    return std::nullopt;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  const int half = int(raw.size() / 2);
  BIGNUM* r = BN_bin2bn(p, half, nullptr);
  BIGNUM* s = BN_bin2bn(p + half, half, nullptr);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  if (r == nullptr || s == nullptr || sig == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (len <= 0) {
    return std::nullopt;
  }
  std::string out(reinterpret_cast<const char*>(der), size_t(len));
  OPENSSL_free(der);
  return out;
}

std::string sha256(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(digest), len);
}

}  // namespace vallum::identity::jose
