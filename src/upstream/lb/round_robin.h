#pragma once

#include <cstdint>
#include <vector>

#include "upstream/cluster.h"

namespace vallum::upstream::lb {

/// Weighted round robin with smooth interleaving (nginx's "smooth weighted round-robin":
/// each pick adds every weight to its endpoint's running score, takes the highest score and
/// subtracts the total). Weights 1:3 give B A B B, not A B B B. Equal weights reduce to a
/// plain cursor. One instance per worker per cluster (no locks); issue #4 brings the other
/// policies behind a common interface.
class RoundRobinLoadBalancer {
 public:
  /// `start` offsets the sequence (workers start at different endpoints).
  RoundRobinLoadBalancer(const Cluster& cluster, uint64_t start);

  /// Index of the next endpoint; the cluster must not be empty.
  uint32_t pick();

 private:
  std::vector<int64_t> weights_;
  std::vector<int64_t> scores_;
  int64_t total_ = 0;
  uint32_t cursor_ = 0;
  bool uniform_ = true;
};

}  // namespace vallum::upstream::lb
