// Fuzzes the PPL compiler and evaluator (src/policy/parser.h, evaluator.h, access.h): the input
// is YAML text parsed with config::yaml::parse; its `policy` and `allowed_idp_claims` keys (or,
// when the document is not a map, the whole document) are compiled as a route's policy, then
// evaluated for a fixed signed-in identity and an anonymous one (inputs over 16 KiB are
// skipped).
//
// Invariants: nothing throws; compilePolicy() returns true exactly when it added no error; every
// diagnostic has a message and a position in the input's file; a compiled policy's operator
// blocks are never empty; evaluate() and trace() agree; decideForUser() never contradicts
// evaluate() (Allow ⇒ allowed, Deny ⇒ denied for the sampled request).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/diagnostics.h"
#include "config/yaml_tree.h"
#include "fuzz_check.h"
#include "policy/access.h"
#include "policy/evaluator.h"
#include "policy/parser.h"

namespace {

using vallum::policy::Decision;
using vallum::policy::Identity;
using vallum::policy::Outcome;
using vallum::policy::Policy;
using vallum::policy::RequestFacts;

void checkDecisions(const Policy& policy, const Identity& who, const RequestFacts& request) {
  const Decision d = vallum::policy::evaluate(policy, who, request);
  const std::vector<vallum::policy::TraceLine> lines = vallum::policy::trace(policy, who, request);
  FUZZ_CHECK(!lines.empty());
  FUZZ_CHECK(lines.back().result == d.allowed());
  FUZZ_CHECK(!vallum::policy::explain(policy, who, request).empty());
  const Outcome outcome = vallum::policy::decideForUser(policy, who, nullptr);
  if (outcome == Outcome::Allow) {
    FUZZ_CHECK(d.allowed());
  } else if (outcome == Outcome::Deny) {
    FUZZ_CHECK(!d.allowed());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    vallum::config::Diagnostics diags;
    vallum::config::yaml::Node root;
    vallum::config::yaml::parse(text, "fuzz.yaml", "", diags, root);
    vallum::policy::RouteRules rules;
    rules.file = "fuzz.yaml";
    rules.key = "routes[0]";
    rules.allowed_users = {"alice@example.com"};
    rules.ppl = &root;
    if (root.isMap()) {
      const auto* ppl = root.find("policy");
      const auto* claims = root.find("allowed_idp_claims");
      if (ppl != nullptr || claims != nullptr) {
        rules.ppl = ppl != nullptr ? &ppl->value : nullptr;
        rules.allowed_idp_claims = claims != nullptr ? &claims->value : nullptr;
      }
    }
    vallum::config::Diagnostics policy_diags;
    Policy policy;
    const bool ok = vallum::policy::compilePolicy(rules, policy, policy_diags);
    FUZZ_CHECK(ok == !policy_diags.hasErrors());
    for (const vallum::config::Diagnostic& d : policy_diags.items()) {
      FUZZ_CHECK(!d.message.empty());
      FUZZ_CHECK(d.pos.file == "fuzz.yaml");
      FUZZ_CHECK(d.pos.line >= 0);
    }
    if (!ok) {
      return 0;
    }
    for (const auto& rule : policy.rules) {
      for (const auto& block : rule.blocks) {
        FUZZ_CHECK(!block.criteria.empty());
      }
    }
    const std::vector<std::string> groups = {"admins", "dev"};
    const nlohmann::json claims = nlohmann::json::parse(
        R"({"groups": ["a", 1, true], "n": 1234, "address": {"country": "US"}})");
    Identity alice;
    alice.signed_in = true;
    alice.user = "sub-alice";
    alice.email = "alice@example.com";
    alice.groups = groups;
    alice.claims = &claims;
    RequestFacts request;
    request.method = "GET";
    request.path = "/api/x";
    request.client_ip = "10.1.2.3";
    checkDecisions(policy, alice, request);
    request.method = "OPTIONS";
    request.client_ip = "2001:db8::1";
    request.cors_preflight = true;
    checkDecisions(policy, Identity{}, request);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "policy fuzz threw: %s\n", e.what());
    std::abort();
  }
  return 0;
}
