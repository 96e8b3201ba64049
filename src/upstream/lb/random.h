#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "upstream/lb/load_balancer.h"

namespace vallum::upstream::lb {

/// RANDOM (Envoy's random load balancer), weighted.
///
/// Divergence from Envoy, on purpose: Envoy's random balancer ignores endpoint weights (every
/// host is equally likely); Vallum honours them, because a route's `to` weights promise a
/// share of the traffic, and every Vallum balancer honours them (docs/decisions.md,
/// "Balancers"). Host i is chosen with probability w_i / sum(w). With equal weights this is
/// Envoy's behaviour.
///
/// Unequal weights use Vose's alias table, built with exact integer arithmetic: one 64-bit
/// random number per pick picks the column (high half of r * n) and decides between the
/// column's two hosts (low half), so a pick is O(1) and never allocates.
class RandomLoadBalancer final : public LoadBalancer {
 public:
  /// `hosts` as for createLoadBalancer(); weights of 0 count as 1.
  explicit RandomLoadBalancer(const std::vector<LbHost>& hosts);

  // upstream::lb::LoadBalancer
  /// Uses `context.random` (required when there is more than one host). Called on the owning
  /// worker only.
  std::optional<uint32_t> chooseHost(const LbContext& context) override;

 private:
  struct Column {
    uint64_t threshold;  ///< low half of r * n below this → primary, else alias
    uint32_t primary;    ///< LbHost::index
    uint32_t alias;      ///< LbHost::index (== primary for a full column)
  };

  std::vector<uint32_t> indices_;  ///< equal weights
  std::vector<Column> columns_;    ///< unequal weights
};

}  // namespace vallum::upstream::lb
