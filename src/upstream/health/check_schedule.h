#pragma once

#include <chrono>
#include <cstdint>

#include "common/random.h"
#include "config/options.h"
#include "upstream/health/active_health_checker.h"

namespace vallum::upstream::health {

/// The waits of one (check, host) session (Envoy HealthCheck intervals) with Vallum's defaults:
/// `unhealthy_interval` = interval, `unhealthy_edge_interval` = unhealthy_interval,
/// `healthy_edge_interval` = interval. The "no traffic" phase exists only when the route sets
/// `no_traffic_interval` or `no_traffic_healthy_interval` explicitly (Vallum: checks run every
/// `interval` from start-up); then `no_traffic_healthy_interval` defaults to
/// `no_traffic_interval`, which defaults to `interval`. Waits are whole milliseconds (as Envoy's
/// timers), jitter included, never below 1 ms. Pure; the caller owns the random source.
class CheckSchedule {
 public:
  explicit CheckSchedule(const config::HealthCheck& check);

  /// Wait before a session's first check: uniform in [0, initial_jitter) ms, 0 without jitter
  /// (the first check starts at once).
  std::chrono::milliseconds initialWait(FastRandom& random) const;

  /// The interval before jitter after a check that `passed`, given the session's state after
  /// the result was recorded and whether the cluster has carried traffic.
  std::chrono::milliseconds baseInterval(bool passed, const HealthState& state,
                                         bool traffic_seen) const;

  /// baseInterval() + `interval_jitter_percent` jitter + `interval_jitter` jitter, >= 1 ms.
  std::chrono::milliseconds nextWait(bool passed, const HealthState& state, bool traffic_seen,
                                     FastRandom& random) const;

  /// Whether a no-traffic interval was configured (only then does traffic matter).
  bool hasNoTrafficPhase() const { return has_no_traffic_phase_; }

 private:
  std::chrono::milliseconds interval_;
  std::chrono::milliseconds unhealthy_interval_;
  std::chrono::milliseconds unhealthy_edge_interval_;
  std::chrono::milliseconds healthy_edge_interval_;
  std::chrono::milliseconds no_traffic_interval_;
  std::chrono::milliseconds no_traffic_healthy_interval_;
  std::chrono::milliseconds initial_jitter_;
  std::chrono::milliseconds interval_jitter_;
  uint32_t interval_jitter_percent_;
  bool has_no_traffic_phase_;
};

}  // namespace vallum::upstream::health
