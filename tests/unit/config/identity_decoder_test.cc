// Sign-in and identity options (Pomerium's authenticate_service_url, idp_*, cookie_*, jwt_*,
// signing_key, runtime_flags globals) and the route keys that say who may pass.
#include <gtest/gtest.h>

#include "config/loader.h"
#include "config/yaml_tree.h"
#include "config_test_util.h"

namespace vallum::config {
namespace {

using test::hasDiag;
using test::load;
using test::loaded;
using E = Severity;
using namespace std::chrono_literals;

TEST(IdentityDecoderTest, DefaultsWithoutSignIn) {
  LoadResult r = load("");
  ASSERT_TRUE(test::clean(r));
  const IdentityOptions& id = r.options->identity;
  EXPECT_FALSE(id.authenticate_service_url);
  EXPECT_EQ(id.cookie_name, "_pomerium");
  EXPECT_EQ(id.cookie_expire, 14h);
  EXPECT_TRUE(id.cookie_secure);
  EXPECT_TRUE(id.cookie_http_only);
  EXPECT_EQ(id.cookie_same_site, "");
  EXPECT_EQ(id.idp_scopes,
            (std::vector<std::string>{"openid", "profile", "email", "offline_access"}));
  EXPECT_FALSE(id.pass_identity_headers);
  EXPECT_FALSE(id.jwt_issuer_uri);
  EXPECT_FALSE(id.pomerium_jwt_endpoint);
}

TEST(IdentityDecoderTest, AllGlobals) {
  LoadResult r = load(
      "authenticate_service_url: https://Authenticate.example.com\n"
      "signout_redirect_url: https://example.com/bye\n"
      "idp_provider: Google\n"
      "idp_provider_url: https://accounts.google.com\n"
      "idp_client_id: cid\n"
      "idp_client_secret: ' csecret '\n"
      "idp_request_params: {prompt: login}\n"
      "cookie_name: _vallum\n"
      "cookie_domain: Example.com\n"
      "cookie_expire: 1h30m\n"
      "cookie_secure: false\n"
      "cookie_http_only: false\n"
      "cookie_same_site: Lax\n"
      "jwt_claims_headers: {X-Email: email, X-Groups: groups}\n"
      "jwt_groups_filter: [admins]\n"
      "jwt_issuer_format: uri\n"
      "pass_identity_headers: true\n"
      "show_error_details: true\n"
      "runtime_flags: {pomerium_jwt_endpoint: true}\n");
  ASSERT_TRUE(test::clean(r)) << r.diagnostics.formatAll();
  const IdentityOptions& id = r.options->identity;
  ASSERT_TRUE(id.authenticate_service_url);
  EXPECT_EQ(id.authenticate_service_url->host, "authenticate.example.com");
  EXPECT_EQ(id.authenticate_service_url->scheme, "https");
  EXPECT_EQ(id.signout_redirect_url->raw, "https://example.com/bye");
  EXPECT_EQ(id.idp_provider, "google");
  EXPECT_EQ(id.idp_provider_url->host, "accounts.google.com");
  EXPECT_EQ(id.idp_client_id, "cid");
  EXPECT_EQ(id.idp_client_secret, "csecret");
  ASSERT_EQ(id.idp_request_params.size(), 1u);
  EXPECT_EQ(id.idp_request_params[0].name, "prompt");
  // google: no offline_access by default.
  EXPECT_EQ(id.idp_scopes, (std::vector<std::string>{"openid", "profile", "email"}));
  EXPECT_EQ(id.cookie_name, "_vallum");
  EXPECT_EQ(id.cookie_domain, "example.com");
  EXPECT_EQ(id.cookie_expire, 90min);
  EXPECT_FALSE(id.cookie_secure);
  EXPECT_FALSE(id.cookie_http_only);
  EXPECT_EQ(id.cookie_same_site, "lax");
  ASSERT_EQ(id.jwt_claims_headers.size(), 2u);
  EXPECT_EQ(id.jwt_claims_headers[1].header, "X-Groups");
  EXPECT_EQ(id.jwt_claims_headers[1].claim, "groups");
  EXPECT_EQ(id.jwt_groups_filter, (std::vector<std::string>{"admins"}));
  EXPECT_TRUE(id.jwt_issuer_uri);
  EXPECT_TRUE(id.pass_identity_headers);
  EXPECT_TRUE(id.show_error_details);
  EXPECT_TRUE(id.pomerium_jwt_endpoint);
}

TEST(IdentityDecoderTest, ClaimsHeadersListAndStringForms) {
  for (const char* yaml :
       {"jwt_claims_headers: [email, groups]\n", "jwt_claims_headers: email,groups\n",
        "jwt_claims_headers: email groups\n"}) {
    LoadResult r = load(yaml);
    ASSERT_TRUE(test::clean(r)) << yaml << r.diagnostics.formatAll();
    const auto& h = r.options->identity.jwt_claims_headers;
    ASSERT_EQ(h.size(), 2u) << yaml;
    EXPECT_EQ(h[0].header, "x-pomerium-claim-email");
    EXPECT_EQ(h[0].claim, "email");
    EXPECT_EQ(h[1].header, "x-pomerium-claim-groups");
  }
  EXPECT_TRUE(hasDiag(
      load("jwt_claims_headers: [{a: b}]\n"),
      {E::Error, 1, 22, "jwt_claims_headers[0]", "found nested object in array of values"}));
  EXPECT_TRUE(hasDiag(load("jwt_claims_headers: {\"X Bad\": email}\n"),
                      {E::Error, 1, 22, "jwt_claims_headers.X Bad", "has invalid header name"}));
}

TEST(IdentityDecoderTest, ProviderNames) {
  for (const char* p :
       {"oidc", "okta", "auth0", "azure", "cognito", "gitlab", "onelogin", "ping"}) {
    LoadResult r = load(std::string("idp_provider: ") + p + "\n");
    ASSERT_TRUE(test::clean(r)) << p;
    EXPECT_EQ(r.options->identity.idp_provider, p);
  }
  EXPECT_TRUE(hasDiag(load("idp_provider: github\n"),
                      {E::Error, 1, 15, "idp_provider", "is not supported yet"}));
  EXPECT_TRUE(hasDiag(load("idp_provider: apple\n"),
                      {E::Error, 1, 15, "idp_provider", "is not supported yet"}));
  EXPECT_TRUE(hasDiag(load("idp_provider: keycloak\n"),
                      {E::Error, 1, 15, "idp_provider", "unknown identity provider \"keycloak\""}));
}

TEST(IdentityDecoderTest, BadValues) {
  EXPECT_TRUE(
      hasDiag(load("cookie_expire: 0s\n"), {E::Error, 1, 16, "cookie_expire", "must be positive"}));
  EXPECT_TRUE(hasDiag(load("cookie_name: \"a b\"\n"),
                      {E::Error, 1, 14, "cookie_name", "not a valid cookie name"}));
  EXPECT_TRUE(hasDiag(load("jwt_issuer_format: full\n"),
                      {E::Error, 1, 20, "jwt_issuer_format", "unknown value \"full\""}));
  EXPECT_TRUE(
      hasDiag(load("runtime_flags: {pomerium_jwt_endpoint: maybe}\n"),
              {E::Error, 1, 40, "runtime_flags.pomerium_jwt_endpoint", "expected a boolean"}));
  EXPECT_TRUE(
      hasDiag(load("runtime_flags: {legacy_identity_manager: true}\n"),
              {E::Warning, 1, 17, "runtime_flags.legacy_identity_manager", "has no effect"}));
  EXPECT_TRUE(
      hasDiag(load("idp_client_secret_file: /nonexistent/secret\n"),
              {E::Error, 1, 25, "idp_client_secret_file", "cannot read the client secret file"}));
}

TEST(IdentityDecoderTest, SigningKeyIsKeptNotLogged) {
  LoadResult r = load("signing_key: LS0tLS1CRUdJTg==\n");
  ASSERT_TRUE(test::clean(r));
  EXPECT_EQ(r.options->identity.signing_key, "LS0tLS1CRUdJTg==");
  EXPECT_EQ(r.options->identity.signing_key_key, "signing_key");
  EXPECT_EQ(r.options->identity.signing_key_pos.line, 1);
}

TEST(IdentityDecoderTest, RouteKeys) {
  LoadResult r = load(
      "routes:\n"
      "  - from: https://app.example.com\n"
      "    to: http://127.0.0.1:9001\n"
      "    policy:\n"
      "      allow:\n"
      "        or:\n"
      "          - email: {is: a@example.com}\n"
      "    allowed_users: [b@example.com]\n"
      "    allowed_domains: example.org\n"
      "    allowed_idp_claims: {groups: [admins]}\n"
      "    cors_allow_preflight: true\n"
      "    pass_identity_headers: false\n"
      "    jwt_groups_filter: [admins]\n"
      "    jwt_issuer_format: uri\n"
      "    show_error_details: true\n");
  ASSERT_TRUE(test::clean(r)) << r.diagnostics.formatAll();
  const Route& route = r.options->routes[0];
  ASSERT_TRUE(route.policy);
  EXPECT_TRUE(route.policy->isMap());
  EXPECT_EQ(route.policy->mark.line, 5);
  EXPECT_EQ(route.allowed_users, (std::vector<std::string>{"b@example.com"}));
  EXPECT_EQ(route.allowed_domains, (std::vector<std::string>{"example.org"}));
  ASSERT_TRUE(route.allowed_idp_claims);
  EXPECT_TRUE(route.allowed_idp_claims->isMap());
  EXPECT_TRUE(route.cors_allow_preflight);
  EXPECT_EQ(route.pass_identity_headers, false);
  EXPECT_EQ(route.jwt_groups_filter, (std::vector<std::string>{"admins"}));
  EXPECT_EQ(route.jwt_issuer_uri, true);
  EXPECT_EQ(route.show_error_details, true);
  EXPECT_FALSE(route.allow_any_authenticated_user);
}

TEST(IdentityDecoderTest, LegacyAllowListConflicts) {
  EXPECT_TRUE(hasDiag(load("routes:\n"
                           "  - from: https://app.example.com\n"
                           "    to: http://127.0.0.1:9001\n"
                           "    allow_any_authenticated_user: true\n"
                           "    allowed_domains: [example.com]\n"),
                      {E::Error, 4, 35, "routes[0].allow_any_authenticated_user",
                       "accessible for any authenticated user but contains whitelists"}));
}

// Google Cloud serverless authentication: the route flag and the global key (read as
// text here; the snapshot reads the key file).
TEST(IdentityDecoderTest, GoogleCloudServerlessAuthentication) {
  LoadResult r = load(
      "google_cloud_serverless_authentication_service_account: e30=\n"
      "routes:\n"
      "  - from: https://a.example.com\n"
      "    to: https://service-abc.a.run.app\n"
      "    enable_google_cloud_serverless_authentication: true\n"
      "    allow_public_unauthenticated_access: true\n"
      "  - from: https://b.example.com\n"
      "    to: http://127.0.0.1:9001\n"
      "    allow_public_unauthenticated_access: true\n");
  ASSERT_TRUE(test::clean(r)) << r.diagnostics.formatAll();
  EXPECT_EQ(r.options->identity.gcp_service_account, "e30=");
  EXPECT_EQ(r.options->identity.gcp_service_account_pos.line, 1);
  EXPECT_EQ(r.options->identity.gcp_service_account_pos.column, 57);
  EXPECT_TRUE(r.options->routes[0].enable_google_cloud_serverless_authentication);
  EXPECT_FALSE(r.options->routes[1].enable_google_cloud_serverless_authentication);
}

TEST(IdentityDecoderTest, GoogleCloudServerlessFlagMustBeABool) {
  LoadResult r = load(
      "routes:\n"
      "  - from: https://a.example.com\n"
      "    to: https://service-abc.a.run.app\n"
      "    enable_google_cloud_serverless_authentication: sometimes\n");
  EXPECT_TRUE(hasDiag(r, {E::Error, 4, 52, "routes[0].enable_google_cloud_serverless_authentication",
                          "bool"}));
}

}  // namespace
}  // namespace vallum::config
