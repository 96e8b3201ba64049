#include "identity/jose_key.h"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

namespace vallum::identity::jose {
namespace {

using nlohmann::json;

TEST(JoseKeyTest, ThumbprintUsesOnlyRequiredMembersInOrder) {
  // transmute-industries/jwt.vc test key; published thumbprint 1235335b…aaf8.
  const json jwk = {{"kty", "EC"},
                    {"crv", "P-256"},
                    {"alg", "ES256"},
                    {"kid", "ignored"},
                    {"x", "V8ctRWc2deLSjfOjqQm7-m33SinduQbKJVgSHFj7ZxQ"},
                    {"y", "svjg0e-iAe5zElQhfqqagr4-S8k3WWgzz6JDPmRE_bk"}};
  EXPECT_EQ(thumbprintHex(jwk), "1235335bd15b2c75f3e84f4c681d85cbc059c00d7910d1bad0690a2af566aaf8");
}

TEST(JoseKeyTest, JwkRoundTripsThroughEvp) {
  for (const char* curve : {"P-256", "P-384"}) {
    PkeyPtr key = adopt(EVP_EC_gen(curve));
    const json jwk = *publicJwk(key.get());
    EXPECT_EQ(jwk["crv"], curve);
    PkeyPtr back = publicKeyFromJwk(jwk);
    ASSERT_TRUE(back);
    EXPECT_EQ(*publicJwk(back.get()), jwk);
  }
  PkeyPtr rsa = adopt(EVP_RSA_gen(2048));
  const json jwk = *publicJwk(rsa.get());
  EXPECT_EQ(*publicJwk(publicKeyFromJwk(jwk).get()), jwk);
}

TEST(JoseKeyTest, RejectsInvalidJwks) {
  PkeyPtr key = adopt(EVP_EC_gen("P-256"));
  json jwk = *publicJwk(key.get());
  json off_curve = jwk;
  off_curve["y"] = jwk["x"];
  EXPECT_FALSE(publicKeyFromJwk(off_curve));
  json short_x = jwk;
  short_x["x"] = "AAAA";
  EXPECT_FALSE(publicKeyFromJwk(short_x));
  json wrong_crv = jwk;
  wrong_crv["crv"] = "P-521";
  EXPECT_FALSE(publicKeyFromJwk(wrong_crv));
  EXPECT_FALSE(publicKeyFromJwk(json::array()));
  EXPECT_FALSE(publicKeyFromJwk({{"kty", "RSA"}, {"n", 5}, {"e", "AQAB"}}));
  PkeyPtr small = adopt(EVP_RSA_gen(1024));
  EXPECT_FALSE(keyType(small.get()));
}

TEST(JoseKeyTest, EcdsaSignatureFormsConvert) {
  const std::string raw(64, '\x01');
  const std::optional<std::string> der = ecdsaJoseToDer(raw);
  ASSERT_TRUE(der);
  EXPECT_EQ(ecdsaDerToJose(*der, 32), raw);
  EXPECT_FALSE(ecdsaJoseToDer(""));
  EXPECT_FALSE(ecdsaJoseToDer("abc"));
  EXPECT_FALSE(ecdsaDerToJose("garbage", 32));
}

}  // namespace
}  // namespace vallum::identity::jose
