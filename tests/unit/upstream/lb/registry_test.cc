#include "upstream/lb/registry.h"

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/random.h"
#include "unit/upstream/lb/lb_test_hosts.h"

// Counts operator new calls on this thread, to check that picks never allocate. Not under
// sanitizers, which bring their own allocator.
#if defined(__SANITIZE_ADDRESS__)
#define VALLUM_LB_TEST_COUNTS_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VALLUM_LB_TEST_COUNTS_ALLOCATIONS 0
#endif
#endif
#ifndef VALLUM_LB_TEST_COUNTS_ALLOCATIONS
#define VALLUM_LB_TEST_COUNTS_ALLOCATIONS 1
#endif

#if VALLUM_LB_TEST_COUNTS_ALLOCATIONS
namespace {
thread_local uint64_t allocations = 0;
}  // namespace

// noinline: inlined, g++ 12 pairs malloc()/free() with new/delete and warns
// (mismatched-new-delete).

__attribute__((noinline)) void* operator new(std::size_t size) {
  ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    return p;
  }
  throw std::bad_alloc();
}
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace vallum::upstream::lb {
namespace {

using testing::makeHosts;

constexpr Policy kAllPolicies[] = {Policy::RoundRobin, Policy::LeastRequest, Policy::Random,
                                   Policy::RingHash, Policy::Maglev};

TEST(LoadBalancerRegistryTest, ParsesEverySpellingPomeriumAccepts) {
  struct Case {
    std::string_view name;
    Policy policy;
  };
  const Case cases[] = {
      {"ROUND_ROBIN", Policy::RoundRobin},
      {"round_robin", Policy::RoundRobin},
      {"Round_Robin", Policy::RoundRobin},
      {"LOAD_BALANCING_POLICY_ROUND_ROBIN", Policy::RoundRobin},
      {"load_balancing_policy_round_robin", Policy::RoundRobin},
      {"UNSPECIFIED", Policy::RoundRobin},
      {"LOAD_BALANCING_POLICY_UNSPECIFIED", Policy::RoundRobin},
      {"LEAST_REQUEST", Policy::LeastRequest},
      {"least_request", Policy::LeastRequest},
      {"LOAD_BALANCING_POLICY_LEAST_REQUEST", Policy::LeastRequest},
      {"RANDOM", Policy::Random},
      {"random", Policy::Random},
      {"LOAD_BALANCING_POLICY_RANDOM", Policy::Random},
      {"RING_HASH", Policy::RingHash},
      {"ring_hash", Policy::RingHash},
      {"LOAD_BALANCING_POLICY_RING_HASH", Policy::RingHash},
      {"MAGLEV", Policy::Maglev},
      {"maglev", Policy::Maglev},
      {"Load_Balancing_Policy_Maglev", Policy::Maglev},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(parsePolicy(c.name), c.policy) << c.name;
  }
}

TEST(LoadBalancerRegistryTest, RejectsUnknownNames) {
  for (std::string_view name :
       {"", "ROUNDROBIN", "round-robin", "ROUND ROBIN", " ROUND_ROBIN", "ROUND_ROBIN ",
        "LOAD_BALANCING_POLICY_", "LOAD_BALANCING_POLICY",
        "LOAD_BALANCING_POLICY_LOAD_BALANCING_POLICY_RANDOM", "CLUSTER_PROVIDED", "ORIGINAL_DST_LB",
        "LEAST_CONN", "maglevv", "RING"}) {
    EXPECT_EQ(parsePolicy(name), std::nullopt) << "'" << name << "'";
  }
}

TEST(LoadBalancerRegistryTest, PolicyNamesRoundTrip) {
  EXPECT_EQ(policyName(Policy::RoundRobin), "ROUND_ROBIN");
  EXPECT_EQ(policyName(Policy::LeastRequest), "LEAST_REQUEST");
  EXPECT_EQ(policyName(Policy::Random), "RANDOM");
  EXPECT_EQ(policyName(Policy::RingHash), "RING_HASH");
  EXPECT_EQ(policyName(Policy::Maglev), "MAGLEV");
  for (Policy policy : kAllPolicies) {
    EXPECT_EQ(parsePolicy(policyName(policy)), policy);
  }
}

TEST(LoadBalancerRegistryTest, CreatesEveryPolicy) {
  FastRandom random(3);
  for (Policy policy : kAllPolicies) {
    auto hosts = makeHosts({1, 2, 3});
    hosts[0].index = 10;
    hosts[1].index = 11;
    hosts[2].index = 12;
    LoadBalancerPtr lb = createLoadBalancer(policy, PolicyConfig{}, hosts, 5);
    ASSERT_NE(lb, nullptr) << policyName(policy);
    auto counts = testing::countPicks(*lb, {std::nullopt, &random}, 600);
    EXPECT_EQ(counts.size(), 3u) << policyName(policy);
    for (const auto& [index, count] : counts) {
      EXPECT_TRUE(index >= 10 && index <= 12) << policyName(policy) << " " << index;
    }
  }
}

TEST(LoadBalancerRegistryTest, EveryPolicyReturnsNothingWithoutHosts) {
  FastRandom random(3);
  for (Policy policy : kAllPolicies) {
    LoadBalancerPtr lb = createLoadBalancer(policy, PolicyConfig{}, {}, 5);
    EXPECT_EQ(lb->chooseHost({std::nullopt, &random}), std::nullopt) << policyName(policy);
    EXPECT_EQ(lb->chooseHost({uint64_t{7}, &random}), std::nullopt) << policyName(policy);
  }
}

TEST(LoadBalancerRegistryTest, EveryPolicyPicksTheOnlyHost) {
  FastRandom random(3);
  for (Policy policy : kAllPolicies) {
    auto hosts = makeHosts({7});
    hosts[0].index = 3;
    LoadBalancerPtr lb = createLoadBalancer(policy, PolicyConfig{}, hosts, 5);
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(lb->chooseHost({std::nullopt, &random}), 3u) << policyName(policy);
      EXPECT_EQ(lb->chooseHost({uint64_t(i), &random}), 3u) << policyName(policy);
    }
  }
}

// Under sanitizers operator new is the sanitizer's, so the test is not built at all there
// (rather than built and skipped, which ctest would count as passed).
#if VALLUM_LB_TEST_COUNTS_ALLOCATIONS
TEST(LoadBalancerRegistryTest, PicksDoNotAllocate) {
  FastRandom random(3);
  std::vector<std::atomic<uint32_t>> active(50);
  for (Policy policy : kAllPolicies) {
    for (bool weighted : {false, true}) {
      std::vector<uint32_t> weights(50, 1);
      if (weighted) {
        weights[7] = 5;
      }
      auto hosts = makeHosts(weights);
      for (size_t i = 0; i < hosts.size(); ++i) {
        hosts[i].active_requests = &active[i];
      }
      LoadBalancerPtr lb = createLoadBalancer(policy, PolicyConfig{}, hosts, 9);
      uint64_t sink = 0;
      const uint64_t before = allocations;
      for (int i = 0; i < 1000; ++i) {
        LbContext context{i % 2 == 0 ? std::optional<uint64_t>(random.next()) : std::nullopt,
                          &random};
        sink += lb->chooseHost(context).value_or(0);
      }
      EXPECT_GT(sink, 0u);
      EXPECT_EQ(allocations, before) << policyName(policy) << " weighted " << weighted;
    }
  }
}
#endif

TEST(LoadBalancerRegistryTest, ValidationAcceptsEnvoyDefaults) {
  for (Policy policy : kAllPolicies) {
    EXPECT_TRUE(validatePolicyConfig(policy, PolicyConfig{}).has_value()) << policyName(policy);
  }
}

TEST(LoadBalancerRegistryTest, ValidationRejectsChoiceCountBelowTwo) {
  PolicyConfig config;
  config.choice_count = 1;
  auto result = validatePolicyConfig(Policy::LeastRequest, config);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), Errc::InvalidArgument);
  EXPECT_EQ(result.error().source(), ErrorSource::Config);
  EXPECT_EQ(result.error().detail(), "least_request_lb_config.choice_count (1) must be at least 2");
  config.choice_count = 0;
  EXPECT_FALSE(validatePolicyConfig(Policy::LeastRequest, config).has_value());
  config.choice_count = 2;
  EXPECT_TRUE(validatePolicyConfig(Policy::LeastRequest, config).has_value());
  config.choice_count = 100;
  EXPECT_TRUE(validatePolicyConfig(Policy::LeastRequest, config).has_value());
}

TEST(LoadBalancerRegistryTest, ValidationRejectsBadRingSizes) {
  PolicyConfig config;
  config.minimum_ring_size = 2048;
  config.maximum_ring_size = 1024;
  auto result = validatePolicyConfig(Policy::RingHash, config);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().detail(),
            "ring hash: minimum_ring_size (2048) > maximum_ring_size (1024)");
  EXPECT_EQ(result.error().source(), ErrorSource::Config);

  config.minimum_ring_size = 1024;
  config.maximum_ring_size = 1024;
  EXPECT_TRUE(validatePolicyConfig(Policy::RingHash, config).has_value());

  config.maximum_ring_size = 8388609;
  result = validatePolicyConfig(Policy::RingHash, config);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().detail(),
            "ring_hash_lb_config.maximum_ring_size (8388609) must be at most 8388608");
  config.maximum_ring_size = 8388608;
  config.minimum_ring_size = 8388608;
  EXPECT_TRUE(validatePolicyConfig(Policy::RingHash, config).has_value());
  config.minimum_ring_size = 0;
  EXPECT_FALSE(validatePolicyConfig(Policy::RingHash, config).has_value());
}

TEST(LoadBalancerRegistryTest, ValidationRejectsNonPrimeMaglevTables) {
  PolicyConfig config;
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{4}, uint64_t{65536}, uint64_t{65535},
                        uint64_t{5000011} * 3}) {
    config.table_size = size;
    EXPECT_FALSE(validatePolicyConfig(Policy::Maglev, config).has_value()) << size;
  }
  config.table_size = 65536;
  EXPECT_EQ(validatePolicyConfig(Policy::Maglev, config).error().detail(),
            "maglev_lb_config.table_size (65536): The table size of maglev must be prime number");
  config.table_size = 5000021;  // prime, above Envoy's cap
  EXPECT_EQ(validatePolicyConfig(Policy::Maglev, config).error().detail(),
            "maglev_lb_config.table_size (5000021) must be at most 5000011");
  for (uint64_t size : {uint64_t{2}, uint64_t{7}, uint64_t{17}, uint64_t{65537}, uint64_t{131071},
                        uint64_t{5000011}}) {
    config.table_size = size;
    EXPECT_TRUE(validatePolicyConfig(Policy::Maglev, config).has_value()) << size;
  }
}

TEST(LoadBalancerRegistryTest, ValidationIgnoresOtherPoliciesSettings) {
  PolicyConfig config;
  config.choice_count = 1;
  config.minimum_ring_size = 10;
  config.maximum_ring_size = 5;
  config.table_size = 4;
  EXPECT_TRUE(validatePolicyConfig(Policy::RoundRobin, config).has_value());
  EXPECT_TRUE(validatePolicyConfig(Policy::Random, config).has_value());
  EXPECT_FALSE(validatePolicyConfig(Policy::LeastRequest, config).has_value());
  EXPECT_FALSE(validatePolicyConfig(Policy::RingHash, config).has_value());
  EXPECT_FALSE(validatePolicyConfig(Policy::Maglev, config).has_value());
}

TEST(LoadBalancerRegistryTest, InvalidConfigStillBuildsAWorkingBalancer) {
  PolicyConfig config;
  config.choice_count = 0;
  config.minimum_ring_size = 10;
  config.maximum_ring_size = 5;
  config.table_size = 4;
  FastRandom random(1);
  for (Policy policy : kAllPolicies) {
    LoadBalancerPtr lb = createLoadBalancer(policy, config, makeHosts({1, 1, 1}), 0);
    auto counts = testing::countPicks(*lb, {std::nullopt, &random}, 300);
    EXPECT_EQ(counts.count(UINT32_MAX), 0u) << policyName(policy);
  }
}

TEST(LoadBalancerRegistryTest, IsPrime) {
  for (uint64_t p : {uint64_t{2}, uint64_t{3}, uint64_t{5}, uint64_t{7}, uint64_t{11}, uint64_t{13},
                     uint64_t{17}, uint64_t{65537}, uint64_t{131071}, uint64_t{5000011}}) {
    EXPECT_TRUE(isPrime(p)) << p;
  }
  for (uint64_t c : {uint64_t{0}, uint64_t{1}, uint64_t{4}, uint64_t{9}, uint64_t{15}, uint64_t{25},
                     uint64_t{49}, uint64_t{65535}, uint64_t{65536}, uint64_t{65537} * 65537}) {
    EXPECT_FALSE(isPrime(c)) << c;
  }
}

}  // namespace
}  // namespace vallum::upstream::lb
