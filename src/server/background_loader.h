#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include <boost/asio/io_context.hpp>

namespace vallum::server {

/// Runs long control-plane work (loading and compiling a config) on a thread of its own, one
/// piece at a time, so that the control thread keeps running health checks, outlier sweeps,
/// signal handling and drain meanwhile (docs/architecture.md §1: the control thread must never
/// stall).
///
/// Work runs on the loader thread and returns a continuation, which the loader posts to the
/// control io_context given at construction. Work must own everything it touches (copies or
/// shared_ptrs of immutable or internally synchronized data): it may outlive this object (see
/// the destructor). The continuation runs on the control thread and may touch control-thread
/// state freely.
///
/// Every method is called on the control thread.
class BackgroundLoader {
 public:
  /// Runs on the loader thread. `cancel` becomes true when cancel() is called or the loader is
  /// destroyed; long work should poll it and return early. The result runs on the control
  /// thread (an empty function: nothing to do).
  using Work = std::function<std::function<void()>(const std::atomic<bool>& cancel)>;

  /// `control` must outlive this object. Starts the loader thread.
  explicit BackgroundLoader(boost::asio::io_context& control);

  /// Sets the cancel flag. When the loader is idle its thread is joined; when work is still
  /// running, the thread is detached and the work finishes on its own: its continuation is then
  /// never posted, and nothing it holds refers to this object. abandonedWork() tells the caller
  /// that such work may still be running (see serve()).
  ~BackgroundLoader();
  BackgroundLoader(const BackgroundLoader&) = delete;
  BackgroundLoader& operator=(const BackgroundLoader&) = delete;

  /// Starts `work` unless work is running or its continuation has not run yet; false then
  /// (nothing is queued: the caller decides whether to try again later).
  bool start(Work work);

  /// True from start() until the continuation of that work has run (or would have: work that
  /// returned no continuation, or work whose continuation could not be posted).
  bool busy() const;

  /// Drops this reference to `garbage` on the loader thread (soon, between pieces of work), so
  /// that freeing a large structure (the health map of tens of thousands of routes) does not
  /// stall the control thread. Works while busy and after cancel().
  void retire(std::shared_ptr<const void> garbage);

  /// Asks running work to stop (its `cancel` flag becomes true); new work is refused from now.
  void cancel();

  /// Waits until no work runs on the loader thread, at most until `deadline`. True when idle.
  /// For shutdown, when the control io_context has stopped (a continuation posted meanwhile is
  /// not run).
  bool waitIdle(std::chrono::steady_clock::time_point deadline);

  /// True once a destroyed loader left running work behind (process-wide; sticky).
  static bool abandonedWork();

 private:
  struct Shared;
  static void loop(const std::shared_ptr<Shared>& shared);

  std::shared_ptr<Shared> shared_;
  std::thread thread_;
  bool busy_ = false;
  bool cancelled_ = false;
};

}  // namespace vallum::server
