// Upstream TLS (Pomerium route tls_* options and global options): https://
// upstreams, the route tls_* keys, and the globals certificate_authority[_file] and
// metrics_address.
#include <string>

#include <gtest/gtest.h>

#include "config/loader.h"
#include "config_test_util.h"

namespace vallum::config {
namespace {

using test::hasDiag;
using test::load;
using test::loaded;
using E = Severity;

/// A route to an https upstream with `extra` lines (starting on line 4).
std::string httpsRoute(std::string_view extra) {
  return "routes:\n  - from: https://app.example.com\n    to: https://app.internal\n" +
         std::string(extra);
}

const Route& onlyRoute(const LoadResult& r) { return r.options->routes.at(0); }

// ---- https:// upstreams (Pomerium route option `to`) ----

TEST(LoaderUpstreamTlsTest, HttpsUpstreamsAreAccepted) {
  LoadResult r = load(
      "routes:\n"
      "  - from: https://app.example.com\n"
      "    to: [https://App.Internal, 'https://10.0.0.1:8443/base/', 'http://plain:8080']\n");
  ASSERT_TRUE(test::clean(r));
  const auto& to = onlyRoute(r).to;
  ASSERT_EQ(to.size(), 3u);
  EXPECT_EQ(to[0].scheme, "https");
  EXPECT_EQ(to[0].host, "app.internal");
  EXPECT_FALSE(to[0].port);
  EXPECT_EQ(to[0].effective_port, 443);
  EXPECT_EQ(to[0].authority, "App.Internal");
  EXPECT_EQ(to[1].scheme, "https");
  EXPECT_EQ(to[1].port, 8443);
  EXPECT_EQ(to[1].effective_port, 8443);
  EXPECT_EQ(to[1].path, "/base/");
  EXPECT_EQ(to[2].scheme, "http");  // mixing http and https is allowed
  EXPECT_EQ(to[2].effective_port, 8080);
}

TEST(LoaderUpstreamTlsTest, H2cLoadsWithPort80ByDefault) {
  LoadResult r = load(
      "routes:\n  - from: https://app.example.com\n    to: [h2c://app.internal, "
      "'h2c://10.0.0.1:9090']\n");
  ASSERT_TRUE(test::clean(r));
  const auto& to = onlyRoute(r).to;
  ASSERT_EQ(to.size(), 2u);
  EXPECT_EQ(to[0].scheme, "h2c");
  EXPECT_EQ(to[0].effective_port, 80);
  EXPECT_EQ(to[1].effective_port, 9090);
}

TEST(LoaderUpstreamTlsTest, OtherUpstreamSchemesStayNotSupportedYet) {
  for (const char* to :
       {"https+unix:///run/app.sock"}) {
    LoadResult r =
        load("routes:\n  - from: https://app.example.com\n    to: " + std::string(to) + "\n");
    EXPECT_TRUE(hasDiag(r, {E::Error, 3, 9, "routes[0].to", "upstreams are not supported yet"}))
        << to;
  }
}

// ---- route tls_* keys (Pomerium route options) ----

TEST(LoaderUpstreamTlsTest, EveryKeyIsDecodedWithPositions) {
  LoadResult r =
      load(httpsRoute("    tls_skip_verify: true\n"
                      "    tls_upstream_server_name: app.internal.example\n"
                      "    tls_custom_ca: LS0tLS1CRUdJTi\n"
                      "    tls_client_cert: Y2VydA==\n"
                      "    tls_client_key: a2V5\n"));
  ASSERT_TRUE(test::clean(r));
  const UpstreamTls& tls = onlyRoute(r).tls;
  EXPECT_TRUE(tls.skip_verify);
  EXPECT_EQ(tls.server_name, "app.internal.example");
  EXPECT_EQ(tls.custom_ca, "LS0tLS1CRUdJTi");
  EXPECT_EQ(tls.custom_ca_key, "routes[0].tls_custom_ca");
  EXPECT_EQ(tls.custom_ca_pos.file, "config.yaml");
  EXPECT_EQ(tls.custom_ca_pos.line, 6);
  EXPECT_EQ(tls.custom_ca_pos.column, 20);
  EXPECT_EQ(tls.client_cert, "Y2VydA==");
  EXPECT_EQ(tls.client_cert_key, "routes[0].tls_client_cert");
  EXPECT_EQ(tls.client_cert_pos.line, 7);
  EXPECT_EQ(tls.client_cert_pos.column, 22);
  EXPECT_EQ(tls.client_key, "a2V5");
  EXPECT_EQ(tls.client_key_key, "routes[0].tls_client_key");
  EXPECT_EQ(tls.client_key_pos.line, 8);
  EXPECT_EQ(tls.client_key_pos.column, 21);
}

TEST(LoaderUpstreamTlsTest, FileVariantsAreKeptAsWritten) {
  LoadResult r =
      load(httpsRoute("    tls_server_name: app.internal\n"
                      "    tls_custom_ca_file: /etc/vallum/ca.pem\n"
                      "    tls_client_cert_file: /etc/vallum/client.pem\n"
                      "    tls_client_key_file: /etc/vallum/client-key.pem\n"));
  ASSERT_TRUE(test::clean(r));
  const UpstreamTls& tls = onlyRoute(r).tls;
  EXPECT_FALSE(tls.skip_verify);
  EXPECT_EQ(tls.server_name, "app.internal");
  EXPECT_EQ(tls.custom_ca, "/etc/vallum/ca.pem");
  EXPECT_EQ(tls.custom_ca_key, "routes[0].tls_custom_ca_file");
  EXPECT_EQ(tls.client_cert, "/etc/vallum/client.pem");
  EXPECT_EQ(tls.client_cert_key, "routes[0].tls_client_cert_file");
  EXPECT_EQ(tls.client_key, "/etc/vallum/client-key.pem");
  EXPECT_EQ(tls.client_key_key, "routes[0].tls_client_key_file");
  EXPECT_EQ(tls.client_key_pos.line, 7);
  EXPECT_EQ(tls.client_key_pos.column, 26);
  // An inline certificate with a key file pairs too (the tls component resolves each).
  LoadResult mixed =
      load(httpsRoute("    tls_client_cert: Y2VydA==\n"
                      "    tls_client_key_file: /k.pem\n"));
  ASSERT_TRUE(test::clean(mixed));
  EXPECT_EQ(onlyRoute(mixed).tls.client_key, "/k.pem");
}

TEST(LoaderUpstreamTlsTest, UpstreamServerNameWins) {
  LoadResult differ =
      load(httpsRoute("    tls_server_name: a.internal\n"
                      "    tls_upstream_server_name: b.internal\n"));
  ASSERT_TRUE(loaded(differ));
  EXPECT_EQ(onlyRoute(differ).tls.server_name, "b.internal");
  EXPECT_TRUE(hasDiag(differ, {E::Warning, 4, 5, "routes[0].tls_server_name",
                               "ignored: tls_upstream_server_name (\"b.internal\") takes "
                               "precedence"}));
  EXPECT_EQ(differ.diagnostics.items().size(), 1u);
  LoadResult same =
      load(httpsRoute("    tls_upstream_server_name: b.internal\n"
                      "    tls_server_name: b.internal\n"));
  ASSERT_TRUE(test::clean(same));
  EXPECT_EQ(onlyRoute(same).tls.server_name, "b.internal");
}

TEST(LoaderUpstreamTlsTest, InlineAndFileTogetherAreErrors) {
  LoadResult ca =
      load(httpsRoute("    tls_custom_ca: LS0t\n"
                      "    tls_custom_ca_file: /ca.pem\n"));
  EXPECT_FALSE(ca.options);
  EXPECT_TRUE(hasDiag(ca, {E::Error, 5, 5, "routes[0].tls_custom_ca_file",
                           "set only one of tls_custom_ca and tls_custom_ca_file"}));
  EXPECT_EQ(ca.diagnostics.errorCount(), 1u) << ca.diagnostics.formatAll();
  LoadResult cert =
      load(httpsRoute("    tls_client_cert_file: /c.pem\n"
                      "    tls_client_cert: Y2VydA==\n"
                      "    tls_client_key: a2V5\n"));
  EXPECT_TRUE(hasDiag(cert, {E::Error, 4, 5, "routes[0].tls_client_cert_file",
                             "set only one of tls_client_cert and tls_client_cert_file"}));
  LoadResult key =
      load(httpsRoute("    tls_client_cert: Y2VydA==\n"
                      "    tls_client_key: a2V5\n"
                      "    tls_client_key_file: /k.pem\n"));
  EXPECT_TRUE(hasDiag(key, {E::Error, 6, 5, "routes[0].tls_client_key_file",
                            "set only one of tls_client_key and tls_client_key_file"}));
}

TEST(LoaderUpstreamTlsTest, ClientCertificateNeedsBothHalves) {
  LoadResult cert = load(httpsRoute("    tls_client_cert: Y2VydA==\n"));
  EXPECT_FALSE(cert.options);
  EXPECT_TRUE(hasDiag(cert, {E::Error, 4, 22, "routes[0].tls_client_cert",
                             "client certificate key and cert both must be non-empty"}));
  LoadResult key_file = load(httpsRoute("    tls_client_key_file: /k.pem\n"));
  EXPECT_TRUE(hasDiag(key_file, {E::Error, 4, 26, "routes[0].tls_client_key_file",
                                 "client certificate key and cert both must be non-empty: set "
                                 "tls_client_cert or tls_client_cert_file"}));
  // An empty value asks for nothing.
  LoadResult empty =
      load(httpsRoute("    tls_client_cert: ''\n"
                      "    tls_client_key: ''\n"));
  ASSERT_TRUE(test::clean(empty));
  EXPECT_EQ(onlyRoute(empty).tls.client_cert, "");
}

TEST(LoaderUpstreamTlsTest, TypeErrors) {
  EXPECT_TRUE(hasDiag(load(httpsRoute("    tls_skip_verify: maybe\n")),
                      {E::Error, 4, 22, "routes[0].tls_skip_verify", "expected a boolean"}));
  EXPECT_TRUE(hasDiag(load(httpsRoute("    tls_server_name: [a]\n")),
                      {E::Error, 4, 22, "routes[0].tls_server_name", "expected a string"}));
  EXPECT_TRUE(hasDiag(load(httpsRoute("    tls_custom_ca_file: {a: b}\n")),
                      {E::Error, 4, 25, "routes[0].tls_custom_ca_file", "expected a string"}));
}

TEST(LoaderUpstreamTlsTest, KeysWithoutAnHttpsUpstreamWarn) {
  LoadResult r =
      load(test::routeWith("    tls_skip_verify: true\n"
                           "    tls_server_name: a\n"
                           "    tls_upstream_server_name: a\n"
                           "    tls_custom_ca_file: /ca.pem\n"
                           "    tls_client_cert: Y2VydA==\n"
                           "    tls_client_key_file: /k.pem\n"));
  ASSERT_TRUE(loaded(r));
  for (int line = 4; line <= 9; ++line) {
    const Diagnostic& d = r.diagnostics.items().at(size_t(line - 4));
    EXPECT_EQ(d.severity, E::Warning);
    EXPECT_EQ(d.pos.line, line);
    EXPECT_EQ(d.pos.column, 5);
    EXPECT_EQ(d.message, "has no effect: no https upstream (the route's `to` has no https:// URL)");
  }
  EXPECT_EQ(r.diagnostics.items().size(), 6u) << r.diagnostics.formatAll();
  EXPECT_EQ(r.diagnostics.items()[0].key, "routes[0].tls_skip_verify");
  EXPECT_EQ(r.diagnostics.items()[5].key, "routes[0].tls_client_key_file");
  // Values that ask for nothing don't warn.
  EXPECT_TRUE(
      test::clean(load(test::routeWith("    tls_skip_verify: false\n"
                                       "    tls_server_name: ''\n"))));
  // A redirect route has no upstream at all.
  LoadResult redirect = load(
      "routes:\n  - from: https://a.example.com\n    redirect: {host_redirect: b}\n"
      "    tls_skip_verify: true\n");
  EXPECT_TRUE(hasDiag(redirect, {E::Warning, 4, 5, "routes[0].tls_skip_verify",
                                 "has no effect: no https upstream"}));
  // One https endpoint among several is enough.
  EXPECT_TRUE(
      test::clean(load("routes:\n  - from: https://a.example.com\n    to: [http://a, https://b]\n"
                       "    tls_skip_verify: true\n")));
}

TEST(LoaderUpstreamTlsTest, DownstreamTlsKeysStayNotSupportedYet) {
  LoadResult r = load(httpsRoute("    tls_downstream_server_name: app.example.com\n"));
  EXPECT_TRUE(
      hasDiag(r, {E::Error, 4, 5, "routes[0].tls_downstream_server_name", "not supported yet"}));
}

// ---- globals: certificate_authority[_file] (Pomerium global option) ----

TEST(LoaderUpstreamTlsTest, GlobalCertificateAuthority) {
  LoadResult inline_ca = load("certificate_authority: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t\n");
  ASSERT_TRUE(test::clean(inline_ca));
  EXPECT_EQ(inline_ca.options->certificate_authority, "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t");
  EXPECT_EQ(inline_ca.options->certificate_authority_key, "certificate_authority");
  EXPECT_EQ(inline_ca.options->certificate_authority_pos.line, 1);
  EXPECT_EQ(inline_ca.options->certificate_authority_pos.column, 24);

  LoadResult pem = load(
      "certificate_authority: |\n"
      "  -----BEGIN CERTIFICATE-----\n"
      "  MIIB\n"
      "  -----END CERTIFICATE-----\n");
  ASSERT_TRUE(test::clean(pem));
  EXPECT_EQ(pem.options->certificate_authority,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");

  LoadResult file = load("certificate_authority_file: /etc/ssl/internal-ca.pem\n");
  ASSERT_TRUE(test::clean(file));
  EXPECT_EQ(file.options->certificate_authority, "/etc/ssl/internal-ca.pem");
  EXPECT_EQ(file.options->certificate_authority_key, "certificate_authority_file");
  EXPECT_EQ(file.options->certificate_authority_pos.column, 29);

  LoadResult unset = load("");
  ASSERT_TRUE(test::clean(unset));
  EXPECT_EQ(unset.options->certificate_authority, "");
  EXPECT_EQ(unset.options->certificate_authority_key, "");
}

TEST(LoaderUpstreamTlsTest, GlobalCertificateAuthorityBothIsAnError) {
  LoadResult r = load(
      "certificate_authority: LS0t\n"
      "certificate_authority_file: /ca.pem\n");
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(hasDiag(r, {E::Error, 2, 1, "certificate_authority_file",
                          "set only one of certificate_authority and certificate_authority_file"}));
  EXPECT_EQ(r.diagnostics.items().size(), 1u) << r.diagnostics.formatAll();
}

TEST(LoaderUpstreamTlsTest, GlobalCertificateAuthorityFromTheEnvironment) {
  LoadResult r = load("certificate_authority: LS0t\n", {{"CERTIFICATE_AUTHORITY", "ZW52"}});
  ASSERT_TRUE(test::clean(r));
  EXPECT_EQ(r.options->certificate_authority, "ZW52");
  EXPECT_EQ(r.options->certificate_authority_key, "$CERTIFICATE_AUTHORITY");
  EXPECT_EQ(r.options->certificate_authority_pos.file, "$CERTIFICATE_AUTHORITY");
}

// ---- globals: metrics_address (Pomerium global option) ----

TEST(LoaderUpstreamTlsTest, MetricsAddress) {
  LoadResult any = load("metrics_address: ':9090'\n");
  ASSERT_TRUE(test::clean(any));
  ASSERT_TRUE(any.options->metrics_address);
  EXPECT_EQ(any.options->metrics_address->host, "");
  EXPECT_EQ(any.options->metrics_address->port, 9090);

  LoadResult v4 = load("metrics_address: 127.0.0.1:9901\n");
  ASSERT_TRUE(test::clean(v4));
  EXPECT_EQ(v4.options->metrics_address->host, "127.0.0.1");
  EXPECT_EQ(v4.options->metrics_address->port, 9901);

  LoadResult v6 = load("metrics_address: '[::1]:9090'\n");
  ASSERT_TRUE(test::clean(v6));
  EXPECT_EQ(v6.options->metrics_address->host, "::1");

  LoadResult env = load("", {{"METRICS_ADDRESS", "localhost:9100"}});
  ASSERT_TRUE(test::clean(env));
  EXPECT_EQ(env.options->metrics_address->host, "localhost");
  EXPECT_EQ(env.options->metrics_address->port, 9100);

  EXPECT_FALSE(load("").options->metrics_address);
  EXPECT_TRUE(test::clean(load("metrics_address: ''\n")));
}

TEST(LoaderUpstreamTlsTest, MetricsAddressValidation) {
  EXPECT_TRUE(hasDiag(load("metrics_address: localhost\n"),
                      {E::Error, 1, 18, "metrics_address",
                       "invalid metrics_addr \"localhost\": expected host:port (e.g. :9090 or "
                       "127.0.0.1:9090)"}));
  EXPECT_TRUE(hasDiag(load("metrics_address: ':0'\n"),
                      {E::Error, 1, 18, "metrics_address",
                       "invalid metrics_addr \":0\": port must be between 1 and 65535"}));
  EXPECT_TRUE(
      hasDiag(load("metrics_address: ':99999'\n"),
              {E::Error, 1, 18, "metrics_address", "invalid metrics_addr: expected host:port"}));
  EXPECT_TRUE(hasDiag(load("metrics_address: 'http://a:9090'\n"),
                      {E::Error, 1, 18, "metrics_address", "invalid metrics_addr"}));
  EXPECT_TRUE(hasDiag(load("metrics_address: [a]\n"),
                      {E::Error, 1, 18, "metrics_address", "expected a string, got a list"}));
  // The main listener's port (":443" by default) is taken.
  EXPECT_TRUE(hasDiag(load("metrics_address: ':443'\n"),
                      {E::Error, 1, 18, "metrics_address",
                       "metrics_address \":443\" uses the port of the main address \":443\""}));
  EXPECT_TRUE(hasDiag(load("address: 127.0.0.1:8443\nmetrics_address: ':8443'\n"),
                      {E::Error, 2, 18, "metrics_address", "uses the port of the main address"}));
  EXPECT_TRUE(test::clean(load("address: 127.0.0.1:8443\nmetrics_address: 127.0.0.2:8443\n")));
}

TEST(LoaderUpstreamTlsTest, OtherMetricsOptionsStayNotSupportedYet) {
  LoadResult r = load(
      "metrics_address: ':9090'\n"
      "metrics_basic_auth: dXNlcjpwYXNz\n"
      "metrics_certificate_file: /m.pem\n"
      "metrics_certificate_key_file: /m.key\n");
  ASSERT_TRUE(loaded(r));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 2, 1, "metrics_basic_auth", "not supported yet; ignored"}));
  EXPECT_TRUE(
      hasDiag(r, {E::Warning, 3, 1, "metrics_certificate_file", "not supported yet; ignored"}));
  EXPECT_TRUE(
      hasDiag(r, {E::Warning, 4, 1, "metrics_certificate_key_file", "not supported yet; ignored"}));
  EXPECT_EQ(r.diagnostics.items().size(), 3u) << r.diagnostics.formatAll();
}

}  // namespace
}  // namespace vallum::config
