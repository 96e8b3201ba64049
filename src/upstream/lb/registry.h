#pragma once

#include <cstdint>

#include "common/error.h"
#include "upstream/lb/load_balancer.h"

/// The policy registry (docs/architecture.md §4): lb/registry.cc is the one place that maps policy names to
/// factories. createLoadBalancer(), parsePolicy() and policyName() are declared with the
/// interface in load_balancer.h; the config checks live here.
namespace vallum::upstream::lb {

/// Envoy's validation caps (ring_hash.proto, maglev.proto).
inline constexpr uint64_t kMaxRingSize = 8388608;
inline constexpr uint64_t kMaxMaglevTableSize = 5000011;

/// Checks the part of `config` that `policy` uses (a `*_lb_config` for another policy is
/// ignored, as in Envoy):
///  - LEAST_REQUEST: choice_count >= 2;
///  - RING_HASH: 1 <= minimum_ring_size <= maximum_ring_size <= 8388608;
///  - MAGLEV: table_size prime and <= 5000011.
/// An active_request_bias that is negative or NaN is not an error (Envoy warns and uses 1.0;
/// so does LeastRequestLoadBalancer). Returns a config Error (Errc::InvalidArgument,
/// ErrorSource::Config) whose detail names the field and the value, without a YAML path (the
/// caller prefixes it). Pure; any thread. createLoadBalancer() never fails: given an invalid
/// config it clamps, so call this first to report the problem.
Result<void> validatePolicyConfig(Policy policy, const PolicyConfig& config);

/// Deterministic primality test (trial division; fast for values up to kMaxMaglevTableSize).
bool isPrime(uint64_t value);

}  // namespace vallum::upstream::lb
