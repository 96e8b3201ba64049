#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "common/random.h"
#include "network/accept_backoff.h"
#include "network/connection_registry.h"
#include "network/idle_park.h"
#include "metrics/registry.h"
#include "proxy/access_log.h"
#include "proxy/snapshot.h"
#include "upstream/lb/load_balancer.h"
#include "upstream/pool/connection_pool.h"

namespace vallum::proxy {

/// One route's balancer on one worker, rebuilt when the cluster's health epoch moves.
struct RouteBalancer {
  upstream::lb::LoadBalancerPtr lb;
  uint64_t epoch = UINT64_MAX;
  bool panic = false;
};

/// A snapshot as one worker uses it: the shared immutable Snapshot plus this worker's own
/// mutable per-route state (balancers) and its pool lookups, resolved once.
struct WorkerSnapshot {
  SnapshotConstSharedPtr snapshot;
  std::vector<RouteBalancer> balancers;                           ///< per route
  std::vector<std::vector<upstream::pool::EndpointPool*>> pools;  ///< per route, per endpoint
};
using WorkerSnapshotSharedPtr = std::shared_ptr<WorkerSnapshot>;

class GoogleIdTokens;
class OidcClient;

/// One worker thread's world (docs/architecture.md §1): its io_context, its own SO_REUSEPORT
/// acceptor, downstream connections, upstream pools, balancer state and access-log buffer.
/// Everything here is touched by the worker thread only. The io_context runs without any
/// locking (asio's UNSAFE concurrency hint), so other threads never touch io() once the worker
/// runs: the control thread talks to the worker through post() alone.
class Worker {
 public:
  explicit Worker(size_t index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// The worker's event loop. Worker thread only once run() started (before that, the thread
  /// that built the worker may open sockets on it).
  boost::asio::io_context& io() { return io_; }
  size_t index() const { return index_; }

  /// Runs `fn` on the worker thread, in posting order. The only call any thread may make: the
  /// function is queued under a mutex and an eventfd wakes the worker (cross-thread calls are
  /// rare — reloads, drain, stop — so the lock never sits on the request path). Before run(),
  /// the functions wait for it.
  void post(std::function<void()> fn);

  /// Replaces the current snapshot (call on the worker thread; the server posts it). Requests
  /// in flight keep the one they started with.
  void install(SnapshotConstSharedPtr snapshot);

  /// Picks an endpoint of route `route_index` (worker thread): rebuilds the route's balancer
  /// from the cluster's routable hosts (panic threshold applied) when the health epoch moved,
  /// then asks it. nullopt = no host (503 "no healthy upstream").
  std::optional<uint32_t> pickEndpoint(WorkerSnapshot& snapshot, uint32_t route_index,
                                       std::optional<uint64_t> hash);
  const WorkerSnapshotSharedPtr& current() const { return current_; }

  /// Starts accepting on `acceptor` (already bound and listening; moved in). Worker thread.
  void startAccepting(boost::asio::ip::tcp::acceptor acceptor);

  /// Stops accepting, asks every connection to finish its request and close, and calls
  /// `on_idle` (on the worker thread) once no connection is left. Worker thread.
  void drain(std::function<void()> on_idle);
  bool draining() const { return draining_; }
  /// Live downstream connections (worker thread).
  size_t connectionCount() const { return registry_.size(); }

  /// Runs the event loop until stopped (call on the worker thread).
  void run();
  /// Ends run() (any thread: goes through post()).
  void stop();

  // Used by connections (worker thread only).
  network::ConnectionRegistry& registry() { return registry_; }
  upstream::pool::ConnectionPools& pools() { return pools_; }
  FastRandom& random() { return random_; }
  AccessLog& accessLog() { return access_log_; }
  DateCache& dates() { return dates_; }
  /// The identity provider client of this worker (sign-in), created on first use.
  OidcClient& oidc();
  /// The Google ID tokens of this worker (Google Cloud serverless routes), created on first use.
  GoogleIdTokens& googleIdTokens();
  /// Called by a connection when it ends (for drain bookkeeping).
  void connectionClosed();

  /// Spare downstream connection objects of one `kind` (0 plain, 1 TLS), recycled so their
  /// grown buffers serve the next connection (newconn: no per-connection malloc/free of a
  /// dozen buffers). take returns null when none is spare; keep holds at most
  /// kMaxSpareConnections per kind and frees the rest. Worker thread only.
  static constexpr size_t kMaxSpareConnections = 64;
  std::unique_ptr<network::TrackedConnection> takeSpareConnection(size_t kind) {
    auto& spares = spare_connections_[kind];
    if (spares.empty()) {
      return nullptr;
    }
    std::unique_ptr<network::TrackedConnection> c = std::move(spares.back());
    spares.pop_back();
    return c;
  }
  /// A closing connection gave `bytes` of grown buffers back to the allocator. Once enough has
  /// been freed, the next tick asks the allocator to return free pages to the system
  /// (malloc_trim): glibc keeps freed heap memory otherwise, so a burst of huge heads would
  /// stay in the process's RSS after its connections closed. Worker thread only.
  void noteMemoryFreed(size_t bytes) { memory_freed_ += bytes; }

  /// Keeps `c` for reuse; false when the spare list is full (or the worker drains) and `c`
  /// was freed.
  bool keepSpareConnection(size_t kind, std::unique_ptr<network::TrackedConnection> c) {
    auto& spares = spare_connections_[kind];
    if (spares.size() < kMaxSpareConnections && !draining_) {
      spares.push_back(std::move(c));
      return true;
    }
    return false;
  }
  size_t spareConnections() const {
    return spare_connections_[0].size() + spare_connections_[1].size();
  }

  /// HTTP/1 connection managers waiting for a connection's next request (not parked yet).
  size_t idleHttp1Managers() const { return idle_http1_managers_; }
  void noteIdleHttp1Manager(int delta) { idle_http1_managers_ += static_cast<size_t>(delta); }

  /// Idle keep-alive connections parked without a connection manager (network/idle_park.h).
  network::IdlePark& idlePark() { return idle_park_; }
  /// Where this worker publishes its connection gauges (set before the worker runs; null:
  /// nowhere).
  void setConnectionGauges(metrics::ConnectionGauges* gauges) { gauges_ = gauges; }

  /// Set by the server before the worker runs: called on the worker thread when an outlier
  /// consecutive counter of `route_id`'s host `host_index` reached its threshold; the server
  /// posts the decision to the control thread.
  void setOutlierReport(std::function<void(const std::string& route_id, uint32_t host_index)> fn) {
    outlier_report_ = std::move(fn);
  }
  void reportOutlierThreshold(const std::string& route_id, uint32_t host_index) {
    if (outlier_report_) {
      outlier_report_(route_id, host_index);
    }
  }

 private:
  void acceptNext();
  /// Waits for the mailbox's eventfd and runs what post() queued.
  void readMailbox();
  void onTick();
  void publishGauges();

  size_t index_;
  boost::asio::io_context io_;
  boost::asio::posix::stream_descriptor mailbox_wake_;  ///< an eventfd
  std::mutex mailbox_mutex_;
  std::vector<std::function<void()>> mailbox_;  ///< guarded by mailbox_mutex_
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  boost::asio::ip::tcp::endpoint accept_peer_;  ///< filled by the accept in flight
  network::AcceptBackoff accept_backoff_;
  size_t memory_freed_ = 0;  ///< since the last malloc_trim (noteMemoryFreed)
  size_t idle_http1_managers_ = 0;
  WorkerSnapshotSharedPtr current_;
  network::ConnectionRegistry registry_;
  network::IdlePark idle_park_;
  metrics::ConnectionGauges* gauges_ = nullptr;
  upstream::pool::ConnectionPools pools_;
  FastRandom random_;
  AccessLog access_log_;
  DateCache dates_;
  std::unique_ptr<OidcClient> oidc_;
  std::unique_ptr<GoogleIdTokens> google_id_tokens_;
  bool draining_ = false;
  std::function<void()> on_idle_;
  std::function<void(const std::string&, uint32_t)> outlier_report_;
  std::chrono::steady_clock::time_point last_sweep_{};
  /// Declared last: destroyed first, while io_ (their timers' service) still exists.
  std::vector<std::unique_ptr<network::TrackedConnection>> spare_connections_[2];
};

}  // namespace vallum::proxy
