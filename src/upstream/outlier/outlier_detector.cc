#include "upstream/outlier/outlier_detector.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

namespace vallum::upstream::outlier {

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

/// Counts one failure; true exactly when the counter reaches `threshold` (Envoy's "==", so it
/// fires once per run until someone resets it). A zero threshold never fires (Envoy compares
/// the pre-incremented counter with 0, which a wrap-around aside never matches).
bool countFailure(std::atomic<uint32_t>& counter, uint32_t threshold) {
  const uint32_t value = counter.fetch_add(1, kRelaxed) + 1;
  return threshold != 0 && value == threshold;
}

/// Resets a consecutive counter; skips the store when it is already 0 so that a run of
/// successes does not keep writing a cache line the other workers read.
void resetCounter(std::atomic<uint32_t>& counter) {
  if (counter.load(kRelaxed) != 0) {
    counter.store(0, kRelaxed);
  }
}

/// The HTTP-status view of an outcome (Envoy's outlier detection: 5xx, and 502/503/504 as
/// gateway failures).
enum class HttpClass : uint8_t { Success, Other5xx, Gateway };

/// External-origin counting (Envoy DetectorHostMonitorImpl::putHttpResponseCode).
bool recordHttp(HostHealth& host, HttpClass cls, const config::OutlierDetection& config) {
  if (cls == HttpClass::Success) {
    host.interval_success.fetch_add(1, kRelaxed);
    resetCounter(host.consecutive_5xx);
    resetCounter(host.consecutive_gateway_failure);
    return false;
  }
  host.interval_failure.fetch_add(1, kRelaxed);
  bool fired = false;
  if (cls == HttpClass::Gateway) {
    fired = countFailure(host.consecutive_gateway_failure, config.consecutive_gateway_failure);
  } else {
    resetCounter(host.consecutive_gateway_failure);
  }
  fired = countFailure(host.consecutive_5xx, config.consecutive_5xx) || fired;
  return fired;
}

bool isLocalOrigin(RequestOutcome outcome) {
  return outcome == RequestOutcome::LocalConnectFailure ||
         outcome == RequestOutcome::LocalTimeout || outcome == RequestOutcome::LocalReset;
}

}  // namespace

bool recordOutcome(HostHealth& host, RequestOutcome outcome,
                   const config::OutlierDetection& config) {
  if (config.split_external_local_origin_errors) {
    if (isLocalOrigin(outcome)) {
      host.interval_local_failure.fetch_add(1, kRelaxed);
      return countFailure(host.consecutive_local_origin_failure,
                          config.consecutive_local_origin_failure);
    }
    // A response arrived, so the connection worked: a local-origin success (Envoy reports
    // LocalOriginConnectSuccess for every request that reached the upstream), then the
    // response itself drives the external counters.
    host.interval_local_success.fetch_add(1, kRelaxed);
    resetCounter(host.consecutive_local_origin_failure);
  }
  switch (outcome) {
    case RequestOutcome::Success:
      return recordHttp(host, HttpClass::Success, config);
    case RequestOutcome::Upstream5xx:
    case RequestOutcome::LocalReset:  // 500 without split
      return recordHttp(host, HttpClass::Other5xx, config);
    case RequestOutcome::UpstreamGateway:
    case RequestOutcome::LocalConnectFailure:  // 503 without split
    case RequestOutcome::LocalTimeout:         // 504 without split
      return recordHttp(host, HttpClass::Gateway, config);
  }
  return false;
}

const char* ejectionReasonName(EjectionReason reason) {
  switch (reason) {
    case EjectionReason::Consecutive5xx:
      return "consecutive_5xx";
    case EjectionReason::ConsecutiveGatewayFailure:
      return "consecutive_gateway_failure";
    case EjectionReason::ConsecutiveLocalOriginFailure:
      return "consecutive_local_origin_failure";
    case EjectionReason::SuccessRate:
      return "success_rate";
    case EjectionReason::LocalOriginSuccessRate:
      return "local_origin_success_rate";
    case EjectionReason::FailurePercentage:
      return "failure_percentage";
    case EjectionReason::LocalOriginFailurePercentage:
      return "local_origin_failure_percentage";
  }
  return "unknown";
}

namespace {

/// Control-thread bookkeeping of one host (Envoy DetectorHostMonitorImpl's non-atomic part).
struct HostState {
  bool ejected = false;
  /// Set for a host found already ejected at construction (a reload handed over its
  /// HostHealth): its ejection time is taken from the first call that brings a clock.
  bool ejection_time_unknown = false;
  SteadyTime ejection_time{};
  std::chrono::milliseconds jitter{0};
  /// Backoff multiplier m: ejection lasts min(base x m, max) + jitter.
  uint32_t multiplier = 0;
  std::optional<SteadyTime> last_unejection;
  uint32_t num_ejections = 0;
};

/// One interval's counts of one host, taken out of the atomics at the sweep.
struct Bucket {
  uint64_t success = 0;
  uint64_t failure = 0;
};

struct Candidate {
  size_t index;
  double success_rate;
};

}  // namespace

struct OutlierDetector::Impl {
  Impl(config::OutlierDetection cfg, std::shared_ptr<ClusterHealth> health, OnChange callback,
       uint64_t seed)
      : config(std::move(cfg)),
        cluster(std::move(health)),
        on_change(std::move(callback)),
        random(seed),
        base(config.base_ejection_time),
        // Envoy: max defaults to max(300 s, base) and is a config error below base; never let
        // a smaller cap shorten the base time.
        max(std::max(config.max_ejection_time, config.base_ejection_time)),
        jitter_ms(static_cast<uint64_t>(std::max<int64_t>(
            0,
            std::chrono::duration_cast<std::chrono::milliseconds>(config.max_ejection_time_jitter)
                .count()))) {
    const size_t n = cluster ? cluster->hosts.size() : 0;
    hosts.resize(n);
    external.resize(n);
    local.resize(n);
    sr_valid.reserve(n);
    fp_valid.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      if (cluster->hosts[i] && cluster->hosts[i]->ejected.load(kRelaxed)) {
        hosts[i].ejected = true;
        hosts[i].ejection_time_unknown = true;
        hosts[i].multiplier = 1;
        ++ejected_count;
        has_unknown_times = true;
      }
    }
  }

  HostHealth* host(size_t index) const {
    return index < hosts.size() ? cluster->hosts[index].get() : nullptr;
  }

  void adoptUnknownEjectionTimes(SteadyTime now) {
    if (!has_unknown_times) {
      return;
    }
    for (HostState& state : hosts) {
      if (state.ejection_time_unknown) {
        state.ejection_time_unknown = false;
        state.ejection_time = now;
      }
    }
    has_unknown_times = false;
  }

  /// max_ejection_percent gate (Envoy's DetectorImpl::ejectHost): 100 x (ejected + 1) / total
  /// <= percent, or always_eject_one_host while nothing is ejected.
  bool ejectionAllowed() const {
    const uint64_t percent = std::min<uint64_t>(config.max_ejection_percent, 100);
    if (100 * (static_cast<uint64_t>(ejected_count) + 1) <= percent * hosts.size()) {
      return true;
    }
    return config.always_eject_one_host && ejected_count == 0;
  }

  uint32_t enforcingPercent(EjectionReason reason) const {
    switch (reason) {
      case EjectionReason::Consecutive5xx:
        return config.enforcing_consecutive_5xx;
      case EjectionReason::ConsecutiveGatewayFailure:
        return config.enforcing_consecutive_gateway_failure;
      case EjectionReason::ConsecutiveLocalOriginFailure:
        return config.enforcing_consecutive_local_origin_failure;
      case EjectionReason::SuccessRate:
        return config.enforcing_success_rate;
      case EjectionReason::LocalOriginSuccessRate:
        return config.enforcing_local_origin_success_rate;
      case EjectionReason::FailurePercentage:
        return config.enforcing_failure_percentage;
      case EjectionReason::LocalOriginFailurePercentage:
        return config.enforcing_failure_percentage_local_origin;
    }
    return 0;
  }

  /// Envoy's runtime featureEnabled(): 0 never, 100 always, otherwise a sample.
  bool enforced(uint32_t percent) {
    if (percent >= 100) {
      return true;
    }
    if (percent == 0) {
      return false;
    }
    return random.uniform(100) < percent;
  }

  /// Envoy DetectorImpl::ejectHost: the percent gate, then the enforcing_* sample, then the
  /// ejection. Returns true when the host was ejected.
  bool tryEject(size_t index, EjectionReason reason, SteadyTime now) {
    if (!ejectionAllowed()) {
      return false;  // Envoy: ejections_overflow
    }
    if (!enforced(enforcingPercent(reason))) {
      return false;  // Envoy: ejections_detected_* only
    }
    HostState& state = hosts[index];
    state.ejected = true;
    state.ejection_time_unknown = false;
    state.ejection_time = now;
    ++state.num_ejections;
    ++ejected_count;
    // Jitter so that hosts ejected together do not all return in the same sweep.
    state.jitter = std::chrono::milliseconds(jitter_ms == 0 ? 0 : random.uniform(jitter_ms + 1));
    if (static_cast<int64_t>(state.multiplier) * base.count() < max.count() + base.count()) {
      ++state.multiplier;
    }
    cluster->hosts[index]->ejected.store(true, kRelaxed);
    cluster->bump();
    if (on_change) {
      on_change(index, true, ejectionReasonName(reason));
    }
    return true;
  }

  void uneject(size_t index, SteadyTime now, const std::string& reason) {
    HostState& state = hosts[index];
    state.ejected = false;
    state.last_unejection = now;
    --ejected_count;
    HostHealth& health = *cluster->hosts[index];
    // Envoy resets every consecutive counter so that the one that did not trigger, close to
    // its threshold, does not re-eject the host after a few new errors.
    health.consecutive_5xx.store(0, kRelaxed);
    health.consecutive_gateway_failure.store(0, kRelaxed);
    health.consecutive_local_origin_failure.store(0, kRelaxed);
    health.ejected.store(false, kRelaxed);
    cluster->bump();
    if (on_change) {
      on_change(index, false, reason);
    }
  }

  config::Duration ejectionLength(const HostState& state) const {
    const config::Duration scaled = base * static_cast<int64_t>(state.multiplier);
    return std::min(scaled, max) + std::chrono::duration_cast<config::Duration>(state.jitter);
  }

  /// Envoy DetectorImpl::checkHostForUneject.
  void checkForUneject(size_t index, SteadyTime now) {
    HostState& state = hosts[index];
    if (!state.ejected) {
      // Healthy for at least an interval since its return: one step of backoff decay.
      if (state.last_unejection && now - *state.last_unejection >= config.interval &&
          state.multiplier > 0) {
        --state.multiplier;
      }
      return;
    }
    if (ejectionLength(state) <= now - state.ejection_time) {
      uneject(index, now, "returned");
    }
  }

  /// Envoy DetectorImpl::processSuccessRateEjections for one monitor (external or local).
  void analyse(const std::vector<Bucket>& buckets, EjectionReason sr_reason,
               EjectionReason fp_reason, SteadyTime now) {
    const size_t total_hosts = hosts.size();
    if (total_hosts < config.success_rate_minimum_hosts &&
        total_hosts < config.failure_percentage_minimum_hosts) {
      return;
    }
    const uint64_t sr_volume = std::max<uint64_t>(config.success_rate_request_volume, 1);
    const uint64_t fp_volume = std::max<uint64_t>(config.failure_percentage_request_volume, 1);
    sr_valid.clear();
    fp_valid.clear();
    double sr_sum = 0;
    for (size_t i = 0; i < total_hosts; ++i) {
      if (hosts[i].ejected) {
        continue;
      }
      const uint64_t volume = buckets[i].success + buckets[i].failure;
      if (volume == 0) {
        continue;
      }
      const double rate =
          100.0 * static_cast<double>(buckets[i].success) / static_cast<double>(volume);
      if (volume >= sr_volume) {
        sr_valid.push_back({i, rate});
        sr_sum += rate;
      }
      if (volume >= fp_volume) {
        fp_valid.push_back({i, rate});
      }
    }

    if (!sr_valid.empty() && sr_valid.size() >= config.success_rate_minimum_hosts) {
      const double count = static_cast<double>(sr_valid.size());
      const double mean = sr_sum / count;
      double variance = 0;
      for (const Candidate& c : sr_valid) {
        variance += (c.success_rate - mean) * (c.success_rate - mean);
      }
      variance /= count;
      const double threshold =
          mean -
          (static_cast<double>(config.success_rate_stdev_factor) / 1000.0) * std::sqrt(variance);
      for (const Candidate& c : sr_valid) {
        if (c.success_rate < threshold) {
          tryEject(c.index, sr_reason, now);
        }
      }
    }

    if (!fp_valid.empty() && fp_valid.size() >= config.failure_percentage_minimum_hosts) {
      const double threshold = static_cast<double>(config.failure_percentage_threshold);
      for (const Candidate& c : fp_valid) {
        // Success rate may have ejected it a moment ago.
        if (100.0 - c.success_rate >= threshold && !hosts[c.index].ejected) {
          tryEject(c.index, fp_reason, now);
        }
      }
    }
  }

  config::OutlierDetection config;
  ClusterHealthSharedPtr cluster;
  OnChange on_change;
  FastRandom random;
  const config::Duration base;
  const config::Duration max;
  const uint64_t jitter_ms;
  std::vector<HostState> hosts;
  size_t ejected_count = 0;
  bool has_unknown_times = false;
  // Sweep scratch space, sized once.
  std::vector<Bucket> external;
  std::vector<Bucket> local;
  std::vector<Candidate> sr_valid;
  std::vector<Candidate> fp_valid;
};

OutlierDetector::OutlierDetector(config::OutlierDetection config,
                                 std::shared_ptr<ClusterHealth> cluster, OnChange on_change,
                                 uint64_t seed)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(cluster), std::move(on_change),
                                   seed)) {}

OutlierDetector::~OutlierDetector() = default;

void OutlierDetector::onInterval(SteadyTime now) {
  Impl& d = *impl_;
  d.adoptUnknownEjectionTimes(now);
  for (size_t i = 0; i < d.hosts.size(); ++i) {
    if (d.host(i) == nullptr) {
      continue;
    }
    d.checkForUneject(i, now);
  }
  // Take the interval that just ended out of the worker-written buckets; the workers go on
  // counting into the zeroed atomics for the next one.
  for (size_t i = 0; i < d.hosts.size(); ++i) {
    HostHealth* h = d.host(i);
    if (h == nullptr) {
      d.external[i] = {};
      d.local[i] = {};
      continue;
    }
    d.external[i] = {h->interval_success.exchange(0, kRelaxed),
                     h->interval_failure.exchange(0, kRelaxed)};
    d.local[i] = {h->interval_local_success.exchange(0, kRelaxed),
                  h->interval_local_failure.exchange(0, kRelaxed)};
  }
  d.analyse(d.external, EjectionReason::SuccessRate, EjectionReason::FailurePercentage, now);
  if (d.config.split_external_local_origin_errors) {
    d.analyse(d.local, EjectionReason::LocalOriginSuccessRate,
              EjectionReason::LocalOriginFailurePercentage, now);
  }
}

void OutlierDetector::onConsecutiveThreshold(size_t host_index, SteadyTime now) {
  Impl& d = *impl_;
  d.adoptUnknownEjectionTimes(now);
  HostHealth* h = d.host(host_index);
  if (h == nullptr) {
    return;  // removed meanwhile
  }
  struct Check {
    std::atomic<uint32_t>* counter;
    uint32_t threshold;
    EjectionReason reason;
  };
  // Envoy's worker posts gateway before 5xx for the same response; keep that order so that a
  // run of 503s with gateway enforcement off still ejects for consecutive_5xx.
  const Check checks[] = {
      {&h->consecutive_gateway_failure, d.config.consecutive_gateway_failure,
       EjectionReason::ConsecutiveGatewayFailure},
      {&h->consecutive_5xx, d.config.consecutive_5xx, EjectionReason::Consecutive5xx},
      {&h->consecutive_local_origin_failure,
       d.config.split_external_local_origin_errors ? d.config.consecutive_local_origin_failure : 0,
       EjectionReason::ConsecutiveLocalOriginFailure},
  };
  for (const Check& check : checks) {
    if (d.hosts[host_index].ejected) {
      return;  // already ejected: ignored, counters stay until the return resets them
    }
    if (check.threshold == 0 || check.counter->load(kRelaxed) < check.threshold) {
      continue;  // disabled, or a success reset the run before we got here
    }
    d.tryEject(host_index, check.reason, now);
    // Reset whether or not it ejected, so the next full run fires again (Envoy).
    check.counter->store(0, kRelaxed);
  }
}

void OutlierDetector::onActiveHealthCheckSuccess(size_t host_index, SteadyTime now) {
  Impl& d = *impl_;
  d.adoptUnknownEjectionTimes(now);
  if (!d.config.successful_active_health_check_uneject_host || d.host(host_index) == nullptr ||
      !d.hosts[host_index].ejected) {
    return;
  }
  d.uneject(host_index, now, "active_health_check");
}

const config::OutlierDetection& OutlierDetector::config() const { return impl_->config; }

uint32_t OutlierDetector::ejectionsForTest(size_t host_index) const {
  return host_index < impl_->hosts.size() ? impl_->hosts[host_index].num_ejections : 0;
}

}  // namespace vallum::upstream::outlier
