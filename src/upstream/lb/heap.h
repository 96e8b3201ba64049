#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "upstream/lb/load_balancer.h"

/// Pieces the weighted balancers share (least_request, weighted_round_robin, random).
namespace vallum::upstream::lb {

/// Replaces the top of the binary min-heap `heap` (ordered by `before(a, b)`: a comes first)
/// with `moving` and restores the heap order. Bottom-up (Floyd): the hole walks down along the
/// smaller children to a leaf, then `moving` bubbles up; a re-queued entry usually belongs
/// near the bottom, so this costs about one comparison per level instead of two. `heap` must
/// not be empty. No allocation; hot path.
template <typename Entry, typename Before>
inline void replaceTop(std::vector<Entry>& heap, const Entry moving, Before before) {
  const size_t n = heap.size();
  size_t hole = 0;
  for (size_t child = 1; child < n; child = 2 * hole + 1) {
    if (child + 1 < n) {
      child += size_t(before(heap[child + 1], heap[child]));
    }
    heap[hole] = heap[child];
    hole = child;
  }
  while (hole > 0) {
    const size_t parent = (hole - 1) / 2;
    if (!before(moving, heap[parent])) {
      break;
    }
    heap[hole] = heap[parent];
    hole = parent;
  }
  heap[hole] = moving;
}

/// The hosts' indices in order when every host has the same weight (a weight of 0 counts as
/// 1, as in LbHost), so a balancer can use its unweighted fast path; nullopt when the weights
/// differ or `hosts` is empty. Called when a balancer is built, not per request.
inline std::optional<std::vector<uint32_t>> equalWeightIndices(const std::vector<LbHost>& hosts) {
  if (hosts.empty()) {
    return std::nullopt;
  }
  auto weight = [](const LbHost& host) { return host.weight == 0 ? 1u : host.weight; };
  const uint32_t first = weight(hosts.front());
  std::vector<uint32_t> indices;
  indices.reserve(hosts.size());
  for (const LbHost& host : hosts) {
    if (weight(host) != first) {
      return std::nullopt;
    }
    indices.push_back(host.index);
  }
  return indices;
}

}  // namespace vallum::upstream::lb
