#include "upstream/lb/maglev.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "upstream/lb/hash.h"
#include "upstream/lb/registry.h"

namespace vallum::upstream::lb {

namespace {

struct BuildEntry {
  uint64_t skip;
  uint64_t slot;  ///< (offset + skip * next) mod M, advanced by adding skip (no division)
  double weight;
  double target = 0;
  uint32_t position;  ///< in the constructor's host vector
};

}  // namespace

MaglevLoadBalancer::MaglevLoadBalancer(const PolicyConfig& config,
                                       const std::vector<LbHost>& hosts) {
  if (hosts.empty()) {
    return;
  }
  table_size_ = config.table_size;
  if (table_size_ < 2 || table_size_ > kMaxMaglevTableSize || !isPrime(table_size_)) {
    table_size_ = PolicyConfig{}.table_size;
  }
  const uint64_t m = table_size_;

  std::vector<uint32_t> order(hosts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return hosts[a].hash_key < hosts[b].hash_key; });
  uint64_t sum = 0;
  for (const LbHost& host : hosts) {
    sum += std::max<uint32_t>(1, host.weight);
  }
  double max_weight = 0;
  std::vector<BuildEntry> entries;
  entries.reserve(hosts.size());
  for (uint32_t position : order) {
    const LbHost& host = hosts[position];
    BuildEntry entry{};
    entry.slot = xxHash64(host.hash_key, 0) % m;  // the offset: next = 0
    entry.skip = xxHash64(host.hash_key, 1) % (m - 1) + 1;
    entry.weight = double(std::max<uint32_t>(1, host.weight)) * 1.0 / double(sum);
    entry.position = position;
    max_weight = std::max(max_weight, entry.weight);
    entries.push_back(entry);
  }

  constexpr uint32_t kEmpty = std::numeric_limits<uint32_t>::max();
  std::vector<uint32_t> table(m, kEmpty);  // slot → position
  uint64_t filled = 0;
  for (uint64_t iteration = 1; filled < m; ++iteration) {
    for (size_t i = 0; i < entries.size() && filled < m; ++i) {
      BuildEntry& entry = entries[i];
      // A host with the largest weight takes a turn every round; one with a third of it every
      // third round.
      if (double(iteration) * entry.weight < entry.target) {
        continue;
      }
      entry.target += max_weight;
      // Probe the host's permutation for a free slot, claim it, and step past it.
      const auto advance = [m](BuildEntry& e) {
        e.slot += e.skip;
        if (e.slot >= m) {
          e.slot -= m;
        }
      };
      while (table[entry.slot] != kEmpty) {
        advance(entry);
      }
      table[entry.slot] = entry.position;
      advance(entry);
      ++filled;
    }
  }

  indices_.reserve(hosts.size());
  for (const LbHost& host : hosts) {
    indices_.push_back(host.index);
  }
  if (hosts.size() <= std::numeric_limits<uint16_t>::max()) {
    narrow_.assign(table.begin(), table.end());
  } else {
    wide_.reserve(m);
    for (uint32_t position : table) {
      wide_.push_back(indices_[position]);
    }
  }
}

std::optional<uint32_t> MaglevLoadBalancer::chooseHost(const LbContext& context) {
  if (indices_.size() < 2) {
    if (indices_.empty()) {
      return std::nullopt;
    }
    return indices_.front();
  }
  const uint64_t hash = context.hash ? *context.hash : context.random->next();
  return slotHost(hash % table_size_);
}

std::vector<uint32_t> MaglevLoadBalancer::tableForTest() const {
  std::vector<uint32_t> table;
  const uint64_t slots = indices_.empty() ? 0 : table_size_;
  table.reserve(slots);
  for (uint64_t slot = 0; slot < slots; ++slot) {
    table.push_back(slotHost(slot));
  }
  return table;
}

}  // namespace vallum::upstream::lb
