#include "identity/signing_key.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "common/strings.h"
#include "identity/base64url.h"

namespace vallum::identity {
namespace {

using nlohmann::json;

// Test key from transmute-industries/jwt.vc (d = C-5QLfqk…); its RFC 7638 thumbprint is
// published there as 1235335b…aaf8 and was re-checked with Python's cryptography package.
constexpr char kEcPem[] = R"(-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIAvuUC36pBNKX32X6d7QOU30tOoWgRFq1td1TcKpr+LnoAoGCCqGSM49
AwEHoUQDQgAEV8ctRWc2deLSjfOjqQm7+m33SinduQbKJVgSHFj7ZxSy+ODR76IB
7nMSVCF+qpqCvj5LyTdZaDPPokM+ZET9uQ==
-----END EC PRIVATE KEY-----
)";
constexpr char kEcKid[] = "1235335bd15b2c75f3e84f4c681d85cbc059c00d7910d1bad0690a2af566aaf8";

std::string pemOf(EVP_PKEY* pkey, bool private_key) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (private_key) {
    PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PUBKEY(bio, pkey);
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, size_t(n));
  BIO_free(bio);
  return out;
}

EVP_PKEY* loadPublic(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), int(pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return pkey;
}

// Verifies an ES256 compact JWS with OpenSSL only (no identity code on the verify path).
bool verifyEs256(const std::string& jwt, EVP_PKEY* pkey, json* header, json* payload) {
  const auto parts = strings::split(jwt, '.');
  if (parts.size() != 3) {
    return false;
  }
  *header = json::parse(*base64UrlDecode(parts[0]));
  *payload = json::parse(*base64UrlDecode(parts[1]));
  const std::string raw = *base64UrlDecode(parts[2]);
  if (raw.size() != 64) {
    return false;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(p, 32, nullptr), BN_bin2bn(p + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  const std::string input = std::string(parts[0]) + "." + std::string(parts[1]);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
      EVP_DigestVerify(md, der, size_t(der_len),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(md);
  OPENSSL_free(der);
  return ok;
}

TEST(SigningKeyTest, LoadsPemAndComputesRfc7638Kid) {
  const SigningKey key = SigningKey::fromPem(kEcPem).value();
  EXPECT_EQ(key.alg(), "ES256");
  EXPECT_EQ(key.kid(), kEcKid);
  EXPECT_EQ(key.publicJwk()["x"], "V8ctRWc2deLSjfOjqQm7-m33SinduQbKJVgSHFj7ZxQ");
  EXPECT_EQ(key.publicJwk()["y"], "svjg0e-iAe5zElQhfqqagr4-S8k3WWgzz6JDPmRE_bk");
  const json jwks = json::parse(key.jwksJson());
  ASSERT_EQ(jwks["keys"].size(), 1u);
  EXPECT_EQ(jwks["keys"][0], json({{"kty", "EC"},
                                   {"crv", "P-256"},
                                   {"x", key.publicJwk()["x"]},
                                   {"y", key.publicJwk()["y"]},
                                   {"use", "sig"},
                                   {"alg", "ES256"},
                                   {"kid", kEcKid}}));
}

TEST(SigningKeyTest, LoadsBase64WrappedPem) {
  const std::string wrapped = "  " + strings::base64Encode(kEcPem) + "\n";
  EXPECT_EQ(SigningKey::fromPem(wrapped).value().kid(), kEcKid);
}

TEST(SigningKeyTest, PublishesEveryBlockSignsWithFirst) {
  EVP_PKEY* other = EVP_EC_gen("P-256");
  const std::string pem = std::string(kEcPem) + pemOf(other, false);
  const SigningKey key = SigningKey::fromPem(pem).value();
  EXPECT_EQ(key.kid(), kEcKid);
  const json jwks = json::parse(key.jwksJson());
  ASSERT_EQ(jwks["keys"].size(), 2u);
  EXPECT_EQ(jwks["keys"][0]["kid"], kEcKid);
  EXPECT_NE(jwks["keys"][1]["kid"], kEcKid);
  // A public key cannot be the signing (first) block.
  EXPECT_FALSE(SigningKey::fromPem(pemOf(other, false)));
  EVP_PKEY_free(other);
}

TEST(SigningKeyTest, RejectsGarbageAndUnsupportedKeys) {
  EXPECT_FALSE(SigningKey::fromPem(""));
  EXPECT_FALSE(SigningKey::fromPem("not a key"));
  EXPECT_FALSE(
      SigningKey::fromPem("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"));
  EVP_PKEY* p384 = EVP_EC_gen("P-384");
  const Result<SigningKey> r = SigningKey::fromPem(pemOf(p384, true));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::NotSupported);
  EVP_PKEY_free(p384);
}

TEST(SigningKeyTest, DeriveMatchesIndependentComputation) {
  // Expected values computed with Python's cryptography package: HKDF-SHA256(secret, no salt,
  // "derived-jwt-signing-key") → 40 bytes b → d = b mod (n-1) + 1 → P-256 public point.
  const SigningKey a = SigningKey::derive("0123456789abcdef0123456789abcdef").value();
  EXPECT_EQ(a.publicJwk()["x"], "jNo6A3gWCxthlfTLuuBBURAvhY6Q6E9qvc8JTkfUSeE");
  EXPECT_EQ(a.publicJwk()["y"], "pPoEefYwJfu5XaHtkAdQzTfxvEYphtluQtQoH0SzxeM");
  EXPECT_EQ(a.kid(), "2803103cc11e165d16356dafe5dbb1bbacf08b1eb3d30ca1b8b244c8761274f3");
  // shared_secret "UYgnt8bxxK5G2sFaNzyqi5Z+OgF8m2akNc0xdQx718w=" (base64-decoded).
  const std::string secret = *strings::base64Decode("UYgnt8bxxK5G2sFaNzyqi5Z+OgF8m2akNc0xdQx718w=");
  const SigningKey b = SigningKey::derive(secret).value();
  EXPECT_EQ(b.publicJwk()["x"], "H9zEYNevRB20Ah8JDKZiKfL4iMsEMk6bBcNPUJk7DHs");
  EXPECT_EQ(b.publicJwk()["y"], "1LRvf6PlZ2DXu0-WLcOj8qjRy_XX6bKLNQSRxPvFFmQ");
  EXPECT_EQ(b.kid(), "4c14bfa577112dd99de2e4a10d53ef6fce55cc8760d927aa15d9d5a29df0aed9");
}

TEST(SigningKeyTest, DeriveIsDeterministicAndSecretDependent) {
  EXPECT_EQ(SigningKey::derive("s1").value().kid(), SigningKey::derive("s1").value().kid());
  EXPECT_NE(SigningKey::derive("s1").value().kid(), SigningKey::derive("s2").value().kid());
  EXPECT_FALSE(SigningKey::derive(""));
  EXPECT_NE(SigningKey::generate().value().kid(), SigningKey::generate().value().kid());
}

TEST(SigningKeyTest, SignJwtVerifiesWithOpenSsl) {
  const SigningKey key = SigningKey::fromPem(kEcPem).value();
  const json claims = {{"iss", "app.example.com"}, {"iat", 1700000000}, {"groups", json::array()}};
  const std::string jwt = key.signJwt(claims);
  EVP_PKEY* pub = loadPublic(kEcPem);
  json header;
  json payload;
  EXPECT_TRUE(verifyEs256(jwt, pub, &header, &payload));
  EXPECT_EQ(header, json({{"alg", "ES256"}, {"kid", kEcKid}, {"typ", "JWT"}}));
  EXPECT_EQ(payload, claims);
  // A changed signature or a different payload fails.
  std::string bad = jwt;
  char& c = bad[bad.rfind('.') + 3];
  c = c == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verifyEs256(bad, pub, &header, &payload));
  const std::string other = key.signJwt({{"iss", "evil.example.com"}});
  const std::string spliced = jwt.substr(0, jwt.find('.')) +
                              other.substr(other.find('.'), other.rfind('.') - other.find('.')) +
                              jwt.substr(jwt.rfind('.'));
  EXPECT_FALSE(verifyEs256(spliced, pub, &header, &payload));
  EVP_PKEY_free(pub);
}

TEST(SigningKeyTest, DerivedKeySignsToo) {
  const SigningKey key = SigningKey::derive("secret").value();
  const std::string jwt = key.signJwt({{"a", 1}});
  EXPECT_EQ(std::count(jwt.begin(), jwt.end(), '.'), 2);
  EXPECT_EQ(base64UrlDecode(jwt.substr(jwt.rfind('.') + 1))->size(), 64u);
}

TEST(SigningKeyTest, DefaultConstructedIsEmptyAndHarmless) {
  const SigningKey key;
  EXPECT_FALSE(key.valid());
  EXPECT_EQ(key.kid(), "");
  EXPECT_EQ(key.alg(), "");
  EXPECT_EQ(key.signJwt({{"a", 1}}), "");
  EXPECT_EQ(key.jwksJson(), R"({"keys":[]})");
  EXPECT_TRUE(SigningKey::fromPem(kEcPem).value().valid());
}

TEST(SigningKeyTest, RsaKeySignsRs256) {
  EVP_PKEY* rsa = EVP_RSA_gen(2048);
  const SigningKey key = SigningKey::fromPem(pemOf(rsa, true)).value();
  EXPECT_EQ(key.alg(), "RS256");
  EXPECT_EQ(key.publicJwk()["kty"], "RSA");
  EXPECT_EQ(key.publicJwk()["e"], "AQAB");
  const std::string jwt = key.signJwt({{"a", 1}});
  const auto parts = strings::split(jwt, '.');
  ASSERT_EQ(parts.size(), 3u);
  const std::string sig = *base64UrlDecode(parts[2]);
  const std::string input = std::string(parts[0]) + "." + std::string(parts[1]);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EXPECT_EQ(EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, rsa), 1);
  EXPECT_EQ(EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(rsa);
}

}  // namespace
}  // namespace vallum::identity
