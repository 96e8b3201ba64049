#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace vallum::network {

using SteadyTime = std::chrono::steady_clock::time_point;
inline constexpr SteadyTime kNoDeadline = SteadyTime::max();

/// A connection as the registry sees it. Owned by its connection coroutine, which links it in
/// on start and unlinks it on exit (RAII: Registration).
class TrackedConnection {
 public:
  virtual ~TrackedConnection() = default;

  /// Called once when `deadline()` has passed. Called on the owning worker only. It may
  /// unlink and free this connection, never another one.
  virtual void onDeadline() = 0;
  /// Called once when the server starts draining: finish the current request, then close;
  /// an idle connection closes now. Called on the owning worker only.
  virtual void onDrain() = 0;

  /// The time after which onDeadline() runs; kNoDeadline for none. Setting it costs a store:
  /// the registry's scanner checks deadlines every tick (coarse timers: a timeout fires up to
  /// one tick late, never early).
  void setDeadline(SteadyTime deadline) { deadline_ = deadline; }
  SteadyTime deadline() const { return deadline_; }

 private:
  friend class ConnectionRegistry;
  SteadyTime deadline_ = kNoDeadline;
  TrackedConnection* prev_ = nullptr;
  TrackedConnection* next_ = nullptr;
};

/// Per-worker intrusive list of live connections, with one coarse timer that scans their
/// deadlines every `tick` while any connection (or tick client) exists. Lets a request arm and
/// disarm its timeouts with plain stores instead of timer-queue operations (docs/architecture.md §1:
/// the hot path stays allocation-light). Single-threaded: owned and used by one worker.
class ConnectionRegistry {
 public:
  ConnectionRegistry(boost::asio::io_context& io, std::chrono::milliseconds tick);
  ~ConnectionRegistry();

  void add(TrackedConnection& connection);
  void remove(TrackedConnection& connection);
  size_t size() const { return size_; }

  /// Calls onDrain() on every connection (connections may unlink themselves meanwhile).
  void drainAll();

  /// Extra work run on every tick while the ticker runs (e.g. flushing the access log).
  void setTickHook(std::function<void()> hook) { tick_hook_ = std::move(hook); }
  /// Keeps the ticker running even with no connections (while the hook has pending work).
  void requestTick();

  /// RAII link of one connection.
  class Registration {
   public:
    Registration(ConnectionRegistry& registry, TrackedConnection& connection)
        : registry_(registry), connection_(connection) {
      registry_.add(connection_);
    }
    ~Registration() { registry_.remove(connection_); }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;

   private:
    ConnectionRegistry& registry_;
    TrackedConnection& connection_;
  };

 private:
  void armTicker();
  void onTick();

  boost::asio::steady_timer timer_;
  std::chrono::milliseconds tick_;
  TrackedConnection* head_ = nullptr;
  size_t size_ = 0;
  bool ticking_ = false;
  bool tick_requested_ = false;
  std::function<void()> tick_hook_;
  std::vector<TrackedConnection*> expired_;  ///< onTick's scratch list (kept: no allocation)
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace vallum::network
