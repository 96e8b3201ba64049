#include "identity/service_account.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "common/strings.h"
#include "identity/base64url.h"

namespace vallum::identity {
namespace {

using nlohmann::json;

struct Keys {
  std::string private_pem;
  jose::PkeyPtr pkey;
};

Keys rsaKey() {
  static const Keys keys = [] {
    Keys k;
    k.pkey = jose::adopt(EVP_RSA_gen(2048));
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, k.pkey.get(), nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    k.private_pem.assign(data, size_t(n));
    BIO_free(bio);
    return k;
  }();
  return keys;
}

json keyFile() {
  return {{"type", "service_account"},
          {"project_id", "p"},
          {"private_key_id", "0123abcd"},
          {"private_key", rsaKey().private_pem},
          {"client_email", "proxy@p.iam.gserviceaccount.com"},
          {"token_uri", "http://127.0.0.1:9/token"}};
}

TEST(ServiceAccountTest, ReadsRawJsonAndBase64) {
  const std::string text = keyFile().dump(2);
  for (const std::string& value : {text, strings::base64Encode(text), "\n  " + text}) {
    auto account = parseServiceAccount(value);
    ASSERT_TRUE(account) << account.error().detail();
    EXPECT_EQ(account->client_email, "proxy@p.iam.gserviceaccount.com");
    EXPECT_EQ(account->private_key_id, "0123abcd");
    EXPECT_EQ(account->token_uri, "http://127.0.0.1:9/token");
    EXPECT_EQ(account->key.alg(), "RS256");
  }
}

TEST(ServiceAccountTest, TokenUriDefaultsToGoogle) {
  json doc = keyFile();
  doc.erase("token_uri");
  auto account = parseServiceAccount(doc.dump());
  ASSERT_TRUE(account);
  EXPECT_EQ(account->token_uri, "https://oauth2.googleapis.com/token");
}

TEST(ServiceAccountTest, RefusesWhatIsNotAServiceAccountKey) {
  struct Case {
    std::string text;
    std::string message;
  };
  json other_type = keyFile();
  other_type["type"] = "authorized_user";
  json no_email = keyFile();
  no_email.erase("client_email");
  json no_key = keyFile();
  no_key.erase("private_key");
  json bad_key = keyFile();
  bad_key["private_key"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  json ec_key = keyFile();
  ec_key["private_key"] =
      "-----BEGIN EC PRIVATE KEY-----\n"
      "MHcCAQEEIAvuUC36pBNKX32X6d7QOU30tOoWgRFq1td1TcKpr+LnoAoGCCqGSM49\n"
      "AwEHoUQDQgAEV8ctRWc2deLSjfOjqQm7+m33SinduQbKJVgSHFj7ZxSy+ODR76IB\n"
      "7nMSVCF+qpqCvj5LyTdZaDPPokM+ZET9uQ==\n"
      "-----END EC PRIVATE KEY-----\n";
  const std::vector<Case> cases = {
      {"not json at all!", "neither JSON nor base64 of JSON"},
      {strings::base64Encode("[1,2]"), "not a JSON object"},
      {"{\"type\": ", "not a JSON object"},
      {other_type.dump(), "credential type \"authorized_user\" is not supported"},
      {no_email.dump(), "has no client_email"},
      {no_key.dump(), "has no private_key"},
      {bad_key.dump(), "the service-account private_key: "},
      {ec_key.dump(), "not an RSA key"},
  };
  for (const Case& c : cases) {
    auto account = parseServiceAccount(c.text);
    ASSERT_FALSE(account) << c.text;
    EXPECT_NE(account.error().detail().find(c.message), std::string::npos)
        << account.error().detail();
    // Key bytes never reach a message.
    EXPECT_EQ(account.error().detail().find("MHcCAQ"), std::string::npos);
  }
}

TEST(ServiceAccountTest, AssertionIsSignedForTheTokenEndpoint) {
  auto account = parseServiceAccount(keyFile().dump());
  ASSERT_TRUE(account);
  const std::string jwt =
      serviceAccountAssertion(*account, "https://service-abc.a.run.app", 1'700'000'000);
  const size_t dot1 = jwt.find('.');
  const size_t dot2 = jwt.find('.', dot1 + 1);
  ASSERT_NE(dot2, std::string::npos);
  const json header = json::parse(*base64UrlDecode(jwt.substr(0, dot1)));
  EXPECT_EQ(header, (json{{"alg", "RS256"}, {"kid", "0123abcd"}, {"typ", "JWT"}}));
  const json claims = json::parse(*base64UrlDecode(jwt.substr(dot1 + 1, dot2 - dot1 - 1)));
  EXPECT_EQ(claims, (json{{"iss", "proxy@p.iam.gserviceaccount.com"},
                          {"aud", "http://127.0.0.1:9/token"},
                          {"iat", 1'699'999'990},
                          {"exp", 1'700'003'590},
                          {"target_audience", "https://service-abc.a.run.app"}}));
  // RS256 (RFC 7518 §3.3) over header.payload with the key file's key.
  const std::string input = jwt.substr(0, dot2);
  const std::string signature = *base64UrlDecode(jwt.substr(dot2 + 1));
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, rsaKey().pkey.get()), 1);
  EXPECT_EQ(EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(), reinterpret_cast<const unsigned char*>(input.data()),
                             input.size()),
            1);
  EVP_MD_CTX_free(md);
}

TEST(ServiceAccountTest, GrantBodyIsFormEncoded) {
  EXPECT_EQ(jwtBearerGrantBody("a.b-c_d"),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b-c_d");
}

std::string tokenExpiring(int64_t exp) {
  return base64UrlEncode(R"({"alg":"RS256"})") + "." +
         base64UrlEncode(json{{"aud", "x"}, {"exp", exp}}.dump()) + ".sig";
}

TEST(ServiceAccountTest, TokensAreUsedFor45MinutesOrUntilAMinuteBeforeExpiry) {
  const int64_t now = 1'700'000'000;
  EXPECT_EQ(googleTokenUsableUntil(tokenExpiring(now + 3600), now), now + 45 * 60);
  EXPECT_EQ(googleTokenUsableUntil(tokenExpiring(now + 600), now), now + 540);
  EXPECT_EQ(googleTokenUsableUntil(tokenExpiring(now + 30), now), now);   // about to expire
  EXPECT_EQ(googleTokenUsableUntil(tokenExpiring(now - 100), now), now);  // expired
  EXPECT_EQ(googleTokenUsableUntil("opaque-token", now), now + 45 * 60);
  EXPECT_EQ(googleTokenUsableUntil("a.!!!.c", now), now + 45 * 60);
}

}  // namespace
}  // namespace vallum::identity
