#include "upstream/lb/random.h"

#include <algorithm>
#include <utility>

#include "upstream/lb/heap.h"

namespace vallum::upstream::lb {

namespace {

__extension__ using Uint128 = unsigned __int128;

}  // namespace

RandomLoadBalancer::RandomLoadBalancer(const std::vector<LbHost>& hosts) {
  if (hosts.empty()) {
    return;
  }
  if (auto indices = equalWeightIndices(hosts)) {
    indices_ = std::move(*indices);
    return;
  }

  // Vose's alias method in integers: host i owns w_i * n units, every column holds exactly
  // `total` units, so a column's primary probability is units / total with no rounding until
  // the final scaling to 2^64.
  const uint64_t n = hosts.size();
  uint64_t total = 0;
  std::vector<uint64_t> units(n);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t weight = std::max<uint32_t>(1, hosts[i].weight);
    total += weight;
    units[i] = weight * n;
  }
  std::vector<uint32_t> small;
  std::vector<uint32_t> large;
  for (uint32_t i = 0; i < n; ++i) {
    (units[i] < total ? small : large).push_back(i);
  }
  columns_.resize(n);
  while (!small.empty() && !large.empty()) {
    const uint32_t s = small.back();
    small.pop_back();
    const uint32_t l = large.back();
    large.pop_back();
    const uint64_t threshold = uint64_t((Uint128(units[s]) << 64) / total);
    columns_[s] = Column{threshold, hosts[s].index, hosts[l].index};
    units[l] -= total - units[s];
    (units[l] < total ? small : large).push_back(l);
  }
  // Full columns (exact arithmetic leaves nothing in `small` here; the loop covers both).
  for (const std::vector<uint32_t>* rest : {&small, &large}) {
    for (uint32_t i : *rest) {
      columns_[i] = Column{0, hosts[i].index, hosts[i].index};
    }
  }
}

std::optional<uint32_t> RandomLoadBalancer::chooseHost(const LbContext& context) {
  if (!columns_.empty()) {
    const Uint128 product = Uint128(context.random->next()) * columns_.size();
    const Column& column = columns_[size_t(product >> 64)];
    return uint64_t(product) < column.threshold ? column.primary : column.alias;
  }
  if (indices_.size() < 2) {
    if (indices_.empty()) {
      return std::nullopt;
    }
    return indices_.front();
  }
  return indices_[context.random->uniform(indices_.size())];
}

}  // namespace vallum::upstream::lb
