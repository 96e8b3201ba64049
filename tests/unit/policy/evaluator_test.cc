#include "policy/evaluator.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "policy_test_util.h"

namespace vallum::policy {
namespace {

using test::alice;
using test::anonymous;
using test::mustCompile;
using test::User;

struct Case {
  const char* name;
  const char* yaml;
  User who;
  RequestFacts request;
  bool allowed;
  const char* allow_reasons;
  const char* deny_reasons = "";
};

User withClaims(const char* json) {
  User u = alice();
  u.claims = nlohmann::json::parse(json);
  return u;
}

User withEmail(const char* email) {
  User u = alice();
  u.email = email;
  return u;
}

RequestFacts request(const char* method, const char* ip, const char* path = "/") {
  RequestFacts r;
  r.method = method;
  r.client_ip = ip;
  r.path = path;
  return r;
}

RequestFacts preflight(bool yes) {
  RequestFacts r = request("OPTIONS", "192.0.2.1");
  r.cors_preflight = yes;
  return r;
}

RequestFacts certificate(ClientCertificateState state) {
  RequestFacts r = request("GET", "192.0.2.1");
  r.client_certificate = state;
  return r;
}

// A: http_method GET; B: source_ip 10.0.0.0/8. GET/POST × 10.1.2.3/192.0.2.1 covers the four
// truth assignments with distinct reasons.
#define TWO(op) \
  "policy:\n  allow:\n    " op ":\n      - http_method: GET\n      - source_ip: 10.0.0.0/8\n"
const RequestFacts kTT = request("GET", "10.1.2.3");
const RequestFacts kTF = request("GET", "192.0.2.1");
const RequestFacts kFT = request("POST", "10.1.2.3");
const RequestFacts kFF = request("POST", "192.0.2.1");

#define CLAIM(path, value) "policy:\n  allow:\n    or:\n      - claim/" path ": " value "\n"
const char* const kClaims =
    R"({"verified": true, "n": 1234, "s": "1234", "f": 1.0, "groups": ["a", "b"],
        "address": {"country": "US", "geo": {"lat": 1}}, "https://x.io/roles": ["admin"]})";

const Case kCases[] = {
    // and / or / not (NOR) / nor (NAND) for two criteria.
    {"AndTT", TWO("and"), alice(), kTT, true, "http-method-ok,source-ip-ok"},
    {"AndTF", TWO("and"), alice(), kTF, false, "source-ip-unauthorized"},
    {"AndFT", TWO("and"), alice(), kFT, false, "http-method-unauthorized"},
    {"AndFF", TWO("and"), alice(), kFF, false, "http-method-unauthorized,source-ip-unauthorized"},
    {"OrTT", TWO("or"), alice(), kTT, true, "http-method-ok,source-ip-ok"},
    {"OrTF", TWO("or"), alice(), kTF, true, "http-method-ok"},
    {"OrFT", TWO("or"), alice(), kFT, true, "source-ip-ok"},
    {"OrFF", TWO("or"), alice(), kFF, false, "http-method-unauthorized,source-ip-unauthorized"},
    {"NotTT", TWO("not"), alice(), kTT, false, "http-method-ok,source-ip-ok"},
    {"NotTF", TWO("not"), alice(), kTF, false, "http-method-ok"},
    {"NotFT", TWO("not"), alice(), kFT, false, "source-ip-ok"},
    {"NotFF", TWO("not"), alice(), kFF, true, "http-method-unauthorized,source-ip-unauthorized"},
    {"NorTT", TWO("nor"), alice(), kTT, false, "http-method-ok,source-ip-ok"},
    {"NorTF", TWO("nor"), alice(), kTF, true, "source-ip-unauthorized"},
    {"NorFT", TWO("nor"), alice(), kFT, true, "http-method-unauthorized"},
    {"NorFF", TWO("nor"), alice(), kFF, true, "http-method-unauthorized,source-ip-unauthorized"},
    // Actions.
    {"NoRules", "from: x\n", alice(), kTT, false, ""},
    {"DenyOverridesAllow",
     "policy:\n  allow: {or: [{accept: 1}]}\n  deny: {or: [{http_method: GET}]}\n", alice(), kTT,
     false, "accept", "http-method-ok"},
    {"DenyFalseAllows",
     "policy:\n  allow: {or: [{accept: 1}]}\n  deny: {or: [{http_method: GET}]}\n", alice(), kFT,
     true, "accept", "http-method-unauthorized"},
    {"BlocksOfAllRulesAreOred",
     "policy:\n  - allow: {and: [{reject: 1}]}\n  - allow: {or: [{email: alice@example.com}]}\n",
     alice(), kTT, true, "email-ok"},
    {"AllBlocksFalseUnionOfReasons",
     "policy:\n  allow:\n    and: [{reject: 1}]\n    or: [{email: bob@example.com}]\n", alice(),
     kTT, false, "email-unauthorized,reject"},
    // Session criteria.
    {"AnonymousEmail", "policy:\n  allow: {or: [{email: a@b}]}\n", anonymous(), kTT, false,
     "user-unauthenticated"},
    {"AnonymousAcceptWins", "policy:\n  allow: {or: [{accept: 1}, {email: a@b}]}\n", anonymous(),
     kTT, true, "accept"},
    {"AuthenticatedUser", "policy:\n  allow: {or: [{authenticated_user: true}]}\n", alice(), kTT,
     true, "user-ok"},
    {"AuthenticatedUserEmptyId", "policy:\n  allow: {or: [{authenticated_user: true}]}\n",
     [] {
       User u = alice();
       u.user = "";
       return u;
     }(),
     kTT, false, "user-unauthorized"},
    {"User", "policy:\n  allow: {or: [{user: sub-alice}]}\n", alice(), kTT, true, "user-ok"},
    {"UserNumberNeverEquals", "policy:\n  allow: {or: [{user: 12345}]}\n",
     [] {
       User u = alice();
       u.user = "12345";
       return u;
     }(),
     kTT, false, "user-unauthorized"},
    {"UserNumberNot", "policy:\n  allow: {or: [{user: {not: 12345}}]}\n", alice(), kTT, true,
     "user-ok"},
    {"EmailStartsEndsContains",
     "policy:\n  allow: {or: [{email: {starts_with: alice, ends_with: .com, contains: '@ex'}}]}\n",
     alice(), kTT, true, "email-ok"},
    {"EmailConditionsAreAnded",
     "policy:\n  allow: {or: [{email: {starts_with: alice, ends_with: .org}}]}\n", alice(), kTT,
     false, "email-unauthorized"},
    {"EmailIn", "policy:\n  allow: {or: [{email: {in: [x@y, alice@example.com]}}]}\n", alice(), kTT,
     true, "email-ok"},
    {"EmailNotIn", "policy:\n  allow: {or: [{email: {not_in: [x@y, alice@example.com]}}]}\n",
     alice(), kTT, false, "email-unauthorized"},
    {"EmailCaseSensitive", "policy:\n  allow: {or: [{email: Alice@example.com}]}\n", alice(), kTT,
     false, "email-unauthorized"},
    {"Domain", "policy:\n  allow: {or: [{domain: example.com}]}\n", alice(), kTT, true,
     "domain-ok"},
    {"DomainNoAt", "policy:\n  allow: {or: [{domain: {not: x}}]}\n", withEmail("alice"), kTT, false,
     "domain-unauthorized"},
    {"DomainBetweenFirstAndSecondAt", "policy:\n  allow: {or: [{domain: b}]}\n", withEmail("a@b@c"),
     kTT, true, "domain-ok"},
    {"GroupsHas", "policy:\n  allow: {or: [{groups: dev}]}\n", alice(), kTT, true, "groups-ok"},
    {"GroupsIsNeedsOneGroup", "policy:\n  allow: {or: [{groups: {is: dev}}]}\n", alice(), kTT,
     false, "groups-unauthorized"},
    {"GroupsExclude", "policy:\n  allow: {or: [{groups: {exclude: ops}}]}\n", alice(), kTT, true,
     "groups-ok"},
    {"GroupsExcludeHit", "policy:\n  allow: {or: [{groups: {exclude: dev}}]}\n", alice(), kTT,
     false, "groups-unauthorized"},
    // Claims: type-sensitive, nested, lists.
    {"ClaimBool", CLAIM("verified", "true"), withClaims(kClaims), kTT, true, "claim-ok"},
    {"ClaimBoolVsString", CLAIM("verified", "'true'"), withClaims(kClaims), kTT, false,
     "claim-unauthorized"},
    {"ClaimNumber", CLAIM("n", "1234"), withClaims(kClaims), kTT, true, "claim-ok"},
    {"ClaimNumberVsString", CLAIM("n", "'1234'"), withClaims(kClaims), kTT, false,
     "claim-unauthorized"},
    {"ClaimStringVsNumber", CLAIM("s", "1234"), withClaims(kClaims), kTT, false,
     "claim-unauthorized"},
    {"ClaimString", CLAIM("s", "\"1234\""), withClaims(kClaims), kTT, true, "claim-ok"},
    {"ClaimFloatEqualsInt", CLAIM("f", "1"), withClaims(kClaims), kTT, true, "claim-ok"},
    {"ClaimListHas", CLAIM("groups", "b"), withClaims(kClaims), kTT, true, "claim-ok"},
    {"ClaimListIs", CLAIM("groups", "{is: a}"), withClaims(kClaims), kTT, false,
     "claim-unauthorized"},
    {"ClaimListExclude", CLAIM("groups", "{exclude: c}"), withClaims(kClaims), kTT, true,
     "claim-ok"},
    {"ClaimScalarIs", CLAIM("s", "{is: '1234'}"), withClaims(kClaims), kTT, true, "claim-ok"},
    {"ClaimHasListIsWholeValue", CLAIM("groups", "{has: [a, b]}"), withClaims(kClaims), kTT, false,
     "claim-unauthorized"},
    {"ClaimNestedDot", CLAIM("address.country", "US"), withClaims(kClaims), kTT, true, "claim-ok"},
    {"ClaimNestedSlash", CLAIM("address/geo/lat", "1"), withClaims(kClaims), kTT, true, "claim-ok"},
    {"ClaimNestedMissing", CLAIM("address.city", "x"), withClaims(kClaims), kTT, false,
     "claim-unauthorized"},
    {"ClaimWholeKeyWithSlashes", CLAIM("https://x.io/roles", "admin"), withClaims(kClaims), kTT,
     true, "claim-ok"},
    {"ClaimMissingExclude", CLAIM("nope", "{exclude: x}"), withClaims(kClaims), kTT, true,
     "claim-ok"},
    {"ClaimNoClaims", CLAIM("s", "x"), alice(), kTT, false, "claim-unauthorized"},
    {"ClaimAnonymous", CLAIM("s", "x"), anonymous(), kTT, false, "user-unauthenticated"},
    // Request criteria.
    {"HttpPath", "policy:\n  allow: {or: [{http_path: {starts_with: /api/}}]}\n", alice(),
     request("GET", "192.0.2.1", "/api/x"), true, "http-path-ok"},
    {"HttpPathNo", "policy:\n  allow: {or: [{http_path: {starts_with: /api/}}]}\n", alice(),
     request("GET", "192.0.2.1", "/app"), false, "http-path-unauthorized"},
    {"HttpMethodCaseSensitive", "policy:\n  allow: {or: [{http_method: get}]}\n", alice(), kTT,
     false, "http-method-unauthorized"},
    {"SourceIpBareV4", "policy:\n  allow: {or: [{source_ip: 192.0.2.1}]}\n", alice(), kTF, true,
     "source-ip-ok"},
    {"SourceIpBareV4Other", "policy:\n  allow: {or: [{source_ip: 192.0.2.1}]}\n", alice(),
     request("GET", "192.0.2.2"), false, "source-ip-unauthorized"},
    {"SourceIpV6Cidr", "policy:\n  allow: {or: [{source_ip: '2001:db8::/32'}]}\n", alice(),
     request("GET", "2001:db8:1::5"), true, "source-ip-ok"},
    {"SourceIpV6Outside", "policy:\n  allow: {or: [{source_ip: '2001:db8::/32'}]}\n", alice(),
     request("GET", "2001:db9::5"), false, "source-ip-unauthorized"},
    {"SourceIpV4NotInV6", "policy:\n  allow: {or: [{source_ip: '::/0'}]}\n", alice(), kTT, false,
     "source-ip-unauthorized"},
    {"SourceIpMappedV4", "policy:\n  allow: {or: [{source_ip: 10.0.0.0/8}]}\n", alice(),
     request("GET", "::ffff:10.9.8.7"), true, "source-ip-ok"},
    {"SourceIpList", "policy:\n  allow: {or: [{source_ip: [192.0.2.0/24, '::1']}]}\n", alice(),
     request("GET", "::1"), true, "source-ip-ok"},
    {"SourceIpUnparsableClient", "policy:\n  allow: {or: [{source_ip: '0.0.0.0/0'}]}\n", alice(),
     request("GET", "[::1]:80"), false, "source-ip-unauthorized"},
    {"CorsPreflight", "policy:\n  allow: {or: [{cors_preflight: true}]}\n", anonymous(),
     preflight(true), true, "cors-request"},
    {"NotCorsPreflight", "policy:\n  allow: {or: [{cors_preflight: true}]}\n", anonymous(),
     preflight(false), false, "non-cors-request"},
    {"ClientCertificateNeverPresented",
     "policy:\n  allow: {or: [{client_certificate: {san_dns: x}}]}\n", alice(), kTT, false,
     "client-certificate-unauthorized"},
    {"InvalidClientCertificateNotRequired",
     "policy:\n  allow: {or: [{accept: 1}]}\n  deny: {or: [{invalid_client_certificate: 1}]}\n",
     alice(), certificate(ClientCertificateState::NotRequired), true, "accept",
     "valid-client-certificate"},
    {"InvalidClientCertificateMissing",
     "policy:\n  allow: {or: [{accept: 1}]}\n  deny: {or: [{invalid_client_certificate: 1}]}\n",
     alice(), certificate(ClientCertificateState::Missing), false, "accept",
     "client-certificate-required"},
    {"InvalidClientCertificateInvalid",
     "policy:\n  allow: {or: [{accept: 1}]}\n  deny: {or: [{invalid_client_certificate: 1}]}\n",
     alice(), certificate(ClientCertificateState::Invalid), false, "accept",
     "invalid-client-certificate"},
};

class EvaluatorTableTest : public ::testing::TestWithParam<Case> {};

TEST_P(EvaluatorTableTest, Decides) {
  const Case& c = GetParam();
  const Policy policy = mustCompile(c.yaml);
  const Decision d = evaluate(policy, c.who.identity(), c.request);
  EXPECT_EQ(d.allowed(), c.allowed);
  EXPECT_EQ(d.allow_reasons.toString(), c.allow_reasons);
  EXPECT_EQ(d.deny_reasons.toString(), c.deny_reasons);
}

INSTANTIATE_TEST_SUITE_P(Table, EvaluatorTableTest, ::testing::ValuesIn(kCases),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(EvaluatorTest, NoRulesDeniesWithoutSignIn) {
  const Decision d = evaluate(Policy{}, anonymous().identity(), kTT);
  EXPECT_FALSE(d.allow);
  EXPECT_FALSE(d.deny);
  EXPECT_FALSE(d.allowed());
  EXPECT_FALSE(d.needsSignIn());
  EXPECT_TRUE(d.reasons().empty());
}

TEST(EvaluatorTest, UnauthenticatedNeedsSignIn) {
  const Policy allow_email = mustCompile("policy:\n  allow: {or: [{email: a@b}]}\n");
  EXPECT_TRUE(evaluate(allow_email, anonymous().identity(), kTT).needsSignIn());
  EXPECT_FALSE(evaluate(allow_email, alice().identity(), kTT).needsSignIn());

  // In the deny reasons too (Pomerium authorize outcomes: anywhere).
  const Policy deny_email =
      mustCompile("policy:\n  allow: {or: [{accept: 1}]}\n  deny: {or: [{email: a@b}]}\n");
  const Decision d = evaluate(deny_email, anonymous().identity(), kTT);
  EXPECT_TRUE(d.allow);
  EXPECT_FALSE(d.deny);
  EXPECT_TRUE(d.needsSignIn());
  EXPECT_EQ(d.deny_reasons.toString(), "user-unauthenticated");
}

TEST(EvaluatorTest, LegacyUsersMatchEmailOrSubject) {
  RouteRules rules;
  rules.allowed_users = {"alice@example.com"};
  const Policy policy = mustCompile("from: x\n", rules);
  const Decision d = evaluate(policy, alice().identity(), kTT);
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.allow_reasons.toString(), "email-ok");
  User bob = alice();
  bob.email = "bob@example.com";
  const Decision denied = evaluate(policy, bob.identity(), kTT);
  EXPECT_FALSE(denied.allowed());
  EXPECT_EQ(denied.allow_reasons.toString(), "email-unauthorized,user-unauthorized");
}

TEST(EvaluatorTest, TraceRecordsEveryStep) {
  const Policy policy = mustCompile(
      "policy:\n  allow:\n    or:\n      - email: bob@example.com\n      - groups: dev\n"
      "  deny:\n    and: [{reject: 1}]\n");
  const std::vector<TraceLine> lines = trace(policy, alice().identity(), kTT);
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_EQ(lines[0].kind, TraceLine::Kind::Action);
  EXPECT_EQ(lines[0].label, "allow");
  EXPECT_TRUE(lines[0].result);
  EXPECT_EQ(lines[1].kind, TraceLine::Kind::Block);
  EXPECT_EQ(lines[1].key, "routes[0].policy.allow.or");
  EXPECT_EQ(lines[2].label, "email");
  EXPECT_FALSE(lines[2].result);
  EXPECT_EQ(lines[2].reasons.toString(), "email-unauthorized");
  EXPECT_EQ(lines[2].pos.line, 4);
  EXPECT_EQ(lines[3].label, "groups");
  EXPECT_TRUE(lines[3].result);
  EXPECT_EQ(lines[4].label, "deny");
  EXPECT_EQ(lines[7].kind, TraceLine::Kind::Decision);
  EXPECT_TRUE(lines[7].result);
  EXPECT_EQ(lines[7].reasons.toString(), "groups-ok");

  const std::string text = explain(policy, alice().identity(), kTT);
  EXPECT_EQ(text,
            "allow: true [groups-ok]\n"
            "  or routes[0].policy.allow.or: true [groups-ok]\n"
            "    email routes[0].policy.allow.or[0]: false [email-unauthorized]\n"
            "    groups routes[0].policy.allow.or[1]: true [groups-ok]\n"
            "deny: false [reject]\n"
            "  and routes[0].policy.deny.and: false [reject]\n"
            "    reject routes[0].policy.deny.and[0]: false [reject]\n"
            "decision: allowed [groups-ok]\n");
  EXPECT_NE(explain(policy, anonymous().identity(), kTT).find("decision: sign-in required"),
            std::string::npos);
}

}  // namespace
}  // namespace vallum::policy
