#include "upstream/health/check_schedule.h"

#include <algorithm>

namespace vallum::upstream::health {

namespace {

using std::chrono::milliseconds;

milliseconds toMs(config::Duration d) {
  return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(d));
}

}  // namespace

CheckSchedule::CheckSchedule(const config::HealthCheck& check)
    : interval_(toMs(check.interval)),
      unhealthy_interval_(toMs(check.unhealthy_interval.value_or(check.interval))),
      unhealthy_edge_interval_(toMs(check.unhealthy_edge_interval.value_or(
          check.unhealthy_interval.value_or(check.interval)))),
      healthy_edge_interval_(toMs(check.healthy_edge_interval.value_or(check.interval))),
      no_traffic_interval_(toMs(check.no_traffic_interval.value_or(check.interval))),
      no_traffic_healthy_interval_(toMs(check.no_traffic_healthy_interval.value_or(
          check.no_traffic_interval.value_or(check.interval)))),
      initial_jitter_(toMs(check.initial_jitter)),
      interval_jitter_(toMs(check.interval_jitter)),
      interval_jitter_percent_(check.interval_jitter_percent),
      has_no_traffic_phase_(check.no_traffic_interval.has_value() ||
                            check.no_traffic_healthy_interval.has_value()) {}

milliseconds CheckSchedule::initialWait(FastRandom& random) const {
  if (initial_jitter_.count() <= 0) {
    return milliseconds(0);
  }
  return milliseconds(random.uniform(static_cast<uint64_t>(initial_jitter_.count())));
}

milliseconds CheckSchedule::baseInterval(bool passed, const HealthState& state,
                                         bool traffic_seen) const {
  // Envoy HealthCheckerImplBase::ActiveHealthCheckSession::interval(): the result just
  // recorded decides, not the state the host was in before.
  if (has_no_traffic_phase_ && !traffic_seen) {
    return passed && !state.pending() ? no_traffic_healthy_interval_ : no_traffic_interval_;
  }
  if (!passed) {
    return state.healthy() && state.pending() ? unhealthy_edge_interval_ : unhealthy_interval_;
  }
  return !state.healthy() && state.pending() ? healthy_edge_interval_ : interval_;
}

milliseconds CheckSchedule::nextWait(bool passed, const HealthState& state, bool traffic_seen,
                                     FastRandom& random) const {
  uint64_t ms = static_cast<uint64_t>(baseInterval(passed, state, traffic_seen).count());
  const uint64_t percent_mod = ms * interval_jitter_percent_ / 100;
  if (percent_mod > 0) {
    ms += random.uniform(percent_mod);
  }
  if (interval_jitter_.count() > 0) {
    ms += random.uniform(static_cast<uint64_t>(interval_jitter_.count()));
  }
  return milliseconds(std::max<uint64_t>(ms, 1));
}

}  // namespace vallum::upstream::health
