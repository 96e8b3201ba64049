#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "upstream/lb/load_balancer.h"

namespace vallum::upstream::lb {

/// RING_HASH: Envoy's ketama-style consistent-hash ring (Envoy's ring_hash load balancer).
///
/// Construction (once per host-set change, may allocate): weights normalized to sum 1;
/// scale = min(ceil(min_w * minimum_ring_size) / min_w, maximum_ring_size), ring size =
/// ceil(scale); walking the hosts in vector order with running totals, host i emits entries
/// H("<hash_key>_<j>") for j = 0, 1, ... while the running count is below the running target
/// (fractional shares carry over); entries are sorted by hash (stable). H is XXH64 with seed 0,
/// or libstdc++'s MurmurHash2 with seed 0xc70f6907 for MURMUR_HASH_2.
///
/// Lookup: the first entry whose hash is >= the request hash, wrapping to the first entry past
/// the end (a branchless binary search over a flat array of hashes). Without a request hash
/// the pick uses one number from `context.random`, as Envoy does. A pick never allocates.
class RingHashLoadBalancer final : public LoadBalancer {
 public:
  /// `config` should have passed validatePolicyConfig(); otherwise minimum_ring_size is
  /// clamped into [1, maximum_ring_size]. `hosts` as for createLoadBalancer().
  RingHashLoadBalancer(const PolicyConfig& config, const std::vector<LbHost>& hosts);

  // upstream::lb::LoadBalancer
  /// Uses `context.hash`, else `context.random` (then required). Called on the owning worker
  /// only.
  std::optional<uint32_t> chooseHost(const LbContext& context) override;

  /// The sorted ring: entry hashes and the LbHost::index of each entry.
  const std::vector<uint64_t>& ringHashesForTest() const { return hashes_; }
  const std::vector<uint32_t>& ringHostsForTest() const { return hosts_; }

 private:
  std::vector<uint64_t> hashes_;  ///< sorted ascending
  std::vector<uint32_t> hosts_;   ///< LbHost::index, parallel to hashes_
};

}  // namespace vallum::upstream::lb
