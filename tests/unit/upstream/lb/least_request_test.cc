#include "upstream/lb/least_request.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/random.h"
#include "unit/upstream/lb/lb_test_hosts.h"

namespace vallum::upstream::lb {
namespace {

using testing::countPicks;
using testing::makeHosts;

// Hosts with their own active-request counters.
struct LoadedHosts {
  explicit LoadedHosts(const std::vector<uint32_t>& weights)
      : hosts(makeHosts(weights)), active(new std::atomic<uint32_t>[weights.size()]) {
    for (size_t i = 0; i < weights.size(); ++i) {
      active[i] = 0;
      hosts[i].active_requests = &active[i];
    }
  }
  std::vector<LbHost> hosts;
  std::unique_ptr<std::atomic<uint32_t>[]> active;
};

double share(const std::map<uint32_t, uint64_t>& counts, uint32_t host, uint64_t picks) {
  auto it = counts.find(host);
  return it == counts.end() ? 0.0 : double(it->second) / double(picks);
}

TEST(LeastRequestLoadBalancerTest, EmptyHostSetPicksNothing) {
  FastRandom random(1);
  LeastRequestLoadBalancer lb(PolicyConfig{}, {});
  EXPECT_EQ(lb.chooseHost({std::nullopt, &random}), std::nullopt);
}

TEST(LeastRequestLoadBalancerTest, SingleHostAlwaysPicked) {
  auto hosts = makeHosts({3});
  hosts[0].index = 9;
  LeastRequestLoadBalancer lb(PolicyConfig{}, hosts);
  EXPECT_EQ(lb.chooseHost({}), 9u);  // no random needed
}

TEST(LeastRequestLoadBalancerTest, PowerOfTwoChoicesPrefersTheLessLoadedHost) {
  LoadedHosts loaded({1, 1});
  loaded.active[1] = 10;
  FastRandom random(7);
  LeastRequestLoadBalancer lb(PolicyConfig{}, loaded.hosts);
  const uint64_t picks = 100000;
  auto counts = countPicks(lb, {std::nullopt, &random}, picks);
  // The busy host wins only when both samples hit it: 1/4.
  EXPECT_NEAR(share(counts, 1, picks), 0.25, 0.01);
  EXPECT_NEAR(share(counts, 0, picks), 0.75, 0.01);
}

TEST(LeastRequestLoadBalancerTest, IdleHostAmongFiveWinsWhenEitherSampleHitsIt) {
  LoadedHosts loaded({1, 1, 1, 1, 1});
  for (int i = 0; i < 5; ++i) {
    loaded.active[i] = 5;
  }
  loaded.active[3] = 0;
  FastRandom random(11);
  LeastRequestLoadBalancer lb(PolicyConfig{}, loaded.hosts);
  const uint64_t picks = 200000;
  auto counts = countPicks(lb, {std::nullopt, &random}, picks);
  EXPECT_NEAR(share(counts, 3, picks), 1 - 0.8 * 0.8, 0.01);  // 0.36
}

TEST(LeastRequestLoadBalancerTest, ChoiceCountThree) {
  LoadedHosts loaded({1, 1});
  loaded.active[0] = 4;
  PolicyConfig config;
  config.choice_count = 3;
  FastRandom random(3);
  LeastRequestLoadBalancer lb(config, loaded.hosts);
  const uint64_t picks = 100000;
  auto counts = countPicks(lb, {std::nullopt, &random}, picks);
  EXPECT_NEAR(share(counts, 0, picks), 0.125, 0.01);  // all three samples on the busy host
}

TEST(LeastRequestLoadBalancerTest, TiesKeepTheFirstSampleSoEqualLoadIsUniform) {
  LoadedHosts loaded({1, 1, 1, 1});
  for (int i = 0; i < 4; ++i) {
    loaded.active[i] = 2;
  }
  FastRandom random(5);
  LeastRequestLoadBalancer lb(PolicyConfig{}, loaded.hosts);
  const uint64_t picks = 400000;
  auto counts = countPicks(lb, {std::nullopt, &random}, picks);
  for (uint32_t host = 0; host < 4; ++host) {
    EXPECT_NEAR(share(counts, host, picks), 0.25, 0.0025) << host;  // within 1% of the share
  }
}

TEST(LeastRequestLoadBalancerTest, ReadsActiveCountsLiveOnEveryPick) {
  LoadedHosts loaded({1, 1});
  FastRandom random(9);
  LeastRequestLoadBalancer lb(PolicyConfig{}, loaded.hosts);
  loaded.active[0] = 100;
  auto before = countPicks(lb, {std::nullopt, &random}, 10000);
  loaded.active[0] = 0;
  loaded.active[1] = 100;
  auto after = countPicks(lb, {std::nullopt, &random}, 10000);
  EXPECT_GT(before[1], before[0]);
  EXPECT_GT(after[0], after[1]);
}

TEST(LeastRequestLoadBalancerTest, MissingCounterCountsAsIdle) {
  LoadedHosts loaded({1, 1});
  loaded.active[0] = 3;
  loaded.hosts[1].active_requests = nullptr;
  FastRandom random(13);
  LeastRequestLoadBalancer lb(PolicyConfig{}, loaded.hosts);
  const uint64_t picks = 100000;
  auto counts = countPicks(lb, {std::nullopt, &random}, picks);
  EXPECT_NEAR(share(counts, 1, picks), 0.75, 0.01);
}

TEST(LeastRequestLoadBalancerTest, WeightedWithoutLoadFollowsWeightsLikeRoundRobin) {
  LoadedHosts loaded({1, 3});
  LeastRequestLoadBalancer lb(PolicyConfig{}, loaded.hosts);
  std::string sequence;
  for (int i = 0; i < 400; ++i) {
    sequence += char('A' + *lb.chooseHost({}));  // EDF: deterministic, no random
  }
  EXPECT_EQ(sequence.substr(0, 4), "BBAB");
  EXPECT_EQ(sequence.find("AA"), std::string::npos);  // smooth: A's turns never bunch
  EXPECT_EQ(std::count(sequence.begin(), sequence.end(), 'A'), 100);
  auto counts = countPicks(lb, {}, 4000);
  EXPECT_NEAR(double(counts[0]), 1000, 1);  // double deadlines, as Envoy: exact up to rounding
  EXPECT_NEAR(double(counts[1]), 3000, 1);
}

TEST(LeastRequestLoadBalancerTest, WeightedProportionsWithinOnePercent) {
  LoadedHosts loaded({1, 2, 3, 4});
  LeastRequestLoadBalancer lb(PolicyConfig{}, loaded.hosts);
  const uint64_t picks = 100000;
  auto counts = countPicks(lb, {}, picks);
  for (uint32_t host = 0; host < 4; ++host) {
    const double expected = (host + 1) / 10.0;
    EXPECT_NEAR(share(counts, host, picks), expected, expected * 0.01) << host;
  }
}

TEST(LeastRequestLoadBalancerTest, WeightedLoadedHostIsPickedLessButNeverDrained) {
  LoadedHosts loaded({1, 3});
  loaded.active[1] = 5;  // dynamic weight 3 / 6 = 0.5 against 1 / 1
  LeastRequestLoadBalancer lb(PolicyConfig{}, loaded.hosts);
  const uint64_t picks = 30000;
  auto counts = countPicks(lb, {}, picks);
  EXPECT_NEAR(share(counts, 0, picks), 2.0 / 3.0, 0.01);
  EXPECT_NEAR(share(counts, 1, picks), 1.0 / 3.0, 0.01);
}

TEST(LeastRequestLoadBalancerTest, WeightIsTakenWhenTheHostIsRequeued) {
  LoadedHosts loaded({1, 2});
  LeastRequestLoadBalancer lb(PolicyConfig{}, loaded.hosts);
  // Queued at build time with no load: B (deadline 1/2) comes first whatever happens next.
  loaded.active[1] = 1000;
  EXPECT_EQ(lb.chooseHost({}), 1u);
  // Re-queued now with 2 / 1001: A runs until B's far deadline (about 500 picks).
  auto counts = countPicks(lb, {}, 400);
  EXPECT_EQ(counts[0], 400u);
}

TEST(LeastRequestLoadBalancerTest, BiasZeroIgnoresLoad) {
  LoadedHosts loaded({1, 3});
  loaded.active[1] = 100;
  PolicyConfig config;
  config.active_request_bias = 0.0;
  config.active_request_bias_set = true;
  LeastRequestLoadBalancer lb(config, loaded.hosts);
  auto counts = countPicks(lb, {}, 4000);
  EXPECT_EQ(counts[0], 1000u);
  EXPECT_EQ(counts[1], 3000u);
}

TEST(LeastRequestLoadBalancerTest, BiasSetForcesWeightedModeWithEqualWeights) {
  LoadedHosts loaded({1, 1});
  loaded.active[0] = 1;  // weight 1 / 2 against 1 / 1
  PolicyConfig config;
  config.active_request_bias_set = true;  // bias 1.0
  LeastRequestLoadBalancer lb(config, loaded.hosts);
  const uint64_t picks = 30000;
  auto counts = countPicks(lb, {}, picks);  // EDF: no random source needed
  EXPECT_NEAR(share(counts, 1, picks), 2.0 / 3.0, 0.01);
}

TEST(LeastRequestLoadBalancerTest, BiasTwoUsesThePower) {
  LoadedHosts loaded({1, 1});
  loaded.active[0] = 1;  // 1 / 2^2 = 1/4 against 1
  PolicyConfig config;
  config.active_request_bias = 2.0;
  config.active_request_bias_set = true;
  LeastRequestLoadBalancer lb(config, loaded.hosts);
  const uint64_t picks = 50000;
  auto counts = countPicks(lb, {}, picks);
  EXPECT_NEAR(share(counts, 0, picks), 0.2, 0.01);
}

TEST(LeastRequestLoadBalancerTest, NegativeOrNanBiasCountsAsOne) {
  for (double bias : {-1.0, std::numeric_limits<double>::quiet_NaN()}) {
    LoadedHosts loaded({1, 1});
    loaded.active[0] = 1;
    PolicyConfig config;
    config.active_request_bias = bias;
    config.active_request_bias_set = true;
    LeastRequestLoadBalancer lb(config, loaded.hosts);
    const uint64_t picks = 30000;
    auto counts = countPicks(lb, {}, picks);
    EXPECT_NEAR(share(counts, 1, picks), 2.0 / 3.0, 0.01) << bias;
  }
}

TEST(LeastRequestLoadBalancerTest, ChoiceCountBelowTwoCountsAsTwo) {
  LoadedHosts loaded({1, 1});
  loaded.active[1] = 10;
  PolicyConfig config;
  config.choice_count = 0;
  FastRandom random(17);
  LeastRequestLoadBalancer lb(config, loaded.hosts);
  const uint64_t picks = 100000;
  auto counts = countPicks(lb, {std::nullopt, &random}, picks);
  EXPECT_NEAR(share(counts, 1, picks), 0.25, 0.01);
}

TEST(LeastRequestLoadBalancerTest, SameSeedSameSequence) {
  LoadedHosts loaded({1, 1, 1, 1, 1});
  LeastRequestLoadBalancer lb(PolicyConfig{}, loaded.hosts);
  FastRandom a(99);
  FastRandom b(99);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(lb.chooseHost({std::nullopt, &a}), lb.chooseHost({std::nullopt, &b}));
  }
}

}  // namespace
}  // namespace vallum::upstream::lb
