#include "upstream/lb/random.h"

#include <vector>

#include <gtest/gtest.h>

#include "common/random.h"
#include "unit/upstream/lb/lb_test_hosts.h"

namespace vallum::upstream::lb {
namespace {

using testing::countPicks;
using testing::makeEqualHosts;
using testing::makeHosts;

TEST(RandomLoadBalancerTest, EmptyHostSetPicksNothing) {
  FastRandom random(1);
  RandomLoadBalancer lb({});
  EXPECT_EQ(lb.chooseHost({std::nullopt, &random}), std::nullopt);
}

TEST(RandomLoadBalancerTest, SingleHostAlwaysPicked) {
  auto hosts = makeHosts({4});
  hosts[0].index = 5;
  RandomLoadBalancer lb(hosts);
  EXPECT_EQ(lb.chooseHost({}), 5u);  // no random needed
}

TEST(RandomLoadBalancerTest, EqualWeightsUniformWithinOnePercent) {
  FastRandom random(21);
  RandomLoadBalancer lb(makeEqualHosts(5));
  const uint64_t picks = 2000000;
  auto counts = countPicks(lb, {std::nullopt, &random}, picks);
  for (uint32_t host = 0; host < 5; ++host) {
    EXPECT_NEAR(double(counts[host]) / picks, 0.2, 0.2 * 0.01) << host;
  }
}

TEST(RandomLoadBalancerTest, HonoursWeightsWithinOnePercent) {
  // Envoy's RANDOM ignores weights; ours gives host i the share w_i / sum(w).
  const std::vector<uint32_t> weights{1, 2, 3, 4, 10};
  FastRandom random(42);
  RandomLoadBalancer lb(makeHosts(weights));
  const uint64_t picks = 4000000;
  auto counts = countPicks(lb, {std::nullopt, &random}, picks);
  for (uint32_t host = 0; host < weights.size(); ++host) {
    const double expected = weights[host] / 20.0;
    EXPECT_NEAR(double(counts[host]) / picks, expected, expected * 0.01) << host;
  }
  EXPECT_EQ(counts.count(UINT32_MAX), 0u);
}

TEST(RandomLoadBalancerTest, HonoursWeightsOverManyHosts) {
  // 500 hosts of weights 1..5: each weight class gets its share within 1%.
  std::vector<uint32_t> weights;
  for (int i = 0; i < 500; ++i) {
    weights.push_back(uint32_t(1 + i % 5));
  }
  FastRandom random(8);
  RandomLoadBalancer lb(makeHosts(weights));
  const uint64_t picks = 3000000;
  auto counts = countPicks(lb, {std::nullopt, &random}, picks);
  uint64_t by_weight[6] = {};
  for (const auto& [host, count] : counts) {
    ASSERT_LT(host, 500u);
    by_weight[weights[host]] += count;
  }
  for (int weight = 1; weight <= 5; ++weight) {
    const double expected = weight / 15.0;
    EXPECT_NEAR(double(by_weight[weight]) / picks, expected, expected * 0.01) << weight;
  }
}

TEST(RandomLoadBalancerTest, ExtremeWeightRatio) {
  FastRandom random(4);
  RandomLoadBalancer lb(makeHosts({1, 999}));
  const uint64_t picks = 2000000;
  auto counts = countPicks(lb, {std::nullopt, &random}, picks);
  EXPECT_NEAR(double(counts[0]) / picks, 0.001, 0.0001);
}

TEST(RandomLoadBalancerTest, ReturnsTheHostIndexAndIsDeterministicForASeed) {
  auto hosts = makeHosts({1, 2, 3});
  hosts[0].index = 30;
  hosts[1].index = 20;
  hosts[2].index = 10;
  RandomLoadBalancer lb(hosts);
  FastRandom a(77);
  FastRandom b(77);
  for (int i = 0; i < 1000; ++i) {
    const auto pick = lb.chooseHost({std::nullopt, &a});
    ASSERT_TRUE(pick == 10u || pick == 20u || pick == 30u);
    EXPECT_EQ(pick, lb.chooseHost({std::nullopt, &b}));
  }
}

TEST(RandomLoadBalancerTest, IgnoresTheRequestHash) {
  FastRandom random(6);
  RandomLoadBalancer lb(makeEqualHosts(4));
  auto counts = countPicks(lb, {uint64_t{12345}, &random}, 40000);
  EXPECT_EQ(counts.size(), 4u);
}

}  // namespace
}  // namespace vallum::upstream::lb
