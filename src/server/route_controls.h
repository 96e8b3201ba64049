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
  /// (an unchanged setup keeps running with its state), adopts the snapshot's health state as
  /// the one kept for each route id, forgets routes that are gone, and tells the metrics
  /// registry about the endpoints.
  void apply(const proxy::Snapshot& snapshot);

  /// The health state by route id, for compiling the next snapshot (copied into the job).
  const HealthById& health() const;

  /// A worker saw a host of route `route_id` reach an outlier-detection threshold.
  void onOutlierThreshold(const std::string& route_id, uint32_t host);

  /// Stops every checker and sweep timer (shutdown).
  void stopAll();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vallum::server
