#include "upstream/lb/weighted_round_robin.h"

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/random.h"
#include "unit/upstream/lb/lb_test_hosts.h"

namespace vallum::upstream::lb {
namespace {

using testing::countPicks;
using testing::makeEqualHosts;
using testing::makeHosts;

// Envoy's EdfScheduler from an empty start, step by step and in exact arithmetic: every host
// queued at time 0 in vector order; a pick pops the smallest deadline (FIFO on ties) and
// re-queues the host at deadline + 1/w. Deadlines are turn / w, compared as cross products.
std::vector<uint32_t> referenceEdf(const std::vector<uint32_t>& weights, size_t picks) {
  struct Entry {
    uint64_t turn;
    uint64_t weight;
    uint64_t order;
    uint32_t host;
  };
  std::vector<Entry> queue;
  uint64_t order = 0;
  for (uint32_t i = 0; i < weights.size(); ++i) {
    queue.push_back(Entry{1, weights[i], order++, i});
  }
  std::vector<uint32_t> sequence;
  for (size_t pick = 0; pick < picks; ++pick) {
    auto best = std::min_element(queue.begin(), queue.end(), [](const Entry& a, const Entry& b) {
      const uint64_t lhs = a.turn * b.weight;
      const uint64_t rhs = b.turn * a.weight;
      return lhs != rhs ? lhs < rhs : a.order < b.order;
    });
    sequence.push_back(best->host);
    ++best->turn;
    best->order = order++;
  }
  return sequence;
}

std::string letters(WeightedRoundRobinLoadBalancer& lb, int picks) {
  std::string sequence;
  for (int i = 0; i < picks; ++i) {
    sequence += char('A' + *lb.chooseHost({}));
  }
  return sequence;
}

TEST(WeightedRoundRobinLoadBalancerTest, EmptyHostSetPicksNothing) {
  WeightedRoundRobinLoadBalancer lb({}, 7);
  EXPECT_EQ(lb.chooseHost({}), std::nullopt);
}

TEST(WeightedRoundRobinLoadBalancerTest, SingleHostAlwaysPicked) {
  auto hosts = makeHosts({5});
  hosts[0].index = 42;
  WeightedRoundRobinLoadBalancer lb(hosts, 3);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(lb.chooseHost({}), 42u);
  }
}

TEST(WeightedRoundRobinLoadBalancerTest, EqualWeightsCycleFromSeed) {
  auto hosts = makeEqualHosts(3);
  for (size_t i = 0; i < hosts.size(); ++i) {
    hosts[i].index = uint32_t(10 + i);
    hosts[i].weight = 4;  // equal, not necessarily 1
  }
  WeightedRoundRobinLoadBalancer lb(hosts, 4);  // 4 % 3 = 1: starts at the second host
  std::vector<uint32_t> picks;
  for (int i = 0; i < 7; ++i) {
    picks.push_back(*lb.chooseHost({}));
  }
  EXPECT_EQ(picks, (std::vector<uint32_t>{11, 12, 10, 11, 12, 10, 11}));
}

TEST(WeightedRoundRobinLoadBalancerTest, SmoothInterleavingForOneToThree) {
  WeightedRoundRobinLoadBalancer from_start(makeHosts({1, 3}), 0);
  EXPECT_EQ(letters(from_start, 8), "BBABBBAB");  // Envoy's EDF order; never A B B B
  for (uint64_t seed = 0; seed < 64; ++seed) {
    WeightedRoundRobinLoadBalancer lb(makeHosts({1, 3}), seed);
    const std::string sequence = letters(lb, 400);
    // Every window of one period holds exactly one A: A's turns are spread out, never bunched.
    for (size_t start = 0; start + 4 <= sequence.size(); ++start) {
      ASSERT_EQ(std::count(sequence.begin() + long(start), sequence.begin() + long(start) + 4, 'A'),
                1)
          << "seed " << seed << " at " << start << ": " << sequence.substr(start, 4);
    }
  }
}

TEST(WeightedRoundRobinLoadBalancerTest, ThreeToOneNeverBunchesTheHeavyHostsRival) {
  // Weights 3:1 with the heavy host first: B is spread out too.
  WeightedRoundRobinLoadBalancer lb(makeHosts({3, 1}), 0);
  EXPECT_EQ(letters(lb, 8), "AABAAABA");
}

TEST(WeightedRoundRobinLoadBalancerTest, MatchesEnvoyEdfSequenceFromAnySeed) {
  // The seeded start equals "seed % W picks already made" of the step-by-step scheduler.
  FastRandom random(2024);
  for (int round = 0; round < 200; ++round) {
    const size_t n = 2 + random.uniform(6);
    std::vector<uint32_t> weights;
    uint64_t total = 0;
    for (size_t i = 0; i < n; ++i) {
      weights.push_back(uint32_t(1 + random.uniform(round % 2 == 0 ? 4 : 40)));
      total += weights.back();
    }
    if (std::all_of(weights.begin(), weights.end(), [&](uint32_t w) { return w == weights[0]; })) {
      continue;  // the cursor path
    }
    const uint64_t seed = random.next();
    const size_t skip = size_t(seed % total);
    const std::vector<uint32_t> reference = referenceEdf(weights, skip + 3 * total);
    // Both ways: the precomputed period and the heap (max_period_table 0).
    WeightedRoundRobinLoadBalancer table(makeHosts(weights), seed);
    WeightedRoundRobinLoadBalancer heap(makeHosts(weights), seed, 0);
    for (size_t i = skip; i < reference.size(); ++i) {
      ASSERT_EQ(table.chooseHost({}), reference[i]) << "round " << round << " pick " << i - skip;
      ASSERT_EQ(heap.chooseHost({}), reference[i]) << "round " << round << " pick " << i - skip;
    }
  }
}

TEST(WeightedRoundRobinLoadBalancerTest, ProportionsMatchWeightsExactlyPerPeriod) {
  for (uint64_t max_period_table : {uint64_t{8192}, uint64_t{0}}) {
    for (uint64_t seed : {0ULL, 1ULL, 7ULL, 59ULL, 12345678901ULL}) {
      WeightedRoundRobinLoadBalancer lb(makeHosts({10, 20, 30}), seed, max_period_table);
      auto counts = countPicks(lb, {}, 6000);
      EXPECT_EQ(counts[0], 1000u);
      EXPECT_EQ(counts[1], 2000u);
      EXPECT_EQ(counts[2], 3000u);
    }
  }
}

TEST(WeightedRoundRobinLoadBalancerTest, ProportionsWithinOnePercentOverManyHosts) {
  // 500 hosts of weights 1..4 (W = 1250): 100,000 picks, each host within 1% of its share.
  std::vector<uint32_t> weights;
  for (int i = 0; i < 500; ++i) {
    weights.push_back(uint32_t(1 + i % 4));
  }
  WeightedRoundRobinLoadBalancer lb(makeHosts(weights), 99);
  auto counts = countPicks(lb, {}, 100000);
  for (uint32_t host = 0; host < 500; ++host) {
    const double expected = 100000.0 * weights[host] / 1250;
    EXPECT_NEAR(double(counts[host]), expected, expected * 0.01) << host;
  }
}

TEST(WeightedRoundRobinLoadBalancerTest, EveryWindowOfOnePeriodHoldsEachWeightExactly) {
  const std::vector<uint32_t> weights{1, 2, 3, 5, 5, 8};
  const uint64_t period = 24;
  for (uint64_t seed = 0; seed < 2 * period; ++seed) {
    // Seeds below `period` use the precomputed period, the others the heap.
    WeightedRoundRobinLoadBalancer lb(makeHosts(weights), seed, seed < period ? 8192 : 0);
    std::vector<uint32_t> sequence;
    for (uint64_t i = 0; i < 3 * period; ++i) {
      sequence.push_back(*lb.chooseHost({}));
    }
    for (size_t start = 0; start + period <= sequence.size(); ++start) {
      for (uint32_t host = 0; host < weights.size(); ++host) {
        ASSERT_EQ(std::count(sequence.begin() + long(start),
                             sequence.begin() + long(start + period), host),
                  weights[host])
            << "seed " << seed << " window " << start << " host " << host;
      }
    }
  }
}

TEST(WeightedRoundRobinLoadBalancerTest, SeedsStartWorkersAtDifferentHosts) {
  std::vector<uint32_t> firsts;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    WeightedRoundRobinLoadBalancer lb(makeHosts({1, 2, 3}), seed);
    firsts.push_back(*lb.chooseHost({}));
  }
  EXPECT_GT(std::count(firsts.begin(), firsts.end(), 0u), 0);
  EXPECT_GT(std::count(firsts.begin(), firsts.end(), 1u), 0);
  EXPECT_GT(std::count(firsts.begin(), firsts.end(), 2u), 0);
}

TEST(WeightedRoundRobinLoadBalancerTest, HugeWeightsAndSeedBuildWithoutReplaying) {
  // seed % W is about 10^9 pre-picks: computed in closed form, not replayed.
  WeightedRoundRobinLoadBalancer lb(makeHosts({1000000000, 3000000000u}), ~0ULL);
  auto counts = countPicks(lb, {}, 4000);
  EXPECT_EQ(counts[0], 1000u);
  EXPECT_EQ(counts[1], 3000u);
}

TEST(WeightedRoundRobinLoadBalancerTest, ReturnsTheHostIndexNotThePosition) {
  auto hosts = makeHosts({1, 3});
  hosts[0].index = 7;
  hosts[1].index = 3;
  WeightedRoundRobinLoadBalancer lb(hosts, 0);
  auto counts = countPicks(lb, {}, 400);
  EXPECT_EQ(counts[7], 100u);
  EXPECT_EQ(counts[3], 300u);
  EXPECT_EQ(counts.size(), 2u);
}

TEST(WeightedRoundRobinLoadBalancerTest, ZeroWeightCountsAsOne) {
  WeightedRoundRobinLoadBalancer lb(makeHosts({0, 1, 2}), 0);
  auto counts = countPicks(lb, {}, 400);
  EXPECT_EQ(counts[0], 100u);
  EXPECT_EQ(counts[1], 100u);
  EXPECT_EQ(counts[2], 200u);
}

}  // namespace
}  // namespace vallum::upstream::lb
