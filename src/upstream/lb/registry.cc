#include "upstream/lb/registry.h"

#include <array>
#include <string>
#include <utility>

#include "upstream/lb/least_request.h"
#include "upstream/lb/maglev.h"
#include "upstream/lb/random.h"
#include "upstream/lb/ring_hash.h"
#include "upstream/lb/weighted_round_robin.h"

namespace vallum::upstream::lb {

namespace {

using Factory = LoadBalancerPtr (*)(const PolicyConfig& config, const std::vector<LbHost>& hosts,
                                    uint64_t seed);

struct Registration {
  Policy policy;
  std::string_view name;  ///< Envoy / Pomerium enum name, upper case
  Factory factory;
};

// The registry: one line per policy, in the order of the Policy enum.
constexpr std::array<Registration, 5> kRegistry{{
    {Policy::RoundRobin, "ROUND_ROBIN",
     [](const PolicyConfig&, const std::vector<LbHost>& hosts, uint64_t seed) -> LoadBalancerPtr {
       return std::make_unique<WeightedRoundRobinLoadBalancer>(hosts, seed);
     }},
    {Policy::LeastRequest, "LEAST_REQUEST",
     [](const PolicyConfig& config, const std::vector<LbHost>& hosts, uint64_t) -> LoadBalancerPtr {
       return std::make_unique<LeastRequestLoadBalancer>(config, hosts);
     }},
    {Policy::Random, "RANDOM",
     [](const PolicyConfig&, const std::vector<LbHost>& hosts, uint64_t) -> LoadBalancerPtr {
       return std::make_unique<RandomLoadBalancer>(hosts);
     }},
    {Policy::RingHash, "RING_HASH",
     [](const PolicyConfig& config, const std::vector<LbHost>& hosts, uint64_t) -> LoadBalancerPtr {
       return std::make_unique<RingHashLoadBalancer>(config, hosts);
     }},
    {Policy::Maglev, "MAGLEV",
     [](const PolicyConfig& config, const std::vector<LbHost>& hosts, uint64_t) -> LoadBalancerPtr {
       return std::make_unique<MaglevLoadBalancer>(config, hosts);
     }},
}};

// Pomerium's LoadBalancingPolicy enum prefixes every value with this.
constexpr std::string_view kEnumPrefix = "LOAD_BALANCING_POLICY_";

bool equalsIgnoreCase(std::string_view a, std::string_view upper) {
  if (a.size() != upper.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'a' && c <= 'z') {
      c = char(c - 'a' + 'A');
    }
    if (c != upper[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

LoadBalancerPtr createLoadBalancer(Policy policy, const PolicyConfig& config,
                                   std::vector<LbHost> hosts, uint64_t seed) {
  for (const Registration& registration : kRegistry) {
    if (registration.policy == policy) {
      return registration.factory(config, hosts, seed);
    }
  }
  // Unreachable for a valid enum value; round robin is Envoy's default policy.
  return kRegistry.front().factory(config, hosts, seed);
}

std::optional<Policy> parsePolicy(std::string_view name) {
  if (name.size() > kEnumPrefix.size() &&
      equalsIgnoreCase(name.substr(0, kEnumPrefix.size()), kEnumPrefix)) {
    name.remove_prefix(kEnumPrefix.size());
  }
  for (const Registration& registration : kRegistry) {
    if (equalsIgnoreCase(name, registration.name)) {
      return registration.policy;
    }
  }
  // Pomerium's load_balancing_policy: UNSPECIFIED means Envoy's default, ROUND_ROBIN.
  if (equalsIgnoreCase(name, "UNSPECIFIED")) {
    return Policy::RoundRobin;
  }
  return std::nullopt;
}

std::string_view policyName(Policy policy) {
  for (const Registration& registration : kRegistry) {
    if (registration.policy == policy) {
      return registration.name;
    }
  }
  return "UNKNOWN";
}

bool isPrime(uint64_t value) {
  if (value < 2) {
    return false;
  }
  if (value % 2 == 0) {
    return value == 2;
  }
  for (uint64_t divisor = 3; divisor <= value / divisor; divisor += 2) {
    if (value % divisor == 0) {
      return false;
    }
  }
  return true;
}

Result<void> validatePolicyConfig(Policy policy, const PolicyConfig& config) {
  switch (policy) {
    case Policy::LeastRequest:
      if (config.choice_count < 2) {
        return configError("least_request_lb_config.choice_count (" +
                           std::to_string(config.choice_count) + ") must be at least 2");
      }
      break;
    case Policy::RingHash:
      if (config.minimum_ring_size > kMaxRingSize) {
        return configError("ring_hash_lb_config.minimum_ring_size (" +
                           std::to_string(config.minimum_ring_size) + ") must be at most " +
                           std::to_string(kMaxRingSize));
      }
      if (config.maximum_ring_size > kMaxRingSize) {
        return configError("ring_hash_lb_config.maximum_ring_size (" +
                           std::to_string(config.maximum_ring_size) + ") must be at most " +
                           std::to_string(kMaxRingSize));
      }
      if (config.minimum_ring_size == 0) {
        return configError("ring_hash_lb_config.minimum_ring_size must be at least 1");
      }
      if (config.minimum_ring_size > config.maximum_ring_size) {
        return configError("ring hash: minimum_ring_size (" +
                           std::to_string(config.minimum_ring_size) + ") > maximum_ring_size (" +
                           std::to_string(config.maximum_ring_size) + ")");
      }
      break;
    case Policy::Maglev:
      if (config.table_size > kMaxMaglevTableSize) {
        return configError("maglev_lb_config.table_size (" + std::to_string(config.table_size) +
                           ") must be at most " + std::to_string(kMaxMaglevTableSize));
      }
      if (!isPrime(config.table_size)) {
        return configError("maglev_lb_config.table_size (" + std::to_string(config.table_size) +
                           "): The table size of maglev must be prime number");
      }
      break;
    case Policy::RoundRobin:
    case Policy::Random:
      break;
  }
  return {};
}

}  // namespace vallum::upstream::lb
