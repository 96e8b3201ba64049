#include "proxy/identity_runtime.h"

#include <gtest/gtest.h>

#include "config/loader.h"

namespace vallum::proxy {
namespace {

config::Options load(const std::string& yaml) {
  config::LoadResult r = config::loadString(yaml, "t.yaml", config::emptyEnvironment());
  EXPECT_TRUE(r.options) << r.diagnostics.formatAll();
  return r.options ? std::move(*r.options) : config::Options{};
}

constexpr const char* kSignIn =
    "authenticate_service_url: https://auth.example.test:8443\n"
    "idp_provider_url: https://idp.example.test\n"
    "idp_client_id: cid\n"
    "idp_client_secret: secret\n"
    "shared_secret: c3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3M=\n"
    "cookie_secret: Y2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2M=\n";

TEST(IdentityRuntimeTest, SignInSettings) {
  config::Diagnostics d;
  auto rt = buildIdentityRuntime(load(std::string(kSignIn) + "cookie_same_site: lax\n"), true, d);
  ASSERT_TRUE(rt) << d.formatAll();
  EXPECT_TRUE(rt->sign_in);
  EXPECT_EQ(rt->authenticate_host, "auth.example.test");
  EXPECT_EQ(rt->authenticate_origin, "https://auth.example.test:8443");
  EXPECT_EQ(rt->callback_url, "https://auth.example.test:8443/oauth2/callback");
  EXPECT_EQ(rt->scopes, "openid profile email offline_access");
  EXPECT_EQ(rt->authenticate_cookie_name, "_pomerium_authenticate");
  EXPECT_EQ(rt->csrf_cookie_name, "_pomerium_csrf");
  EXPECT_EQ(rt->setCookie("_pomerium", "v", 60),
            "_pomerium=v; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Lax");
  EXPECT_EQ(rt->setCookie("_pomerium", "", -1),
            "_pomerium=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; "
            "HttpOnly; SameSite=Lax");
  // The derived signing key is announced once (key material never is).
  ASSERT_EQ(d.warningCount(), 1u) << d.formatAll();
  EXPECT_NE(d.items()[0].message.find("derived from shared_secret"), std::string::npos);
  EXPECT_EQ(d.items()[0].pos.line, 1);
  EXPECT_NE(rt->jwks_json.find("\"ES256\""), std::string::npos);
  EXPECT_EQ(rt->jwks_etag.size(), 34u);
}

TEST(IdentityRuntimeTest, SameSecretSameKeyAcrossBuilds) {
  config::Diagnostics d;
  auto a = buildIdentityRuntime(load(kSignIn), false, d);
  auto b = buildIdentityRuntime(load(kSignIn), false, d);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->signing_key.kid(), b->signing_key.kid());
  EXPECT_EQ(a->jwks_json, b->jwks_json);
}

TEST(IdentityRuntimeTest, SignInNeedsAnIdentityProvider) {
  config::Diagnostics d;
  auto rt =
      buildIdentityRuntime(load("authenticate_service_url: https://auth.example.test\n"), true, d);
  EXPECT_FALSE(rt);
  EXPECT_NE(d.formatAll().find("t.yaml:1:27: error: authenticate_service_url: sign-in needs "
                               "idp_provider_url"),
            std::string::npos)
      << d.formatAll();
  EXPECT_NE(d.formatAll().find("sign-in needs idp_client_id"), std::string::npos);
}

TEST(IdentityRuntimeTest, RandomSecretsAreWarnedAbout) {
  config::Diagnostics d;
  auto rt = buildIdentityRuntime(load("authenticate_service_url: https://auth.example.test\n"
                                      "idp_provider_url: https://idp.test\nidp_client_id: c\n"),
                                 false, d);
  ASSERT_TRUE(rt);
  const std::string all = d.formatAll();
  EXPECT_NE(all.find("t.yaml:1:27: warning: authenticate_service_url: shared_secret is not set"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("cookie_secret is not set: a random one is used"), std::string::npos) << all;
}

TEST(IdentityRuntimeTest, BadSigningKeyIsAnErrorAtItsPosition) {
  config::Diagnostics d;
  auto rt = buildIdentityRuntime(load("signing_key: bm90IGEga2V5\n"), true, d);
  EXPECT_FALSE(rt);
  ASSERT_TRUE(d.hasErrors());
  EXPECT_EQ(d.items().back().key, "signing_key");
  EXPECT_EQ(d.items().back().pos.line, 1);
  EXPECT_EQ(d.formatAll().find("bm90IGEga2V5"), std::string::npos);  // never echoed
}

TEST(IdentityRuntimeTest, ServerlessServiceAccountIsReadAtItsKey) {
  config::Diagnostics d;
  auto rt = buildIdentityRuntime(
      load("google_cloud_serverless_authentication_service_account: '{\"type\": \"user\"}'\n"),
      false, d);
  EXPECT_FALSE(rt);
  EXPECT_NE(d.formatAll().find("t.yaml:1:57: error: "
                               "google_cloud_serverless_authentication_service_account: cannot "
                               "read the service-account key: credential type \"user\" is not "
                               "supported"),
            std::string::npos)
      << d.formatAll();
}

TEST(IdentityRuntimeTest, ServerlessWithoutAServiceAccountAsksTheMetadataServer) {
  config::Diagnostics d;
  ::unsetenv("GCE_METADATA_HOST");
  auto rt = buildIdentityRuntime(load(""), false, d);
  ASSERT_TRUE(rt);
  EXPECT_FALSE(rt->gcp_account);
  EXPECT_EQ(rt->gcp_metadata_origin, "http://metadata");
  EXPECT_EQ(rt->idp_tls, nullptr);  // nothing to reach over https
  ::setenv("GCE_METADATA_HOST", "127.0.0.1:8081", 1);
  rt = buildIdentityRuntime(load(""), false, d);
  ::unsetenv("GCE_METADATA_HOST");
  ASSERT_TRUE(rt);
  EXPECT_EQ(rt->gcp_metadata_origin, "http://127.0.0.1:8081");
}

}  // namespace
}  // namespace vallum::proxy
