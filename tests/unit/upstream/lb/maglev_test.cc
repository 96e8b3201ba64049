#include "upstream/lb/maglev.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/random.h"
#include "unit/upstream/lb/lb_test_hosts.h"
#include "upstream/lb/hash.h"

namespace vallum::upstream::lb {
namespace {

using testing::makeEqualHosts;
using testing::makeHosts;

PolicyConfig maglevConfig(uint64_t table_size) {
  PolicyConfig config;
  config.table_size = table_size;
  return config;
}

// The table as port numbers (hosts numbered from `base`).
std::vector<uint32_t> tableOf(const MaglevLoadBalancer& lb, uint32_t base) {
  std::vector<uint32_t> table = lb.tableForTest();
  for (uint32_t& entry : table) {
    entry += base;
  }
  return table;
}

TEST(MaglevLoadBalancerTest, EmptyHostSetPicksNothing) {
  FastRandom random(1);
  MaglevLoadBalancer lb(PolicyConfig{}, {});
  EXPECT_EQ(lb.chooseHost({uint64_t{5}, &random}), std::nullopt);
  EXPECT_EQ(lb.chooseHost({std::nullopt, &random}), std::nullopt);
  EXPECT_TRUE(lb.tableForTest().empty());
}

TEST(MaglevLoadBalancerTest, SingleHostAlwaysPicked) {
  auto hosts = makeHosts({2});
  hosts[0].index = 6;
  MaglevLoadBalancer lb(PolicyConfig{}, hosts);
  EXPECT_EQ(lb.chooseHost({uint64_t{12345}, nullptr}), 6u);
  EXPECT_EQ(lb.chooseHost({}), 6u);  // no random needed
}

// The vectors of Envoy's maglev_lb_test.cc.
TEST(MaglevLoadBalancerTest, EnvoyBasicVector) {
  MaglevLoadBalancer lb(maglevConfig(7), makeEqualHosts(6, 90));
  const std::vector<uint32_t> expected{92, 94, 90, 91, 95, 90, 93};
  EXPECT_EQ(tableOf(lb, 90), expected);
  for (uint64_t hash = 0; hash < 30; ++hash) {
    EXPECT_EQ(lb.chooseHost({hash, nullptr}), expected[hash % 7] - 90) << hash;
  }
  for (uint32_t host = 0; host < 6; ++host) {
    const auto entries = std::count(expected.begin(), expected.end(), 90 + host);
    EXPECT_GE(entries, 1);
    EXPECT_LE(entries, 2);
  }
}

TEST(MaglevLoadBalancerTest, EnvoyRetryVectorViaTheXoredHash) {
  // Retries are not part of LbContext yet; Envoy's attempt k looks up hash ^ (2^64 - k).
  MaglevLoadBalancer lb(maglevConfig(7), makeEqualHosts(6, 90));
  const uint64_t hash = 10;
  EXPECT_EQ(lb.chooseHost({hash, nullptr}), 91u - 90);                      // slot 3
  EXPECT_EQ(lb.chooseHost({hash ^ (0 - uint64_t{1}), nullptr}), 90u - 90);  // second attempt
  EXPECT_EQ(lb.chooseHost({hash ^ (0 - uint64_t{2}), nullptr}), 95u - 90);  // third attempt
}

TEST(MaglevLoadBalancerTest, HostOrderDoesNotMatter) {
  auto hosts = makeEqualHosts(6, 90);
  MaglevLoadBalancer sorted(maglevConfig(7), hosts);
  std::reverse(hosts.begin(), hosts.end());
  std::swap(hosts[1], hosts[4]);
  MaglevLoadBalancer shuffled(maglevConfig(7), hosts);
  EXPECT_EQ(sorted.tableForTest(), shuffled.tableForTest());  // same LbHost::index per slot
}

TEST(MaglevLoadBalancerTest, EnvoyHostnameVector) {
  auto hosts = makeEqualHosts(6, 90);
  for (size_t i = 0; i < hosts.size(); ++i) {
    hosts[i].hash_key = std::to_string(90 + i);
  }
  MaglevLoadBalancer lb(maglevConfig(7), hosts);
  EXPECT_EQ(tableOf(lb, 90), (std::vector<uint32_t>{92, 95, 90, 93, 94, 91, 90}));
}

TEST(MaglevLoadBalancerTest, EnvoyWeightedVector) {
  MaglevLoadBalancer lb(maglevConfig(17), makeHosts({1, 2}, 90));
  const std::vector<uint32_t> expected{91, 90, 90, 91, 90, 91, 91, 90, 91,
                                       91, 91, 91, 91, 90, 91, 90, 91};
  EXPECT_EQ(tableOf(lb, 90), expected);
  EXPECT_EQ(std::count(expected.begin(), expected.end(), 90u), 6);
}

TEST(MaglevLoadBalancerTest, EnvoyLocalityWeightedVectorAsEqualWeights) {
  // Envoy's locality-weighted case (one host per zone, zone weights 1:1, host weights ignored)
  // normalizes both hosts to 0.5: the same table as equal host weights.
  MaglevLoadBalancer lb(maglevConfig(17), makeEqualHosts(2, 90));
  const std::vector<uint32_t> expected{91, 90, 90, 91, 90, 91, 91, 90, 90,
                                       91, 90, 91, 90, 90, 91, 90, 91};
  EXPECT_EQ(tableOf(lb, 90), expected);
}

TEST(MaglevLoadBalancerTest, SlotsAreDerivedFromXxHashOffsetAndSkip) {
  // One host claims every slot, starting at its offset and stepping by its skip.
  MaglevLoadBalancer lb(maglevConfig(7), makeEqualHosts(2, 90));
  const auto table = lb.tableForTest();
  const uint64_t offset90 = xxHash64("127.0.0.1:90", 0) % 7;
  const uint64_t offset91 = xxHash64("127.0.0.1:91", 0) % 7;
  EXPECT_EQ(table[offset90], 0u);
  if (offset91 != offset90) {
    EXPECT_EQ(table[offset91], 1u);
  }
}

TEST(MaglevLoadBalancerTest, WithoutHashUsesOneRandomNumber) {
  MaglevLoadBalancer lb(PolicyConfig{}, makeEqualHosts(5));
  FastRandom random(31);
  for (int i = 0; i < 100; ++i) {
    FastRandom copy = random;
    const uint64_t drawn = copy.next();
    EXPECT_EQ(lb.chooseHost({std::nullopt, &random}), lb.chooseHost({drawn, nullptr}));
  }
}

TEST(MaglevLoadBalancerTest, DefaultTableSharesMatchWeightsWithinOnePercent) {
  MaglevLoadBalancer lb(PolicyConfig{}, makeHosts({1, 2, 3, 4}));
  const auto table = lb.tableForTest();
  ASSERT_EQ(table.size(), 65537u);
  for (uint32_t host = 0; host < 4; ++host) {
    const double expected = (host + 1) / 10.0;
    const double share = double(std::count(table.begin(), table.end(), host)) / 65537.0;
    EXPECT_NEAR(share, expected, expected * 0.01) << host;
  }
}

std::vector<uint64_t> requestHashes(size_t count) {
  std::vector<uint64_t> keys;
  for (size_t i = 0; i < count; ++i) {
    keys.push_back(xxHash64("10.0.0." + std::to_string(i)));
  }
  return keys;
}

std::vector<uint32_t> mapKeys(MaglevLoadBalancer& lb, const std::vector<uint64_t>& keys) {
  std::vector<uint32_t> owners;
  for (uint64_t key : keys) {
    owners.push_back(*lb.chooseHost({key, nullptr}));
  }
  return owners;
}

TEST(MaglevLoadBalancerTest, SameKeySameHostAcrossInstances) {
  const auto keys = requestHashes(10000);
  MaglevLoadBalancer a(PolicyConfig{}, makeEqualHosts(5));
  MaglevLoadBalancer b(PolicyConfig{}, makeEqualHosts(5));
  EXPECT_EQ(mapKeys(a, keys), mapKeys(b, keys));
  EXPECT_EQ(mapKeys(a, keys), mapKeys(a, keys));
}

TEST(MaglevLoadBalancerTest, RemovingOneOfFiveHostsMovesUnder25PercentOfKeys) {
  const auto keys = requestHashes(10000);
  auto hosts = makeEqualHosts(5);
  MaglevLoadBalancer before(PolicyConfig{}, hosts);
  hosts.erase(hosts.begin() + 2);  // indices stay those of the cluster: 0, 1, 3, 4
  MaglevLoadBalancer after(PolicyConfig{}, hosts);
  const auto old_owners = mapKeys(before, keys);
  const auto new_owners = mapKeys(after, keys);
  size_t moved = 0;
  size_t on_removed = 0;
  size_t survivors_moved = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_NE(new_owners[i], 2u);
    moved += old_owners[i] != new_owners[i];
    if (old_owners[i] == 2) {
      ++on_removed;
    } else {
      survivors_moved += old_owners[i] != new_owners[i];
    }
  }
  EXPECT_LT(moved, 2500u);  // Envoy's construction moves about 20%
  EXPECT_GT(on_removed, 1500u);
  // Maglev trades a little disruption for balance: a few survivor keys move.
  EXPECT_LT(survivors_moved, (keys.size() - on_removed) / 50);
  RecordProperty("moved", int(moved));
  RecordProperty("survivors_moved", int(survivors_moved));
}

TEST(MaglevLoadBalancerTest, InvalidTableSizeFallsBackToTheDefault) {
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{65536}, uint64_t{5000012}}) {
    MaglevLoadBalancer lb(maglevConfig(size), makeEqualHosts(3));
    EXPECT_EQ(lb.tableForTest().size(), 65537u) << size;
  }
}

TEST(MaglevLoadBalancerTest, WideTableForMoreThan65535Hosts) {
  const size_t count = 70000;
  std::vector<LbHost> hosts;
  hosts.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    LbHost host;
    host.index = uint32_t(i);
    host.hash_key = "10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
                    std::to_string(i % 256) + ":80";
    hosts.push_back(std::move(host));
  }
  MaglevLoadBalancer lb(maglevConfig(131071), hosts);
  const auto table = lb.tableForTest();
  ASSERT_EQ(table.size(), 131071u);
  std::vector<uint32_t> per_host(count);
  for (uint32_t index : table) {
    ASSERT_LT(index, count);
    ++per_host[index];
  }
  EXPECT_EQ(*std::min_element(per_host.begin(), per_host.end()), 1u);
  EXPECT_EQ(*std::max_element(per_host.begin(), per_host.end()), 2u);
  EXPECT_EQ(lb.chooseHost({uint64_t{131071 + 5}, nullptr}), table[5]);
}

}  // namespace
}  // namespace vallum::upstream::lb
