#include "tls/certificate.h"

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include "common/strings.h"

namespace vallum::tls {
namespace {

std::string toPem(const CertificateKeyPair& pair, bool key) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (key) {
    PEM_write_bio_PrivateKey(bio, pair.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_X509(bio, pair.leaf.get());
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, size_t(n));
  BIO_free(bio);
  return out;
}

TEST(CertificateNameMatchesTest, WildcardCoversExactlyOneLabel) {
  EXPECT_TRUE(certificateNameMatches("a.example.com", "a.example.com"));
  EXPECT_TRUE(certificateNameMatches("A.Example.com", "a.example.com"));
  EXPECT_TRUE(certificateNameMatches("*.example.com", "a.example.com"));
  EXPECT_FALSE(certificateNameMatches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(certificateNameMatches("*.example.com", "example.com"));
  EXPECT_FALSE(certificateNameMatches("*.example.com", ".example.com"));
}

TEST(GenerateSelfSignedTest, ProducesAMatchingPairWithLocalhostNames) {
  auto pair = generateSelfSigned({"extra.test"});
  ASSERT_TRUE(pair.has_value());
  EXPECT_EQ(X509_check_private_key(pair->leaf.get(), pair->key.get()), 1);
  EXPECT_EQ(pair->dns_names, (std::vector<std::string>{"localhost", "extra.test"}));
}

TEST(LoadCertificateKeyPairTest, RoundTripsAndRejectsMismatchedKeys) {
  auto a = generateSelfSigned({});
  auto b = generateSelfSigned({});
  ASSERT_TRUE(a && b);
  auto ok = loadCertificateKeyPair(toPem(*a, false), toPem(*a, true));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->dns_names.front(), "localhost");
  auto mismatch = loadCertificateKeyPair(toPem(*a, false), toPem(*b, true));
  ASSERT_FALSE(mismatch.has_value());
  EXPECT_NE(mismatch.error().detail().find("does not match"), std::string::npos);
  EXPECT_FALSE(loadCertificateKeyPair("not pem", toPem(*a, true)).has_value());
}

TEST(ResolvePemTest, AcceptsFilePathInlinePemAndBase64) {
  auto pair = generateSelfSigned({});
  ASSERT_TRUE(pair.has_value());
  const std::string pem = toPem(*pair, false);
  std::string path = ::testing::TempDir() + "/resolve_pem_test.crt";
  std::ofstream(path) << pem;

  auto from_file = resolvePem(path);
  ASSERT_TRUE(from_file.has_value());
  EXPECT_EQ(*from_file, pem);
  auto inline_pem = resolvePem(pem);
  ASSERT_TRUE(inline_pem.has_value());
  EXPECT_EQ(*inline_pem, std::string(strings::trimSpace(pem)));
  auto from_base64 = resolvePem(strings::base64Encode(pem));
  ASSERT_TRUE(from_base64.has_value());
  EXPECT_EQ(*from_base64, pem);

  auto missing = resolvePem("/nonexistent/dir/cert.pem");
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().detail().find("no such file"), std::string::npos);
  EXPECT_FALSE(resolvePem("bm90IHBlbQ==").has_value());  // base64 of "not pem"
  EXPECT_FALSE(resolvePem("").has_value());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace vallum::tls
