#include "tls/client_context.h"

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>

#include "common/strings.h"
#include "tls/certificate.h"

namespace vallum::tls {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;

// ---------------------------------------------------------------------------------------------
// Test PKI: ECDSA P-256 certificates built with the OpenSSL APIs.

struct TestCert {
  X509Ptr cert;
  PkeyPtr key;
  std::string cert_pem;
  std::string key_pem;
};

std::string certPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, size_t(len));
  BIO_free(bio);
  return pem;
}

std::string keyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, size_t(len));
  BIO_free(bio);
  return pem;
}

void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  ASSERT_NE(ext, nullptr) << value;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

/// A certificate for `cn` with subjectAltName `san` (OpenSSL syntax, may be empty), signed by
/// `issuer` or self-signed when it is null.
TestCert makeCert(const std::string& cn, const std::string& san, const TestCert* issuer,
                  bool is_ca = false) {
  static long serial = 1;
  TestCert out;
  out.key.reset(EVP_EC_gen("P-256"));
  out.cert.reset(X509_new());
  X509* x = out.cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, out.key.get());
  X509_NAME* subject = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : x;
  EVP_PKEY* issuer_key = issuer != nullptr ? issuer->key.get() : out.key.get();
  X509_set_issuer_name(x, X509_get_subject_name(issuer_cert));
  if (is_ca) {
    addExtension(x, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    addExtension(x, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExtension(x, issuer_cert, NID_basic_constraints, "CA:FALSE");
    addExtension(x, issuer_cert, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  if (!san.empty()) {
    addExtension(x, issuer_cert, NID_subject_alt_name, san);
  }
  X509_sign(x, issuer_key, EVP_sha256());
  out.cert_pem = certPem(x);
  out.key_pem = keyPem(out.key.get());
  return out;
}

struct Pki {
  TestCert ca = makeCert("Vallum Test CA", "", nullptr, true);
  TestCert other_ca = makeCert("Other Test CA", "", nullptr, true);
  TestCert leaf = makeCert("upstream.test", "DNS:upstream.test,IP:127.0.0.1", &ca);
  TestCert wild = makeCert("wild", "DNS:*.wild.test", &ca);
  TestCert api_wild = makeCert("api.wild.test", "DNS:api.wild.test", &ca);
  TestCert cn_only = makeCert("upstream.test", "", &ca);
  TestCert self_signed = makeCert("upstream.test", "DNS:upstream.test,IP:127.0.0.1", nullptr);
  TestCert client_ca = makeCert("Client CA", "", nullptr, true);
  TestCert client = makeCert("client", "DNS:client.test", &client_ca);
  TestCert stray_client = makeCert("stray", "DNS:client.test", &other_ca);
};

const Pki& pki() {
  static const Pki* instance = new Pki();
  return *instance;
}

std::string writeFile(const std::string& name, const std::string& content) {
  std::string path = ::testing::TempDir() + "/client_context_" + name;
  FILE* f = fopen(path.c_str(), "w");
  fwrite(content.data(), 1, content.size(), f);
  fclose(f);
  return path;
}

// ---------------------------------------------------------------------------------------------
// Handshake harness: a one-connection asio TLS server and a client built from ClientContext,
// both on one test io_context run with run_for (no sleeps, bounded).

struct ServerOptions {
  const TestCert* cert = nullptr;
  const TestCert* client_ca = nullptr;  ///< set: require a client certificate issued by it
  int max_version = TLS1_3_VERSION;
};

struct ServerObserver {
  bool servername_called = false;
  std::optional<std::string> sni;
  std::optional<std::string> alpn_offered;  ///< raw wire list
};

struct Outcome {
  bool completed = false;
  error_code client_ec;
  error_code server_ec;
  long client_verify_result = X509_V_OK;
  ServerObserver server;
  std::string client_alpn;
  std::string server_peer_cn;
  int version = 0;
  bool ok() const { return completed && !client_ec && !server_ec; }
};

int onServerName(SSL* ssl_handle, int* /*alert*/, void* arg) {
  auto* observer = static_cast<ServerObserver*>(arg);
  observer->servername_called = true;
  const char* name = SSL_get_servername(ssl_handle, TLSEXT_NAMETYPE_host_name);
  if (name != nullptr) {
    observer->sni = name;
  }
  return SSL_TLSEXT_ERR_OK;
}

int onAlpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
           unsigned int inlen, void* arg) {
  auto* observer = static_cast<ServerObserver*>(arg);
  observer->alpn_offered = std::string(reinterpret_cast<const char*>(in), inlen);
  static const unsigned char kProtos[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kProtos, sizeof(kProtos), in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

std::string subjectCn(X509* cert) {
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof(buf));
  return buf;
}

Outcome handshake(const ClientContext& client, std::string_view endpoint_host,
                  const ServerOptions& options) {
  Outcome out;
  asio::io_context io;
  ssl::context server_context(ssl::context::tls_server);
  SSL_CTX* sctx = server_context.native_handle();
  SSL_CTX_use_certificate(sctx, options.cert->cert.get());
  SSL_CTX_use_PrivateKey(sctx, options.cert->key.get());
  SSL_CTX_set_max_proto_version(sctx, options.max_version);
  SSL_CTX_set_tlsext_servername_callback(sctx, onServerName);
  SSL_CTX_set_tlsext_servername_arg(sctx, &out.server);
  SSL_CTX_set_alpn_select_cb(sctx, onAlpn, &out.server);
  if (options.client_ca != nullptr) {
    X509_STORE_add_cert(SSL_CTX_get_cert_store(sctx), options.client_ca->cert.get());
    SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }

  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  ssl::stream<tcp::socket> server_stream(io, server_context);
  ssl::stream<tcp::socket> client_stream(io, client.sslContext());
  client.prepare(client_stream.native_handle(), client.serverName(endpoint_host));

  int pending = 2;
  // A failing side closes its socket so that the peer's handshake ends too.
  acceptor.async_accept(server_stream.next_layer(), [&](error_code ec) {
    if (ec) {
      out.server_ec = ec;
      --pending;
      return;
    }
    server_stream.async_handshake(ssl::stream_base::server, [&](error_code hec) {
      out.server_ec = hec;
      --pending;
      if (X509* peer = SSL_get0_peer_certificate(server_stream.native_handle())) {
        out.server_peer_cn = subjectCn(peer);
      }
      if (hec) {
        server_stream.next_layer().close();
      }
    });
  });
  client_stream.next_layer().async_connect(acceptor.local_endpoint(), [&](error_code ec) {
    if (ec) {
      out.client_ec = ec;
      --pending;
      return;
    }
    client_stream.async_handshake(ssl::stream_base::client, [&](error_code hec) {
      out.client_ec = hec;
      --pending;
      if (hec) {
        client_stream.next_layer().close();
      }
    });
  });
  io.run_for(std::chrono::seconds(10));
  out.completed = pending == 0;
  SSL* cssl = client_stream.native_handle();
  out.client_verify_result = SSL_get_verify_result(cssl);
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(cssl, &alpn, &alpn_len);
  out.client_alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
  out.version = SSL_version(cssl);
  return out;
}

config::UpstreamTls tlsWithCa(const std::string& ca_value) {
  config::UpstreamTls tls;
  tls.custom_ca = ca_value;
  tls.custom_ca_key = "routes[0].tls_custom_ca";
  tls.custom_ca_pos = {"config.yaml", 7, 20};
  tls.client_cert_key = "routes[0].tls_client_cert";
  tls.client_cert_pos = {"config.yaml", 8, 22};
  tls.client_key_key = "routes[0].tls_client_key_file";
  tls.client_key_pos = {"config.yaml", 9, 27};
  return tls;
}

const config::SourcePos kGlobalCaPos{"config.yaml", 2, 24};

std::shared_ptr<const ClientContext> mustBuild(const config::UpstreamTls& tls,
                                               const std::string& global_ca = "") {
  config::Diagnostics diagnostics;
  auto context = ClientContext::build(tls, global_ca, kGlobalCaPos, diagnostics);
  EXPECT_NE(context, nullptr) << diagnostics.formatAll();
  EXPECT_FALSE(diagnostics.hasErrors()) << diagnostics.formatAll();
  return context;
}

const std::string kAlpnHttp11("\x08http/1.1", 9);

// ---------------------------------------------------------------------------------------------
// Context properties and server names.

TEST(ClientContextTest, ContextProperties) {
  auto context = mustBuild(tlsWithCa(pki().ca.cert_pem));
  ASSERT_NE(context, nullptr);
  SSL_CTX* ctx = context->sslContext().native_handle();
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CTX_get_max_proto_version(ctx), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER);
  EXPECT_FALSE(context->skipVerify());

  config::UpstreamTls skip;
  skip.skip_verify = true;
  auto skipping = mustBuild(skip);
  ASSERT_NE(skipping, nullptr);
  EXPECT_TRUE(skipping->skipVerify());
  EXPECT_EQ(SSL_CTX_get_verify_mode(skipping->sslContext().native_handle()), SSL_VERIFY_NONE);
}

TEST(ClientContextTest, ServerNamePrecedenceAndStars) {
  config::UpstreamTls tls;
  auto plain = mustBuild(tls);
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(plain->serverName("backend.internal"), "backend.internal");
  EXPECT_EQ(plain->serverName("127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(plain->serverName("[::1]"), "::1");
  EXPECT_EQ(plain->serverName("*.svc.test"), "example.svc.test");

  tls.server_name = "upstream.test";  // the loader puts the tls_upstream_server_name winner here
  auto named = mustBuild(tls);
  ASSERT_NE(named, nullptr);
  EXPECT_EQ(named->serverName("backend.internal"), "upstream.test");
  EXPECT_EQ(named->serverName("127.0.0.1"), "upstream.test");

  tls.server_name = "*.wild.test";
  auto wild = mustBuild(tls);
  ASSERT_NE(wild, nullptr);
  EXPECT_EQ(wild->serverName("backend.internal"), "example.wild.test");
}

// ---------------------------------------------------------------------------------------------
// Real handshakes.

TEST(ClientContextTest, TrustsCustomCaWithMatchingNameAndSendsSniAndAlpn) {
  auto context = mustBuild(tlsWithCa(pki().ca.cert_pem));
  ASSERT_NE(context, nullptr);
  Outcome out = handshake(*context, "upstream.test", {.cert = &pki().leaf});
  ASSERT_TRUE(out.ok()) << out.client_ec.message() << " / " << out.server_ec.message();
  EXPECT_EQ(out.client_verify_result, X509_V_OK);
  EXPECT_TRUE(out.server.servername_called);
  EXPECT_EQ(out.server.sni, std::optional<std::string>("upstream.test"));
  EXPECT_EQ(out.server.alpn_offered, std::optional<std::string>(kAlpnHttp11));  // h2 not offered
  EXPECT_EQ(out.client_alpn, "http/1.1");
  EXPECT_EQ(out.version, TLS1_3_VERSION);
}

TEST(ClientContextTest, RejectsWrongName) {
  auto context = mustBuild(tlsWithCa(pki().ca.cert_pem));
  ASSERT_NE(context, nullptr);
  Outcome out = handshake(*context, "other.test", {.cert = &pki().leaf});
  ASSERT_TRUE(out.completed);
  EXPECT_TRUE(out.client_ec);
  EXPECT_EQ(out.client_verify_result, X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(out.server.sni, std::optional<std::string>("other.test"));
}

TEST(ClientContextTest, ConfiguredServerNameIsSentAndVerified) {
  config::UpstreamTls tls = tlsWithCa(pki().ca.cert_pem);
  tls.server_name = "upstream.test";
  auto context = mustBuild(tls);
  ASSERT_NE(context, nullptr);
  // The endpoint is addressed by another name; the configured one wins for SNI and SAN.
  Outcome out = handshake(*context, "backend.internal", {.cert = &pki().leaf});
  ASSERT_TRUE(out.ok()) << out.client_ec.message();
  EXPECT_EQ(out.server.sni, std::optional<std::string>(context->serverName("backend.internal")));
  EXPECT_EQ(out.server.sni, std::optional<std::string>("upstream.test"));

  tls.server_name = "not-upstream.test";
  auto wrong = mustBuild(tls);
  ASSERT_NE(wrong, nullptr);
  out = handshake(*wrong, "upstream.test", {.cert = &pki().leaf});
  ASSERT_TRUE(out.completed);
  EXPECT_TRUE(out.client_ec);
  EXPECT_EQ(out.client_verify_result, X509_V_ERR_HOSTNAME_MISMATCH);
}

TEST(ClientContextTest, SubjectCommonNameIsNotANameMatch) {
  auto context = mustBuild(tlsWithCa(pki().ca.cert_pem));
  ASSERT_NE(context, nullptr);
  Outcome out = handshake(*context, "upstream.test", {.cert = &pki().cn_only});
  ASSERT_TRUE(out.completed);
  EXPECT_TRUE(out.client_ec);
  EXPECT_EQ(out.client_verify_result, X509_V_ERR_HOSTNAME_MISMATCH);
}

TEST(ClientContextTest, RejectsUntrustedCertificates) {
  // A self-signed certificate that the custom CA did not issue.
  auto context = mustBuild(tlsWithCa(pki().ca.cert_pem));
  ASSERT_NE(context, nullptr);
  Outcome out = handshake(*context, "upstream.test", {.cert = &pki().self_signed});
  ASSERT_TRUE(out.completed);
  EXPECT_TRUE(out.client_ec);
  EXPECT_EQ(out.client_verify_result, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);

  // A certificate from a CA that is neither the custom CA nor a system root.
  auto other = mustBuild(tlsWithCa(pki().other_ca.cert_pem));
  ASSERT_NE(other, nullptr);
  out = handshake(*other, "upstream.test", {.cert = &pki().leaf});
  ASSERT_TRUE(out.completed);
  EXPECT_TRUE(out.client_ec);
  EXPECT_EQ(out.client_verify_result, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);

  // System roots only: the test CA is not among them.
  auto system = mustBuild(config::UpstreamTls{});
  ASSERT_NE(system, nullptr);
  out = handshake(*system, "upstream.test", {.cert = &pki().leaf});
  ASSERT_TRUE(out.completed);
  EXPECT_TRUE(out.client_ec);
  EXPECT_EQ(out.client_verify_result, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST(ClientContextTest, SkipVerifyAcceptsUntrustedChainAndWrongName) {
  config::UpstreamTls tls;
  tls.skip_verify = true;
  auto context = mustBuild(tls);
  ASSERT_NE(context, nullptr);
  Outcome out = handshake(*context, "other.test", {.cert = &pki().self_signed});
  ASSERT_TRUE(out.ok()) << out.client_ec.message();
  EXPECT_NE(out.client_verify_result, X509_V_OK);  // computed, then ignored
  EXPECT_EQ(out.server.sni, std::optional<std::string>("other.test"));
}

TEST(ClientContextTest, SelfSignedCertificateAsCustomCaIsTrusted) {
  auto context = mustBuild(tlsWithCa(pki().self_signed.cert_pem));
  ASSERT_NE(context, nullptr);
  Outcome out = handshake(*context, "upstream.test", {.cert = &pki().self_signed});
  EXPECT_TRUE(out.ok()) << out.client_ec.message();
}

TEST(ClientContextTest, IpLiteralVerifiesIpSanAndSendsNoSni) {
  auto context = mustBuild(tlsWithCa(pki().ca.cert_pem));
  ASSERT_NE(context, nullptr);
  Outcome out = handshake(*context, "127.0.0.1", {.cert = &pki().leaf});
  ASSERT_TRUE(out.ok()) << out.client_ec.message();
  EXPECT_TRUE(out.server.servername_called);
  EXPECT_EQ(out.server.sni, std::nullopt);

  // An IP that is not in the certificate.
  out = handshake(*context, "127.0.0.2", {.cert = &pki().leaf});
  ASSERT_TRUE(out.completed);
  EXPECT_TRUE(out.client_ec);
  EXPECT_EQ(out.client_verify_result, X509_V_ERR_IP_ADDRESS_MISMATCH);
  EXPECT_EQ(out.server.sni, std::nullopt);

  // The IP SAN does not satisfy a DNS name, and a DNS SAN does not satisfy an IP.
  out = handshake(*context, "127.0.0.1", {.cert = &pki().api_wild});
  ASSERT_TRUE(out.completed);
  EXPECT_TRUE(out.client_ec);
}

TEST(ClientContextTest, IpLiteralServerNameOverride) {
  config::UpstreamTls tls = tlsWithCa(pki().ca.cert_pem);
  tls.server_name = "127.0.0.1";
  auto context = mustBuild(tls);
  ASSERT_NE(context, nullptr);
  Outcome out = handshake(*context, "backend.internal", {.cert = &pki().leaf});
  ASSERT_TRUE(out.ok()) << out.client_ec.message();
  EXPECT_EQ(out.server.sni, std::nullopt);
}

TEST(ClientContextTest, WildcardCertificateCoversOneLabel) {
  auto context = mustBuild(tlsWithCa(pki().ca.cert_pem));
  ASSERT_NE(context, nullptr);
  Outcome out = handshake(*context, "api.wild.test", {.cert = &pki().wild});
  EXPECT_TRUE(out.ok()) << out.client_ec.message();
  out = handshake(*context, "a.b.wild.test", {.cert = &pki().wild});
  EXPECT_TRUE(out.completed);
  EXPECT_TRUE(out.client_ec);
  out = handshake(*context, "wild.test", {.cert = &pki().wild});
  EXPECT_TRUE(out.completed);
  EXPECT_TRUE(out.client_ec);
}

TEST(ClientContextTest, StarServerNameSendsExampleAndMatchesSansByPattern) {
  config::UpstreamTls tls = tlsWithCa(pki().ca.cert_pem);
  tls.server_name = "*.wild.test";
  auto context = mustBuild(tls);
  ASSERT_NE(context, nullptr);

  // The wildcard certificate itself ("*.wild.test" matches the pattern literally).
  Outcome out = handshake(*context, "10.0.0.1", {.cert = &pki().wild});
  ASSERT_TRUE(out.ok()) << out.client_ec.message();
  EXPECT_EQ(out.server.sni, std::optional<std::string>("example.wild.test"));

  // Any DNS SAN under wild.test matches (Pomerium's regex `^(.*)\.wild\.test$`).
  out = handshake(*context, "10.0.0.1", {.cert = &pki().api_wild});
  EXPECT_TRUE(out.ok()) << out.client_ec.message();

  // A certificate for another domain does not.
  out = handshake(*context, "10.0.0.1", {.cert = &pki().leaf});
  ASSERT_TRUE(out.completed);
  EXPECT_TRUE(out.client_ec);
  EXPECT_EQ(out.client_verify_result, X509_V_ERR_HOSTNAME_MISMATCH);

  // The pattern check does not weaken chain verification.
  auto untrusted = mustBuild([] {
    config::UpstreamTls t = tlsWithCa(pki().other_ca.cert_pem);
    t.server_name = "*.wild.test";
    return t;
  }());
  ASSERT_NE(untrusted, nullptr);
  out = handshake(*untrusted, "10.0.0.1", {.cert = &pki().wild});
  ASSERT_TRUE(out.completed);
  EXPECT_TRUE(out.client_ec);
  EXPECT_EQ(out.client_verify_result, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST(ClientContextTest, GlobalCaIsTrustedWithoutCustomCa) {
  auto context = mustBuild(config::UpstreamTls{}, pki().ca.cert_pem);
  ASSERT_NE(context, nullptr);
  Outcome out = handshake(*context, "upstream.test", {.cert = &pki().leaf});
  EXPECT_TRUE(out.ok()) << out.client_ec.message();
}

TEST(ClientContextTest, SharedSystemStoreFollowsTheGlobalCa) {
  // Contexts without a custom CA share one system-roots store per global CA text; building
  // with another global CA must neither leak into nor drop trust from earlier contexts.
  auto first = mustBuild(config::UpstreamTls{}, pki().ca.cert_pem);
  auto same = mustBuild(config::UpstreamTls{}, writeFile("global.pem", pki().ca.cert_pem));
  auto other = mustBuild(config::UpstreamTls{}, pki().other_ca.cert_pem);
  auto none = mustBuild(config::UpstreamTls{});
  ASSERT_TRUE(first && same && other && none);
  EXPECT_EQ(SSL_CTX_get_cert_store(first->sslContext().native_handle()),
            SSL_CTX_get_cert_store(same->sslContext().native_handle()));
  EXPECT_TRUE(handshake(*first, "upstream.test", {.cert = &pki().leaf}).ok());
  EXPECT_TRUE(handshake(*same, "upstream.test", {.cert = &pki().leaf}).ok());
  EXPECT_FALSE(handshake(*other, "upstream.test", {.cert = &pki().leaf}).ok());
  EXPECT_FALSE(handshake(*none, "upstream.test", {.cert = &pki().leaf}).ok());
  // A custom CA never touches the shared store.
  auto custom = mustBuild(tlsWithCa(pki().other_ca.cert_pem));
  ASSERT_NE(custom, nullptr);
  EXPECT_FALSE(handshake(*none, "upstream.test", {.cert = &pki().leaf}).ok());
  EXPECT_TRUE(handshake(*first, "upstream.test", {.cert = &pki().leaf}).ok());
}

TEST(ClientContextTest, CustomCaReplacesGlobalCa) {
  // Route CA = other CA, global CA = the issuer: the global CA is not consulted.
  auto context = mustBuild(tlsWithCa(pki().other_ca.cert_pem), pki().ca.cert_pem);
  ASSERT_NE(context, nullptr);
  Outcome out = handshake(*context, "upstream.test", {.cert = &pki().leaf});
  ASSERT_TRUE(out.completed);
  EXPECT_TRUE(out.client_ec);

  // And the other way round.
  auto swapped = mustBuild(tlsWithCa(pki().ca.cert_pem), pki().other_ca.cert_pem);
  ASSERT_NE(swapped, nullptr);
  out = handshake(*swapped, "upstream.test", {.cert = &pki().leaf});
  EXPECT_TRUE(out.ok()) << out.client_ec.message();
}

TEST(ClientContextTest, CaValueForms) {
  const std::string bundle = pki().other_ca.cert_pem + pki().ca.cert_pem;  // issuer second
  const std::vector<std::pair<std::string, std::string>> forms = {
      {"file path", writeFile("ca.pem", pki().ca.cert_pem)},
      {"inline PEM", pki().ca.cert_pem},
      {"base64 PEM", strings::base64Encode(pki().ca.cert_pem)},
      {"bundle file", writeFile("bundle.pem", bundle)},
      {"base64 bundle", strings::base64Encode(bundle)},
  };
  for (const auto& [label, value] : forms) {
    SCOPED_TRACE(label);
    auto route = mustBuild(tlsWithCa(value));
    ASSERT_NE(route, nullptr);
    EXPECT_TRUE(handshake(*route, "upstream.test", {.cert = &pki().leaf}).ok());
    auto global = mustBuild(config::UpstreamTls{}, value);
    ASSERT_NE(global, nullptr);
    EXPECT_TRUE(handshake(*global, "upstream.test", {.cert = &pki().leaf}).ok());
  }
}

TEST(ClientContextTest, NegotiatesTls12WhenTheServerCapsAtIt) {
  auto context = mustBuild(tlsWithCa(pki().ca.cert_pem));
  ASSERT_NE(context, nullptr);
  Outcome out =
      handshake(*context, "upstream.test", {.cert = &pki().leaf, .max_version = TLS1_2_VERSION});
  ASSERT_TRUE(out.ok()) << out.client_ec.message();
  EXPECT_EQ(out.version, TLS1_2_VERSION);
  EXPECT_EQ(out.client_alpn, "http/1.1");
  out = handshake(*context, "other.test", {.cert = &pki().leaf, .max_version = TLS1_2_VERSION});
  ASSERT_TRUE(out.completed);
  EXPECT_TRUE(out.client_ec);
}

TEST(ClientContextTest, MutualTls) {
  const Pki& p = pki();
  config::UpstreamTls with_cert = tlsWithCa(p.ca.cert_pem);
  with_cert.client_cert = writeFile("client.crt", p.client.cert_pem);
  with_cert.client_key = strings::base64Encode(p.client.key_pem);
  auto context = mustBuild(with_cert);
  ASSERT_NE(context, nullptr);
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    SCOPED_TRACE(version);
    Outcome out = handshake(*context, "upstream.test",
                            {.cert = &p.leaf, .client_ca = &p.client_ca, .max_version = version});
    ASSERT_TRUE(out.ok()) << out.client_ec.message() << " / " << out.server_ec.message();
    EXPECT_EQ(out.server_peer_cn, "client");
  }

  // Without a client certificate the server refuses (in TLS 1.3 the client's handshake may
  // complete before the server's verdict; the server side fails either way).
  auto no_cert = mustBuild(tlsWithCa(p.ca.cert_pem));
  ASSERT_NE(no_cert, nullptr);
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    SCOPED_TRACE(version);
    Outcome out = handshake(*no_cert, "upstream.test",
                            {.cert = &p.leaf, .client_ca = &p.client_ca, .max_version = version});
    ASSERT_TRUE(out.completed);
    EXPECT_TRUE(out.server_ec);
    EXPECT_EQ(out.server_peer_cn, "");
  }

  // A client certificate from a CA the server does not trust is refused too.
  config::UpstreamTls stray = tlsWithCa(p.ca.cert_pem);
  stray.client_cert = p.stray_client.cert_pem;
  stray.client_key = p.stray_client.key_pem;
  auto stray_context = mustBuild(stray);
  ASSERT_NE(stray_context, nullptr);
  Outcome out =
      handshake(*stray_context, "upstream.test", {.cert = &p.leaf, .client_ca = &p.client_ca});
  ASSERT_TRUE(out.completed);
  EXPECT_TRUE(out.server_ec);
}

// ---------------------------------------------------------------------------------------------
// Configuration errors.

TEST(ClientContextTest, BadCustomCaIsReportedAtItsPosition) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"missing file", "/nonexistent/ca.pem"},
      {"garbage", "not a certificate at all"},
      {"broken PEM", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
      {"key only", pki().ca.key_pem},
      {"whitespace", "   "},
  };
  for (const auto& [label, value] : bad) {
    SCOPED_TRACE(label);
    config::Diagnostics diagnostics;
    auto context = ClientContext::build(tlsWithCa(value), "", kGlobalCaPos, diagnostics);
    EXPECT_EQ(context, nullptr);
    ASSERT_EQ(diagnostics.errorCount(), 1u) << diagnostics.formatAll();
    const config::Diagnostic& d = diagnostics.items().front();
    EXPECT_EQ(d.key, "routes[0].tls_custom_ca");
    EXPECT_EQ(d.pos.file, "config.yaml");
    EXPECT_EQ(d.pos.line, 7);
    EXPECT_EQ(d.pos.column, 20);
  }
}

TEST(ClientContextTest, BadGlobalCaIsReportedAtItsPosition) {
  config::Diagnostics diagnostics;
  auto context = ClientContext::build(config::UpstreamTls{}, "/nonexistent/global.pem",
                                      kGlobalCaPos, diagnostics);
  EXPECT_EQ(context, nullptr);
  ASSERT_EQ(diagnostics.errorCount(), 1u);
  const config::Diagnostic& d = diagnostics.items().front();
  EXPECT_EQ(d.key, "certificate_authority");
  EXPECT_EQ(d.pos.line, 2);
  EXPECT_EQ(d.pos.column, 24);
}

TEST(ClientContextTest, ClientCertificateErrors) {
  const Pki& p = pki();
  struct Case {
    std::string label;
    std::string cert;
    std::string key;
    bool at_key;  // reported at tls_client_key(_file), else at tls_client_cert
    std::string message;
  };
  const std::string garbage_key =
      "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n";
  const std::vector<Case> cases = {
      {"mismatched key", p.client.cert_pem, p.leaf.key_pem, false,
       "client certificate: private key does not match the certificate"},
      {"cert without key", p.client.cert_pem, "", false, "both must be non-empty"},
      {"key without cert", "", p.client.key_pem, false, "both must be non-empty"},
      {"unreadable cert", "/nonexistent/client.crt", p.client.key_pem, false,
       "client certificate: no such file"},
      {"garbage cert", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
       p.client.key_pem, false, "client certificate: bad certificate PEM"},
      {"unreadable key", p.client.cert_pem, "/nonexistent/client.key", true,
       "client key: no such file"},
      {"key is a certificate", p.client.cert_pem, p.client.cert_pem, true,
       "client key: bad private key PEM"},
      {"garbage key", p.client.cert_pem, garbage_key, true, "client key: bad private key PEM"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    config::UpstreamTls tls = tlsWithCa(p.ca.cert_pem);
    tls.client_cert = c.cert;
    tls.client_key = c.key;
    config::Diagnostics diagnostics;
    EXPECT_EQ(ClientContext::build(tls, "", kGlobalCaPos, diagnostics), nullptr);
    ASSERT_EQ(diagnostics.errorCount(), 1u) << diagnostics.formatAll();
    const config::Diagnostic& d = diagnostics.items().front();
    EXPECT_EQ(d.key, c.at_key ? "routes[0].tls_client_key_file" : "routes[0].tls_client_cert");
    EXPECT_EQ(d.pos.line, c.at_key ? 9 : 8);
    EXPECT_EQ(d.pos.column, c.at_key ? 27 : 22);
    EXPECT_NE(d.message.find(c.message), std::string::npos) << d.message;
  }
}

TEST(ClientContextTest, KeyProblemsWithoutAKeyPositionAreReportedAtTheCertificate) {
  config::UpstreamTls tls = tlsWithCa(pki().ca.cert_pem);
  tls.client_key_key.clear();
  tls.client_key_pos = {};
  tls.client_cert = pki().client.cert_pem;
  tls.client_key = "/nonexistent/client.key";
  config::Diagnostics diagnostics;
  EXPECT_EQ(ClientContext::build(tls, "", kGlobalCaPos, diagnostics), nullptr);
  ASSERT_EQ(diagnostics.errorCount(), 1u) << diagnostics.formatAll();
  EXPECT_EQ(diagnostics.items().front().key, "routes[0].tls_client_cert");
  EXPECT_EQ(diagnostics.items().front().pos.line, 8);
}

TEST(ClientContextTest, AllProblemsAreCollected) {
  config::UpstreamTls tls = tlsWithCa("/nonexistent/ca.pem");
  tls.client_cert = pki().client.cert_pem;
  tls.client_key = pki().leaf.key_pem;
  config::Diagnostics diagnostics;
  EXPECT_EQ(ClientContext::build(tls, "", kGlobalCaPos, diagnostics), nullptr);
  EXPECT_EQ(diagnostics.errorCount(), 2u) << diagnostics.formatAll();
}

}  // namespace
}  // namespace vallum::tls
