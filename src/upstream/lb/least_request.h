#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include "upstream/lb/load_balancer.h"

namespace vallum::upstream::lb {

/// LEAST_REQUEST (Envoy's least_request load balancer).
///
/// Equal weights, bias not set: "N choices" (P2C for choice_count 2). Draw choice_count hosts
/// uniformly at random WITH replacement; keep the one with strictly fewer active requests (a
/// tie keeps the earlier sample). With 2 hosts the busier one still wins 1 pick in 4 (both
/// samples hit it), as in Envoy.
///
/// Unequal weights, or `active_request_bias_set`: EDF as in round robin, but each host is
/// re-queued with the dynamic weight weight / (active + 1)^bias computed when it is re-queued
/// (bias 1: weight / (active + 1) without pow; bias 0: plain weighted round robin). A loaded
/// host is picked less often but never drained. Active counts of the other hosts are those
/// read when they were last queued, exactly as in Envoy. A negative or NaN bias counts as 1.0
/// (Envoy warns and does the same). Unlike round robin there is no seeded pre-pick: dynamic
/// weights make the initial position moot.
///
/// Active counts are read with relaxed loads from LbHost::active_requests (null = always 0).
/// A pick is O(choice_count) or O(log n) and never allocates.
class LeastRequestLoadBalancer final : public LoadBalancer {
 public:
  /// `config.choice_count` below 2 counts as 2 (validatePolicyConfig() rejects it first).
  LeastRequestLoadBalancer(const PolicyConfig& config, const std::vector<LbHost>& hosts);

  // upstream::lb::LoadBalancer
  /// Uses `context.random` (required when there is more than one host). Called on the owning
  /// worker only.
  std::optional<uint32_t> chooseHost(const LbContext& context) override;

 private:
  struct Host {
    const std::atomic<uint32_t>* active;  ///< never null (points at a zero when not given)
    uint32_t index;                       ///< LbHost::index
    uint32_t weight;                      ///< >= 1
  };
  struct Entry {
    double deadline;
    uint64_t order;  ///< FIFO tie-breaker
    uint32_t position;
  };
  enum class Mode : uint8_t { Choices, WeightedBiasOne, WeightedBiasZero, WeightedPow };

  static bool before(const Entry& a, const Entry& b) {
    // Bitwise, so that the compiler does not branch on a coin flip.
    return (int(a.deadline < b.deadline) |
            (int(a.deadline == b.deadline) & int(a.order < b.order))) != 0;
  }
  double dynamicWeight(const Host& host) const;
  uint32_t pickChoices(FastRandom& random) const;
  uint32_t pickWeighted();
  /// Restores the heap after the top entry's deadline grew.
  void requeueTop();

  std::vector<Host> hosts_;
  Mode mode_ = Mode::Choices;
  uint32_t choice_count_ = 2;
  double bias_ = 1.0;
  // EDF state (weighted modes).
  std::vector<Entry> heap_;
  uint64_t next_order_ = 0;
};

}  // namespace vallum::upstream::lb
