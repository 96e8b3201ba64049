#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "config/options.h"

namespace prometheus {
struct MetricFamily;
}  // namespace prometheus

/// Prometheus metrics on `metrics_address` (Pomerium global option; docs/architecture.md §6;
/// docs/architecture.md §1 "own metric shards").
/// Workers write their own shard of every counter (single writer, relaxed atomics, no locks,
/// no shared cache lines between workers); a scrape sums the shards.
namespace vallum::metrics {

/// Upper bounds of the upstream latency histogram, in seconds.
inline constexpr std::array<double, 13> kLatencyBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};

/// One worker's counters for one route. Written only by that worker (relaxed load + store, not
/// a read-modify-write: there is one writer); read by the scrape thread.
struct alignas(64) RouteCounters {
  /// Responses by status class: [0] = none sent (aborted before a status), [1..5] = 1xx..5xx.
  std::array<std::atomic<uint64_t>, 6> responses{};
  std::atomic<uint64_t> request_bytes{0};   ///< request body bytes received
  std::atomic<uint64_t> response_bytes{0};  ///< response body bytes sent
  /// Upstream latency (request sent → response complete) histogram: bucket counts (not
  /// cumulative; +Inf is the last), sum in nanoseconds and count.
  std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> latency_buckets{};
  std::atomic<uint64_t> latency_sum_ns{0};
  std::atomic<uint64_t> latency_count{0};

  /// Records one finished request (worker thread only). `status` 0 = no response sent;
  /// `upstream_latency` is set when an upstream was contacted.
  void record(int status, uint64_t request_bytes, uint64_t response_bytes,
              std::optional<std::chrono::nanoseconds> upstream_latency);
};

/// One worker's downstream connections, published by the worker on its ticks (relaxed stores,
/// one writer) and summed over workers by a scrape: `active` have a connection manager (a
/// request in progress, a handshake, or idle for less than the parking delay), `parked` wait
/// for their next request without one (network/idle_park.h), `spare` are recycled connection
/// managers kept for new connections.
struct alignas(64) ConnectionGauges {
  std::atomic<uint64_t> active{0};
  std::atomic<uint64_t> parked{0};
  std::atomic<uint64_t> spare{0};
};

/// The live state of one endpoint, read at scrape time. The pointers stay valid while `owner`
/// is held (the upstream component's HostHealth).
struct EndpointView {
  std::string route;     ///< route label
  std::string endpoint;  ///< the configured address (`to` host[:port])
  std::shared_ptr<const void> owner;
  const std::atomic<bool>* active_healthy = nullptr;
  const std::atomic<bool>* ejected = nullptr;
  const std::atomic<uint32_t>* active_requests = nullptr;
  const std::atomic<uint64_t>* connect_failures = nullptr;
};

/// All metrics of the process. Thread-safety: routeCounters() may be called on any thread (it
/// takes the lock; the server's config loader thread calls it while compiling a snapshot);
/// setEndpoints() and the config counters are called on the control thread; render() on any
/// thread (the exporter's); RouteCounters are written by their worker.
class Registry {
 public:
  explicit Registry(size_t workers);
  ~Registry();

  /// The per-worker counters of a route label (the route's `name`, else "route-<id>"), created
  /// on first use and kept across reloads so counters stay monotonic. Index = worker.
  std::vector<RouteCounters*> routeCounters(const std::string& route_label);

  /// Replaces the endpoints reported by the gauges (the current snapshot's) and returns the
  /// previous ones, which the caller may free elsewhere (they may hold the last references to
  /// their owners; a config of many routes has many views).
  std::vector<EndpointView> setEndpoints(std::vector<EndpointView> endpoints);

  /// `vallum_config_reloads_total` / `vallum_config_reload_failures_total`.
  void configReloaded(bool ok);

  /// Worker `worker`'s connection gauges (stable address for the registry's life).
  ConnectionGauges& connectionGauges(size_t worker) { return connection_gauges_[worker]; }

  /// Prometheus text exposition (format 0.0.4), families in a stable order:
  /// vallum_route_responses_total{route,code_class}, vallum_route_request_bytes_total{route},
  /// vallum_route_response_bytes_total{route},
  /// vallum_route_upstream_latency_seconds{route} (histogram),
  /// vallum_endpoint_healthy{route,endpoint}, vallum_endpoint_ejected{route,endpoint},
  /// vallum_endpoint_active_requests{route,endpoint},
  /// vallum_endpoint_connect_failures_total{route,endpoint},
  /// vallum_config_reloads_total, vallum_config_reload_failures_total,
  /// vallum_downstream_connections{state="active"|"parked"},
  /// vallum_downstream_spare_connection_managers.
  std::string render() const;

  size_t workers() const { return workers_; }

 private:
  friend class Exporter;
  struct RouteSeries;

  /// The families render() serializes; the Exporter's prometheus::Collectable returns them too
  /// (one code path for both). Any thread; takes mutex_.
  std::vector<prometheus::MetricFamily> families() const;

  size_t workers_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::unique_ptr<RouteSeries>> routes_;
  std::vector<std::string> route_order_;
  std::vector<EndpointView> endpoints_;
  std::atomic<uint64_t> reloads_{0};
  std::atomic<uint64_t> reload_failures_{0};
  std::unique_ptr<ConnectionGauges[]> connection_gauges_;
};

/// Serves a Registry at http://ADDRESS/metrics (plain text exposition) from its own thread.
/// Other paths get 404.
class Exporter {
 public:
  /// Binds `address` (port 0 picks one) and starts serving. Errors: cannot bind.
  static Result<std::unique_ptr<Exporter>> start(const config::ListenAddress& address,
                                                 std::shared_ptr<const Registry> registry);
  ~Exporter();
  uint16_t port() const;

 private:
  Exporter();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vallum::metrics
