#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "config/diagnostics.h"
#include "config/yaml_tree.h"
#include "policy/evaluator.h"
#include "policy/parser.h"

/// Helpers shared by the policy tests.
namespace vallum::policy::test {

/// Compiles a route snippet: `text` is the YAML of a route map whose `policy` and
/// `allowed_idp_claims` keys are used (the other RouteRules fields come from `rules`). The file
/// is "t.yaml", the route key "routes[0]".
inline bool compileRoute(std::string_view text, Policy& out, config::Diagnostics& diags,
                         RouteRules rules = {}) {
  config::yaml::Node root;
  EXPECT_TRUE(config::yaml::parse(text, "t.yaml", "", diags, root)) << diags.formatAll();
  rules.file = "t.yaml";
  rules.key = "routes[0]";
  if (root.isMap()) {
    if (const config::yaml::Entry* e = root.find("policy")) {
      rules.ppl = &e->value;
    }
    if (const config::yaml::Entry* e = root.find("allowed_idp_claims")) {
      rules.allowed_idp_claims = &e->value;
    }
  }
  return compilePolicy(rules, out, diags);
}

/// Compiles and expects no error.
inline Policy mustCompile(std::string_view text, RouteRules rules = {}) {
  Policy policy;
  config::Diagnostics diags;
  EXPECT_TRUE(compileRoute(text, policy, diags, std::move(rules))) << diags.formatAll();
  EXPECT_FALSE(diags.hasErrors()) << diags.formatAll();
  return policy;
}

/// An identity with owned storage (Identity itself only holds views).
struct User {
  bool signed_in = true;
  std::string user;
  std::string email;
  std::vector<std::string> groups;
  nlohmann::json claims = nlohmann::json::object();

  Identity identity() const {
    Identity id;
    id.signed_in = signed_in;
    id.user = user;
    id.email = email;
    id.groups = groups;
    id.claims = &claims;
    return id;
  }
};

inline User anonymous() {
  User u;
  u.signed_in = false;
  return u;
}

inline User alice() {
  User u;
  u.user = "sub-alice";
  u.email = "alice@example.com";
  u.groups = {"admins", "dev"};
  return u;
}

inline RequestFacts get(std::string_view path = "/", std::string_view ip = "192.0.2.1") {
  RequestFacts r;
  r.method = "GET";
  r.path = path;
  r.client_ip = ip;
  return r;
}

}  // namespace vallum::policy::test
