#include "identity/id_token.h"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "identity/base64url.h"
#include "identity/jose_key.h"

namespace vallum::identity {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1700000000;
constexpr char kIssuer[] = "https://idp.example.com";
constexpr char kClient[] = "vallum-client";

// Test IdP: one RSA and one EC P-256 key, published with kids "rsa1" and "ec1".
class IdTokenTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = jose::adopt(EVP_RSA_gen(2048));
    ec_ = jose::adopt(EVP_EC_gen("P-256"));
    other_ec_ = jose::adopt(EVP_EC_gen("P-256"));
  }
  static void TearDownTestSuite() {
    rsa_.reset();
    ec_.reset();
    other_ec_.reset();
  }

  static json jwk(EVP_PKEY* pkey, const std::string& kid) {
    json j = *jose::publicJwk(pkey);
    j["kid"] = kid;
    j["use"] = "sig";
    return j;
  }

  static Jwks jwks() {
    const json doc = {{"keys", {jwk(rsa_.get(), "rsa1"), jwk(ec_.get(), "ec1")}}};
    return *Jwks::parse(doc.dump());
  }

  static json goodClaims() {
    return {{"iss", kIssuer},   {"aud", kClient}, {"sub", "user-1"},         {"exp", kNow + 3600},
            {"iat", kNow - 10}, {"nonce", "n-1"}, {"email", "a@example.com"}};
  }

  static IdTokenExpectations expect() {
    IdTokenExpectations e;
    e.issuer = kIssuer;
    e.client_id = kClient;
    e.nonce = "n-1";
    e.now = kNow;
    return e;
  }

  // Signs header.payload with pkey using alg (RSxxx, PSxxx, ES256), or HMAC for HS256.
  static std::string sign(const json& header, const json& payload, EVP_PKEY* pkey,
                          const std::string& alg) {
    const std::string input =
        base64UrlEncode(header.dump()) + "." + base64UrlEncode(payload.dump());
    std::string sig;
    if (alg == "HS256") {
      unsigned char mac[32];
      unsigned int len = 0;
      HMAC(EVP_sha256(), "k", 1, reinterpret_cast<const unsigned char*>(input.data()), input.size(),
           mac, &len);
      sig.assign(reinterpret_cast<char*>(mac), len);
    } else if (alg != "none") {
      const EVP_MD* md = alg.ends_with("384")   ? EVP_sha384()
                         : alg.ends_with("512") ? EVP_sha512()
                                                : EVP_sha256();
      EVP_MD_CTX* ctx = EVP_MD_CTX_new();
      EVP_PKEY_CTX* pctx = nullptr;
      EVP_DigestSignInit(ctx, &pctx, md, nullptr, pkey);
      if (alg.starts_with("PS")) {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
      }
      size_t len = 0;
      EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size());
      sig.resize(len);
      EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size());
      sig.resize(len);
      EVP_MD_CTX_free(ctx);
      if (alg.starts_with("ES")) {
        sig = *jose::ecdsaDerToJose(sig, 32);
      }
    }
    return input + "." + base64UrlEncode(sig);
  }

  static std::string rs256(const json& payload, const std::string& kid = "rsa1") {
    return sign({{"alg", "RS256"}, {"kid", kid}, {"typ", "JWT"}}, payload, rsa_.get(), "RS256");
  }

  static IdTokenError verify(const std::string& token, IdTokenExpectations e = expect()) {
    return verifyIdToken(token, jwks(), e).error;
  }

  static inline jose::PkeyPtr rsa_;
  static inline jose::PkeyPtr ec_;
  static inline jose::PkeyPtr other_ec_;
};

TEST_F(IdTokenTest, AcceptsGoodRs256Token) {
  const IdTokenResult r = verifyIdToken(rs256(goodClaims()), jwks(), expect());
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.claims["email"], "a@example.com");
}

TEST_F(IdTokenTest, AcceptsOtherAlgorithms) {
  EXPECT_EQ(verify(sign({{"alg", "ES256"}, {"kid", "ec1"}}, goodClaims(), ec_.get(), "ES256")),
            IdTokenError::None);
  EXPECT_EQ(verify(sign({{"alg", "PS256"}, {"kid", "rsa1"}}, goodClaims(), rsa_.get(), "PS256")),
            IdTokenError::None);
  EXPECT_EQ(verify(sign({{"alg", "RS512"}, {"kid", "rsa1"}}, goodClaims(), rsa_.get(), "RS512")),
            IdTokenError::None);
  // No kid: every key of the matching type is tried.
  EXPECT_EQ(verify(sign({{"alg", "ES256"}}, goodClaims(), ec_.get(), "ES256")), IdTokenError::None);
}

TEST_F(IdTokenTest, AudienceMayBeAnArray) {
  json claims = goodClaims();
  claims["aud"] = {"other", kClient};
  EXPECT_EQ(verify(rs256(claims)), IdTokenError::None);
  claims["azp"] = "other";
  EXPECT_EQ(verify(rs256(claims)), IdTokenError::WrongAudience);
}

TEST_F(IdTokenTest, RejectsWrongClaims) {
  json claims = goodClaims();
  claims["iss"] = "https://evil.example.com";
  EXPECT_EQ(verify(rs256(claims)), IdTokenError::WrongIssuer);
  claims = goodClaims();
  claims["aud"] = "other";
  EXPECT_EQ(verify(rs256(claims)), IdTokenError::WrongAudience);
  claims["aud"] = json::array({"a", "b"});
  EXPECT_EQ(verify(rs256(claims)), IdTokenError::WrongAudience);
  claims = goodClaims();
  claims["nonce"] = "n-2";
  EXPECT_EQ(verify(rs256(claims)), IdTokenError::WrongNonce);
  claims.erase("nonce");
  EXPECT_EQ(verify(rs256(claims)), IdTokenError::WrongNonce);
  IdTokenExpectations no_nonce = expect();
  no_nonce.nonce.reset();
  EXPECT_EQ(verify(rs256(claims), no_nonce), IdTokenError::None);
  claims = goodClaims();
  claims.erase("exp");
  EXPECT_EQ(verify(rs256(claims)), IdTokenError::Malformed);
  claims = goodClaims();
  claims["exp"] = "soon";
  EXPECT_EQ(verify(rs256(claims)), IdTokenError::Malformed);
}

TEST_F(IdTokenTest, ExpiryHasSixtySecondsLeeway) {
  json claims = goodClaims();
  claims["exp"] = kNow - 59;
  EXPECT_EQ(verify(rs256(claims)), IdTokenError::None);
  claims["exp"] = kNow - 60;
  EXPECT_EQ(verify(rs256(claims)), IdTokenError::Expired);
  claims = goodClaims();
  claims["iat"] = kNow + 60;
  EXPECT_EQ(verify(rs256(claims)), IdTokenError::None);
  claims["iat"] = kNow + 61;
  EXPECT_EQ(verify(rs256(claims)), IdTokenError::IssuedInFuture);
  claims = goodClaims();
  claims["nbf"] = kNow + 61;
  EXPECT_EQ(verify(rs256(claims)), IdTokenError::NotYetValid);
}

TEST_F(IdTokenTest, RejectsBadSignature) {
  std::string token = rs256(goodClaims());
  token[token.size() - 5] = token[token.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(verify(token), IdTokenError::BadSignature);
  // Signed by a key that is not in the JWKS but claims kid ec1.
  EXPECT_EQ(
      verify(sign({{"alg", "ES256"}, {"kid", "ec1"}}, goodClaims(), other_ec_.get(), "ES256")),
      IdTokenError::BadSignature);
  // Payload swapped under a valid signature.
  const std::string good = rs256(goodClaims());
  json claims = goodClaims();
  claims["sub"] = "admin";
  const std::string forged = good.substr(0, good.find('.') + 1) + base64UrlEncode(claims.dump()) +
                             good.substr(good.rfind('.'));
  EXPECT_EQ(verify(forged), IdTokenError::BadSignature);
}

TEST_F(IdTokenTest, UnknownKidIsDistinguished) {
  EXPECT_EQ(verify(rs256(goodClaims(), "rotated")), IdTokenError::UnknownKid);
}

TEST_F(IdTokenTest, RejectsAlgNoneAndConfusion) {
  EXPECT_EQ(verify(sign({{"alg", "none"}, {"kid", "rsa1"}}, goodClaims(), nullptr, "none")),
            IdTokenError::UnsupportedAlgorithm);
  EXPECT_EQ(verify(sign({{"alg", "HS256"}, {"kid", "rsa1"}}, goodClaims(), nullptr, "HS256")),
            IdTokenError::UnsupportedAlgorithm);
  // RS256 header on the EC key's kid, ES256 header on the RSA key's kid.
  EXPECT_EQ(verify(sign({{"alg", "RS256"}, {"kid", "ec1"}}, goodClaims(), rsa_.get(), "RS256")),
            IdTokenError::BadSignature);
  EXPECT_EQ(verify(sign({{"alg", "ES256"}, {"kid", "rsa1"}}, goodClaims(), ec_.get(), "ES256")),
            IdTokenError::BadSignature);
  EXPECT_EQ(verify(sign({{"alg", "RS256"}, {"kid", "rsa1"}, {"crit", {"exp"}}}, goodClaims(),
                        rsa_.get(), "RS256")),
            IdTokenError::UnsupportedAlgorithm);
}

TEST_F(IdTokenTest, JwkAlgPinsTheAlgorithm) {
  json key = jwk(rsa_.get(), "rsa1");
  key["alg"] = "PS256";
  const Jwks pinned = *Jwks::parse(json({{"keys", {key}}}).dump());
  EXPECT_EQ(verifyIdToken(rs256(goodClaims()), pinned, expect()).error, IdTokenError::BadSignature);
}

TEST_F(IdTokenTest, MalformedTokens) {
  for (const char* token : {"", "a", "a.b", "a.b.c.d", "!!.!!.!!", "e30.e30.", "W10.e30.AA"}) {
    EXPECT_EQ(verify(token), IdTokenError::Malformed) << token;
  }
  EXPECT_EQ(verify(std::string(70000, 'a')), IdTokenError::Malformed);
}

TEST_F(IdTokenTest, JwksParseSkipsUnusableKeys) {
  json bad_point = jwk(ec_.get(), "bad");
  bad_point["y"] = bad_point["x"];
  const json doc = {{"keys",
                     {jwk(ec_.get(), "ec1"),
                      {{"kty", "oct"}, {"k", "AAAA"}, {"kid", "hmac"}},
                      {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AAAA"}},
                      bad_point,
                      {{"kty", "RSA"}, {"n", "AQAB"}, {"e", "AQAB"}, {"kid", "tiny"}},
                      json::object(),
                      42}}};
  const std::optional<Jwks> jwks = Jwks::parse(doc.dump());
  ASSERT_TRUE(jwks);
  EXPECT_EQ(jwks->size(), 1u);
  EXPECT_TRUE(jwks->has("ec1"));
  EXPECT_FALSE(jwks->has("bad"));
  EXPECT_FALSE(jwks->has("hmac"));
  json enc = jwk(ec_.get(), "enc");
  enc["use"] = "enc";
  EXPECT_EQ(Jwks::parse(json({{"keys", {enc}}}).dump())->size(), 0u);
  EXPECT_FALSE(Jwks::parse("not json"));
  EXPECT_FALSE(Jwks::parse("{}"));
  EXPECT_FALSE(Jwks::parse(R"({"keys":{}})"));
  EXPECT_FALSE(Jwks::parse("[]"));
}

TEST(IdTokenErrorTest, Names) {
  EXPECT_EQ(idTokenErrorName(IdTokenError::UnknownKid), "unknown_kid");
  EXPECT_EQ(idTokenErrorName(IdTokenError::None), "ok");
}

}  // namespace
}  // namespace vallum::identity
