#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "upstream/lb/load_balancer.h"

// Shared helpers of the load-balancer tests.
namespace vallum::upstream::lb::testing {

/// Hosts "127.0.0.1:<first_port + i>" with the given weights; LbHost::index = i.
inline std::vector<LbHost> makeHosts(const std::vector<uint32_t>& weights, int first_port = 90) {
  std::vector<LbHost> hosts;
  for (size_t i = 0; i < weights.size(); ++i) {
    LbHost host;
    host.index = uint32_t(i);
    host.weight = weights[i];
    host.hash_key = "127.0.0.1:" + std::to_string(first_port + int(i));
    hosts.push_back(host);
  }
  return hosts;
}

/// `count` equal-weight hosts.
inline std::vector<LbHost> makeEqualHosts(size_t count, int first_port = 90) {
  return makeHosts(std::vector<uint32_t>(count, 1), first_port);
}

/// Picks `picks` times and counts the chosen indices; a missing pick counts under UINT32_MAX.
inline std::map<uint32_t, uint64_t> countPicks(LoadBalancer& lb, const LbContext& context,
                                               uint64_t picks) {
  std::map<uint32_t, uint64_t> counts;
  for (uint64_t i = 0; i < picks; ++i) {
    ++counts[lb.chooseHost(context).value_or(UINT32_MAX)];
  }
  return counts;
}

}  // namespace vallum::upstream::lb::testing
