#include "server/background_loader.h"

#include <condition_variable>
#include <exception>
#include <mutex>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>

#include "common/logging.h"

namespace vallum::server {

namespace {

std::atomic<bool> g_abandoned{false};

}  // namespace

/// Shared by the owner (control thread) and the loader thread; outlives the owner when work is
/// abandoned. Fields without a comment are guarded by `mutex`.
struct BackgroundLoader::Shared {
  std::mutex mutex;
  std::condition_variable wake;                      ///< work arrived, or stop
  std::condition_variable settled;                   ///< the loader thread went idle
  Work work;                                         ///< the next piece, taken by the loader thread
  std::vector<std::shared_ptr<const void>> garbage;  ///< released by the loader thread
  bool running = false;
  bool stop = false;
  /// Where continuations go; null once the owner is gone.
  boost::asio::io_context* control = nullptr;
  /// Read and written on the control thread only (continuations check it before running).
  BackgroundLoader* owner = nullptr;
  std::atomic<bool> cancel{false};  ///< read by the work without the mutex
};

BackgroundLoader::BackgroundLoader(boost::asio::io_context& control)
    : shared_(std::make_shared<Shared>()) {
  shared_->control = &control;
  shared_->owner = this;
  thread_ = std::thread([shared = shared_] { loop(shared); });
}

BackgroundLoader::~BackgroundLoader() {
  bool running = false;
  {
    std::lock_guard lock(shared_->mutex);
    shared_->owner = nullptr;
    shared_->control = nullptr;
    shared_->stop = true;
    shared_->cancel.store(true, std::memory_order_relaxed);
    running = shared_->running;
  }
  shared_->wake.notify_all();
  if (running) {
    // The work may be inside a library call that cannot be interrupted (a DNS lookup): the
    // process must not wait for it. It holds only what it owns, and with `control` cleared its
    // continuation is never posted.
    g_abandoned.store(true, std::memory_order_relaxed);
    thread_.detach();
  } else {
    thread_.join();
  }
}

void BackgroundLoader::loop(const std::shared_ptr<Shared>& shared) {
  std::unique_lock lock(shared->mutex);
  while (true) {
    shared->wake.wait(
        lock, [&] { return shared->stop || shared->work != nullptr || !shared->garbage.empty(); });
    if (shared->stop) {
      return;
    }
    if (!shared->garbage.empty()) {
      std::vector<std::shared_ptr<const void>> garbage;
      garbage.swap(shared->garbage);
      lock.unlock();
      garbage.clear();
      lock.lock();
      continue;
    }
    Work work = std::move(shared->work);
    shared->work = nullptr;
    shared->running = true;
    lock.unlock();
    std::function<void()> then;
    try {
      then = work(shared->cancel);
    } catch (const std::exception& e) {
      VALLUM_LOG_ERROR("config loader: unexpected error: {}", e.what());
    } catch (...) {
      VALLUM_LOG_ERROR("config loader: unexpected error");
    }
    work = nullptr;  // what the work captured is released here, off the control thread
    lock.lock();
    shared->running = false;
    if (shared->control != nullptr) {
      boost::asio::post(*shared->control, [shared, then = std::move(then)] {
        BackgroundLoader* owner = shared->owner;
        if (owner == nullptr) {
          return;  // the owner is gone: its state must not be touched
        }
        owner->busy_ = false;
        if (then) {
          then();
        }
      });
    }
    shared->settled.notify_all();
  }
}

bool BackgroundLoader::start(Work work) {
  if (busy_ || cancelled_) {
    return false;
  }
  busy_ = true;
  {
    std::lock_guard lock(shared_->mutex);
    shared_->work = std::move(work);
  }
  shared_->wake.notify_one();
  return true;
}

bool BackgroundLoader::busy() const { return busy_; }

void BackgroundLoader::retire(std::shared_ptr<const void> garbage) {
  {
    std::lock_guard lock(shared_->mutex);
    if (shared_->stop) {
      return;  // released here
    }
    shared_->garbage.push_back(std::move(garbage));
  }
  shared_->wake.notify_one();
}

void BackgroundLoader::cancel() {
  cancelled_ = true;
  shared_->cancel.store(true, std::memory_order_relaxed);
}

bool BackgroundLoader::waitIdle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(shared_->mutex);
  return shared_->settled.wait_until(lock, deadline,
                                     [&] { return !shared_->running && shared_->work == nullptr; });
}

bool BackgroundLoader::abandonedWork() { return g_abandoned.load(std::memory_order_relaxed); }

}  // namespace vallum::server
