#include "policy/parser.h"

#include <string>

#include <gtest/gtest.h>

#include "policy/reasons.h"
#include "policy_test_util.h"

namespace vallum::policy {
namespace {

using test::compileRoute;
using test::mustCompile;

struct ErrorCase {
  const char* name;
  const char* yaml;
  int line;
  int column;
  const char* key;
  const char* message;  // substring
};

class ParserErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ParserErrorTest, ReportsAtNode) {
  const ErrorCase& c = GetParam();
  Policy policy;
  config::Diagnostics diags;
  EXPECT_FALSE(compileRoute(c.yaml, policy, diags));
  ASSERT_EQ(diags.errorCount(), 1u) << diags.formatAll();
  const config::Diagnostic* error = nullptr;
  for (const config::Diagnostic& d : diags.items()) {
    if (d.severity == config::Severity::Error) {
      error = &d;
    }
  }
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->pos.file, "t.yaml");
  EXPECT_EQ(error->pos.line, c.line) << error->format();
  EXPECT_EQ(error->pos.column, c.column) << error->format();
  EXPECT_EQ(error->key, c.key) << error->format();
  EXPECT_NE(error->message.find(c.message), std::string::npos) << error->format();
}

const ErrorCase kErrorCases[] = {
    {"UnsupportedAction", "policy:\n  permit:\n    or:\n      - accept: true\n", 2, 3,
     "routes[0].policy.permit", "invalid action in rule: unsupported action: permit"},
    {"ActionNotObject", "policy:\n  allow: yes\n", 2, 10, "routes[0].policy.allow",
     "invalid value for action in rule, expected Object"},
    {"ActionNull", "policy:\n  deny:\n", 2, 3, "routes[0].policy.deny",
     "invalid value for action in rule, expected Object"},
    {"RegoInsideAllow", "policy:\n  allow:\n    rego: package x\n", 3, 5,
     "routes[0].policy.allow.rego",
     "unsupported conditional \"rego\", only and, or, not, nor and action are allowed"},
    {"OperatorNotList", "policy:\n  allow:\n    or:\n      email: a\n", 4, 7,
     "routes[0].policy.allow.or", "invalid criteria in \"or\""},
    {"CriterionNotObject", "policy:\n  allow:\n    and:\n      - accept\n", 4, 9,
     "routes[0].policy.allow.and[0]", "unsupported type for criteria array"},
    {"TwoKeysInCriterion", "policy:\n  allow:\n    or:\n      - email: a\n        user: b\n", 4, 9,
     "routes[0].policy.allow.or[0]", "each criteria may only contain a single key and value"},
    {"EmptyCriterion", "policy:\n  allow:\n    or:\n      - {}\n", 4, 9,
     "routes[0].policy.allow.or[0]", "each criteria may only contain a single key and value"},
    {"UnknownCriterion", "policy:\n  allow:\n    or:\n      - mail: a\n", 4, 9,
     "routes[0].policy.allow.or[0]", "unknown policy criterion: mail"},
    {"UnknownCriterionWithSubpath", "policy:\n  allow:\n    or:\n      - mail/x: a\n", 4, 9,
     "routes[0].policy.allow.or[0]", "unknown policy criterion: mail"},
    {"UnknownStringOperator", "policy:\n  allow:\n    or:\n      - email:\n          equals: a\n",
     5, 11, "routes[0].policy.allow.or[0].email.equals", "unknown string matcher operator: equals"},
    {"InNotArray", "policy:\n  allow:\n    or:\n      - email:\n          in: a@b\n", 5, 15,
     "routes[0].policy.allow.or[0].email.in", "in matcher requires an array of strings"},
    {"InElementNotString", "policy:\n  allow:\n    or:\n      - email:\n          in: [[a]]\n", 5,
     16, "routes[0].policy.allow.or[0].email.in[0]", "in matcher requires an array of strings"},
    {"NotInNotArray", "policy:\n  allow:\n    or:\n      - user:\n          not_in: a\n", 5, 19,
     "routes[0].policy.allow.or[0].user.not_in", "not_in matcher requires an array of strings"},
    {"UnknownListOperator", "policy:\n  allow:\n    or:\n      - groups:\n          contains: a\n",
     5, 11, "routes[0].policy.allow.or[0].groups.contains",
     "unknown string list matcher operator: contains"},
    {"BadIp", "policy:\n  allow:\n    or:\n      - source_ip: 10.0.0.300\n", 4, 20,
     "routes[0].policy.allow.or[0].source_ip", "expected IP or CIDR range, got: \"10.0.0.300\""},
    {"BadCidrInList", "policy:\n  allow:\n    or:\n      - source_ip: [10.0.0.0/8, '::1/129']\n", 4,
     33, "routes[0].policy.allow.or[0].source_ip[1]",
     "expected IP or CIDR range, got: \"::1/129\""},
    {"IpNotString", "policy:\n  allow:\n    or:\n      - source_ip: 10\n", 4, 20,
     "routes[0].policy.allow.or[0].source_ip", "expected string value"},
    {"ListOperatorNull", "policy:\n  allow:\n    or:\n      - claim/x: {has: ~}\n", 4, 19,
     "routes[0].policy.allow.or[0].claim/x.has", "string list matcher requires a value"},
    {"EmailWithoutData", "policy:\n  allow:\n    or:\n      - email:\n", 4, 9,
     "routes[0].policy.allow.or[0].email", "criterion email requires data"},
    {"GroupsWithoutData", "policy:\n  allow:\n    or:\n      - groups: ~\n", 4, 9,
     "routes[0].policy.allow.or[0].groups", "criterion groups requires data"},
    {"SourceIpWithoutData", "policy:\n  allow:\n    or:\n      - source_ip:\n", 4, 9,
     "routes[0].policy.allow.or[0].source_ip", "criterion source_ip requires data"},
    {"EmailList", "policy:\n  allow:\n    or:\n      - email: [a, b]\n", 4, 16,
     "routes[0].policy.allow.or[0].email", "is matcher requires a string, got a list"},
    {"StartsWithNumber",
     "policy:\n  allow:\n    or:\n      - http_path:\n          starts_with: 1\n", 5, 24,
     "routes[0].policy.allow.or[0].http_path.starts_with", "starts_with matcher requires a string"},
    {"ClaimWithoutName", "policy:\n  allow:\n    or:\n      - claim: x\n", 4, 9,
     "routes[0].policy.allow.or[0]", "criterion claim requires a claim name"},
    {"Device", "policy:\n  allow:\n    or:\n      - device:\n          approved: true\n", 4, 9,
     "routes[0].policy.allow.or[0]", "policy criterion \"device\" is not supported yet"},
    {"SshUsername", "policy:\n  allow:\n    or:\n      - ssh_username: root\n", 4, 9,
     "routes[0].policy.allow.or[0]", "policy criterion \"ssh_username\" is not supported"},
    {"McpTool", "policy:\n  allow:\n    or:\n      - mcp_tool: x\n", 4, 9,
     "routes[0].policy.allow.or[0]", "policy criterion \"mcp_tool\" is not supported"},
    {"CertificateNotObject", "policy:\n  allow:\n    or:\n      - client_certificate: x\n", 4, 29,
     "routes[0].policy.allow.or[0].client_certificate", "expected object for certificate matcher"},
    {"CertificateUnknownCondition",
     "policy:\n  allow:\n    or:\n      - client_certificate:\n          serial: 1\n", 5, 11,
     "routes[0].policy.allow.or[0].client_certificate.serial",
     "unsupported certificate matcher condition: serial"},
    {"CertificateBadFingerprint",
     "policy:\n  allow:\n    or:\n      - client_certificate:\n          fingerprint: abc\n", 5, 24,
     "routes[0].policy.allow.or[0].client_certificate.fingerprint",
     "unsupported certificate fingerprint format (abc)"},
    {"CertificateBadSpki",
     "policy:\n  allow:\n    or:\n      - client_certificate:\n          spki_hash: [abcd]\n", 5,
     23, "routes[0].policy.allow.or[0].client_certificate.spki_hash[0]",
     "certificate SPKI hash must be a base64-encoded SHA-256 hash"},
    {"RuleNotObject", "policy: 42\n", 1, 9, "routes[0].policy", "unsupported type for rule"},
    {"RulesArrayElementNotObject", "policy:\n  - allow\n", 2, 5, "routes[0].policy[0]",
     "unsupported type for rules array"},
    {"ErrorInSecondListRule",
     "policy:\n  - allow:\n      or: [{accept: 1}]\n  - deny:\n      or: [{nope: 1}]\n", 5, 13,
     "routes[0].policy[1].deny.or[0]", "unknown policy criterion: nope"},
    {"StringFormJson", "policy: '{\"allow\": {\"or\": [{\"mail\": \"x\"}]}}'\n", 1, 9,
     "routes[0].policy.allow.or[0]",
     "unknown policy criterion: mail (policy text line 1, column 20)"},
    {"StringFormYamlBlock", "policy: |\n  allow:\n    or:\n      - mail: x\n", 1, 9,
     "routes[0].policy.allow.or[0]",
     "unknown policy criterion: mail (policy text line 3, column 7)"},
    {"StringFormSyntaxError", "policy: 'allow: ['\n", 1, 9, "yaml",
     "(policy text line 2, column 1)"},
    {"StringFormScalar", "policy: 'allow'\n", 1, 9, "routes[0].policy",
     "unsupported type for rule"},
    {"LegacyClaimsNotMap", "allowed_idp_claims: [a]\n", 1, 21, "routes[0].allowed_idp_claims",
     "expected a mapping of claim names to values"},
};

INSTANTIATE_TEST_SUITE_P(Errors, ParserErrorTest, ::testing::ValuesIn(kErrorCases),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(ParserTest, CollectsEveryError) {
  Policy policy;
  config::Diagnostics diags;
  EXPECT_FALSE(compileRoute(
      "policy:\n  allow:\n    or:\n      - mail: a\n      - email: {eq: b}\n  block: {}\n", policy,
      diags));
  ASSERT_EQ(diags.errorCount(), 3u) << diags.formatAll();
  EXPECT_EQ(diags.items()[0].pos.line, 4);
  EXPECT_EQ(diags.items()[1].pos.line, 5);
  EXPECT_EQ(diags.items()[2].pos.line, 6);
  EXPECT_EQ(diags.items()[2].message, "invalid action in rule: unsupported action: block");
}

TEST(ParserTest, SingleRuleObject) {
  const Policy p = mustCompile(
      "policy:\n  allow:\n    and:\n      - email: {is: a@x}\n      - http_method: GET\n");
  ASSERT_EQ(p.rules.size(), 1u);
  const Rule& rule = p.rules[0];
  EXPECT_EQ(rule.action, Action::Allow);
  EXPECT_FALSE(rule.legacy);
  EXPECT_EQ(rule.key, "routes[0].policy.allow");
  EXPECT_EQ(rule.pos.line, 2);
  ASSERT_EQ(rule.blocks.size(), 1u);
  const OperatorBlock& block = rule.blocks[0];
  EXPECT_EQ(block.op, Operator::And);
  ASSERT_EQ(block.criteria.size(), 2u);
  EXPECT_EQ(block.criteria[0].kind, CriterionKind::Email);
  EXPECT_EQ(block.criteria[0].key, "routes[0].policy.allow.and[0]");
  EXPECT_EQ(block.criteria[0].pos, (config::SourcePos{"t.yaml", 4, 9}));
  ASSERT_EQ(block.criteria[0].string_matcher.conditions.size(), 1u);
  EXPECT_EQ(block.criteria[0].string_matcher.conditions[0].value, "a@x");
  EXPECT_EQ(block.criteria[1].kind, CriterionKind::HttpMethod);
}

TEST(ParserTest, ListOfRulesIsConcatenatedAndAllowSortsFirstWithinAnObject) {
  const Policy p = mustCompile(
      "policy:\n  - deny: {or: [{reject: 1}]}\n    allow: {or: [{accept: 1}]}\n"
      "  - allow: {and: [{accept: 1}]}\n");
  ASSERT_EQ(p.rules.size(), 3u);
  EXPECT_EQ(p.rules[0].action, Action::Allow);
  EXPECT_EQ(p.rules[0].key, "routes[0].policy[0].allow");
  EXPECT_EQ(p.rules[1].action, Action::Deny);
  EXPECT_EQ(p.rules[2].key, "routes[0].policy[1].allow");
}

TEST(ParserTest, OperatorsInFixedOrderAndEmptyListsDropped) {
  const Policy p = mustCompile(
      "policy:\n  allow:\n    nor: [{accept: 1}]\n    or: []\n    not: [{reject: 1}]\n"
      "    action: allow\n    and: [{accept: 1}]\n");
  ASSERT_EQ(p.rules.size(), 1u);
  ASSERT_EQ(p.rules[0].blocks.size(), 3u);
  EXPECT_EQ(p.rules[0].blocks[0].op, Operator::And);
  EXPECT_EQ(p.rules[0].blocks[1].op, Operator::Not);
  EXPECT_EQ(p.rules[0].blocks[2].op, Operator::Nor);
}

TEST(ParserTest, StringFormYamlAndJson) {
  const Policy yaml = mustCompile("policy: |\n  allow:\n    or:\n      - email: a@x\n");
  ASSERT_EQ(yaml.rules.size(), 1u);
  EXPECT_EQ(yaml.rules[0].blocks[0].criteria[0].kind, CriterionKind::Email);
  EXPECT_EQ(yaml.rules[0].key, "routes[0].policy.allow");

  const Policy json =
      mustCompile("policy: '[{\"allow\": {\"or\": [{\"groups\": {\"has\": \"admins\"}}]}}]'\n");
  ASSERT_EQ(json.rules.size(), 1u);
  EXPECT_EQ(json.rules[0].blocks[0].criteria[0].kind, CriterionKind::Groups);
  EXPECT_EQ(json.rules[0].key, "routes[0].policy[0].allow");
  // Positions inside the text point at the string.
  EXPECT_EQ(json.rules[0].pos, (config::SourcePos{"t.yaml", 1, 9}));

  const Policy empty = mustCompile("policy: ''\n");
  EXPECT_TRUE(empty.rules.empty());
}

TEST(ParserTest, AbsentPolicyAndNoLegacyKeysGiveNoRules) {
  EXPECT_TRUE(mustCompile("from: x\n").rules.empty());
  EXPECT_TRUE(mustCompile("policy:\n").rules.empty());
}

TEST(ParserTest, LegacyUsersFoldIntoUserAndEmail) {
  RouteRules rules;
  rules.allowed_users = {"alice@example.com"};
  const Policy p = mustCompile("from: x\n", rules);
  ASSERT_EQ(p.rules.size(), 1u);
  const Rule& rule = p.rules[0];
  EXPECT_TRUE(rule.legacy);
  EXPECT_EQ(rule.action, Action::Allow);
  ASSERT_EQ(rule.blocks.size(), 1u);
  EXPECT_EQ(rule.blocks[0].op, Operator::Or);
  ASSERT_EQ(rule.blocks[0].criteria.size(), 2u);
  EXPECT_EQ(rule.blocks[0].criteria[0].kind, CriterionKind::User);
  EXPECT_EQ(rule.blocks[0].criteria[1].kind, CriterionKind::Email);
  EXPECT_EQ(rule.blocks[0].criteria[1].key, "routes[0].allowed_users[0]");
  EXPECT_EQ(rule.blocks[0].criteria[1].string_matcher.conditions[0].value, "alice@example.com");
}

TEST(ParserTest, LegacyKeysInPomeriumOrderBeforePpl) {
  RouteRules rules;
  rules.allow_public_unauthenticated_access = true;
  rules.cors_allow_preflight = true;
  rules.allow_any_authenticated_user = true;
  rules.allowed_domains = {"example.com"};
  rules.allowed_users = {"u"};
  const Policy p = mustCompile(
      "allowed_idp_claims:\n  groups: [admins, dev]\n  email_verified: true\n"
      "policy:\n  deny: {or: [{reject: 1}]}\n",
      rules);
  ASSERT_EQ(p.rules.size(), 2u);
  EXPECT_TRUE(p.rules[0].legacy);
  EXPECT_EQ(p.rules[1].action, Action::Deny);
  std::vector<std::string> names;
  for (const Criterion& c : p.rules[0].blocks[0].criteria) {
    names.push_back(c.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"accept", "cors_preflight", "authenticated_user",
                                             "domain", "claim/email_verified", "claim/groups",
                                             "claim/groups", "user", "email"}));
  const auto& criteria = p.rules[0].blocks[0].criteria;
  EXPECT_EQ(criteria[4].list_matcher.conditions[0].value, nlohmann::json(true));
  EXPECT_EQ(criteria[5].list_matcher.conditions[0].value, nlohmann::json("admins"));
  EXPECT_EQ(criteria[6].list_matcher.conditions[0].value, nlohmann::json("dev"));
  EXPECT_EQ(criteria[6].key, "routes[0].allowed_idp_claims.groups[1]");
}

TEST(ParserTest, ClientCertificateDenyRule) {
  RouteRules rules;
  rules.deny_invalid_client_certificate = true;
  const Policy p = mustCompile("from: x\n", rules);
  ASSERT_EQ(p.rules.size(), 1u);
  EXPECT_EQ(p.rules[0].action, Action::Deny);
  EXPECT_EQ(p.rules[0].blocks[0].criteria[0].kind, CriterionKind::InvalidClientCertificate);
}

TEST(ParserTest, ClaimValuesAreTyped) {
  const Policy p = mustCompile(
      "policy:\n  allow:\n    or:\n      - claim/a: true\n      - claim/b: \"true\"\n"
      "      - claim/c: 1234\n      - claim/d: '1234'\n      - claim/e: 0x10\n"
      "      - claim/f: 1.5\n      - claim/g: {is: [1, x]}\n");
  const auto& c = p.rules[0].blocks[0].criteria;
  ASSERT_EQ(c.size(), 7u);
  EXPECT_EQ(c[0].list_matcher.conditions[0].value, nlohmann::json(true));
  EXPECT_EQ(c[1].list_matcher.conditions[0].value, nlohmann::json("true"));
  EXPECT_EQ(c[2].list_matcher.conditions[0].value, nlohmann::json(1234));
  EXPECT_EQ(c[3].list_matcher.conditions[0].value, nlohmann::json("1234"));
  EXPECT_EQ(c[4].list_matcher.conditions[0].value, nlohmann::json(16));
  EXPECT_EQ(c[5].list_matcher.conditions[0].value, nlohmann::json(1.5));
  EXPECT_EQ(c[6].list_matcher.conditions[0].op, ListOp::Is);
  EXPECT_EQ(c[6].list_matcher.conditions[0].value, nlohmann::json::parse("[1, \"x\"]"));
}

TEST(ParserTest, ClaimPathSegments) {
  const Policy p = mustCompile(
      "policy:\n  allow:\n    or:\n      - claim/groups: a\n      - claim/address.country: US\n"
      "      - claim/a/b.c: x\n      - claim/a.b.c.d.e.f: x\n");
  const auto& c = p.rules[0].blocks[0].criteria;
  EXPECT_EQ(c[0].claim_path, "groups");
  EXPECT_TRUE(c[0].claim_segments.empty());
  EXPECT_EQ(c[1].claim_segments, (std::vector<std::string>{"address", "country"}));
  EXPECT_EQ(c[2].claim_segments, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(c[3].claim_segments.empty());  // more than 5 levels: whole key only
}

TEST(ParserTest, SourceIpAndCertificateData) {
  const Policy p = mustCompile(
      "policy:\n  allow:\n    or:\n      - source_ip: [10.1.2.3/8, '2001:db8::1', 192.0.2.7]\n"
      "      - client_certificate:\n          fingerprint:\n"
      "            - 17:2A:A3:A3:BB:E8:A4:0B:A4:B6:CF:6B:91:C5:C4:4E:ED:3C:4F:6E:9D:38:23:1A:C0:2E:"
      "1E:DD:9B:E4:CF:0A\n"
      "          spki_hash: FsDbM0rUYIiL3V339eIKqiz6HPSB+Pz2WeAWhqlqh8U=\n"
      "          san_email: {ends_with: '@example.com'}\n");
  const auto& c = p.rules[0].blocks[0].criteria;
  ASSERT_EQ(c[0].ip_ranges.size(), 3u);
  EXPECT_EQ(c[0].ip_ranges[0].prefix, 8);
  EXPECT_EQ(c[0].ip_ranges[0].network.bytes[1], 0);
  EXPECT_EQ(c[0].ip_ranges[1].prefix, 128);
  EXPECT_EQ(c[0].ip_ranges[2].prefix, 32);
  ASSERT_EQ(c[1].certificate.fingerprints.size(), 1u);
  EXPECT_EQ(c[1].certificate.fingerprints[0],
            "172aa3a3bbe8a40ba4b6cf6b91c5c44eed3c4f6e9d38231ac02e1edd9be4cf0a");
  EXPECT_EQ(c[1].certificate.spki_hashes.size(), 1u);
  EXPECT_TRUE(c[1].certificate.has_san_email);
  EXPECT_FALSE(c[1].certificate.has_san_dns);
}

TEST(ParserTest, WarningsDoNotFail) {
  Policy policy;
  config::Diagnostics diags;
  EXPECT_TRUE(
      compileRoute("policy:\n  allow:\n    or:\n      - user: 12345\n      - email: {}\n"
                   "      - groups: {has: [a, b]}\n      - email/x: a\n",
                   policy, diags));
  EXPECT_EQ(diags.errorCount(), 0u);
  ASSERT_EQ(diags.warningCount(), 4u) << diags.formatAll();
  EXPECT_NE(diags.items()[0].message.find("never equals"), std::string::npos);
  EXPECT_EQ(diags.items()[0].pos.line, 4);
  EXPECT_NE(diags.items()[1].message.find("empty string matcher"), std::string::npos);
  EXPECT_NE(diags.items()[2].message.find("does not mean any of"), std::string::npos);
  EXPECT_NE(diags.items()[3].message.find("sub-path \"x\" is ignored"), std::string::npos);
  const StringCondition& number =
      policy.rules[0].blocks[0].criteria[0].string_matcher.conditions[0];
  EXPECT_FALSE(number.is_string);
}

}  // namespace
}  // namespace vallum::policy
