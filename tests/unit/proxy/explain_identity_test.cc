#include "proxy/explain_identity.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "config/loader.h"
#include "proxy/explain.h"

namespace vallum::proxy {
namespace {

using nlohmann::json;

SnapshotConstSharedPtr build(const std::string& yaml) {
  config::LoadResult loaded = config::loadString(yaml, "test.yaml", config::emptyEnvironment());
  EXPECT_TRUE(loaded.options.has_value()) << loaded.diagnostics.formatAll();
  SnapshotBuildOptions options;
  options.resolve_dns = false;
  auto snapshot = buildSnapshot(std::move(*loaded.options), options, loaded.diagnostics);
  EXPECT_NE(snapshot, nullptr) << loaded.diagnostics.formatAll();
  return snapshot;
}

const char* kSignIn = R"(
authenticate_service_url: https://auth.example.com
idp_provider: oidc
idp_provider_url: https://idp.example.com
idp_client_id: vallum
idp_client_secret: secret
shared_secret: c3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3M=
cookie_secret: Y2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2M=
jwt_claims_headers: [email, department]
)";

const char* kRoutes = R"(
routes:
  - from: https://app.example.com
    prefix: /admin/
    to: http://127.0.0.1:9001
    name: admin
    allowed_users: [alice@example.com]
    pass_identity_headers: true
  - from: https://app.example.com
    prefix: /read/
    to: http://127.0.0.1:9001
    policy:
      allow:
        and:
          - groups: {has: readers}
          - http_method: {is: GET}
  - from: https://app.example.com
    prefix: /public/
    to: http://127.0.0.1:9001
    allow_public_unauthenticated_access: true
)";

json explainAs(const SnapshotConstSharedPtr& s, const std::string& url,
               std::optional<ExplainIdentity> who, const std::string& method = "GET") {
  ExplainRequest request;
  request.url = url;
  request.method = method;
  request.identity = std::move(who);
  ExplainResult result = explainRequest(*s, request);
  EXPECT_TRUE(result.error.empty()) << result.error;
  return json::parse(result.json);
}

ExplainIdentity as(AccessUser user) {
  ExplainIdentity who;
  who.user = std::move(user);
  return who;
}

ExplainIdentity anonymous() {
  ExplainIdentity who;
  who.signed_in = false;
  return who;
}

TEST(ExplainIdentityTest, WithoutAsTheOutputHasNoIdentityFields) {
  auto s = build(std::string(kSignIn) + kRoutes);
  auto j = explainAs(s, "https://app.example.com/admin/x", std::nullopt);
  for (const char* key : {"as", "decision", "reasons", "policy", "identity_headers"}) {
    EXPECT_FALSE(j.contains(key)) << key << " in " << j.dump(2);
  }
}

TEST(ExplainIdentityTest, AllowedUserIsForwardedWithIdentityHeaders) {
  auto s = build(std::string(kSignIn) + kRoutes);
  AccessUser alice = defaultAccessUser("alice@example.com");
  alice.user = "sub-alice";
  alice.groups = {"admins"};
  alice.claims["department"] = json::array({"eng", "ops"});
  auto j = explainAs(s, "https://app.example.com/admin/x", as(alice));
  EXPECT_EQ(j["result"], "forward") << j.dump(2);
  EXPECT_EQ(j["decision"], "allow");
  EXPECT_EQ(j["reasons"], json::array({"email-ok"}));
  EXPECT_EQ(j["summary"], "allow (email-ok)");
  EXPECT_EQ(j["as"]["user"], "sub-alice");
  EXPECT_EQ(j["as"]["claims"]["email"], "alice@example.com");
  // The trace: the action, its block, the criterion, the decision.
  const json& trace = j["policy"]["trace"];
  ASSERT_GE(trace.size(), 4U) << trace.dump(2);
  EXPECT_EQ(trace[0]["kind"], "action");
  EXPECT_EQ(trace[0]["label"], "allow");
  bool criterion = false;
  for (const json& line : trace) {
    if (line["kind"] == "criterion" && line["label"] == "email") {
      criterion = true;
      EXPECT_EQ(line["result"], true);
      EXPECT_EQ(line["reasons"], json::array({"email-ok"}));
      EXPECT_EQ(line["key"], "routes[0].allowed_users[0]");
    }
  }
  EXPECT_TRUE(criterion) << trace.dump(2);
  EXPECT_EQ(trace.back()["kind"], "decision");
  EXPECT_EQ(trace.back()["result"], true);
  // Identity headers: the claims, unsigned, and the claim headers.
  const json& ih = j["identity_headers"];
  const json& claims = ih["X-Pomerium-Jwt-Assertion"];
  EXPECT_EQ(claims["sub"], "sub-alice");
  EXPECT_EQ(claims["email"], "alice@example.com");
  EXPECT_EQ(claims["groups"], json::array({"admins"}));
  EXPECT_EQ(claims["iss"], "app.example.com");
  EXPECT_EQ(claims["jti"], "<jti>");
  EXPECT_EQ(claims["department"], "eng,ops");
  EXPECT_EQ(ih["x-pomerium-claim-email"], "alice@example.com");
  EXPECT_EQ(ih["x-pomerium-claim-department"], "eng,ops");
  // The upstream request carries the identity headers, with no signed token printed.
  bool assertion = false;
  for (const json& h : j["upstream"]["headers"]) {
    const std::string value = h[1];
    EXPECT_EQ(value.find("eyJ"), std::string::npos) << h;  // no JWT
    if (h[0] == "X-Pomerium-Jwt-Assertion") {
      assertion = true;
      EXPECT_EQ(value, "<not signed by vallum route: see identity_headers>");
    }
    EXPECT_NE(h[0], "Cookie") << "the tool's session cookie reached the upstream";
  }
  EXPECT_TRUE(assertion) << j["upstream"].dump(2);
}

TEST(ExplainIdentityTest, OtherUserIsDenied) {
  auto s = build(std::string(kSignIn) + kRoutes);
  auto j =
      explainAs(s, "https://app.example.com/admin/x", as(defaultAccessUser("bob@example.com")));
  EXPECT_EQ(j["result"], "deny") << j.dump(2);
  EXPECT_EQ(j["status"], 403);
  EXPECT_EQ(j["decision"], "deny");
  // allowed_users folds into `email` or `user` criteria (Pomerium ToPPL).
  EXPECT_EQ(j["reasons"], json::array({"email-unauthorized", "user-unauthorized"}));
  EXPECT_EQ(j["policy"]["trace"].back()["result"], false);
}

TEST(ExplainIdentityTest, MethodCriteriaFollowTheRequest) {
  auto s = build(std::string(kSignIn) + kRoutes);
  AccessUser reader = defaultAccessUser("r@example.com");
  reader.groups = {"readers"};
  auto get = explainAs(s, "https://app.example.com/read/a", as(reader));
  EXPECT_EQ(get["decision"], "allow") << get.dump(2);
  EXPECT_EQ(get["reasons"], json::array({"groups-ok", "http-method-ok"}));
  EXPECT_EQ(get["identity_headers"], nullptr);  // the route does not pass them
  auto post = explainAs(s, "https://app.example.com/read/a", as(reader), "POST");
  EXPECT_EQ(post["decision"], "deny") << post.dump(2);
  EXPECT_EQ(post["reasons"], json::array({"http-method-unauthorized"}));
}

TEST(ExplainIdentityTest, AnonymousNeedsSignIn) {
  auto s = build(std::string(kSignIn) + kRoutes);
  auto j = explainAs(s, "https://app.example.com/admin/x", anonymous());
  EXPECT_EQ(j["as"], nullptr);
  EXPECT_EQ(j["decision"], "deny") << j.dump(2);
  EXPECT_EQ(j["reasons"], json::array({"user-unauthenticated"}));
  EXPECT_EQ(j["sign_in_required"], true);
  EXPECT_EQ(j["summary"], "deny: sign-in required (user-unauthenticated)");
  EXPECT_EQ(j["result"], "redirect");  // no Accept: a browser, sent to sign in
  EXPECT_EQ(j["status"], 302);
  auto pub = explainAs(s, "https://app.example.com/public/x", anonymous());
  EXPECT_EQ(pub["decision"], "allow") << pub.dump(2);
  EXPECT_EQ(pub["reasons"], json::array({"accept"}));
}

TEST(ExplainIdentityTest, NoRouteIsRouteNotFound) {
  auto s = build(std::string(kSignIn) + kRoutes);
  auto j = explainAs(s, "https://nowhere.example.com/", as(defaultAccessUser("a@example.com")));
  EXPECT_EQ(j["result"], "no_route");
  EXPECT_EQ(j["decision"], "deny");
  EXPECT_EQ(j["reasons"], json::array({"route-not-found"}));
}

TEST(ExplainIdentityTest, WithoutSignInConfiguredTheUserCannotBeSeen) {
  auto s = build(kRoutes);
  auto j =
      explainAs(s, "https://app.example.com/admin/x", as(defaultAccessUser("alice@example.com")));
  EXPECT_EQ(j["decision"], "allow") << j.dump(2);
  EXPECT_EQ(j["status"], 401);  // what the server does: it has no sessions
  EXPECT_TRUE(j.contains("note")) << j.dump(2);
  auto pub =
      explainAs(s, "https://app.example.com/public/x", as(defaultAccessUser("alice@example.com")));
  EXPECT_FALSE(pub.contains("note")) << pub.dump(2);
}

}  // namespace
}  // namespace vallum::proxy
