#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "metrics/registry.h"
#include "proxy/snapshot.h"
#include "server/snapshot_job.h"

namespace vallum::server {

/// The control thread's per-route machinery, kept across reloads by route id: active health
/// checkers, outlier detectors and their sweep timers, the endpoint gauges of the metrics
/// registry, and the shared health state (HealthById) that the next snapshot is compiled
/// against. Health changes and ejections are logged here, with config names escaped
/// (common/printable.h).
///
/// Control thread only: every method, and every callback it installs, runs there.
class RouteControls {
 public:
  /// `io` (the control io_context) and `metrics` must outlive this object. `seed` seeds the
  /// checkers' and detectors' jitter.
  RouteControls(boost::asio::io_context& io, metrics::Registry& metrics, uint64_t seed);
  ~RouteControls();
  RouteControls(const RouteControls&) = delete;
  RouteControls& operator=(const RouteControls&) = delete;

  /// Starts, keeps or stops each route's health checker and outlier detector for `snapshot`
  /// (an unchanged setup keeps running with its state) and forgets routes that are gone. The
  /// snapshot's health state by route id and its endpoint gauges come prepared in `plan`
  /// (preparePublish(), run with the compile): the cost here is a branch per route plus the
  /// routes that have checks or outlier detection.
  /// Returns what it replaced (the previous health map and endpoint gauges), for the caller to
  /// free off the control thread.
  [[nodiscard]] std::shared_ptr<const void> apply(const proxy::Snapshot& snapshot,
                                                  PublishPlan plan);

  /// The health state by route id of the published snapshot, for compiling the next one
  /// (immutable: shared with the job, not copied).
  std::shared_ptr<const HealthById> health() const;

  /// A worker saw a host of route `route_id` reach an outlier-detection threshold.
  void onOutlierThreshold(const std::string& route_id, uint32_t host);

  /// Stops every checker and sweep timer (shutdown).
  void stopAll();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vallum::server
