#include "upstream/lb/weighted_round_robin.h"

#include <algorithm>
#include <utility>

#include "upstream/lb/heap.h"

namespace vallum::upstream::lb {

namespace {

__extension__ using Uint128 = unsigned __int128;

}  // namespace

WeightedRoundRobinLoadBalancer::WeightedRoundRobinLoadBalancer(const std::vector<LbHost>& hosts,
                                                               uint64_t seed,
                                                               uint64_t max_period_table) {
  if (hosts.empty()) {
    return;
  }
  if (auto indices = equalWeightIndices(hosts)) {
    sequence_ = std::move(*indices);
    cursor_ = size_t(seed % sequence_.size());
    return;
  }

  uint64_t total = 0;
  for (const LbHost& host : hosts) {
    total += std::max<uint32_t>(1, host.weight);
  }
  // Start as if `prepicks` picks had been made: every host has had all of its turns whose
  // deadline is <= prepicks / total (floor(prepicks * w / total) of them; these are exactly the
  // smallest deadlines), and the few remaining picks (< n) are replayed.
  const uint64_t prepicks = seed % total;
  uint64_t picked = 0;
  heap_.reserve(hosts.size());
  for (size_t i = 0; i < hosts.size(); ++i) {
    const uint32_t weight = std::max<uint32_t>(1, hosts[i].weight);
    const uint64_t turns = uint64_t(Uint128(prepicks) * weight / total);
    picked += turns;
    heap_.push_back(Entry{turns + 1, weight, uint32_t(i), hosts[i].index});
  }
  std::make_heap(heap_.begin(), heap_.end(),
                 [](const Entry& a, const Entry& b) { return before(b, a); });
  for (; picked < prepicks; ++picked) {
    pickFromHeap();
  }
  if (total <= max_period_table) {
    // The next `total` picks repeat forever.
    sequence_.reserve(total);
    for (uint64_t i = 0; i < total; ++i) {
      sequence_.push_back(pickFromHeap());
    }
    heap_ = {};
  }
}

bool WeightedRoundRobinLoadBalancer::before(const Entry& a, const Entry& b) {
  const Uint128 lhs = Uint128(a.turn) * b.weight;
  const Uint128 rhs = Uint128(b.turn) * a.weight;
  if (lhs != rhs) {
    return lhs < rhs;
  }
  // Equal deadlines: Envoy's FIFO order is the order in which the previous turns were popped;
  // the previous deadline (turn - 1) / weight is earlier for the lighter host.
  if (a.weight != b.weight) {
    return a.weight < b.weight;
  }
  return a.position < b.position;
}

uint32_t WeightedRoundRobinLoadBalancer::pickFromHeap() {
  const Entry moving{heap_[0].turn + 1, heap_[0].weight, heap_[0].position, heap_[0].index};
  replaceTop(heap_, moving, before);
  return moving.index;
}

std::optional<uint32_t> WeightedRoundRobinLoadBalancer::chooseHost(const LbContext&) {
  if (!sequence_.empty()) {
    const uint32_t chosen = sequence_[cursor_];
    if (++cursor_ == sequence_.size()) {
      cursor_ = 0;
    }
    return chosen;
  }
  if (heap_.empty()) {
    return std::nullopt;
  }
  return pickFromHeap();
}

}  // namespace vallum::upstream::lb
