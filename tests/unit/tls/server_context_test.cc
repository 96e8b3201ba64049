#include "tls/server_context.h"

#include <fstream>

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls/certificate.h"

namespace vallum::tls {
namespace {

/// A self-signed certificate for the given DNS names, written to files; returns the source.
config::CertificateSource makeSource(const std::string& tag,
                                     const std::vector<std::string>& names) {
  auto key = PkeyPtr(EVP_EC_gen("P-256"));
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(tag.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), subject);
  std::string san;
  for (const auto& n : names) {
    san += (san.empty() ? "DNS:" : ",DNS:") + n;
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
  X509_add_ext(cert.get(), ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(cert.get(), key.get(), EVP_sha256());

  std::string dir = ::testing::TempDir();
  config::CertificateSource source;
  source.cert = dir + "/sc_" + tag + ".crt";
  source.key = dir + "/sc_" + tag + ".key";
  FILE* f = fopen(source.cert.c_str(), "w");
  PEM_write_X509(f, cert.get());
  fclose(f);
  f = fopen(source.key.c_str(), "w");
  PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  fclose(f);
  source.cert_key = "certificates[0].cert";
  source.key_key = "certificates[0].key";
  source.cert_pos = {"config.yaml", 3, 11};
  source.key_pos = {"config.yaml", 4, 10};
  return source;
}

TEST(ServerContextTest, SniPrefersExactThenWildcardThenFirst) {
  std::vector<config::CertificateSource> sources = {
      makeSource("first", {"first.test"}),
      makeSource("wild", {"*.example.test"}),
      makeSource("exact", {"www.example.test", "other.test"}),
  };
  config::Diagnostics diagnostics;
  auto context = ServerContext::build(sources, diagnostics);
  ASSERT_NE(context, nullptr) << diagnostics.formatAll();
  EXPECT_FALSE(context->selfSigned());
  EXPECT_EQ(context->selectCertificate("www.example.test"), 2u);  // exact beats wildcard
  EXPECT_EQ(context->selectCertificate("WWW.Example.Test"), 2u);
  EXPECT_EQ(context->selectCertificate("api.example.test"), 1u);
  EXPECT_EQ(context->selectCertificate("a.b.example.test"), 0u);  // one label only
  EXPECT_EQ(context->selectCertificate("other.test"), 2u);
  EXPECT_EQ(context->selectCertificate("unknown.test"), 0u);
  EXPECT_EQ(context->selectCertificate(""), 0u);
}

TEST(ServerContextTest, NoCertificateMeansSelfSigned) {
  config::Diagnostics diagnostics;
  auto context = ServerContext::build({}, diagnostics);
  ASSERT_NE(context, nullptr);
  EXPECT_TRUE(context->selfSigned());
  EXPECT_FALSE(diagnostics.hasErrors());
}

TEST(ServerContextTest, BadCertificateIsReportedAtItsPosition) {
  config::CertificateSource source = makeSource("bad", {"bad.test"});
  source.cert = "/nonexistent/cert.pem";
  config::Diagnostics diagnostics;
  auto context = ServerContext::build({source}, diagnostics);
  EXPECT_EQ(context, nullptr);
  ASSERT_EQ(diagnostics.errorCount(), 1u);
  const config::Diagnostic& d = diagnostics.items().front();
  EXPECT_EQ(d.key, "certificates[0].cert");
  EXPECT_EQ(d.pos.line, 3);
  EXPECT_EQ(d.pos.column, 11);
}

TEST(ServerContextTest, MismatchedKeyIsAnError) {
  config::CertificateSource a = makeSource("mis_a", {"a.test"});
  config::CertificateSource b = makeSource("mis_b", {"b.test"});
  a.key = b.key;
  config::Diagnostics diagnostics;
  EXPECT_EQ(ServerContext::build({a}, diagnostics), nullptr);
  ASSERT_EQ(diagnostics.errorCount(), 1u) << diagnostics.formatAll();
  const config::Diagnostic& d = diagnostics.items().front();
  EXPECT_EQ(d.key, "certificates[0].cert");
  EXPECT_EQ(d.pos.line, 3);
  EXPECT_NE(d.message.find("private key does not match the certificate"), std::string::npos)
      << d.message;
}

// A key that does not parse is reported at the key's option, not the certificate's.
TEST(ServerContextTest, BadKeyIsReportedAtTheKeysPosition) {
  for (const char* key :
       {"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "/nonexistent/key.pem"}) {
    SCOPED_TRACE(key);
    config::CertificateSource source = makeSource("badkey", {"k.test"});
    source.key = key;
    config::Diagnostics diagnostics;
    EXPECT_EQ(ServerContext::build({source}, diagnostics), nullptr);
    ASSERT_EQ(diagnostics.errorCount(), 1u) << diagnostics.formatAll();
    const config::Diagnostic& d = diagnostics.items().front();
    EXPECT_EQ(d.key, "certificates[0].key");
    EXPECT_EQ(d.pos.line, 4);
    EXPECT_EQ(d.pos.column, 10);
  }
}

// The certificate file holds a key: not a certificate.
TEST(ServerContextTest, KeyInPlaceOfTheCertificateIsReportedAtTheCertificate) {
  config::CertificateSource source = makeSource("swap", {"s.test"});
  source.cert = source.key;
  config::Diagnostics diagnostics;
  EXPECT_EQ(ServerContext::build({source}, diagnostics), nullptr);
  ASSERT_EQ(diagnostics.errorCount(), 1u) << diagnostics.formatAll();
  EXPECT_EQ(diagnostics.items().front().key, "certificates[0].cert");
  EXPECT_NE(diagnostics.items().front().message.find("bad certificate PEM"), std::string::npos);
}

}  // namespace
}  // namespace vallum::tls
