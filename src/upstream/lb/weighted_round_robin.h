#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "upstream/lb/load_balancer.h"

namespace vallum::upstream::lb {

/// ROUND_ROBIN (Envoy's round_robin load balancer).
///
/// Equal weights: a cursor over the hosts that starts at `seed % n`.
/// Unequal weights: earliest-deadline-first, as Envoy's EdfScheduler. Host i's k-th turn has
/// the deadline k / w_i; each pick takes the smallest deadline. Ties go to the entry Envoy
/// would have queued first (FIFO), which works out to: the lighter host, then the earlier
/// host in the vector. Deadlines are compared exactly (k_a * w_b vs k_b * w_a in 128 bits), so
/// the sequence is periodic: every W = sum(weights) consecutive picks contain each host exactly
/// w_i times, interleaved (1:3 gives B B A B, never A B B B). The balancer starts as if
/// `seed % W` picks had already happened (Envoy's EdfScheduler::createWithPicks), computed in
/// O(n log n) rather than by replaying them, so workers start at different hosts.
///
/// Because the sequence is periodic, a period of up to kMaxPeriodTable picks is precomputed
/// and replayed with a cursor (O(1), like equal weights); longer periods (huge weights) run
/// the heap, O(log n) per pick. Either way a pick never allocates.
class WeightedRoundRobinLoadBalancer final : public LoadBalancer {
 public:
  /// Longest period that is precomputed: 8192 picks, 32 KiB.
  static constexpr uint64_t kMaxPeriodTable = 8192;

  /// `hosts` as for createLoadBalancer(); weights of 0 count as 1. `max_period_table` lets
  /// tests force the heap.
  WeightedRoundRobinLoadBalancer(const std::vector<LbHost>& hosts, uint64_t seed,
                                 uint64_t max_period_table = kMaxPeriodTable);

  // upstream::lb::LoadBalancer
  /// Ignores `context`. Called on the owning worker only.
  std::optional<uint32_t> chooseHost(const LbContext& context) override;

 private:
  /// One host's next turn: deadline = turn / weight.
  struct Entry {
    uint64_t turn;      ///< 1-based number of this host's next pick
    uint32_t weight;    ///< >= 1
    uint32_t position;  ///< position in the constructor's vector (last tie-breaker)
    uint32_t index;     ///< LbHost::index
  };
  static bool before(const Entry& a, const Entry& b);
  uint32_t pickFromHeap();

  /// The picks to replay: the hosts (equal weights) or one EDF period; empty = use the heap.
  std::vector<uint32_t> sequence_;
  size_t cursor_ = 0;
  std::vector<Entry> heap_;  ///< min-heap by before(), for periods too long to store
};

}  // namespace vallum::upstream::lb
