#include "policy/access.h"

#include <string>

#include <gtest/gtest.h>

#include "policy_test_util.h"

namespace vallum::policy {
namespace {

using test::alice;
using test::anonymous;
using test::mustCompile;
using test::User;

User bob() {
  User u = alice();
  u.user = "sub-bob";
  u.email = "bob@example.com";
  u.groups = {};
  return u;
}

struct AccessCase {
  const char* name;
  const char* yaml;
  User who;
  Outcome outcome;
  const char* depends_on = "";
};

const AccessCase kCases[] = {
    {"NoRules", "from: x\n", alice(), Outcome::Deny},
    {"EmailAllowed", "policy:\n  allow: {or: [{email: alice@example.com}]}\n", alice(),
     Outcome::Allow},
    {"EmailDenied", "policy:\n  allow: {or: [{email: alice@example.com}]}\n", bob(), Outcome::Deny},
    {"AnonymousDenied", "policy:\n  allow: {or: [{email: alice@example.com}]}\n", anonymous(),
     Outcome::Deny},
    {"Public", "policy:\n  allow: {or: [{accept: 1}]}\n", anonymous(), Outcome::Allow},
    {"AndMethodDepends",
     "policy:\n  allow: {and: [{email: alice@example.com}, {http_method: GET}]}\n", alice(),
     Outcome::Depends, "http_method"},
    {"AndMethodOtherUserDenied",
     "policy:\n  allow: {and: [{email: alice@example.com}, {http_method: GET}]}\n", bob(),
     Outcome::Deny},
    {"OrTrueWinsOverUnknown", "policy:\n  allow: {or: [{accept: 1}, {http_method: GET}]}\n", bob(),
     Outcome::Allow},
    {"DenyBySourceIpDepends",
     "policy:\n  allow: {or: [{accept: 1}]}\n  deny: {or: [{source_ip: 10.0.0.0/8}]}\n", alice(),
     Outcome::Depends, "source_ip"},
    {"DenyRejectNeverFires",
     "policy:\n  allow: {or: [{groups: dev}]}\n  deny: {or: [{reject: 1}]}\n", alice(),
     Outcome::Allow},
    {"DenyAlwaysFires",
     "policy:\n  allow: {or: [{http_path: /x}]}\n  deny: {or: [{groups: dev}]}\n", alice(),
     Outcome::Deny},
    {"NotWithUnknownDepends", "policy:\n  allow: {not: [{http_method: GET}]}\n", alice(),
     Outcome::Depends, "http_method"},
    {"NotWithTrueIsFalse", "policy:\n  allow: {not: [{accept: 1}, {http_method: GET}]}\n", alice(),
     Outcome::Deny},
    {"NorWithFalseIsTrue", "policy:\n  allow: {nor: [{reject: 1}, {http_path: /x}]}\n", alice(),
     Outcome::Allow},
    {"NorAllTrueIsFalse", "policy:\n  allow: {nor: [{accept: 1}, {groups: dev}]}\n", alice(),
     Outcome::Deny},
    {"SeveralRequestCriteria",
     "policy:\n  allow:\n    and: [{http_method: GET}, {source_ip: 10.0.0.0/8}, "
     "{http_method: HEAD}, {cors_preflight: 1}]\n",
     alice(), Outcome::Depends, "http_method, source_ip, cors_preflight"},
    {"ClientCertificateDepends",
     "policy:\n  allow: {or: [{accept: 1}]}\n  deny: {or: [{invalid_client_certificate: 1}]}\n",
     alice(), Outcome::Depends, "invalid_client_certificate"},
    {"ClaimDecidedByUser", "policy:\n  allow: {or: [{claim/role: admin}]}\n", alice(),
     Outcome::Deny},
};

class AccessTableTest : public ::testing::TestWithParam<AccessCase> {};

TEST_P(AccessTableTest, Decides) {
  const AccessCase& c = GetParam();
  const Policy policy = mustCompile(c.yaml);
  std::string depends_on = "stale";
  EXPECT_EQ(decideForUser(policy, c.who.identity(), &depends_on), c.outcome);
  EXPECT_EQ(depends_on, c.depends_on);
  EXPECT_EQ(decideForUser(policy, c.who.identity(), nullptr), c.outcome);
}

INSTANTIATE_TEST_SUITE_P(Table, AccessTableTest, ::testing::ValuesIn(kCases),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(AccessTest, LegacyPreflightPlusUsers) {
  RouteRules rules;
  rules.cors_allow_preflight = true;
  rules.allowed_users = {"alice@example.com"};
  const Policy policy = mustCompile("from: x\n", rules);
  std::string depends_on;
  EXPECT_EQ(decideForUser(policy, alice().identity(), &depends_on), Outcome::Allow);
  EXPECT_EQ(decideForUser(policy, bob().identity(), &depends_on), Outcome::Depends);
  EXPECT_EQ(depends_on, "cors_preflight");
}

// Soundness: whenever decideForUser says Allow or Deny, evaluate() agrees for every request
// drawn from a grid of methods, paths, IPs and preflight flags.
TEST(AccessTest, AgreesWithEvaluateOverRequestGrid) {
  const char* const policies[] = {
      "policy:\n  allow: {or: [{accept: 1}, {http_method: GET}]}\n",
      "policy:\n  allow: {and: [{groups: dev}, {http_path: {starts_with: /a}}]}\n",
      "policy:\n  allow: {nor: [{source_ip: 10.0.0.0/8}, {email: x@y}]}\n",
      "policy:\n  allow: {not: [{cors_preflight: 1}, {email: x@y}]}\n"
      "  deny: {and: [{http_method: POST}, {reject: 1}]}\n",
      "policy:\n  allow: {or: [{user: sub-alice}]}\n  deny: {or: [{http_method: DELETE}]}\n",
  };
  const char* const methods[] = {"GET", "POST", "DELETE", "OPTIONS"};
  const char* const paths[] = {"/", "/a", "/b"};
  const char* const ips[] = {"10.1.1.1", "192.0.2.1", "::1"};
  const User users[] = {alice(), bob(), anonymous()};
  for (const char* yaml : policies) {
    const Policy policy = mustCompile(yaml);
    for (const User& user : users) {
      const Outcome outcome = decideForUser(policy, user.identity(), nullptr);
      bool any_allowed = false, any_denied = false;
      for (const char* method : methods) {
        for (const char* path : paths) {
          for (const char* ip : ips) {
            for (const bool cors : {false, true}) {
              RequestFacts r;
              r.method = method;
              r.path = path;
              r.client_ip = ip;
              r.cors_preflight = cors;
              const bool allowed = evaluate(policy, user.identity(), r).allowed();
              any_allowed = any_allowed || allowed;
              any_denied = any_denied || !allowed;
            }
          }
        }
      }
      if (outcome == Outcome::Allow) {
        EXPECT_FALSE(any_denied) << yaml << " user " << user.user;
      } else if (outcome == Outcome::Deny) {
        EXPECT_FALSE(any_allowed) << yaml << " user " << user.user;
      }
    }
  }
}

}  // namespace
}  // namespace vallum::policy
