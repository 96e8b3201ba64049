#include "upstream/health/check_schedule.h"

#include <chrono>

#include <gtest/gtest.h>

namespace vallum::upstream::health {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

config::HealthCheck baseCheck() {
  config::HealthCheck check;
  check.timeout = 1s;
  check.interval = 1s;
  check.healthy_threshold = 2;
  check.unhealthy_threshold = 3;
  return check;
}

/// States reached by recording results (thresholds healthy=2, unhealthy=3).
HealthState healthyState() {
  HealthState s(2, 3);
  s.record(CheckResult::Success);
  return s;
}
HealthState healthyPendingFailure() {
  HealthState s = healthyState();
  s.record(CheckResult::Timeout);
  return s;
}
HealthState flippedUnhealthy() {
  HealthState s = healthyState();
  s.record(CheckResult::Failure);
  return s;
}
HealthState unhealthyPendingSuccess() {
  HealthState s = flippedUnhealthy();
  s.record(CheckResult::Success);
  return s;
}

TEST(CheckScheduleTest, VallumDefaultsEverythingToInterval) {
  CheckSchedule schedule(baseCheck());
  EXPECT_FALSE(schedule.hasNoTrafficPhase());
  for (bool traffic : {false, true}) {
    EXPECT_EQ(schedule.baseInterval(true, healthyState(), traffic), 1000ms);
    EXPECT_EQ(schedule.baseInterval(false, healthyPendingFailure(), traffic), 1000ms);
    EXPECT_EQ(schedule.baseInterval(false, flippedUnhealthy(), traffic), 1000ms);
    EXPECT_EQ(schedule.baseInterval(true, unhealthyPendingSuccess(), traffic), 1000ms);
  }
}

TEST(CheckScheduleTest, IntervalsFollowTheResultJustRecorded) {
  config::HealthCheck check = baseCheck();
  check.unhealthy_interval = 5s;
  check.unhealthy_edge_interval = 300ms;
  check.healthy_edge_interval = 200ms;
  CheckSchedule schedule(check);
  // Passed, not pending → interval.
  EXPECT_EQ(schedule.baseInterval(true, healthyState(), true), 1000ms);
  // Failed, still healthy with failures accumulating → unhealthy_edge_interval.
  EXPECT_EQ(schedule.baseInterval(false, healthyPendingFailure(), true), 300ms);
  // Failed and flipped (or already unhealthy) → unhealthy_interval.
  EXPECT_EQ(schedule.baseInterval(false, flippedUnhealthy(), true), 5000ms);
  // Passed, still unhealthy with successes accumulating → healthy_edge_interval.
  EXPECT_EQ(schedule.baseInterval(true, unhealthyPendingSuccess(), true), 200ms);
  // Without a no-traffic interval configured, traffic does not matter (Vallum).
  EXPECT_EQ(schedule.baseInterval(false, flippedUnhealthy(), false), 5000ms);
}

TEST(CheckScheduleTest, UnhealthyEdgeDefaultsToUnhealthyInterval) {
  config::HealthCheck check = baseCheck();
  check.unhealthy_interval = 4s;
  CheckSchedule schedule(check);
  EXPECT_EQ(schedule.baseInterval(false, healthyPendingFailure(), true), 4000ms);
  EXPECT_EQ(schedule.baseInterval(true, unhealthyPendingSuccess(), true), 1000ms);
}

TEST(CheckScheduleTest, ExplicitNoTrafficIntervalsApplyUntilTraffic) {
  config::HealthCheck check = baseCheck();
  check.no_traffic_interval = 60s;
  check.unhealthy_interval = 5s;
  CheckSchedule schedule(check);
  EXPECT_TRUE(schedule.hasNoTrafficPhase());
  // no_traffic_healthy_interval defaults to no_traffic_interval.
  EXPECT_EQ(schedule.baseInterval(true, healthyState(), false), 60000ms);
  EXPECT_EQ(schedule.baseInterval(false, flippedUnhealthy(), false), 60000ms);
  EXPECT_EQ(schedule.baseInterval(false, flippedUnhealthy(), true), 5000ms);

  check.no_traffic_healthy_interval = 30s;
  CheckSchedule with_healthy(check);
  EXPECT_EQ(with_healthy.baseInterval(true, healthyState(), false), 30000ms);
  // A pending success is not "healthy": no_traffic_interval.
  EXPECT_EQ(with_healthy.baseInterval(true, unhealthyPendingSuccess(), false), 60000ms);
  EXPECT_EQ(with_healthy.baseInterval(false, healthyPendingFailure(), false), 60000ms);
  EXPECT_EQ(with_healthy.baseInterval(true, healthyState(), true), 1000ms);
}

TEST(CheckScheduleTest, OnlyNoTrafficHealthyIntervalSet) {
  config::HealthCheck check = baseCheck();
  check.no_traffic_healthy_interval = 10s;
  CheckSchedule schedule(check);
  EXPECT_EQ(schedule.baseInterval(true, healthyState(), false), 10000ms);
  EXPECT_EQ(schedule.baseInterval(false, flippedUnhealthy(), false), 1000ms);
}

TEST(CheckScheduleTest, NoJitterMeansExactWaits) {
  CheckSchedule schedule(baseCheck());
  FastRandom random(1);
  EXPECT_EQ(schedule.initialWait(random), 0ms);
  EXPECT_EQ(schedule.nextWait(true, healthyState(), true, random), 1000ms);
}

TEST(CheckScheduleTest, JittersStayInTheirRanges) {
  config::HealthCheck check = baseCheck();
  check.initial_jitter = 500ms;
  check.interval_jitter = 100ms;
  check.interval_jitter_percent = 10;  // of 1000 ms → up to 99 ms
  CheckSchedule schedule(check);
  FastRandom random(42);
  milliseconds min_initial = 1h, max_initial = 0ms, min_wait = 1h, max_wait = 0ms;
  for (int i = 0; i < 2000; ++i) {
    const milliseconds initial = schedule.initialWait(random);
    min_initial = std::min(min_initial, initial);
    max_initial = std::max(max_initial, initial);
    const milliseconds wait = schedule.nextWait(true, healthyState(), true, random);
    min_wait = std::min(min_wait, wait);
    max_wait = std::max(max_wait, wait);
  }
  EXPECT_GE(min_initial, 0ms);
  EXPECT_LT(max_initial, 500ms);
  EXPECT_GT(max_initial, 400ms);  // actually spread
  EXPECT_GE(min_wait, 1000ms);
  EXPECT_LE(max_wait, 1000ms + 99ms + 99ms);
  EXPECT_GT(max_wait, 1100ms);
}

TEST(CheckScheduleTest, SameSeedSameWaits) {
  config::HealthCheck check = baseCheck();
  check.interval_jitter = 250ms;
  CheckSchedule schedule(check);
  FastRandom a(7);
  FastRandom b(7);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(schedule.nextWait(true, healthyState(), true, a),
              schedule.nextWait(true, healthyState(), true, b));
  }
}

TEST(CheckScheduleTest, WaitIsAtLeastOneMillisecond) {
  config::HealthCheck check = baseCheck();
  check.interval = std::chrono::microseconds(100);
  CheckSchedule schedule(check);
  FastRandom random(1);
  EXPECT_EQ(schedule.nextWait(true, healthyState(), true, random), 1ms);
}

}  // namespace
}  // namespace vallum::upstream::health
