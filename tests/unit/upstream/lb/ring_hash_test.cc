#include "upstream/lb/ring_hash.h"

#include <algorithm>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/random.h"
#include "unit/upstream/lb/lb_test_hosts.h"
#include "upstream/lb/hash.h"

namespace vallum::upstream::lb {
namespace {

using testing::makeEqualHosts;
using testing::makeHosts;

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

PolicyConfig ringConfig(uint64_t minimum, uint64_t maximum = 8388608,
                        PolicyConfig::HashFunction function = PolicyConfig::HashFunction::XxHash) {
  PolicyConfig config;
  config.minimum_ring_size = minimum;
  config.maximum_ring_size = maximum;
  config.hash_function = function;
  return config;
}

// (port or hostname number, hash) per ring entry, in ring order; hosts are numbered from `base`.
std::vector<std::pair<uint32_t, uint64_t>> ringOf(const RingHashLoadBalancer& lb, uint32_t base) {
  std::vector<std::pair<uint32_t, uint64_t>> ring;
  for (size_t i = 0; i < lb.ringHashesForTest().size(); ++i) {
    ring.emplace_back(base + lb.ringHostsForTest()[i], lb.ringHashesForTest()[i]);
  }
  return ring;
}

std::optional<uint32_t> pickHash(RingHashLoadBalancer& lb, uint64_t hash) {
  return lb.chooseHost({hash, nullptr});
}

TEST(RingHashLoadBalancerTest, EmptyHostSetPicksNothing) {
  FastRandom random(1);
  RingHashLoadBalancer lb(PolicyConfig{}, {});
  EXPECT_EQ(lb.chooseHost({uint64_t{5}, &random}), std::nullopt);
  EXPECT_EQ(lb.chooseHost({std::nullopt, &random}), std::nullopt);
}

TEST(RingHashLoadBalancerTest, SingleHostOwnsTheWholeRing) {
  auto hosts = makeHosts({3});
  hosts[0].index = 4;
  RingHashLoadBalancer lb(PolicyConfig{}, hosts);
  EXPECT_EQ(lb.ringHashesForTest().size(), 1024u);
  for (uint64_t hash : {uint64_t{0}, uint64_t{1} << 40, kMax}) {
    EXPECT_EQ(pickHash(lb, hash), 4u);
  }
}

// The vector of Envoy's ring_hash_lb_test.cc "Basic".
TEST(RingHashLoadBalancerTest, EnvoyBasicVectorRing) {
  RingHashLoadBalancer lb(ringConfig(12), makeEqualHosts(6, 90));
  const std::vector<std::pair<uint32_t, uint64_t>> expected{
      {94, 833437586790550860ULL},   {92, 928266305478181108ULL},   {90, 1033482794131418490ULL},
      {95, 3551244743356806947ULL},  {93, 3851675632748031481ULL},  {91, 5583722120771150861ULL},
      {91, 6311230543546372928ULL},  {93, 7700377290971790572ULL},  {95, 13144177310400110813ULL},
      {92, 13444792449719432967ULL}, {94, 15516499411664133160ULL}, {90, 16117243373044804889ULL}};
  EXPECT_EQ(ringOf(lb, 90), expected);
}

TEST(RingHashLoadBalancerTest, EnvoyBasicVectorPicks) {
  RingHashLoadBalancer lb(ringConfig(12), makeEqualHosts(6, 90));
  EXPECT_EQ(pickHash(lb, 0), 94u - 90);
  EXPECT_EQ(pickHash(lb, kMax), 94u - 90);                    // past the last entry: wraps
  EXPECT_EQ(pickHash(lb, 3551244743356806947ULL), 95u - 90);  // exact match picks that entry
  EXPECT_EQ(pickHash(lb, 3551244743356806948ULL), 93u - 90);
  EXPECT_EQ(pickHash(lb, 16117243373044804880ULL), 90u - 90);  // Envoy: random() returned this
  EXPECT_EQ(pickHash(lb, 16117243373044804889ULL), 90u - 90);
  EXPECT_EQ(pickHash(lb, 16117243373044804890ULL), 94u - 90);
}

TEST(RingHashLoadBalancerTest, WithoutHashUsesOneRandomNumber) {
  RingHashLoadBalancer lb(ringConfig(12), makeEqualHosts(6, 90));
  FastRandom random(31);
  for (int i = 0; i < 100; ++i) {
    FastRandom copy = random;
    const uint64_t drawn = copy.next();
    EXPECT_EQ(lb.chooseHost({std::nullopt, &random}), pickHash(lb, drawn));
  }
}

TEST(RingHashLoadBalancerTest, EnvoyBasicWithMurmur2Vector) {
  RingHashLoadBalancer lb(ringConfig(12, 8388608, PolicyConfig::HashFunction::MurmurHash2),
                          makeEqualHosts(6, 80));
  const std::vector<std::pair<uint32_t, uint64_t>> expected{
      {85, 1358027074129602068ULL},  {83, 4361834613929391114ULL},  {84, 7224494972555149682ULL},
      {81, 7701421856454313576ULL},  {82, 8649315368077433379ULL},  {84, 8739448859063030639ULL},
      {81, 9887544217113020895ULL},  {82, 10150910876324007731ULL}, {83, 15168472011420622455ULL},
      {80, 15427156902705414897ULL}, {85, 16375050414328759093ULL}, {80, 17613279263364193813ULL}};
  EXPECT_EQ(ringOf(lb, 80), expected);
  EXPECT_EQ(pickHash(lb, 0), 85u - 80);
  EXPECT_EQ(pickHash(lb, kMax), 85u - 80);
  EXPECT_EQ(pickHash(lb, 1358027074129602068ULL), 85u - 80);
  EXPECT_EQ(pickHash(lb, 1358027074129602069ULL), 83u - 80);
  EXPECT_EQ(pickHash(lb, 10150910876324007730ULL), 82u - 80);
}

TEST(RingHashLoadBalancerTest, EnvoyHostnameVector) {
  // use_hostname_for_hashing with hostnames "90".."95": the hash key is the hostname.
  auto hosts = makeEqualHosts(6, 90);
  for (size_t i = 0; i < hosts.size(); ++i) {
    hosts[i].hash_key = std::to_string(90 + i);
  }
  RingHashLoadBalancer lb(ringConfig(12), hosts);
  const std::vector<std::pair<uint32_t, uint64_t>> expected{
      {95, 1975508444536362413ULL},  {95, 2376063919839173711ULL},  {93, 2386806903309390596ULL},
      {94, 6749904478991551885ULL},  {93, 6803900775736438537ULL},  {92, 7225015537174310577ULL},
      {90, 8787465352164086522ULL},  {92, 11282020843382717940ULL}, {91, 13723418369486627818ULL},
      {90, 13776502110861797421ULL}, {91, 14338313586354474791ULL}, {94, 15364271037087512980ULL}};
  EXPECT_EQ(ringOf(lb, 90), expected);
}

TEST(RingHashLoadBalancerTest, EntriesAreKeyUnderscoreOrdinalHashes) {
  RingHashLoadBalancer lb(ringConfig(4), makeEqualHosts(2, 90));
  std::vector<uint64_t> expected{xxHash64("127.0.0.1:90_0"), xxHash64("127.0.0.1:90_1"),
                                 xxHash64("127.0.0.1:91_0"), xxHash64("127.0.0.1:91_1")};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(lb.ringHashesForTest(), expected);
}

TEST(RingHashLoadBalancerTest, DefaultRingSizeGivesTheLightestHostWholeEntries) {
  // min_w = 0.2: ceil(0.2 * 1024) / 0.2 = 1025 entries, 205 per host.
  RingHashLoadBalancer lb(PolicyConfig{}, makeEqualHosts(5));
  ASSERT_EQ(lb.ringHashesForTest().size(), 1025u);
  for (uint32_t host = 0; host < 5; ++host) {
    EXPECT_EQ(std::count(lb.ringHostsForTest().begin(), lb.ringHostsForTest().end(), host), 205);
  }
}

TEST(RingHashLoadBalancerTest, EntriesProportionalToWeights) {
  RingHashLoadBalancer lb(ringConfig(12), makeHosts({1, 2}));
  const auto& owners = lb.ringHostsForTest();
  ASSERT_EQ(owners.size(), 12u);
  EXPECT_EQ(std::count(owners.begin(), owners.end(), 0u), 4);
  EXPECT_EQ(std::count(owners.begin(), owners.end(), 1u), 8);
}

TEST(RingHashLoadBalancerTest, MaximumRingSizeCapsTheRing) {
  // Unconstrained the ring would need 100001 entries to give the light host one.
  RingHashLoadBalancer lb(ringConfig(1024, 50000), makeHosts({1, 100000}));
  const auto& owners = lb.ringHostsForTest();
  ASSERT_EQ(owners.size(), 50000u);
  EXPECT_EQ(std::count(owners.begin(), owners.end(), 0u), 1);  // fractional share rounds up
}

TEST(RingHashLoadBalancerTest, WeightedKeySharesWithinOnePercent) {
  // Ring placement is pseudo-random; a big ring keeps each host's arc close to its weight.
  RingHashLoadBalancer lb(ringConfig(200000), makeHosts({1, 2, 3, 4}));
  const uint64_t keys = 1000000;
  uint64_t counts[4] = {};
  FastRandom random(12);
  for (uint64_t i = 0; i < keys; ++i) {
    ++counts[*lb.chooseHost({random.next(), nullptr})];
  }
  for (uint32_t host = 0; host < 4; ++host) {
    const double expected = (host + 1) / 10.0;
    EXPECT_NEAR(double(counts[host]) / keys, expected, expected * 0.01) << host;
  }
}

std::vector<uint32_t> mapKeys(RingHashLoadBalancer& lb, const std::vector<uint64_t>& keys) {
  std::vector<uint32_t> owners;
  for (uint64_t key : keys) {
    owners.push_back(*lb.chooseHost({key, nullptr}));
  }
  return owners;
}

std::vector<uint64_t> requestHashes(size_t count) {
  std::vector<uint64_t> keys;
  for (size_t i = 0; i < count; ++i) {
    keys.push_back(xxHash64("10.0.0." + std::to_string(i)));  // as if hashed client IPs
  }
  return keys;
}

TEST(RingHashLoadBalancerTest, SameKeySameHostAcrossInstances) {
  const auto keys = requestHashes(10000);
  RingHashLoadBalancer a(PolicyConfig{}, makeEqualHosts(5));
  RingHashLoadBalancer b(PolicyConfig{}, makeEqualHosts(5));
  EXPECT_EQ(mapKeys(a, keys), mapKeys(b, keys));
  EXPECT_EQ(mapKeys(a, keys), mapKeys(a, keys));
}

TEST(RingHashLoadBalancerTest, RemovingOneOfFiveHostsMovesUnder35PercentOfKeys) {
  const auto keys = requestHashes(10000);
  auto hosts = makeEqualHosts(5);
  RingHashLoadBalancer before(PolicyConfig{}, hosts);
  hosts.erase(hosts.begin() + 2);  // indices stay those of the cluster: 0, 1, 3, 4
  RingHashLoadBalancer after(PolicyConfig{}, hosts);
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
  EXPECT_LT(moved, 3500u);  // Envoy's construction moves about 30%
  EXPECT_GT(on_removed, 1500u);
  // Keys of surviving hosts move only because every survivor gains ring entries (the ring is
  // re-scaled: 205 → 256 entries per host); most of them stay.
  EXPECT_LT(survivors_moved, (keys.size() - on_removed) / 5);
  RecordProperty("moved", int(moved));
  RecordProperty("survivors_moved", int(survivors_moved));
}

TEST(RingHashLoadBalancerTest, SurvivorsKeepTheirKeysWhenTheirEntriesAreUnchanged) {
  // With 205 entries per host before (1024 / 5 hosts) and after (820 / 4 hosts) the new ring is
  // the old one minus the removed host's entries: only that host's keys move.
  const auto keys = requestHashes(10000);
  auto hosts = makeEqualHosts(5);
  RingHashLoadBalancer before(ringConfig(1024), hosts);
  hosts.erase(hosts.begin() + 2);
  RingHashLoadBalancer after(ringConfig(820), hosts);
  ASSERT_EQ(after.ringHashesForTest().size(), 820u);
  const auto old_owners = mapKeys(before, keys);
  const auto new_owners = mapKeys(after, keys);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (old_owners[i] != 2) {
      ASSERT_EQ(new_owners[i], old_owners[i]) << "key " << i;
    }
  }
}

TEST(RingHashLoadBalancerTest, HostOrderOnlyShiftsFractionalShares) {
  // With equal weights each host's entries do not depend on the order of the vector.
  const auto keys = requestHashes(2000);
  auto hosts = makeEqualHosts(5);
  RingHashLoadBalancer forward(PolicyConfig{}, hosts);
  std::reverse(hosts.begin(), hosts.end());
  RingHashLoadBalancer backward(PolicyConfig{}, hosts);
  EXPECT_EQ(mapKeys(forward, keys), mapKeys(backward, keys));
}

TEST(RingHashLoadBalancerTest, InvalidSizesAreClamped) {
  RingHashLoadBalancer lb(ringConfig(100, 10), makeEqualHosts(2));
  EXPECT_EQ(lb.ringHashesForTest().size(), 10u);
  RingHashLoadBalancer zero(ringConfig(0), makeEqualHosts(2));
  EXPECT_EQ(zero.ringHashesForTest().size(), 2u);
}

}  // namespace
}  // namespace vallum::upstream::lb
