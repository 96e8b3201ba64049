#include "upstream/lb/round_robin.h"

namespace vallum::upstream::lb {

RoundRobinLoadBalancer::RoundRobinLoadBalancer(const Cluster& cluster, uint64_t start) {
  for (const Endpoint& ep : cluster.endpoints) {
    weights_.push_back(ep.weight);
    total_ += ep.weight;
    if (ep.weight != cluster.endpoints.front().weight) {
      uniform_ = false;
    }
  }
  scores_.assign(weights_.size(), 0);
  if (weights_.empty()) {
    return;
  }
  if (uniform_) {
    cursor_ = uint32_t(start % weights_.size());
  } else {
    // Advance the smooth sequence by a start offset within one period.
    uint64_t skip = start % uint64_t(total_);
    for (uint64_t i = 0; i < skip; ++i) {
      pick();
    }
  }
}

uint32_t RoundRobinLoadBalancer::pick() {
  const size_t n = weights_.size();
  if (n == 1) {
    return 0;
  }
  if (uniform_) {
    uint32_t chosen = cursor_;
    cursor_ = (cursor_ + 1 == n) ? 0 : cursor_ + 1;
    return chosen;
  }
  size_t best = 0;
  for (size_t i = 0; i < n; ++i) {
    scores_[i] += weights_[i];
    if (scores_[i] > scores_[best]) {
      best = i;
    }
  }
  scores_[best] -= total_;
  return uint32_t(best);
}

}  // namespace vallum::upstream::lb
