#include "upstream/lb/ring_hash.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "upstream/lb/hash.h"

namespace vallum::upstream::lb {

RingHashLoadBalancer::RingHashLoadBalancer(const PolicyConfig& config,
                                           const std::vector<LbHost>& hosts) {
  if (hosts.empty()) {
    return;
  }
  const uint64_t maximum = std::max<uint64_t>(1, config.maximum_ring_size);
  const uint64_t minimum = std::clamp<uint64_t>(config.minimum_ring_size, 1, maximum);

  uint64_t sum = 0;
  for (const LbHost& host : hosts) {
    sum += std::max<uint32_t>(1, host.weight);
  }
  // Same double arithmetic as Envoy (normalizeHostWeights + Ring::Ring) so ring sizes and
  // per-host entry counts match it exactly.
  double min_weight = std::numeric_limits<double>::max();
  std::vector<double> weights;
  weights.reserve(hosts.size());
  for (const LbHost& host : hosts) {
    const double weight = double(std::max<uint32_t>(1, host.weight)) * 1.0 / double(sum);
    weights.push_back(weight);
    min_weight = std::min(min_weight, weight);
  }
  const double scale =
      std::min(std::ceil(min_weight * double(minimum)) / min_weight, double(maximum));
  const uint64_t ring_size = uint64_t(std::ceil(scale));

  std::vector<std::pair<uint64_t, uint32_t>> ring;
  ring.reserve(ring_size);
  const bool murmur = config.hash_function == PolicyConfig::HashFunction::MurmurHash2;
  std::string key;
  double current = 0;
  double target = 0;
  for (size_t i = 0; i < hosts.size(); ++i) {
    key.assign(hosts[i].hash_key);
    key.push_back('_');
    const size_t prefix = key.size();
    target += scale * weights[i];
    for (uint64_t j = 0; current < target; ++j, ++current) {
      key.resize(prefix);
      key.append(std::to_string(j));
      const uint64_t hash = murmur ? murmurHash2(key, kStdHashSeed) : xxHash64(key, 0);
      ring.emplace_back(hash, hosts[i].index);
    }
  }
  std::stable_sort(ring.begin(), ring.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  hashes_.reserve(ring.size());
  hosts_.reserve(ring.size());
  for (const auto& [hash, index] : ring) {
    hashes_.push_back(hash);
    hosts_.push_back(index);
  }
}

std::optional<uint32_t> RingHashLoadBalancer::chooseHost(const LbContext& context) {
  const size_t size = hashes_.size();
  if (size == 0) {
    return std::nullopt;
  }
  const uint64_t hash = context.hash ? *context.hash : context.random->next();
  // Branchless lower_bound: first entry with hashes_[i] >= hash.
  const uint64_t* base = hashes_.data();
  size_t length = size;
  while (length > 1) {
    const size_t half = length / 2;
    // A mask, not a conditional: g++ turns `?:` into a branch that mispredicts half the time.
    base += half & (size_t{0} - size_t(base[half - 1] < hash));
    length -= half;
  }
  size_t slot = size_t(base - hashes_.data()) + (*base < hash ? 1 : 0);
  if (slot == size) {
    slot = 0;  // past the largest entry: wrap around the ring
  }
  return hosts_[slot];
}

}  // namespace vallum::upstream::lb
