#include "upstream/lb/round_robin.h"

#include <map>
#include <string>

#include <gtest/gtest.h>

namespace vallum::upstream::lb {
namespace {

Cluster makeCluster(std::vector<uint32_t> weights) {
  Cluster c;
  c.weighted = true;
  for (uint32_t w : weights) {
    Endpoint ep;
    ep.weight = w;
    c.endpoints.push_back(ep);
  }
  return c;
}

TEST(RoundRobinLoadBalancerTest, EqualWeightsCycle) {
  RoundRobinLoadBalancer lb(makeCluster({1, 1, 1}), 0);
  std::string seq;
  for (int i = 0; i < 6; ++i) {
    seq += char('A' + lb.pick());
  }
  EXPECT_EQ(seq, "ABCABC");
}

TEST(RoundRobinLoadBalancerTest, StartOffsetsTheCycle) {
  RoundRobinLoadBalancer lb(makeCluster({1, 1, 1}), 4);
  EXPECT_EQ(lb.pick(), 1u);
}

TEST(RoundRobinLoadBalancerTest, SmoothInterleavingForOneToThree) {
  RoundRobinLoadBalancer lb(makeCluster({1, 3}), 0);
  std::string seq;
  for (int i = 0; i < 8; ++i) {
    seq += char('A' + lb.pick());
  }
  EXPECT_EQ(seq, "BABBBABB");  // never "ABBB": the heavy endpoint's turns are spread out
}

TEST(RoundRobinLoadBalancerTest, ProportionsMatchWeightsExactlyPerPeriod) {
  RoundRobinLoadBalancer lb(makeCluster({10, 20, 30}), 7);
  std::map<uint32_t, int> counts;
  for (int i = 0; i < 6000; ++i) {
    ++counts[lb.pick()];
  }
  EXPECT_EQ(counts[0], 1000);
  EXPECT_EQ(counts[1], 2000);
  EXPECT_EQ(counts[2], 3000);
}

TEST(RoundRobinLoadBalancerTest, SingleEndpoint) {
  RoundRobinLoadBalancer lb(makeCluster({5}), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(lb.pick(), 0u);
  }
}

}  // namespace
}  // namespace vallum::upstream::lb
