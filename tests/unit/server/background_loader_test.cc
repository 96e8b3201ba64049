#include "server/background_loader.h"

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>

namespace vallum::server {
namespace {

using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

/// Runs `io` until `done` is true (the continuation sets it), at most 10 s.
bool runUntil(boost::asio::io_context& io, const bool& done) {
  const auto deadline = Clock::now() + seconds(10);
  while (!done && Clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(10));
    io.restart();
  }
  return done;
}

TEST(BackgroundLoaderTest, WorkRunsOffTheControlThreadAndItsContinuationOnIt) {
  boost::asio::io_context io;
  BackgroundLoader loader(io);
  const auto control_thread = std::this_thread::get_id();
  std::thread::id work_thread, continuation_thread;
  bool done = false;
  ASSERT_TRUE(loader.start([&](const std::atomic<bool>& cancel) -> std::function<void()> {
    work_thread = std::this_thread::get_id();
    EXPECT_FALSE(cancel.load());
    return [&] {
      continuation_thread = std::this_thread::get_id();
      done = true;
    };
  }));
  EXPECT_TRUE(loader.busy());
  ASSERT_TRUE(runUntil(io, done));
  EXPECT_NE(work_thread, control_thread);
  EXPECT_NE(work_thread, std::thread::id());
  EXPECT_EQ(continuation_thread, control_thread);
  EXPECT_FALSE(loader.busy());
}

TEST(BackgroundLoaderTest, OneAtATimeUntilTheContinuationHasRun) {
  boost::asio::io_context io;
  BackgroundLoader loader(io);
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  int runs = 0;
  bool done = false;
  auto work = [&, open](const std::atomic<bool>&) -> std::function<void()> {
    open.wait();
    return [&] {
      ++runs;
      done = true;
    };
  };
  ASSERT_TRUE(loader.start(work));
  EXPECT_FALSE(loader.start(work));  // running
  gate.set_value();
  ASSERT_TRUE(loader.waitIdle(Clock::now() + seconds(10)));
  EXPECT_TRUE(loader.busy());  // finished, but its continuation has not run yet
  EXPECT_FALSE(loader.start(work));
  ASSERT_TRUE(runUntil(io, done));
  EXPECT_EQ(runs, 1);
  done = false;
  EXPECT_TRUE(loader.start(work));  // the gate is open now
  ASSERT_TRUE(runUntil(io, done));
  EXPECT_EQ(runs, 2);
}

TEST(BackgroundLoaderTest, WorkWithoutAContinuationFreesTheLoader) {
  boost::asio::io_context io;
  BackgroundLoader loader(io);
  ASSERT_TRUE(loader.start([](const std::atomic<bool>&) { return std::function<void()>(); }));
  const auto deadline = Clock::now() + seconds(10);
  while (loader.busy() && Clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(10));
    io.restart();
  }
  EXPECT_FALSE(loader.busy());
}

TEST(BackgroundLoaderTest, CancelReachesRunningWorkAndRefusesNewWork) {
  boost::asio::io_context io;
  BackgroundLoader loader(io);
  std::promise<void> started;
  bool saw_cancel = false;
  bool done = false;
  ASSERT_TRUE(loader.start([&](const std::atomic<bool>& cancel) -> std::function<void()> {
    started.set_value();
    const auto deadline = Clock::now() + seconds(10);
    while (!cancel.load() && Clock::now() < deadline) {
      std::this_thread::yield();
    }
    bool seen = cancel.load();
    return [&, seen] {
      saw_cancel = seen;
      done = true;
    };
  }));
  started.get_future().wait();
  loader.cancel();
  ASSERT_TRUE(runUntil(io, done));
  EXPECT_TRUE(saw_cancel);
  EXPECT_FALSE(loader.start([](const std::atomic<bool>&) { return std::function<void()>(); }));
}

TEST(BackgroundLoaderTest, WaitIdleStopsAtTheDeadline) {
  boost::asio::io_context io;
  BackgroundLoader loader(io);
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  ASSERT_TRUE(loader.start([open](const std::atomic<bool>&) {
    open.wait();
    return std::function<void()>();
  }));
  EXPECT_FALSE(loader.waitIdle(Clock::now() + std::chrono::milliseconds(20)));
  gate.set_value();
  EXPECT_TRUE(loader.waitIdle(Clock::now() + seconds(10)));
}

// Large structures replaced on the control thread are freed on the loader thread.
TEST(BackgroundLoaderTest, RetiredObjectsAreFreedOnTheLoaderThread) {
  struct Tracked {
    explicit Tracked(std::promise<std::thread::id>* freed_in) : freed(freed_in) {}
    ~Tracked() { freed->set_value(std::this_thread::get_id()); }
    std::promise<std::thread::id>* freed;
  };
  boost::asio::io_context io;
  BackgroundLoader loader(io);
  std::promise<std::thread::id> freed;
  std::future<std::thread::id> freed_in = freed.get_future();
  loader.retire(std::make_shared<Tracked>(&freed));
  ASSERT_EQ(freed_in.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_NE(freed_in.get(), std::this_thread::get_id());

  // Retired while work runs: freed once the work is done, still on the loader thread.
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  std::promise<void> started;
  ASSERT_TRUE(loader.start([open, &started](const std::atomic<bool>&) {
    started.set_value();
    open.wait();
    return std::function<void()>();
  }));
  started.get_future().wait();
  std::promise<std::thread::id> freed_later;
  std::future<std::thread::id> freed_later_in = freed_later.get_future();
  loader.retire(std::make_shared<Tracked>(&freed_later));
  EXPECT_EQ(freed_later_in.wait_for(std::chrono::milliseconds(20)), std::future_status::timeout);
  gate.set_value();
  ASSERT_EQ(freed_later_in.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_NE(freed_later_in.get(), std::this_thread::get_id());
}

// Shutdown must not wait for work stuck in a call it cannot interrupt (a DNS lookup): the
// destructor returns at once, the work finishes on its own, and its continuation, which may
// refer to the destroyed owner, never runs.
TEST(BackgroundLoaderTest, DestroyingItWithWorkRunningDoesNotWaitAndDropsTheContinuation) {
  boost::asio::io_context io;
  auto gate = std::make_shared<std::promise<void>>();
  std::shared_future<void> open = gate->get_future().share();
  auto finished = std::make_shared<std::promise<bool>>();
  std::future<bool> finished_cancelled = finished->get_future();
  auto continuation_ran = std::make_shared<std::atomic<bool>>(false);
  {
    BackgroundLoader loader(io);
    std::promise<void> started;
    ASSERT_TRUE(loader.start([&started, open, finished, continuation_ran](
                                 const std::atomic<bool>& cancel) -> std::function<void()> {
      started.set_value();
      open.wait();
      finished->set_value(cancel.load());
      return [continuation_ran] { continuation_ran->store(true); };
    }));
    started.get_future().wait();
    EXPECT_FALSE(BackgroundLoader::abandonedWork());
  }  // destroyed while the work waits at the gate
  EXPECT_TRUE(BackgroundLoader::abandonedWork());
  gate->set_value();
  ASSERT_EQ(finished_cancelled.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_TRUE(finished_cancelled.get());  // the work was told to stop
  // Give a (wrongly) posted continuation every chance to run.
  io.run_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(continuation_ran->load());
}

}  // namespace
}  // namespace vallum::server
