// Global options (Pomerium's global settings).
#include <fstream>

#include <gtest/gtest.h>

#include "common/strings.h"
#include "config/loader.h"
#include "config_test_util.h"

namespace vallum::config {
namespace {

using test::Expected;
using test::hasDiag;
using test::load;
using test::loaded;
using E = Severity;

// 32 bytes of base64 ("0123456789abcdef0123456789abcdef").
constexpr const char* kSecret32 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

TEST(LoaderGlobalsTest, DefaultsForAnEmptyConfig) {
  LoadResult r = load("");
  ASSERT_TRUE(test::clean(r));
  const Options& o = *r.options;
  EXPECT_EQ(o.address.toString(), ":443");
  EXPECT_FALSE(o.insecure_server);
  EXPECT_TRUE(o.certificates.empty());
  EXPECT_EQ(o.default_upstream_timeout, 30s);
  EXPECT_EQ(o.timeout_read, 30s);
  EXPECT_EQ(o.timeout_write, 0s);
  EXPECT_EQ(o.timeout_idle, 5min);
  EXPECT_TRUE(o.normalize_path);
  EXPECT_FALSE(o.merge_slashes);
  EXPECT_EQ(o.path_with_escaped_slashes_action, EscapedSlashesAction::RejectRequest);
  EXPECT_EQ(o.headers_with_underscores_action, UnderscoresAction::RejectRequest);
  EXPECT_FALSE(o.skip_xff_append);
  EXPECT_EQ(o.log_level, "info");
  EXPECT_TRUE(o.shared_secret.empty());
  EXPECT_TRUE(o.cookie_secret.empty());
  EXPECT_TRUE(o.routes.empty());
}

// ---- address / insecure_server ----

struct AddressCase {
  const char* yaml;
  const char* want;
};

void PrintTo(const AddressCase& c, std::ostream* os) { *os << c.yaml; }

class LoaderAddressTest : public ::testing::TestWithParam<AddressCase> {};

TEST_P(LoaderAddressTest, Resolves) {
  LoadResult r = load(GetParam().yaml);
  ASSERT_TRUE(loaded(r));
  EXPECT_EQ(r.options->address.toString(), GetParam().want) << GetParam().yaml;
}

INSTANTIATE_TEST_SUITE_P(
    Forms, LoaderAddressTest,
    ::testing::Values(AddressCase{"address: ':8443'", ":8443"},
                      AddressCase{"address: 127.0.0.1:8443", "127.0.0.1:8443"},
                      AddressCase{"address: '[::1]:8443'", "[::1]:8443"},
                      AddressCase{"address: localhost:0", "localhost:0"},
                      AddressCase{"address: ':0'", ":0"},
                      AddressCase{"address: localhost", "localhost:443"},
                      AddressCase{"insecure_server: true", ":80"},
                      AddressCase{"insecure_server: true\naddress: localhost", "localhost:80"},
                      AddressCase{"insecure_server: true\naddress: ':8080'", ":8080"},
                      AddressCase{"address: ':443'\ninsecure_server: true", ":443"},
                      AddressCase{"address: ''", ":443"}));

TEST(LoaderGlobalsTest, InsecureServer) {
  LoadResult r = load("insecure_server: true\n");
  ASSERT_TRUE(loaded(r));
  EXPECT_TRUE(r.options->insecure_server);
}

TEST(LoaderGlobalsTest, InvalidAddresses) {
  LoadResult r = load("address: ':99999'\n");
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 10, "address", "invalid address \":99999\""}));
  EXPECT_TRUE(hasDiag(load("address: '::1:443'"),
                      {E::Error, 1, 10, "address", "must be enclosed in brackets"}));
  EXPECT_TRUE(
      hasDiag(load("address: 'host name:80'"), {E::Error, 1, 10, "address", "invalid character"}));
  EXPECT_TRUE(hasDiag(load("address: [':443']"),
                      {E::Error, 1, 10, "address", "expected a string, got a list"}));
}

TEST(LoaderGlobalsTest, InsecureServerTypeError) {
  LoadResult r = load("insecure_server: yes\n");
  EXPECT_TRUE(hasDiag(
      r, {E::Error, 1, 18, "insecure_server", "expected a boolean (true or false), got \"yes\""}));
}

// ---- timeouts ----

TEST(LoaderGlobalsTest, Timeouts) {
  LoadResult r = load(
      "default_upstream_timeout: 1m30s\n"
      "timeout_read: 10s\n"
      "timeout_write: 0\n"
      "timeout_idle: 250ms\n");
  ASSERT_TRUE(loaded(r));
  EXPECT_EQ(r.options->default_upstream_timeout, 90s);
  EXPECT_EQ(r.options->timeout_read, 10s);
  EXPECT_EQ(r.options->timeout_write, 0s);
  EXPECT_EQ(r.options->timeout_idle, 250ms);
}

TEST(LoaderGlobalsTest, TimeoutErrors) {
  LoadResult r = load(
      "default_upstream_timeout: 30\n"
      "timeout_read: -5s\n"
      "timeout_idle: 5 minutes\n"
      "timeout_write: {}\n");
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(
      hasDiag(r, {E::Error, 1, 27, "default_upstream_timeout", "missing unit in duration \"30\""}));
  EXPECT_TRUE(hasDiag(r, {E::Error, 2, 15, "timeout_read", "negative duration not allowed"}));
  EXPECT_TRUE(hasDiag(
      r, {E::Error, 3, 15, "timeout_idle", "unknown unit \" minutes\" in duration \"5 minutes\""}));
  EXPECT_TRUE(hasDiag(r, {E::Error, 4, 16, "timeout_write", "expected a duration"}));
  EXPECT_EQ(r.diagnostics.errorCount(), 4u);
}

// ---- path / header handling ----

TEST(LoaderGlobalsTest, PathAndHeaderOptions) {
  LoadResult r = load(
      "normalize_path: false\n"
      "merge_slashes: true\n"
      "skip_xff_append: true\n"
      "path_with_escaped_slashes_action: keep_unchanged\n"
      "headers_with_underscores_action: ALLOW\n");
  ASSERT_TRUE(loaded(r));
  EXPECT_FALSE(r.options->normalize_path);
  EXPECT_TRUE(r.options->merge_slashes);
  EXPECT_TRUE(r.options->skip_xff_append);
  EXPECT_EQ(r.options->path_with_escaped_slashes_action, EscapedSlashesAction::KeepUnchanged);
  EXPECT_EQ(r.options->headers_with_underscores_action, UnderscoresAction::Allow);
}

TEST(LoaderGlobalsTest, EscapedSlashesActionValues) {
  struct Case {
    const char* text;
    EscapedSlashesAction want;
  };
  for (Case c : {Case{"KEEP_UNCHANGED", EscapedSlashesAction::KeepUnchanged},
                 Case{"REJECT_REQUEST", EscapedSlashesAction::RejectRequest},
                 Case{"UNESCAPE_AND_REDIRECT", EscapedSlashesAction::UnescapeAndRedirect},
                 Case{"unescape_and_forward", EscapedSlashesAction::UnescapeAndForward},
                 Case{"IMPLEMENTATION_SPECIFIC_DEFAULT", EscapedSlashesAction::KeepUnchanged}}) {
    LoadResult r = load(std::string("path_with_escaped_slashes_action: ") + c.text);
    ASSERT_TRUE(loaded(r)) << c.text;
    EXPECT_EQ(r.options->path_with_escaped_slashes_action, c.want) << c.text;
  }
}

TEST(LoaderGlobalsTest, UnderscoresActionValues) {
  struct Case {
    const char* text;
    UnderscoresAction want;
  };
  for (Case c : {Case{"ALLOW", UnderscoresAction::Allow},
                 Case{"reject_request", UnderscoresAction::RejectRequest},
                 Case{"DROP_HEADER", UnderscoresAction::DropHeader}}) {
    LoadResult r = load(std::string("headers_with_underscores_action: ") + c.text);
    ASSERT_TRUE(loaded(r)) << c.text;
    EXPECT_EQ(r.options->headers_with_underscores_action, c.want) << c.text;
  }
}

TEST(LoaderGlobalsTest, UnknownEnumValues) {
  LoadResult r = load(
      "path_with_escaped_slashes_action: DECODE\n"
      "headers_with_underscores_action: keep\n");
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 35, "path_with_escaped_slashes_action",
                          "unknown value \"DECODE\" (expected one of: KEEP_UNCHANGED, "
                          "REJECT_REQUEST, UNESCAPE_AND_REDIRECT"}));
  EXPECT_TRUE(hasDiag(r, {E::Error, 2, 34, "headers_with_underscores_action",
                          "expected one of: ALLOW, REJECT_REQUEST, DROP_HEADER"}));
}

// ---- log_level ----

TEST(LoaderGlobalsTest, LogLevels) {
  struct Case {
    const char* text;
    const char* want;
  };
  for (Case c :
       {Case{"trace", "trace"}, Case{"debug", "debug"}, Case{"info", "info"}, Case{"warn", "warn"},
        Case{"warning", "warn"}, Case{"ERROR", "error"}, Case{"fatal", "critical"},
        Case{"panic", "critical"}, Case{"disabled", "off"}, Case{"critical", "critical"},
        Case{"OFF", "off"}, Case{"''", "info"}}) {
    LoadResult r = load(std::string("log_level: ") + c.text);
    ASSERT_TRUE(loaded(r)) << c.text;
    EXPECT_EQ(r.options->log_level, c.want) << c.text;
  }
  EXPECT_TRUE(hasDiag(load("log_level: verbose"),
                      {E::Error, 1, 12, "log_level", "unknown log level \"verbose\""}));
}

// ---- secrets ----

TEST(LoaderGlobalsTest, SecretsAreDecoded) {
  LoadResult r =
      load(std::string("shared_secret: ") + kSecret32 + "\ncookie_secret: " + kSecret32 + "\n");
  ASSERT_TRUE(test::clean(r));
  EXPECT_EQ(r.options->shared_secret, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(r.options->cookie_secret, "0123456789abcdef0123456789abcdef");
}

TEST(LoaderGlobalsTest, SharedSecretRules) {
  EXPECT_TRUE(hasDiag(load("shared_secret: 'abc def='"),
                      {E::Error, 1, 16, "shared_secret", "shared secret is not valid base64"}));
  EXPECT_TRUE(hasDiag(load(std::string("shared_secret: ' ") + kSecret32 + "'"),
                      {E::Error, 1, 16, "shared_secret", "shared secret contains whitespace"}));
  EXPECT_TRUE(hasDiag(load("shared_secret: ${SHARED_SECRET}"),
                      {E::Error, 1, 16, "shared_secret", "not valid base64"}));
  // Any valid base64 loads; a size other than 32 only warns (sign-in comes later).
  LoadResult short_secret = load("shared_secret: YWJj");
  ASSERT_TRUE(loaded(short_secret));
  EXPECT_EQ(short_secret.options->shared_secret, "abc");
  EXPECT_TRUE(hasDiag(short_secret, {E::Warning, 1, 16, "shared_secret", "decodes to 3 bytes"}));
}

TEST(LoaderGlobalsTest, CookieSecretMustBe32Bytes) {
  LoadResult r = load("cookie_secret: YWJj\n");
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 16, "cookie_secret",
                          "cookie secret must be 32 bytes of base64-encoded data, got 3 bytes"}));
  EXPECT_TRUE(hasDiag(load("cookie_secret: '!!!'"),
                      {E::Error, 1, 16, "cookie_secret", "cookie secret is not valid base64"}));
}

TEST(LoaderGlobalsTest, SecretMessagesNeverIncludeTheSecret) {
  LoadResult r = load("shared_secret: 'sup3r secret!'\ncookie_secret: 'an0ther!'\n");
  EXPECT_EQ(r.diagnostics.errorCount(), 2u);
  EXPECT_EQ(r.diagnostics.formatAll().find("sup3r"), std::string::npos);
  EXPECT_EQ(r.diagnostics.formatAll().find("an0ther"), std::string::npos);
}

class SecretFileTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& content) {
    std::string path = ::testing::TempDir() + "vallum_config_" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
};

TEST_F(SecretFileTest, ReadsSecretFiles) {
  std::string shared = write("shared", kSecret32);
  std::string cookie = write("cookie", std::string(kSecret32) + "\n");  // Go ignores newlines
  LoadResult r = load("shared_secret_file: " + shared + "\ncookie_secret_file: " + cookie + "\n");
  ASSERT_TRUE(test::clean(r));
  EXPECT_EQ(r.options->shared_secret, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(r.options->cookie_secret, "0123456789abcdef0123456789abcdef");
}

TEST_F(SecretFileTest, SharedSecretFileWithNewlineIsRejectedAsPomeriumDoes) {
  std::string shared = write("shared_nl", std::string(kSecret32) + "\n");
  LoadResult r = load("shared_secret_file: " + shared + "\n");
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 21, "shared_secret_file",
                          "shared secret contains whitespace (a trailing newline"}));
}

TEST_F(SecretFileTest, FileWinsOverInlineValue) {
  std::string shared = write("shared2", kSecret32);
  LoadResult r = load("shared_secret: YWJj\nshared_secret_file: " + shared + "\n");
  ASSERT_TRUE(loaded(r));
  EXPECT_EQ(r.options->shared_secret, "0123456789abcdef0123456789abcdef");
  EXPECT_TRUE(
      hasDiag(r, {E::Warning, 1, 1, "shared_secret", "ignored: shared_secret_file is set too"}));
}

TEST_F(SecretFileTest, MissingFile) {
  LoadResult r = load("cookie_secret_file: /nonexistent/vallum/cookie\n");
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 21, "cookie_secret_file",
                          "cannot read the cookie secret file: cannot read "
                          "\"/nonexistent/vallum/cookie\""}));
}

// ---- certificates: the four forms ----

TEST(LoaderCertificatesTest, CertificatesList) {
  LoadResult r = load(
      "certificates:\n"
      "  - cert: /certs/a.pem\n"
      "    key: /certs/a.key\n"
      "  - {cert: '-----BEGIN CERTIFICATE-----', key: LS0tLS1CRUdJTg==}\n");
  ASSERT_TRUE(test::clean(r));
  const auto& certs = r.options->certificates;
  ASSERT_EQ(certs.size(), 2u);
  EXPECT_EQ(certs[0].cert, "/certs/a.pem");
  EXPECT_EQ(certs[0].key, "/certs/a.key");
  EXPECT_EQ(certs[0].cert_key, "certificates[0].cert");
  EXPECT_EQ(certs[0].key_key, "certificates[0].key");
  EXPECT_EQ(certs[0].cert_pos.file, "config.yaml");
  EXPECT_EQ(certs[0].cert_pos.line, 2);
  EXPECT_EQ(certs[0].cert_pos.column, 11);
  EXPECT_EQ(certs[0].key_pos.line, 3);
  EXPECT_EQ(certs[0].key_pos.column, 10);
  EXPECT_EQ(certs[1].cert, "-----BEGIN CERTIFICATE-----");
  EXPECT_EQ(certs[1].key, "LS0tLS1CRUdJTg==");
  EXPECT_EQ(certs[1].key_key, "certificates[1].key");
}

TEST(LoaderCertificatesTest, InlinePair) {
  LoadResult r = load("certificate: Q0VSVA==\ncertificate_key: S0VZ\n");
  ASSERT_TRUE(test::clean(r));
  ASSERT_EQ(r.options->certificates.size(), 1u);
  const CertificateSource& c = r.options->certificates[0];
  EXPECT_EQ(c.cert, "Q0VSVA==");
  EXPECT_EQ(c.key, "S0VZ");
  EXPECT_EQ(c.cert_key, "certificate");
  EXPECT_EQ(c.key_key, "certificate_key");
  EXPECT_EQ(c.key_pos.line, 2);
  EXPECT_EQ(c.key_pos.column, 18);
}

TEST(LoaderCertificatesTest, FilePair) {
  LoadResult r = load("certificate_file: /c.pem\ncertificate_key_file: /k.pem\n");
  ASSERT_TRUE(test::clean(r));
  ASSERT_EQ(r.options->certificates.size(), 1u);
  EXPECT_EQ(r.options->certificates[0].cert, "/c.pem");
  EXPECT_EQ(r.options->certificates[0].key, "/k.pem");
  EXPECT_EQ(r.options->certificates[0].cert_key, "certificate_file");
  EXPECT_EQ(r.options->certificates[0].key_key, "certificate_key_file");
}

TEST(LoaderCertificatesTest, MixedPairingFromTheRouteDocs) {
  LoadResult r = load("certificate_file: /c.pem\ncertificate_key: /k.pem\n");
  ASSERT_TRUE(test::clean(r));
  ASSERT_EQ(r.options->certificates.size(), 1u);
  EXPECT_EQ(r.options->certificates[0].cert, "/c.pem");
  EXPECT_EQ(r.options->certificates[0].key, "/k.pem");
  EXPECT_EQ(r.options->certificates[0].cert_key, "certificate_file");
  EXPECT_EQ(r.options->certificates[0].key_key, "certificate_key");
}

TEST(LoaderCertificatesTest, AllFormsTogetherInPomeriumOrder) {
  LoadResult r = load(
      "certificate_file: /file.pem\n"
      "certificate_key_file: /file.key\n"
      "certificates: [{cert: /list.pem, key: /list.key}]\n"
      "certificate: inline-cert\n"
      "certificate_key: inline-key\n");
  ASSERT_TRUE(test::clean(r));
  const auto& certs = r.options->certificates;
  ASSERT_EQ(certs.size(), 3u);
  EXPECT_EQ(certs[0].cert, "inline-cert");
  EXPECT_EQ(certs[1].cert, "/list.pem");
  EXPECT_EQ(certs[2].cert, "/file.pem");
}

TEST(LoaderCertificatesTest, CertificateWithoutKey) {
  LoadResult r = load("certificate_file: /c.pem\n");
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 19, "certificate_file",
                          "certificate without key: set certificate_key or certificate_key_file"}));
}

TEST(LoaderCertificatesTest, KeyWithoutCertificate) {
  LoadResult r = load("certificate_key: /k.pem\n");
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 18, "certificate_key",
                          "key without certificate: set certificate or certificate_file"}));
}

TEST(LoaderCertificatesTest, OneCompletePairAndOneOrphan) {
  LoadResult r = load(
      "certificate: a\n"
      "certificate_key: b\n"
      "certificate_file: c\n");
  EXPECT_EQ(r.diagnostics.errorCount(), 1u);
  EXPECT_TRUE(hasDiag(r, {E::Error, 3, 19, "certificate_file", "certificate without key"}));
}

TEST(LoaderCertificatesTest, ListEntryProblems) {
  LoadResult r = load(
      "certificates:\n"
      "  - cert: /a.pem\n"
      "  - key: /b.key\n"
      "  - /c.pem\n"
      "  - {cert: /d.pem, key: /d.key, password: x}\n"
      "  - {}\n");
  EXPECT_TRUE(hasDiag(r, {E::Error, 2, 11, "certificates[0].cert",
                          "certificate without key: set certificates[0].key"}));
  EXPECT_TRUE(hasDiag(r, {E::Error, 3, 10, "certificates[1].key",
                          "key without certificate: set certificates[1].cert"}));
  EXPECT_TRUE(hasDiag(r, {E::Error, 4, 5, "certificates[2]",
                          "expected a mapping with cert and key, got \"/c.pem\""}));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 5, 33, "certificates[3].password",
                          "unknown certificate option \"password\""}));
  EXPECT_TRUE(hasDiag(r, {E::Error, 6, 5, "certificates[4]", "empty certificate entry"}));
  EXPECT_TRUE(hasDiag(load("certificates: /a.pem"),
                      {E::Error, 1, 15, "certificates", "expected a list of {cert, key} entries"}));
}

// ---- options accepted in part ----

TEST(LoaderGlobalsTest, ServicesAllAndProxyAreSilent) {
  EXPECT_TRUE(test::clean(load("services: all")));
  EXPECT_TRUE(test::clean(load("services: proxy")));
  EXPECT_TRUE(hasDiag(load("services: authenticate"),
                      {E::Warning, 1, 1, "services", "not supported yet; ignored"}));
  EXPECT_TRUE(hasDiag(load("services: proxy,authorize"),
                      {E::Warning, 1, 1, "services", "not supported yet; ignored"}));
  EXPECT_TRUE(hasDiag(load("services: everything"),
                      {E::Error, 1, 11, "services", "invalid service type \"everything\""}));
}

TEST(LoaderGlobalsTest, CodecTypeValues) {
  auto codec = [](const std::string& yaml) { return load(yaml).options->codec_type; };
  EXPECT_EQ(codec("routes: []\n"), config::CodecType::Auto);
  EXPECT_EQ(codec("codec_type: auto\n"), config::CodecType::Auto);
  EXPECT_EQ(codec("codec_type: HTTP1\n"), config::CodecType::Http1);
  EXPECT_EQ(codec("codec_type: http2\n"), config::CodecType::Http2);
  EXPECT_EQ(codec("codec_type: http3\n"), config::CodecType::Auto);
}

TEST(LoaderGlobalsTest, AutocertAndCodecType) {
  EXPECT_TRUE(test::clean(load("autocert: false\ncodec_type: auto\n")));
  EXPECT_TRUE(test::clean(load("codec_type: HTTP1\n")));
  EXPECT_TRUE(hasDiag(load("autocert: true"),
                      {E::Warning, 1, 1, "autocert", "not supported yet; ignored"}));
  EXPECT_TRUE(test::clean(load("codec_type: http2\n")));
  EXPECT_TRUE(hasDiag(load("codec_type: http3"),
                      {E::Warning, 1, 1, "codec_type", "not supported yet; ignored"}));
  EXPECT_TRUE(hasDiag(load("codec_type: spdy"),
                      {E::Error, 1, 13, "codec_type", "unknown codec type \"spdy\""}));
  EXPECT_TRUE(
      hasDiag(load("autocert: maybe"), {E::Error, 1, 11, "autocert", "expected a boolean"}));
}

// ---- recognized globals that are not implemented yet: type-checked, then a warning ----

struct NotYetCase {
  const char* yaml;
  const char* key;
};

void PrintTo(const NotYetCase& c, std::ostream* os) { *os << c.yaml; }

class LoaderNotYetGlobalTest : public ::testing::TestWithParam<NotYetCase> {};

TEST_P(LoaderNotYetGlobalTest, WarnsAndLoads) {
  LoadResult r = load(GetParam().yaml);
  ASSERT_TRUE(loaded(r)) << GetParam().yaml;
  EXPECT_TRUE(hasDiag(r, {E::Warning, 1, 1, GetParam().key, "not supported yet; ignored"}));
  EXPECT_EQ(r.diagnostics.warningCount(), 1u) << r.diagnostics.formatAll();
}

INSTANTIATE_TEST_SUITE_P(
    Types, LoaderNotYetGlobalTest,
    ::testing::Values(
        NotYetCase{"authorize_service_url: https://authorize.internal:5443",
                   "authorize_service_url"},
        NotYetCase{"databroker_service_urls: [https://db1, https://db2]",
                   "databroker_service_urls"},
        NotYetCase{"http_redirect_addr: ':80'", "http_redirect_addr"},
        NotYetCase{"autocert_use_staging: true", "autocert_use_staging"},
        NotYetCase{"xff_num_trusted_hops: 1", "xff_num_trusted_hops"},
        NotYetCase{"use_proxy_protocol: true", "use_proxy_protocol"},
        NotYetCase{"grpc_address: ':5443'", "grpc_address"},
        NotYetCase{"grpc_insecure: true", "grpc_insecure"},
        NotYetCase{"grpc_client_timeout: 10s", "grpc_client_timeout"},
        NotYetCase{"dns_lookup_family: V4_ONLY", "dns_lookup_family"},
        NotYetCase{"dns_query_timeout: 5s", "dns_query_timeout"},
        NotYetCase{"access_log_fields: [method, path]", "access_log_fields"},
        NotYetCase{"proxy_log_level: debug", "proxy_log_level"},
        NotYetCase{"otel_traces_exporter: otlp", "otel_traces_exporter"},
        NotYetCase{"otel_traces_sampler_arg: 0.25", "otel_traces_sampler_arg"},
        NotYetCase{"otel_exporter_otlp_timeout: 10000", "otel_exporter_otlp_timeout"},
        NotYetCase{"envoy_admin_address: 127.0.0.1:9901", "envoy_admin_address"},
        NotYetCase{"client_crl: LS0t", "client_crl"},
        NotYetCase{"downstream_mtls: {ca_file: /ca.pem}", "downstream_mtls"},
        NotYetCase{"circuit_breaker_thresholds: {max_connections: 10}",
                   "circuit_breaker_thresholds"},
        NotYetCase{"bearer_token_format: idp_access_token", "bearer_token_format"},
        NotYetCase{"idp_access_token_allowed_audiences: [a]", "idp_access_token_allowed_audiences"},
        NotYetCase{"programmatic_redirect_domain_whitelist: [localhost]",
                   "programmatic_redirect_domain_whitelist"},
        NotYetCase{"installation_id: abc", "installation_id"}));

struct TypeErrorCase {
  const char* yaml;
  int column;
  const char* key;
  const char* message;
};

void PrintTo(const TypeErrorCase& c, std::ostream* os) { *os << c.yaml; }

class LoaderGlobalTypeErrorTest : public ::testing::TestWithParam<TypeErrorCase> {};

TEST_P(LoaderGlobalTypeErrorTest, IsAnError) {
  LoadResult r = load(GetParam().yaml);
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, GetParam().column, GetParam().key, GetParam().message}));
  EXPECT_EQ(r.diagnostics.warningCount(), 0u) << "a bad value is an error, not also a warning";
}

INSTANTIATE_TEST_SUITE_P(
    Types, LoaderGlobalTypeErrorTest,
    ::testing::Values(
        TypeErrorCase{"authenticate_service_url: authenticate.example.com", 27,
                      "authenticate_service_url", "no scheme"},
        TypeErrorCase{"authenticate_service_url: https://${AUTH_HOST}", 27,
                      "authenticate_service_url", "environment variables are not expanded"},
        TypeErrorCase{"databroker_service_urls: [https://ok, nope]", 39,
                      "databroker_service_urls[1]", "no scheme"},
        TypeErrorCase{"cookie_http_only: sometimes", 19, "cookie_http_only", "expected a boolean"},
        TypeErrorCase{"cookie_expire: 14", 16, "cookie_expire", "missing unit in duration"},
        TypeErrorCase{"cookie_same_site: sideways", 19, "cookie_same_site",
                      "unknown value \"sideways\" (expected one of: strict, lax, none)"},
        TypeErrorCase{"idp_scopes: {a: b}", 13, "idp_scopes", "expected a list of strings"},
        TypeErrorCase{"idp_scopes: [[a]]", 14, "idp_scopes[0]", "expected a string, got a list"},
        TypeErrorCase{"idp_request_params: [a]", 21, "idp_request_params",
                      "expected a mapping of strings"},
        TypeErrorCase{"idp_request_params: {a: [b]}", 25, "idp_request_params.a",
                      "expected a string"},
        TypeErrorCase{"xff_num_trusted_hops: two", 23, "xff_num_trusted_hops",
                      "expected an integer, got \"two\""},
        TypeErrorCase{"otel_traces_sampler_arg: half", 26, "otel_traces_sampler_arg",
                      "expected a number"},
        TypeErrorCase{"metrics_address: 'nope:port'", 18, "metrics_address",
                      "invalid metrics_addr: expected host:port"},
        TypeErrorCase{"runtime_flags: [a]", 16, "runtime_flags", "expected a mapping"},
        TypeErrorCase{"downstream_mtls: on", 18, "downstream_mtls", "expected a mapping"},
        TypeErrorCase{"dns_lookup_family: V5", 20, "dns_lookup_family", "unknown value \"V5\""},
        TypeErrorCase{"installation_id: {a: 1}", 18, "installation_id",
                      "expected a string, got a mapping"}));

// ---- removed, out-of-scope and unknown globals ----

TEST(LoaderGlobalsTest, RemovedOptionsAreErrors) {
  for (const char* key :
       {"client_ca", "client_ca_file", "idp_service_account", "idp_refresh_directory_timeout",
        "idp_refresh_directory_interval", "idp_qps", "tracing_provider", "tracing_sample_rate",
        "tracing_datadog_address", "tracing_jaeger_collector_endpoint",
        "tracing_jaeger_agent_endpoint", "tracing_zipkin_endpoint"}) {
    LoadResult r = load(std::string(key) + ": x\n");
    EXPECT_FALSE(r.options) << key;
    EXPECT_TRUE(hasDiag(r, {E::Error, 1, 1, key, "config option was removed"})) << key;
  }
}

TEST(LoaderGlobalsTest, PolicyFileIsAnError) {
  LoadResult r = load("policy_file: /etc/pomerium/policy.yaml\n");
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 1, "policy_file", "policy file setting is deprecated"}));
}

TEST(LoaderGlobalsTest, SshOptionsAreNotSupported) {
  LoadResult r = load("ssh_address: ':22'\nssh_host_key_files: [/k]\n");
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 1, "ssh_address", "not supported"}));
  EXPECT_TRUE(hasDiag(r, {E::Error, 2, 1, "ssh_host_key_files", "not supported"}));
}

TEST(LoaderGlobalsTest, RetiredAndUnknownOptionsWarn) {
  LoadResult r = load(
      "forward_auth_url: https://fwd.example.com\n"
      "cache_service_url: https://cache\n"
      "pomerium_debug: true\n"
      "signing_key_algorithm: ES256\n"
      "adress: ':443'\n");
  ASSERT_TRUE(loaded(r));
  EXPECT_EQ(r.diagnostics.warningCount(), 5u);
  EXPECT_TRUE(hasDiag(r, {E::Warning, 1, 1, "forward_auth_url",
                          "unknown config option \"forward_auth_url\"; ignored"}));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 2, 1, "cache_service_url", "unknown config option"}));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 3, 1, "pomerium_debug", "unknown config option"}));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 4, 1, "signing_key_algorithm", "unknown config option"}));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 5, 1, "adress", "unknown config option \"adress\""}));
}

TEST(LoaderGlobalsTest, NullValuesAreUnset) {
  LoadResult r = load("address:\ninsecure_server: ~\ncookie_name:\nidp_scopes: null\n");
  ASSERT_TRUE(test::clean(r));
  EXPECT_EQ(r.options->address.toString(), ":443");
}

TEST(LoaderGlobalsTest, DollarTextIsNeverExpanded) {
  LoadResult file_only = load("address: ${ADDRESS}\n");
  EXPECT_TRUE(hasDiag(file_only, {E::Error, 1, 10, "address", "invalid character \"$\""}));
}

}  // namespace
}  // namespace vallum::config
