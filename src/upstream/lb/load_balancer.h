#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/random.h"

/// Load balancers (docs/architecture.md §4; Envoy's load balancer docs): one small class
/// per policy behind one interface. A worker builds its own instance from the hosts a cluster
/// currently balances over and rebuilds it when that set changes; picks never lock.
namespace vallum::upstream::lb {

/// One host as a balancer sees it. The vector given to a balancer is already the set to
/// balance over (healthy hosts, or all hosts in panic); `index` maps back to the cluster's
/// endpoint list.
struct LbHost {
  uint32_t index = 0;   ///< position in the cluster's endpoint list (what a pick returns)
  uint32_t weight = 1;  ///< >= 1
  /// Hash key for RING_HASH / MAGLEV: the address as Envoy prints it ("127.0.0.1:90",
  /// "[::1]:90"); stable across reloads and identical on every worker.
  std::string hash_key;
  /// Requests in flight to this host, shared by all workers (LEAST_REQUEST reads it; relaxed
  /// loads). May be null for policies that do not need it.
  const std::atomic<uint32_t>* active_requests = nullptr;
};

/// Per-request input to a pick.
struct LbContext {
  /// The request's hash (route hash_policy / client IP / session routing key). RING_HASH and
  /// MAGLEV use it; without one they pick at random, as Envoy does.
  std::optional<uint64_t> hash;
  /// The worker's random source.
  FastRandom* random = nullptr;
};

/// Policy names of Pomerium's `lb_policy` / `load_balancing_policy` (Envoy Cluster.lb_policy).
enum class Policy : uint8_t { RoundRobin, LeastRequest, Random, RingHash, Maglev };

/// Tuning of the policies (the `*_lb_config` objects), Envoy's defaults.
struct PolicyConfig {
  // least_request_lb_config
  uint32_t choice_count = 2;          ///< >= 2
  double active_request_bias = 1.0;   ///< weighted mode: weight / (active + 1)^bias
  bool active_request_bias_set = false;
  // ring_hash_lb_config
  uint64_t minimum_ring_size = 1024;
  uint64_t maximum_ring_size = 8388608;
  enum class HashFunction : uint8_t { XxHash, MurmurHash2 } hash_function = HashFunction::XxHash;
  // maglev_lb_config
  uint64_t table_size = 65537;  ///< must be prime
};

/// Chooses hosts. Owned and used by one worker thread; chooseHost() is the hot path: no
/// allocation, no locks.
class LoadBalancer {
 public:
  virtual ~LoadBalancer() = default;

  /// Returns the chosen LbHost::index, or nullopt when there is no host (empty set → 503
  /// "no healthy upstream").
  virtual std::optional<uint32_t> chooseHost(const LbContext& context) = 0;
};
using LoadBalancerPtr = std::unique_ptr<LoadBalancer>;

/// Builds the balancer for `policy` over `hosts`. `seed` varies the starting point per worker
/// (round robin offset), never the outcome of hash-based picks. Building a ring or table may
/// allocate; call it when the host set changes, not per request.
LoadBalancerPtr createLoadBalancer(Policy policy, const PolicyConfig& config,
                                   std::vector<LbHost> hosts, uint64_t seed);

/// Parses a policy name as Pomerium accepts it (case-insensitive; `ROUND_ROBIN`,
/// `round_robin`, `LOAD_BALANCING_POLICY_ROUND_ROBIN`); nullopt when unknown.
std::optional<Policy> parsePolicy(std::string_view name);
std::string_view policyName(Policy policy);

}  // namespace vallum::upstream::lb
