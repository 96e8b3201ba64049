// Environment overrides (Pomerium config: environment variables override the file).
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

TEST(LoaderEnvTest, ScalarOverridesWinOverTheFile) {
  LoadResult r = load(
      "address: ':8443'\n"
      "insecure_server: false\n"
      "default_upstream_timeout: 30s\n",
      {{"ADDRESS", "127.0.0.1:9000"},
       {"INSECURE_SERVER", "true"},
       {"DEFAULT_UPSTREAM_TIMEOUT", "1m"},
       {"LOG_LEVEL", "debug"}});
  ASSERT_TRUE(test::clean(r));
  EXPECT_EQ(r.options->address.toString(), "127.0.0.1:9000");
  EXPECT_TRUE(r.options->insecure_server);
  EXPECT_EQ(r.options->default_upstream_timeout, 1min);
  EXPECT_EQ(r.options->log_level, "debug");
}

TEST(LoaderEnvTest, OverriddenFileValueIsNotChecked) {
  LoadResult r = load("address: 'not valid'\n", {{"ADDRESS", ":8080"}});
  ASSERT_TRUE(test::clean(r));
  EXPECT_EQ(r.options->address.toString(), ":8080");
}

TEST(LoaderEnvTest, EmptyVariableCountsAsUnset) {
  LoadResult r = load("address: ':8443'\n", {{"ADDRESS", ""}});
  ASSERT_TRUE(test::clean(r));
  EXPECT_EQ(r.options->address.toString(), ":8443");
}

TEST(LoaderEnvTest, EnvironmentProblemsArePositionedInTheVariable) {
  LoadResult r = load("", {{"ADDRESS", "nope:x"}, {"DEFAULT_UPSTREAM_TIMEOUT", "30"}});
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 1, "$ADDRESS", "invalid address \"nope:x\"", "$ADDRESS"}));
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 1, "$DEFAULT_UPSTREAM_TIMEOUT",
                          "missing unit in duration \"30\"", "$DEFAULT_UPSTREAM_TIMEOUT"}));
  EXPECT_NE(r.diagnostics.formatAll().find("$ADDRESS:1:1: error: $ADDRESS: invalid address"),
            std::string::npos)
      << r.diagnostics.formatAll();
}

TEST(LoaderEnvTest, CertificateFromEnvironment) {
  LoadResult r = load("certificate_key_file: /k.pem\n", {{"CERTIFICATE_FILE", "/c.pem"}});
  ASSERT_TRUE(test::clean(r));
  ASSERT_EQ(r.options->certificates.size(), 1u);
  const CertificateSource& c = r.options->certificates[0];
  EXPECT_EQ(c.cert, "/c.pem");
  EXPECT_EQ(c.cert_key, "$CERTIFICATE_FILE");
  EXPECT_EQ(c.cert_pos.file, "$CERTIFICATE_FILE");
  EXPECT_EQ(c.key_key, "certificate_key_file");
}

TEST(LoaderEnvTest, CertificatesListAsYamlFlow) {
  LoadResult r = load("", {{"CERTIFICATES", "[{cert: /a.pem, key: /a.key}]"}});
  ASSERT_TRUE(test::clean(r));
  ASSERT_EQ(r.options->certificates.size(), 1u);
  EXPECT_EQ(r.options->certificates[0].cert_key, "$CERTIFICATES[0].cert");
  EXPECT_EQ(r.options->certificates[0].cert_pos.column, 9);
}

TEST(LoaderEnvTest, SecretsFromEnvironment) {
  LoadResult r = load("", {{"SHARED_SECRET", "YWJj"},
                           {"COOKIE_SECRET", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}});
  ASSERT_TRUE(loaded(r));
  EXPECT_EQ(r.options->shared_secret, "abc");
  EXPECT_EQ(r.options->cookie_secret.size(), 32u);
  EXPECT_TRUE(hasDiag(
      load("", {{"SHARED_SECRET", " YWJj"}}),
      {E::Error, 1, 1, "$SHARED_SECRET", "shared secret contains whitespace", "$SHARED_SECRET"}));
}

TEST(LoaderEnvTest, ListOptionsTakeCommaSeparatedText) {
  LoadResult r = load("", {{"IDP_SCOPES", "openid,email"}});
  ASSERT_TRUE(loaded(r));
  EXPECT_EQ(r.options->identity.idp_scopes, (std::vector<std::string>{"openid", "email"}));
  // A list-typed value that is not valid YAML is still just comma-separated text.
  EXPECT_TRUE(loaded(load("", {{"PROGRAMMATIC_REDIRECT_DOMAIN_WHITELIST", "[localhost"}})));
  EXPECT_TRUE(hasDiag(load("", {{"IDP_REQUEST_PARAMS", "{prompt: login"}}),
                      {E::Error, 0, 0, "yaml", "", "$IDP_REQUEST_PARAMS"}));
  EXPECT_TRUE(hasDiag(load("", {{"IDP_REQUEST_PARAMS", "[a]"}}),
                      {E::Error, 1, 1, "$IDP_REQUEST_PARAMS", "expected a mapping of strings",
                       "$IDP_REQUEST_PARAMS"}));
}

TEST(LoaderEnvTest, IdentityGlobalFromEnvironment) {
  LoadResult r = load("", {{"AUTHENTICATE_SERVICE_URL", "https://Auth.example.com:8443"}});
  ASSERT_TRUE(loaded(r));
  ASSERT_TRUE(r.options->identity.authenticate_service_url);
  EXPECT_EQ(r.options->identity.authenticate_service_url->host, "auth.example.com");
  EXPECT_EQ(r.options->identity.authenticate_service_url->port, 8443);
}

TEST(LoaderEnvTest, RemovedAndUnknownNamesAreNotRead) {
  // Only recognized options are looked up; CLIENT_CA or HOME in the environment mean nothing.
  EXPECT_TRUE(
      test::clean(load("", {{"CLIENT_CA", "x"}, {"HOME", "/root"}, {"SSH_AUTH_SOCK", "/s"}})));
}

TEST(LoaderEnvTest, DollarTextInTheEnvironmentIsNotExpandedEither) {
  LoadResult r = load("", {{"ADDRESS", "${BIND}"}});
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 1, "$ADDRESS", "invalid character", "$ADDRESS"}));
}

std::string base64(std::string_view text) { return strings::base64Encode(text); }

TEST(LoaderEnvTest, PolicyReplacesTheFilesPolicy) {
  std::string policy = base64(
      "- from: https://env-a.example.com\n"
      "  to: http://a\n"
      "- from: https://env-b.example.com\n"
      "  to: http://b\n");
  LoadResult r = load(
      "policy:\n"
      "  - {from: https://file-policy.example.com, to: http://f}\n"
      "routes:\n"
      "  - {from: https://file-route.example.com, to: http://r}\n",
      {{"POLICY", policy}});
  ASSERT_TRUE(test::clean(r));
  ASSERT_EQ(r.options->routes.size(), 3u);
  EXPECT_EQ(r.options->routes[0].from.host, "env-a.example.com");
  EXPECT_EQ(r.options->routes[0].key, "$POLICY[0]");
  EXPECT_EQ(r.options->routes[0].pos.file, "$POLICY");
  EXPECT_EQ(r.options->routes[0].pos.line, 1);
  EXPECT_EQ(r.options->routes[1].key, "$POLICY[1]");
  EXPECT_EQ(r.options->routes[1].pos.line, 3);
  EXPECT_EQ(r.options->routes[2].from.host, "file-route.example.com");
  EXPECT_EQ(r.options->routes[2].key, "routes[0]");
}

TEST(LoaderEnvTest, PolicyErrorsArePositionedInsideTheDecodedText) {
  std::string policy = base64(
      "- from: https://a.example.com\n"
      "  to: http://a\n"
      "- from: https://b.example.com\n"
      "  to: app:8080\n");
  LoadResult r = load("", {{"POLICY", policy}});
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(
      hasDiag(r, {E::Error, 4, 7, "$POLICY[1].to", "url scheme must be provided", "$POLICY"}));
  EXPECT_NE(r.diagnostics.formatAll().find("$POLICY:4:7: error: $POLICY[1].to: url scheme"),
            std::string::npos);
}

TEST(LoaderEnvTest, PolicyWithLineBreaksInTheBase64) {
  std::string policy = base64("- from: https://a.example.com\n  to: http://a\n");
  policy.insert(10, "\n");
  LoadResult r = load("", {{"POLICY", policy}});
  ASSERT_TRUE(test::clean(r));
  EXPECT_EQ(r.options->routes.size(), 1u);
}

TEST(LoaderEnvTest, PolicyMustBeBase64) {
  LoadResult r = load("", {{"POLICY", "- from: https://a.example.com"}});
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 1, "$POLICY", "not valid base64", "$POLICY"}));
}

TEST(LoaderEnvTest, PolicyMustBeAList) {
  LoadResult r = load("", {{"POLICY", base64("from: https://a.example.com\n")}});
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 1, "$POLICY", "expected a list of routes", "$POLICY"}));
  EXPECT_TRUE(
      hasDiag(load("", {{"POLICY", base64("- [\n")}}), {E::Error, 0, 0, "yaml", "", "$POLICY"}));
}

TEST(LoaderEnvTest, RoutesVariableWorksLikePolicy) {
  LoadResult r = load("routes:\n  - {from: https://file.example.com, to: http://f}\n",
                      {{"ROUTES", base64("- {from: https://env.example.com, to: http://e}\n")}});
  ASSERT_TRUE(test::clean(r));
  ASSERT_EQ(r.options->routes.size(), 1u);
  EXPECT_EQ(r.options->routes[0].key, "$ROUTES[0]");
}

TEST(LoaderEnvTest, FileDiagnosticsComeBeforeEnvironmentOnes) {
  LoadResult r = load("timeout_idle: x\nfoo: 1\n", {{"TIMEOUT_READ", "y"}});
  ASSERT_EQ(r.diagnostics.items().size(), 3u);
  EXPECT_EQ(r.diagnostics.items()[0].key, "timeout_idle");
  EXPECT_EQ(r.diagnostics.items()[1].key, "foo");
  EXPECT_EQ(r.diagnostics.items()[2].key, "$TIMEOUT_READ");
}

TEST(LoaderEnvTest, ProcessEnvironmentReadsGetenv) {
  ASSERT_EQ(setenv("VALLUM_CONFIG_TEST_VAR", "value", 1), 0);
  EnvLookup env = processEnvironment();
  EXPECT_EQ(env("VALLUM_CONFIG_TEST_VAR"), std::optional<std::string>("value"));
  EXPECT_EQ(env("VALLUM_CONFIG_TEST_UNSET_VAR"), std::nullopt);
  unsetenv("VALLUM_CONFIG_TEST_VAR");
  EXPECT_EQ(emptyEnvironment()("PATH"), std::nullopt);
}

}  // namespace
}  // namespace vallum::config
