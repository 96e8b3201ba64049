#include "identity/signing_key.h"

#include <memory>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "common/strings.h"
#include "identity/base64url.h"

namespace vallum::identity {
namespace {

using nlohmann::json;

constexpr std::string_view kDeriveInfo = "derived-jwt-signing-key";
// filippo.io/keygen.ECDSALegacy reads params.N.BitLen()/8 + 8 bytes: 256/8 + 8 for P-256.
constexpr size_t kLegacySeedBytes = 40;

Error keyError(Errc code, std::string detail) {
  return Error(code, ErrorSource::Config, "signing_key: " + std::move(detail));
}

struct BnCtxDeleter {
  void operator()(BN_CTX* ctx) const { BN_CTX_free(ctx); }
};
struct BnDeleter {
  void operator()(BIGNUM* bn) const { BN_clear_free(bn); }
};
struct GroupDeleter {
  void operator()(EC_GROUP* g) const { EC_GROUP_free(g); }
};
struct PointDeleter {
  void operator()(EC_POINT* p) const { EC_POINT_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;

// One PEM block read from the text: its label and DER body.
struct PemBlock {
  std::string name;
  std::string der;
};

std::vector<PemBlock> readPemBlocks(std::string_view text) {
  std::vector<PemBlock> blocks;
  BIO* bio = BIO_new_mem_buf(text.data(), int(text.size()));
  if (bio == nullptr) {
    return blocks;
  }
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio, &name, &header, &data, &len) != 1) {
      break;
    }
    blocks.push_back({name, std::string(reinterpret_cast<const char*>(data), size_t(len))});
    OPENSSL_cleanse(data, size_t(len));
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
  }
  BIO_free(bio);
  ERR_clear_error();  // the loop always ends on PEM_R_NO_START_LINE
  return blocks;
}

std::string_view algFor(jose::KeyType type) {
  return type == jose::KeyType::Rsa ? "RS256" : "ES256";
}

// EC P-256 private key with scalar d (big-endian), public point computed.
jose::PkeyPtr ecKeyFromScalar(const BIGNUM* d, BN_CTX* ctx) {
  std::unique_ptr<EC_GROUP, GroupDeleter> group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  if (!group) {
    return nullptr;
  }
  std::unique_ptr<EC_POINT, PointDeleter> pub(EC_POINT_new(group.get()));
  if (!pub || EC_POINT_mul(group.get(), pub.get(), d, nullptr, nullptr, ctx) != 1) {
    return nullptr;
  }
  unsigned char point[65];
  if (EC_POINT_point2oct(group.get(), pub.get(), POINT_CONVERSION_UNCOMPRESSED, point,
                         sizeof(point), ctx) != sizeof(point)) {
    return nullptr;
  }
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* pkey = nullptr;
  const bool ok =
      bld != nullptr && pctx != nullptr &&
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) == 1 &&
      (params = OSSL_PARAM_BLD_to_param(bld)) != nullptr && EVP_PKEY_fromdata_init(pctx) == 1 &&
      EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_KEYPAIR, params) == 1;
  OSSL_PARAM_free(params);  // OSSL_PARAM_clear_free is OpenSSL 3.2+
  OSSL_PARAM_BLD_free(bld);
  EVP_PKEY_CTX_free(pctx);
  return ok ? jose::adopt(pkey) : nullptr;
}

}  // namespace

Result<SigningKey::Published> SigningKey::publish(jose::PkeyPtr pkey) {
  const std::optional<jose::KeyType> type = jose::keyType(pkey.get());
  if (!type || *type == jose::KeyType::EcP384) {
    return keyError(Errc::NotSupported, "only EC P-256 and RSA (2048 bits or more) keys");
  }
  std::optional<json> jwk = jose::publicJwk(pkey.get());
  if (!jwk) {
    return keyError(Errc::Internal, "cannot export the public key");
  }
  Published out;
  out.pkey = std::move(pkey);
  out.alg = std::string(algFor(*type));
  out.kid = jose::thumbprintHex(*jwk);
  (*jwk)["use"] = "sig";
  (*jwk)["alg"] = out.alg;
  (*jwk)["kid"] = out.kid;
  out.jwk = std::move(*jwk);
  return out;
}

Result<SigningKey> SigningKey::fromPem(std::string_view pem_or_base64_pem) {
  const std::string_view trimmed = strings::trimSpace(pem_or_base64_pem);
  std::string text(trimmed);
  if (std::optional<std::string> decoded = base64StdDecode(trimmed)) {
    OPENSSL_cleanse(text.data(), text.size());
    text = std::move(*decoded);
  }
  std::vector<PemBlock> blocks = readPemBlocks(text);
  OPENSSL_cleanse(text.data(), text.size());
  if (blocks.empty()) {
    return keyError(Errc::ParseError, "no PEM block found");
  }
  SigningKey key;
  for (size_t i = 0; i < blocks.size(); ++i) {
    PemBlock& block = blocks[i];
    const auto* p = reinterpret_cast<const unsigned char*>(block.der.data());
    const bool is_private = block.name == "EC PRIVATE KEY" || block.name == "PRIVATE KEY" ||
                            block.name == "RSA PRIVATE KEY";
    EVP_PKEY* raw = nullptr;
    if (is_private) {
      raw = d2i_AutoPrivateKey(nullptr, &p, long(block.der.size()));
    } else if (block.name == "PUBLIC KEY" && i > 0) {
      raw = d2i_PUBKEY(nullptr, &p, long(block.der.size()));
    } else {
      return keyError(Errc::NotSupported,
                      "PEM block " + std::to_string(i + 1) + " is \"" + block.name + "\"" +
                          (i == 0 ? ", the first block must be a private key" : ""));
    }
    OPENSSL_cleanse(block.der.data(), block.der.size());
    ERR_clear_error();
    if (raw == nullptr) {
      return keyError(Errc::ParseError, "PEM block " + std::to_string(i + 1) + " (\"" + block.name +
                                            "\") is not a valid key");
    }
    jose::PkeyPtr pkey = jose::adopt(raw);
    if (i == 0) {
      key.private_key_ = pkey;
    }
    Result<Published> published = publish(std::move(pkey));
    if (!published) {
      return published.error();
    }
    key.keys_.push_back(std::move(*published));
  }
  return key;
}

Result<SigningKey> SigningKey::derive(std::string_view shared_secret) {
  if (shared_secret.empty()) {
    return keyError(Errc::InvalidArgument, "cannot derive a key from an empty shared_secret");
  }
  unsigned char seed[kLegacySeedBytes];
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* kctx = kdf != nullptr ? EVP_KDF_CTX_new(kdf) : nullptr;
  EVP_KDF_free(kdf);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(shared_secret.data()),
                                        shared_secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(kDeriveInfo.data()),
                                        kDeriveInfo.size()),
      OSSL_PARAM_construct_end()};
  // No salt parameter: RFC 5869 §2.2 then uses HashLen zero bytes, as Go's hkdf.New(nil salt).
  const bool derived = kctx != nullptr && EVP_KDF_derive(kctx, seed, sizeof(seed), params) == 1;
  EVP_KDF_CTX_free(kctx);
  if (!derived) {
    return keyError(Errc::Internal, "HKDF failed");
  }
  std::unique_ptr<BN_CTX, BnCtxDeleter> ctx(BN_CTX_secure_new());
  std::unique_ptr<EC_GROUP, GroupDeleter> group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  BnPtr b(BN_secure_new());
  BnPtr n_minus_1(BN_new());
  BnPtr d(BN_secure_new());
  const bool ok =
      ctx && group && b && n_minus_1 && d && BN_bin2bn(seed, sizeof(seed), b.get()) != nullptr &&
      BN_copy(n_minus_1.get(), EC_GROUP_get0_order(group.get())) != nullptr &&
      BN_sub_word(n_minus_1.get(), 1) == 1 &&
      BN_mod(d.get(), b.get(), n_minus_1.get(), ctx.get()) == 1 && BN_add_word(d.get(), 1) == 1;
  OPENSSL_cleanse(seed, sizeof(seed));
  if (!ok) {
    return keyError(Errc::Internal, "key derivation arithmetic failed");
  }
  jose::PkeyPtr pkey = ecKeyFromScalar(d.get(), ctx.get());
  if (!pkey) {
    return keyError(Errc::Internal, "cannot build the derived EC key");
  }
  SigningKey key;
  key.private_key_ = pkey;
  Result<Published> published = publish(std::move(pkey));
  if (!published) {
    return published.error();
  }
  key.keys_.push_back(std::move(*published));
  return key;
}

Result<SigningKey> SigningKey::generate() {
  EVP_PKEY* raw = EVP_EC_gen("P-256");
  if (raw == nullptr) {
    return keyError(Errc::Internal, "EC key generation failed");
  }
  SigningKey key;
  key.private_key_ = jose::adopt(raw);
  Result<Published> published = publish(key.private_key_);
  if (!published) {
    return published.error();
  }
  key.keys_.push_back(std::move(*published));
  return key;
}

const std::string& SigningKey::alg() const {
  static const std::string kNone;
  return keys_.empty() ? kNone : keys_.front().alg;
}

const std::string& SigningKey::kid() const {
  static const std::string kNone;
  return keys_.empty() ? kNone : keys_.front().kid;
}

const json& SigningKey::publicJwk() const {
  static const json kNone;
  return keys_.empty() ? kNone : keys_.front().jwk;
}

std::string SigningKey::jwksJson() const {
  json keys = json::array();
  for (const Published& k : keys_) {
    keys.push_back(k.jwk);
  }
  return json{{"keys", std::move(keys)}}.dump();
}

std::string SigningKey::signJwt(const json& claims, std::string_view kid) const {
  if (!valid()) {
    return {};
  }
  const json header = {{"alg", alg()}, {"kid", kid.empty() ? this->kid() : std::string(kid)},
                       {"typ", "JWT"}};
  std::string input = base64UrlEncode(header.dump());
  input.push_back('.');
  input += base64UrlEncode(claims.dump(-1, ' ', false, json::error_handler_t::replace));

  EVP_MD_CTX* md = EVP_MD_CTX_new();
  size_t len = 0;
  std::string der;
  bool ok = md != nullptr &&
            EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, private_key_.get()) == 1 &&
            EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                           input.size()) == 1;
  if (ok) {
    der.resize(len);
    ok = EVP_DigestSign(md, reinterpret_cast<unsigned char*>(der.data()), &len,
                        reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    der.resize(len);
  }
  EVP_MD_CTX_free(md);
  if (!ok) {
    ERR_clear_error();
    return {};
  }
  std::string signature;
  if (alg() == "ES256") {
    std::optional<std::string> raw = jose::ecdsaDerToJose(der, 32);
    if (!raw) {
      return {};
    }
    signature = std::move(*raw);
  } else {
    signature = std::move(der);
  }
  input.push_back('.');
  input += base64UrlEncode(signature);
  return input;
}

}  // namespace vallum::identity
