// evaluate() must not allocate (spec: policy evaluation runs on every request). Counts global
// operator new calls made by this thread around evaluate().

// GCC 12 reports malloc/free inside replaced global operators as mismatched once it inlines them.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <cstdlib>
#include <new>

#include <gtest/gtest.h>

#include "policy/evaluator.h"
#include "policy_test_util.h"

namespace {
thread_local bool counting = false;
thread_local size_t allocations = 0;
}  // namespace

void* operator new(size_t size) {
  if (counting) {
    ++allocations;
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    return p;
  }
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace vallum::policy {
namespace {

TEST(EvaluatorNoAllocTest, EvaluateDoesNotAllocate) {
  RouteRules rules;
  rules.allowed_users = {"x@y"};
  rules.allowed_domains = {"example.org"};
  const Policy policy = test::mustCompile(
      "allowed_idp_claims: {role: [admin]}\n"
      "policy:\n"
      "  - allow:\n"
      "      and: [{email: {ends_with: '@example.com', not_in: [a@b]}}, {groups: {has: dev}}]\n"
      "      or: [{claim/address.country: US}, {claim/n: 1}, {http_path: {starts_with: /a}}]\n"
      "      not: [{source_ip: ['10.0.0.0/8', '2001:db8::/32']}]\n"
      "      nor: [{http_method: DELETE}, {cors_preflight: 1}, {domain: example.com}]\n"
      "  - deny:\n"
      "      or: [{invalid_client_certificate: 1}, {client_certificate: {san_dns: x}}]\n",
      rules);
  test::User user = test::alice();
  user.claims = nlohmann::json::parse(R"({"address": {"country": "US"}, "n": [1, 2]})");
  const Identity who = user.identity();
  const Identity nobody = test::anonymous().identity();
  RequestFacts request = test::get("/a/b", "2001:db8::7");
  counting = true;
  allocations = 0;
  const Decision d1 = evaluate(policy, who, request);
  const Decision d2 = evaluate(policy, nobody, request);
  counting = false;
  EXPECT_EQ(allocations, 0u);
  EXPECT_TRUE(d1.allowed());  // the `or` block holds (blocks of an action are ORed)
  EXPECT_EQ(d1.allow_reasons.toString(),
            "claim-ok,email-ok,groups-ok,http-method-unauthorized,http-path-ok,non-cors-request");
  EXPECT_TRUE(d2.needsSignIn());
}

}  // namespace
}  // namespace vallum::policy
