#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "upstream/lb/load_balancer.h"

namespace vallum::upstream::lb {

/// MAGLEV: Envoy's weighted Maglev lookup table (Envoy's maglev load balancer).
///
/// Construction (once per host-set change, may allocate; O(M) with M = table_size, prime):
/// hosts sorted by hash_key (so their order in the vector does not matter); per host
/// offset = XXH64(key, 0) mod M, skip = XXH64(key, 1) mod (M - 1) + 1; rounds 1, 2, ... visit
/// the hosts in key order, a host taking a turn when round * w >= its target (then target +=
/// max_w) and claiming the next free slot of its permutation (offset + skip * next) mod M.
///
/// Lookup: table[hash mod M]. Without a request hash the pick uses one number from
/// `context.random`, as Envoy does. The table stores 16-bit host positions when there are at
/// most 65535 hosts (half the cache footprint; Envoy bit-packs similarly). A pick never
/// allocates.
class MaglevLoadBalancer final : public LoadBalancer {
 public:
  /// `config` should have passed validatePolicyConfig(); a table_size that is not a prime in
  /// [2, 5000011] is replaced by the default 65537. `hosts` as for createLoadBalancer().
  MaglevLoadBalancer(const PolicyConfig& config, const std::vector<LbHost>& hosts);

  // upstream::lb::LoadBalancer
  /// Uses `context.hash`, else `context.random` (then required). Called on the owning worker
  /// only.
  std::optional<uint32_t> chooseHost(const LbContext& context) override;

  /// The whole table as LbHost::index per slot (empty without hosts).
  std::vector<uint32_t> tableForTest() const;

 private:
  uint32_t slotHost(uint64_t slot) const {
    return narrow_.empty() ? wide_[slot] : indices_[narrow_[slot]];
  }

  uint64_t table_size_ = 0;
  std::vector<uint16_t> narrow_;   ///< slot → position in indices_ (<= 65535 hosts)
  std::vector<uint32_t> wide_;     ///< slot → LbHost::index (more hosts)
  std::vector<uint32_t> indices_;  ///< position → LbHost::index
};

}  // namespace vallum::upstream::lb
