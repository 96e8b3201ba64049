// Workers count on shared hosts without locks while the control thread sweeps: nothing may be
// lost or torn. (Runs in the ASan+UBSan build; the same test is meant for the tsan preset.)

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/random.h"
#include "unit/upstream/outlier/outlier_test_cluster.h"
#include "upstream/outlier/outlier_detector.h"

namespace vallum::upstream::outlier {
namespace {

using namespace std::chrono_literals;

constexpr size_t kHosts = 3;
constexpr size_t kThreads = 4;
constexpr int kPerThread = 100000;

struct Tally {
  std::array<uint64_t, kHosts> success{};
  std::array<uint64_t, kHosts> failure{};
  std::array<uint64_t, kHosts> local_success{};
  std::array<uint64_t, kHosts> local_failure{};
  uint64_t fired = 0;
};

RequestOutcome pick(FastRandom& random) {
  // Mostly successes, with bursts of failures often enough for counters to reach 5.
  const uint64_t r = random.uniform(100);
  if (r < 60) {
    return RequestOutcome::Success;
  }
  if (r < 75) {
    return RequestOutcome::Upstream5xx;
  }
  if (r < 85) {
    return RequestOutcome::UpstreamGateway;
  }
  if (r < 90) {
    return RequestOutcome::LocalConnectFailure;
  }
  if (r < 95) {
    return RequestOutcome::LocalTimeout;
  }
  return RequestOutcome::LocalReset;
}

bool isLocal(RequestOutcome o) {
  return o == RequestOutcome::LocalConnectFailure || o == RequestOutcome::LocalTimeout ||
         o == RequestOutcome::LocalReset;
}

/// Runs kThreads workers over `cluster`; each fired report bumps `posts[host]`.
std::vector<Tally> hammer(ClusterHealth& cluster, const config::OutlierDetection& cfg,
                          std::array<std::atomic<uint32_t>, kHosts>* posts) {
  std::vector<Tally> tallies(kThreads);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      FastRandom random(1000 + t);
      Tally& tally = tallies[t];
      for (int i = 0; i < kPerThread; ++i) {
        const size_t host = random.uniform(kHosts);
        const RequestOutcome outcome = pick(random);
        if (recordOutcome(*cluster.hosts[host], outcome, cfg)) {
          ++tally.fired;
          if (posts != nullptr) {
            (*posts)[host].fetch_add(1, std::memory_order_relaxed);
          }
        }
        const bool local = isLocal(outcome);
        if (cfg.split_external_local_origin_errors) {
          if (local) {
            ++tally.local_failure[host];
            continue;
          }
          ++tally.local_success[host];
        }
        if (outcome == RequestOutcome::Success) {
          ++tally.success[host];
        } else {
          ++tally.failure[host];
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  return tallies;
}

void expectBucketsMatch(ClusterHealth& cluster, const std::vector<Tally>& tallies) {
  uint64_t all = 0;
  for (size_t h = 0; h < kHosts; ++h) {
    uint64_t success = 0;
    uint64_t failure = 0;
    uint64_t local_success = 0;
    uint64_t local_failure = 0;
    for (const Tally& t : tallies) {
      success += t.success[h];
      failure += t.failure[h];
      local_success += t.local_success[h];
      local_failure += t.local_failure[h];
    }
    const HostHealth& host = *cluster.hosts[h];
    EXPECT_EQ(host.interval_success.load(), success) << h;
    EXPECT_EQ(host.interval_failure.load(), failure) << h;
    EXPECT_EQ(host.interval_local_success.load(), local_success) << h;
    EXPECT_EQ(host.interval_local_failure.load(), local_failure) << h;
    all += host.interval_failure.load() + host.interval_success.load() +
           host.interval_local_failure.load();
    EXPECT_LE(host.consecutive_5xx.load(), failure) << h;
    EXPECT_LE(host.consecutive_gateway_failure.load(), host.consecutive_5xx.load()) << h;
  }
  EXPECT_EQ(all, kThreads * kPerThread);
}

TEST(OutlierThreadsTest, NoIncrementIsLostWithoutSplit) {
  config::OutlierDetection cfg;
  auto cluster = testing::TestCluster::makeCluster(kHosts);
  const auto tallies = hammer(*cluster, cfg, nullptr);
  expectBucketsMatch(*cluster, tallies);
  uint64_t fired = 0;
  for (const Tally& t : tallies) {
    fired += t.fired;
  }
  EXPECT_GT(fired, 0u);
}

TEST(OutlierThreadsTest, NoIncrementIsLostWithSplit) {
  config::OutlierDetection cfg;
  cfg.split_external_local_origin_errors = true;
  auto cluster = testing::TestCluster::makeCluster(kHosts);
  const auto tallies = hammer(*cluster, cfg, nullptr);
  expectBucketsMatch(*cluster, tallies);
}

TEST(OutlierThreadsTest, ControlThreadSweepsWhileWorkersCount) {
  config::OutlierDetection cfg;
  cfg.interval = 1ms;
  cfg.base_ejection_time = 3ms;
  cfg.max_ejection_time = 10ms;
  cfg.max_ejection_percent = 100;
  cfg.enforcing_consecutive_gateway_failure = 100;
  cfg.enforcing_failure_percentage = 100;
  cfg.success_rate_minimum_hosts = 3;
  cfg.failure_percentage_minimum_hosts = 3;
  cfg.success_rate_request_volume = 10;
  cfg.failure_percentage_request_volume = 10;
  cfg.failure_percentage_threshold = 45;

  auto cluster = testing::TestCluster::makeCluster(kHosts);
  std::vector<std::pair<size_t, bool>> changes;  // control thread only
  OutlierDetector detector(
      cfg, cluster,
      [&](size_t host, bool ejected, const std::string&) { changes.emplace_back(host, ejected); },
      7);
  std::array<std::atomic<uint32_t>, kHosts> posts{};
  std::atomic<bool> done{false};
  std::atomic<uint64_t> sweeps{0};
  std::thread control([&] {
    SteadyTime now = SteadyTime{} + 1h;
    while (!done.load(std::memory_order_acquire)) {
      for (size_t h = 0; h < kHosts; ++h) {
        for (uint32_t n = posts[h].exchange(0, std::memory_order_relaxed); n > 0; --n) {
          detector.onConsecutiveThreshold(h, now);
        }
      }
      now += 500us;
      detector.onInterval(now);
      sweeps.fetch_add(1, std::memory_order_release);
      std::this_thread::yield();
    }
  });
  // The workers start once the control thread runs (on a loaded machine it may not be
  // scheduled before a short hammer ends, and then nothing was concurrent).
  while (sweeps.load(std::memory_order_acquire) == 0) {
    std::this_thread::yield();
  }
  hammer(*cluster, cfg, &posts);
  done.store(true, std::memory_order_release);
  control.join();

  EXPECT_GT(sweeps.load(), 0u);
  EXPECT_EQ(cluster->epoch.load(), changes.size());
  std::array<bool, kHosts> last{};
  for (const auto& [host, ejected] : changes) {
    EXPECT_NE(last[host], ejected) << "a change must flip the state";
    last[host] = ejected;
  }
  for (size_t h = 0; h < kHosts; ++h) {
    EXPECT_EQ(cluster->hosts[h]->ejected.load(), last[h]) << h;
  }
}

}  // namespace
}  // namespace vallum::upstream::outlier
