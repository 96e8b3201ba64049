#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

/// Health and load of upstream hosts shared between the control thread and the workers
/// (docs/architecture.md §1, §4): the control thread writes health (active checks, outlier
/// ejection); workers read it and count requests and results. Only atomics, relaxed ordering:
/// a worker that reads a stale flag for one more request is harmless, and the cluster epoch
/// tells workers to rebuild their balancers. No locks on the request path.
namespace vallum::upstream {

/// One endpoint's shared state. Lives as long as some snapshot's cluster holds it; the health
/// registry hands the same object to the next snapshot while the endpoint stays in the route,
/// so a reload keeps health and ejections.
struct HostHealth {
  /// Active health checking (Envoy HealthCheck): false until the first passing check when the
  /// cluster has health checks; always true without them.
  std::atomic<bool> active_healthy{true};
  /// Outlier detection (Envoy cluster.v3.OutlierDetection): true while ejected.
  std::atomic<bool> ejected{false};

  /// Requests in flight on all workers (LEAST_REQUEST, metrics).
  std::atomic<uint32_t> active_requests{0};
  /// Sticky: a request has been sent to this host since the process started (Envoy's "cluster
  /// has carried traffic", which ends a health check's `no_traffic_interval` phase). Workers
  /// store it only while it reads false, so the line is written once.
  std::atomic<bool> carried_traffic{false};

  /// Marks the host as having carried traffic; one relaxed load per request afterwards.
  void noteTraffic() {
    if (!carried_traffic.load(std::memory_order_relaxed)) {
      carried_traffic.store(true, std::memory_order_relaxed);
    }
  }

  /// Outlier counters, written by workers, read and reset by the control thread.
  std::atomic<uint32_t> consecutive_5xx{0};
  std::atomic<uint32_t> consecutive_gateway_failure{0};
  std::atomic<uint32_t> consecutive_local_origin_failure{0};
  /// Current-interval buckets for success-rate / failure-percentage analysis (external and,
  /// with split_external_local_origin_errors, local origin).
  std::atomic<uint64_t> interval_success{0};
  std::atomic<uint64_t> interval_failure{0};
  std::atomic<uint64_t> interval_local_success{0};
  std::atomic<uint64_t> interval_local_failure{0};

  /// Lifetime counters for metrics.
  std::atomic<uint64_t> connect_failures{0};

  /// Routable = passing active checks and not ejected.
  bool routable() const {
    return active_healthy.load(std::memory_order_relaxed) &&
           !ejected.load(std::memory_order_relaxed);
  }
};
using HostHealthSharedPtr = std::shared_ptr<HostHealth>;

/// A cluster's hosts (same order as Cluster::endpoints) and an epoch bumped by the control
/// thread after every change of any host's `active_healthy` or `ejected`. Workers compare it
/// with the epoch their balancer was built at (one relaxed load per pick).
struct ClusterHealth {
  std::vector<HostHealthSharedPtr> hosts;
  std::atomic<uint64_t> epoch{0};

  void bump() { epoch.fetch_add(1, std::memory_order_release); }
};
using ClusterHealthSharedPtr = std::shared_ptr<ClusterHealth>;

/// What a request's outcome means for outlier detection (Envoy's outlier detection: local
/// origin failures map to 503/504/500 unless split_external_local_origin_errors).
enum class RequestOutcome : uint8_t {
  Success,             ///< a response that is not 5xx (4xx included)
  Upstream5xx,         ///< a 5xx other than 502/503/504 from the upstream
  UpstreamGateway,     ///< 502/503/504 from the upstream
  LocalConnectFailure, ///< connect refused/unreachable/timeout (maps to 503 unless split)
  LocalTimeout,        ///< route timeout (maps to 504 unless split)
  LocalReset,          ///< reset / closed before the response (maps to 500 unless split)
};

}  // namespace vallum::upstream
