#include "proxy/worker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>
#include <vector>

namespace vallum::proxy {
namespace {

// The worker's io_context runs without locks: post() is the only way in from another thread.

TEST(WorkerPostTest, RunsOnTheWorkerThreadInOrderAndStopEndsRun) {
  Worker worker(0);
  std::vector<int> seen;
  std::thread::id ran_on;
  worker.post([&] { seen.push_back(1); });  // before run(): waits for it
  std::thread thread([&] { worker.run(); });
  std::promise<void> done;
  for (int i = 2; i <= 1000; ++i) {
    worker.post([&seen, &ran_on, i] {
      seen.push_back(i);
      ran_on = std::this_thread::get_id();
    });
  }
  worker.post([&] { done.set_value(); });
  ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const std::thread::id worker_thread = thread.get_id();
  worker.stop();
  thread.join();  // hangs (test timeout) if stop() were lost
  ASSERT_EQ(seen.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(seen[static_cast<size_t>(i)], i + 1);
  }
  EXPECT_EQ(ran_on, worker_thread);
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

TEST(WorkerPostTest, PostsFromSeveralThreadsAllRun) {
  Worker worker(1);
  std::thread thread([&] { worker.run(); });
  std::atomic<int> count{0};
  std::vector<std::thread> posters;
  for (int t = 0; t < 4; ++t) {
    posters.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        worker.post([&] { count.fetch_add(1, std::memory_order_relaxed); });
      }
    });
  }
  for (auto& p : posters) {
    p.join();
  }
  std::promise<int> total;
  worker.post([&] { total.set_value(count.load()); });
  auto f = total.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(f.get(), 2000);
  worker.stop();
  thread.join();
}

}  // namespace
}  // namespace vallum::proxy
