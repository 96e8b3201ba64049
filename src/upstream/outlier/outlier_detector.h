#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/random.h"
#include "config/options.h"
#include "upstream/host_health.h"

/// Outlier detection (Pomerium `outlier_detection`; Envoy cluster.v3.OutlierDetection): workers
/// count results per host without locks; the control thread decides.
namespace vallum::upstream::outlier {

using SteadyTime = std::chrono::steady_clock::time_point;

/// Worker side. Records one request's outcome on `host` (relaxed atomics only) as Envoy's
/// outlier detection counts it (split_external_local_origin_errors decides where local
/// failures go).
/// Returns true when a consecutive counter has just reached its threshold (== threshold): the
/// worker then posts OutlierDetector::onConsecutiveThreshold() to the control thread.
bool recordOutcome(HostHealth& host, RequestOutcome outcome, const config::OutlierDetection& config);

/// Why a host was ejected.
enum class EjectionReason : uint8_t {
  Consecutive5xx,
  ConsecutiveGatewayFailure,
  ConsecutiveLocalOriginFailure,
  SuccessRate,
  LocalOriginSuccessRate,
  FailurePercentage,
  LocalOriginFailurePercentage,
};
const char* ejectionReasonName(EjectionReason reason);

/// Control-thread side for one cluster. Decides ejections (max_ejection_percent /
/// always_eject_one_host gates, enforcing_* sampling), ejection length base x multiplier
/// capped at max (+ jitter), multiplier growth and decay, un-ejection at the interval sweep,
/// success-rate and failure-percentage analysis over the previous interval's counts. On every
/// ejection or return it stores HostHealth::ejected, bumps the cluster epoch and calls
/// `on_change(host_index, ejected, reason text)`. Time comes from the caller (tests pass a
/// fake clock); randomness from a seeded FastRandom.
class OutlierDetector {
 public:
  using OnChange = std::function<void(size_t host_index, bool ejected, const std::string& reason)>;

  OutlierDetector(config::OutlierDetection config, std::shared_ptr<ClusterHealth> cluster,
                  OnChange on_change, uint64_t seed);
  ~OutlierDetector();

  /// The sweep, every `config.interval`: un-eject hosts whose time is up, decay multipliers,
  /// run success-rate / failure-percentage analysis, reset the interval buckets.
  void onInterval(SteadyTime now);
  /// A worker saw a consecutive counter reach its threshold on `host_index`.
  void onConsecutiveThreshold(size_t host_index, SteadyTime now);
  /// An active health check passed on `host_index` (un-ejects when
  /// successful_active_health_check_uneject_host).
  void onActiveHealthCheckSuccess(size_t host_index, SteadyTime now);

  const config::OutlierDetection& config() const;
  /// Number of ejections of a host so far (tests, metrics).
  uint32_t ejectionsForTest(size_t host_index) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vallum::upstream::outlier
