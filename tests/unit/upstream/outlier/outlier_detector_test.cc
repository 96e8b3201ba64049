#include "upstream/outlier/outlier_detector.h"

#include <chrono>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "unit/upstream/outlier/outlier_test_cluster.h"

namespace vallum::upstream::outlier {
namespace {

using namespace std::chrono_literals;
using testing::Change;
using testing::TestCluster;
using O = RequestOutcome;

config::OutlierDetection defaults() { return config::OutlierDetection{}; }

config::OutlierDetection split() {
  config::OutlierDetection c;
  c.split_external_local_origin_errors = true;
  return c;
}

struct Counters {
  uint32_t c5xx;
  uint32_t gateway;
  uint32_t local;
  uint64_t success;
  uint64_t failure;
  uint64_t local_success;
  uint64_t local_failure;

  bool operator==(const Counters&) const = default;
};

Counters counters(const HostHealth& h) {
  return {h.consecutive_5xx.load(),
          h.consecutive_gateway_failure.load(),
          h.consecutive_local_origin_failure.load(),
          h.interval_success.load(),
          h.interval_failure.load(),
          h.interval_local_success.load(),
          h.interval_local_failure.load()};
}

// ---------------------------------------------------------------------------------------------
// recordOutcome: what is counted (Envoy outlier detection)

struct CountingCase {
  RequestOutcome outcome;
  bool split;
  Counters expected;  // after one outcome recorded on fresh counters
};

TEST(RecordOutcomeTest, CountsEachOutcomeOnFreshHost) {
  const CountingCase cases[] = {
      // split = false: local events map to 503 / 504 / 500.
      {O::Success, false, {0, 0, 0, 1, 0, 0, 0}},
      {O::Upstream5xx, false, {1, 0, 0, 0, 1, 0, 0}},
      {O::UpstreamGateway, false, {1, 1, 0, 0, 1, 0, 0}},
      {O::LocalConnectFailure, false, {1, 1, 0, 0, 1, 0, 0}},  // 503
      {O::LocalTimeout, false, {1, 1, 0, 0, 1, 0, 0}},         // 504
      {O::LocalReset, false, {1, 0, 0, 0, 1, 0, 0}},           // 500
      // split = true: local events only on the local-origin side; every response is also a
      // local-origin success (the connection worked).
      {O::Success, true, {0, 0, 0, 1, 0, 1, 0}},
      {O::Upstream5xx, true, {1, 0, 0, 0, 1, 1, 0}},
      {O::UpstreamGateway, true, {1, 1, 0, 0, 1, 1, 0}},
      {O::LocalConnectFailure, true, {0, 0, 1, 0, 0, 0, 1}},
      {O::LocalTimeout, true, {0, 0, 1, 0, 0, 0, 1}},
      {O::LocalReset, true, {0, 0, 1, 0, 0, 0, 1}},
  };
  for (const CountingCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << "outcome " << int(c.outcome) << " split " << c.split);
    HostHealth h;
    config::OutlierDetection cfg;
    cfg.split_external_local_origin_errors = c.split;
    EXPECT_FALSE(recordOutcome(h, c.outcome, cfg));
    EXPECT_EQ(counters(h), c.expected);
  }
}

TEST(RecordOutcomeTest, SuccessResetsBothConsecutiveCounters) {
  HostHealth h;
  const auto cfg = defaults();
  recordOutcome(h, O::UpstreamGateway, cfg);
  recordOutcome(h, O::UpstreamGateway, cfg);
  EXPECT_EQ(h.consecutive_5xx.load(), 2u);
  EXPECT_EQ(h.consecutive_gateway_failure.load(), 2u);
  recordOutcome(h, O::Success, cfg);
  EXPECT_EQ(h.consecutive_5xx.load(), 0u);
  EXPECT_EQ(h.consecutive_gateway_failure.load(), 0u);
}

TEST(RecordOutcomeTest, NonGateway5xxResetsGatewayCounterOnly) {
  HostHealth h;
  const auto cfg = defaults();
  recordOutcome(h, O::UpstreamGateway, cfg);
  recordOutcome(h, O::UpstreamGateway, cfg);
  recordOutcome(h, O::Upstream5xx, cfg);
  EXPECT_EQ(h.consecutive_5xx.load(), 3u);
  EXPECT_EQ(h.consecutive_gateway_failure.load(), 0u);
  // Without split a reset is a 500: the same.
  recordOutcome(h, O::LocalConnectFailure, cfg);
  recordOutcome(h, O::LocalReset, cfg);
  EXPECT_EQ(h.consecutive_5xx.load(), 5u);
  EXPECT_EQ(h.consecutive_gateway_failure.load(), 0u);
}

TEST(RecordOutcomeTest, SplitResponsesResetLocalCounterAndLocalFailuresLeaveExternalAlone) {
  HostHealth h;
  const auto cfg = split();
  recordOutcome(h, O::Upstream5xx, cfg);
  recordOutcome(h, O::LocalConnectFailure, cfg);
  recordOutcome(h, O::LocalTimeout, cfg);
  EXPECT_EQ(h.consecutive_local_origin_failure.load(), 2u);
  EXPECT_EQ(h.consecutive_5xx.load(), 1u);  // local failures neither count nor reset it
  recordOutcome(h, O::Upstream5xx, cfg);    // a response: the connection worked
  EXPECT_EQ(h.consecutive_local_origin_failure.load(), 0u);
  EXPECT_EQ(h.consecutive_5xx.load(), 2u);
}

TEST(RecordOutcomeTest, FiresExactlyWhenCounterReachesThreshold) {
  HostHealth h;
  const auto cfg = defaults();
  for (int i = 1; i <= 4; ++i) {
    EXPECT_FALSE(recordOutcome(h, O::Upstream5xx, cfg)) << i;
  }
  EXPECT_TRUE(recordOutcome(h, O::Upstream5xx, cfg));   // == 5
  EXPECT_FALSE(recordOutcome(h, O::Upstream5xx, cfg));  // 6: no second report
  EXPECT_FALSE(recordOutcome(h, O::Upstream5xx, cfg));
}

TEST(RecordOutcomeTest, GatewayAndFivexxReachingTogetherFireOnce) {
  HostHealth h;
  const auto cfg = defaults();
  int fired = 0;
  for (int i = 0; i < 5; ++i) {
    fired += recordOutcome(h, O::UpstreamGateway, cfg) ? 1 : 0;
  }
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(h.consecutive_5xx.load(), 5u);
  EXPECT_EQ(h.consecutive_gateway_failure.load(), 5u);
}

TEST(RecordOutcomeTest, GatewayCounterFiresOnItsOwnThreshold) {
  HostHealth h;
  auto cfg = defaults();
  cfg.consecutive_gateway_failure = 3;
  EXPECT_FALSE(recordOutcome(h, O::UpstreamGateway, cfg));
  EXPECT_FALSE(recordOutcome(h, O::UpstreamGateway, cfg));
  EXPECT_TRUE(recordOutcome(h, O::UpstreamGateway, cfg));
}

TEST(RecordOutcomeTest, LocalOriginFiresOnlyWithSplit) {
  HostHealth h;
  auto cfg = split();
  for (int i = 1; i <= 4; ++i) {
    EXPECT_FALSE(recordOutcome(h, O::LocalConnectFailure, cfg)) << i;
  }
  EXPECT_TRUE(recordOutcome(h, O::LocalTimeout, cfg));
  EXPECT_FALSE(recordOutcome(h, O::LocalReset, cfg));
  EXPECT_EQ(h.consecutive_5xx.load(), 0u);
}

TEST(RecordOutcomeTest, ZeroThresholdNeverFires) {
  HostHealth h;
  auto cfg = split();
  cfg.consecutive_5xx = 0;
  cfg.consecutive_gateway_failure = 0;
  cfg.consecutive_local_origin_failure = 0;
  for (int i = 0; i < 50; ++i) {
    EXPECT_FALSE(recordOutcome(h, O::UpstreamGateway, cfg));
    EXPECT_FALSE(recordOutcome(h, O::LocalConnectFailure, cfg));
  }
  // Still counted (harmless) for the buckets.
  EXPECT_EQ(h.interval_failure.load(), 50u);
  EXPECT_EQ(h.interval_local_failure.load(), 50u);
}

TEST(EjectionReasonTest, Names) {
  EXPECT_STREQ(ejectionReasonName(EjectionReason::Consecutive5xx), "consecutive_5xx");
  EXPECT_STREQ(ejectionReasonName(EjectionReason::ConsecutiveGatewayFailure),
               "consecutive_gateway_failure");
  EXPECT_STREQ(ejectionReasonName(EjectionReason::ConsecutiveLocalOriginFailure),
               "consecutive_local_origin_failure");
  EXPECT_STREQ(ejectionReasonName(EjectionReason::SuccessRate), "success_rate");
  EXPECT_STREQ(ejectionReasonName(EjectionReason::LocalOriginSuccessRate),
               "local_origin_success_rate");
  EXPECT_STREQ(ejectionReasonName(EjectionReason::FailurePercentage), "failure_percentage");
  EXPECT_STREQ(ejectionReasonName(EjectionReason::LocalOriginFailurePercentage),
               "local_origin_failure_percentage");
}

// ---------------------------------------------------------------------------------------------
// Consecutive ejections, duration, backoff (Envoy outlier detection: ejection algorithm)

/// Sweeps until `host` returns; the time from `since` to that sweep.
std::chrono::nanoseconds sweepUntilReturned(TestCluster& t, size_t host, SteadyTime since) {
  for (int i = 0; i < 10000 && t.ejected(host); ++i) {
    t.sweep();
  }
  EXPECT_FALSE(t.ejected(host));
  return t.now() - since;
}

TEST(OutlierDetectorTest, Consecutive5xxEjectsAndReturnsAtFirstSweepAfterBaseTime) {
  TestCluster t(10, defaults());  // 10 hosts: 100 x 1 / 10 = 10 <= 10 %
  t.sweep();
  t.advance(3s);  // mid-interval
  const SteadyTime ejected_at = t.now();
  t.recordN(0, O::Upstream5xx, 4);
  EXPECT_FALSE(t.ejected(0));
  EXPECT_EQ(t.epoch(), 0u);
  t.record(0, O::Upstream5xx);
  EXPECT_TRUE(t.ejected(0));
  EXPECT_FALSE(t.host(0).routable());
  EXPECT_EQ(t.epoch(), 1u);
  EXPECT_EQ(t.changes(), (std::vector<Change>{{0, true, "consecutive_5xx"}}));
  EXPECT_EQ(t.host(0).consecutive_5xx.load(), 0u);  // the triggering counter is reset
  EXPECT_EQ(t.detector().ejectionsForTest(0), 1u);

  // The sweep grid stays every 10 s: at +7, +17, +27 s the 30 s are not up; at +37 s they are.
  t.advance(7s);
  t.detector().onInterval(t.now());
  EXPECT_TRUE(t.ejected(0));
  EXPECT_EQ(sweepUntilReturned(t, 0, ejected_at), 37s);
  EXPECT_EQ(t.epoch(), 2u);
  EXPECT_EQ(t.lastChange(), (Change{0, false, "returned"}));
  EXPECT_TRUE(t.host(0).routable());
}

TEST(OutlierDetectorTest, ReturnsExactlyWhenTimeIsUp) {
  auto cfg = defaults();
  cfg.interval = 1s;
  cfg.always_eject_one_host = true;
  TestCluster t(3, cfg);
  const SteadyTime at = t.now();
  t.recordN(1, O::Upstream5xx, 5);
  ASSERT_TRUE(t.ejected(1));
  EXPECT_EQ(sweepUntilReturned(t, 1, at), 30s);  // "<=": returns at exactly base
}

config::OutlierDetection backoffConfig() {
  auto cfg = defaults();
  cfg.interval = 1s;
  cfg.base_ejection_time = 10s;
  cfg.max_ejection_time = 100s;
  cfg.max_ejection_percent = 100;
  return cfg;
}

/// Ejects `host` by consecutive 5xx now and returns how long the ejection lasted.
std::chrono::nanoseconds ejectAndTime(TestCluster& t, size_t host) {
  const SteadyTime at = t.now();
  t.recordN(host, O::Upstream5xx, 5);
  EXPECT_TRUE(t.ejected(host));
  return sweepUntilReturned(t, host, at);
}

TEST(OutlierDetectorTest, RepeatedEjectionsGrowByBaseUpToMax) {
  auto cfg = backoffConfig();
  cfg.max_ejection_time = 30s;
  TestCluster t(2, cfg);
  // Re-ejected right at its return (no healthy interval in between, so no decay).
  EXPECT_EQ(ejectAndTime(t, 0), 10s);
  EXPECT_EQ(ejectAndTime(t, 0), 20s);
  EXPECT_EQ(ejectAndTime(t, 0), 30s);
  EXPECT_EQ(ejectAndTime(t, 0), 30s);  // capped at max
  EXPECT_EQ(ejectAndTime(t, 0), 30s);
  EXPECT_EQ(t.detector().ejectionsForTest(0), 5u);
}

TEST(OutlierDetectorTest, MultiplierDecaysOneStepPerHealthyInterval) {
  TestCluster t(2, backoffConfig());
  EXPECT_EQ(ejectAndTime(t, 0), 10s);
  EXPECT_EQ(ejectAndTime(t, 0), 20s);
  EXPECT_EQ(ejectAndTime(t, 0), 30s);  // m = 3
  t.sweep();                           // healthy for one interval: m = 2
  EXPECT_EQ(ejectAndTime(t, 0), 30s);  // m = 3 again, not 40 s
  t.sweep();
  t.sweep();
  t.sweep();
  t.sweep();                           // m = 3 - 3 = 0, and stays there
  EXPECT_EQ(ejectAndTime(t, 0), 10s);  // back to base
}

TEST(OutlierDetectorTest, DecayWaitsAFullIntervalAfterReturn) {
  TestCluster t(2, backoffConfig());
  EXPECT_EQ(ejectAndTime(t, 0), 10s);
  EXPECT_EQ(ejectAndTime(t, 0), 20s);  // m = 2, returned at this sweep
  t.advance(500ms);
  t.detector().onInterval(t.now());  // only half an interval since the return: no decay
  EXPECT_EQ(ejectAndTime(t, 0), 30s);
}

TEST(OutlierDetectorTest, JitterAddsUpToMaxJitter) {
  auto cfg = backoffConfig();
  cfg.interval = 100ms;
  cfg.max_ejection_time_jitter = 5s;
  std::vector<std::chrono::nanoseconds> lengths;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    TestCluster t(2, cfg, seed);
    lengths.push_back(ejectAndTime(t, 0));
  }
  bool varied = false;
  for (auto length : lengths) {
    EXPECT_GE(length, 10s);
    EXPECT_LE(length, 15s + cfg.interval);
    varied = varied || length != lengths.front();
  }
  EXPECT_TRUE(varied);
}

// ---------------------------------------------------------------------------------------------
// Gates: max_ejection_percent, always_eject_one_host, enforcing_*

TEST(OutlierDetectorTest, TwoEndpointsWithDefaultPercentNeverEject) {
  TestCluster t(2, defaults());  // 100 x 1 / 2 = 50 > 10
  for (int run = 0; run < 3; ++run) {
    t.recordN(0, O::Upstream5xx, 5);
    EXPECT_FALSE(t.ejected(0));
    // The counter is reset even though nothing was ejected: the next run of 5 fires again.
    EXPECT_EQ(t.host(0).consecutive_5xx.load(), 0u);
  }
  EXPECT_TRUE(t.changes().empty());
  EXPECT_EQ(t.epoch(), 0u);
  EXPECT_EQ(t.detector().ejectionsForTest(0), 0u);
}

TEST(OutlierDetectorTest, FiftyPercentEjectsOneOfTwo) {
  auto cfg = defaults();
  cfg.max_ejection_percent = 50;
  TestCluster t(2, cfg);
  t.recordN(0, O::Upstream5xx, 5);
  EXPECT_TRUE(t.ejected(0));
  t.recordN(1, O::Upstream5xx, 5);  // 100 x 2 / 2 = 100 > 50
  EXPECT_FALSE(t.ejected(1));
  EXPECT_EQ(t.changes().size(), 1u);
}

TEST(OutlierDetectorTest, TenPercentAllowsOneOfTenButNotTwo) {
  TestCluster t(10, defaults());
  t.recordN(3, O::Upstream5xx, 5);
  t.recordN(4, O::Upstream5xx, 5);
  EXPECT_TRUE(t.ejected(3));
  EXPECT_FALSE(t.ejected(4));
}

TEST(OutlierDetectorTest, AlwaysEjectOneHostAllowsOneOnly) {
  auto cfg = defaults();
  cfg.always_eject_one_host = true;
  TestCluster t(2, cfg);
  t.recordN(0, O::Upstream5xx, 5);
  EXPECT_TRUE(t.ejected(0));
  t.recordN(1, O::Upstream5xx, 5);
  EXPECT_FALSE(t.ejected(1));
  // Once the first returns, the other may go.
  for (int i = 0; i < 4; ++i) {
    t.sweep();
  }
  ASSERT_FALSE(t.ejected(0));
  t.recordN(1, O::Upstream5xx, 5);
  EXPECT_TRUE(t.ejected(1));
}

TEST(OutlierDetectorTest, EnforcingZeroDetectsButDoesNotEject) {
  auto cfg = defaults();
  cfg.enforcing_consecutive_5xx = 0;
  cfg.max_ejection_percent = 100;
  TestCluster t(2, cfg);
  t.recordN(0, O::Upstream5xx, 5);
  EXPECT_FALSE(t.ejected(0));
  EXPECT_EQ(t.host(0).consecutive_5xx.load(), 0u);  // detected: counter reset
  EXPECT_TRUE(t.changes().empty());
}

TEST(OutlierDetectorTest, EnforcingPercentageIsSampled) {
  auto cfg = defaults();
  cfg.enforcing_consecutive_5xx = 30;
  cfg.max_ejection_percent = 100;
  int ejected = 0;
  for (uint64_t seed = 0; seed < 500; ++seed) {
    TestCluster t(2, cfg, seed);
    t.recordN(0, O::Upstream5xx, 5);
    ejected += t.ejected(0) ? 1 : 0;
  }
  EXPECT_GT(ejected, 110);  // 150 expected
  EXPECT_LT(ejected, 190);
}

TEST(OutlierDetectorTest, GatewayFailuresAreNotEnforcedByDefault) {
  auto cfg = defaults();
  cfg.max_ejection_percent = 100;
  cfg.consecutive_5xx = 1000;  // keep the 5xx detector out of the way
  TestCluster t(2, cfg);
  t.recordN(0, O::UpstreamGateway, 5);
  EXPECT_FALSE(t.ejected(0));
  EXPECT_EQ(t.host(0).consecutive_gateway_failure.load(), 0u);  // detected and reset
  EXPECT_EQ(t.host(0).consecutive_5xx.load(), 5u);
}

TEST(OutlierDetectorTest, GatewayFailuresEjectWhenEnforced) {
  auto cfg = defaults();
  cfg.max_ejection_percent = 100;
  cfg.enforcing_consecutive_gateway_failure = 100;
  TestCluster t(2, cfg);
  t.recordN(0, O::LocalConnectFailure, 5);  // 503 without split
  EXPECT_TRUE(t.ejected(0));
  EXPECT_EQ(t.changes(), (std::vector<Change>{{0, true, "consecutive_gateway_failure"}}));
  // The 5xx counter fired too but the host was already ejected: ignored, reset at return.
  EXPECT_EQ(t.detector().ejectionsForTest(0), 1u);
}

TEST(OutlierDetectorTest, FiveGatewayErrorsEjectAsConsecutive5xxWithDefaults) {
  auto cfg = defaults();
  cfg.max_ejection_percent = 100;
  TestCluster t(2, cfg);
  t.recordN(0, O::UpstreamGateway, 5);
  EXPECT_TRUE(t.ejected(0));
  EXPECT_EQ(t.changes(), (std::vector<Change>{{0, true, "consecutive_5xx"}}));
  EXPECT_EQ(t.host(0).consecutive_gateway_failure.load(), 0u);
  EXPECT_EQ(t.host(0).consecutive_5xx.load(), 0u);
}

TEST(OutlierDetectorTest, ConsecutiveLocalOriginFailureEjectsWithSplit) {
  auto cfg = split();
  cfg.max_ejection_percent = 100;
  TestCluster t(2, cfg);
  t.recordN(1, O::LocalConnectFailure, 4);
  t.record(1, O::LocalReset);
  EXPECT_TRUE(t.ejected(1));
  EXPECT_EQ(t.changes(), (std::vector<Change>{{1, true, "consecutive_local_origin_failure"}}));
  EXPECT_EQ(t.host(1).consecutive_local_origin_failure.load(), 0u);
}

TEST(OutlierDetectorTest, ThresholdReportIsRecheckedOnTheControlThread) {
  auto cfg = defaults();
  cfg.max_ejection_percent = 100;
  TestCluster t(2, cfg);
  const auto outcomes_then_success = [&] {
    bool fired = false;
    for (int i = 0; i < 5; ++i) {
      fired = recordOutcome(t.host(0), O::Upstream5xx, cfg) || fired;
    }
    recordOutcome(t.host(0), O::Success, cfg);  // arrives before the post is handled
    return fired;
  };
  ASSERT_TRUE(outcomes_then_success());
  t.detector().onConsecutiveThreshold(0, t.now());
  EXPECT_FALSE(t.ejected(0));
  // Out-of-range index (host removed meanwhile): ignored.
  t.detector().onConsecutiveThreshold(7, t.now());
  EXPECT_TRUE(t.changes().empty());
}

TEST(OutlierDetectorTest, ReportForAlreadyEjectedHostIsIgnored) {
  auto cfg = defaults();
  cfg.max_ejection_percent = 100;
  TestCluster t(3, cfg);
  t.recordN(0, O::Upstream5xx, 5);
  ASSERT_TRUE(t.ejected(0));
  // A stale worker keeps sending it failures: the counter passes the threshold again.
  for (int i = 0; i < 5; ++i) {
    recordOutcome(t.host(0), O::Upstream5xx, cfg);
  }
  t.detector().onConsecutiveThreshold(0, t.now());
  EXPECT_EQ(t.detector().ejectionsForTest(0), 1u);
  EXPECT_EQ(t.changes().size(), 1u);
  EXPECT_EQ(t.epoch(), 1u);
}

TEST(OutlierDetectorTest, ReturnResetsConsecutiveCounters) {
  auto cfg = split();
  cfg.max_ejection_percent = 100;
  TestCluster t(2, cfg);
  t.recordN(0, O::Upstream5xx, 5);
  ASSERT_TRUE(t.ejected(0));
  // While ejected (stale picks) the other counters get close to their thresholds.
  // (With split a response resets the local-origin counter, so the gateway errors come first.)
  for (int i = 0; i < 4; ++i) {
    recordOutcome(t.host(0), O::UpstreamGateway, cfg);
  }
  for (int i = 0; i < 4; ++i) {
    recordOutcome(t.host(0), O::LocalTimeout, cfg);
  }
  EXPECT_EQ(t.host(0).consecutive_gateway_failure.load(), 4u);
  EXPECT_EQ(t.host(0).consecutive_local_origin_failure.load(), 4u);
  EXPECT_EQ(t.host(0).consecutive_5xx.load(), 4u);
  for (int i = 0; i < 3; ++i) {
    t.sweep();
  }
  ASSERT_FALSE(t.ejected(0));
  EXPECT_EQ(t.host(0).consecutive_5xx.load(), 0u);
  EXPECT_EQ(t.host(0).consecutive_gateway_failure.load(), 0u);
  EXPECT_EQ(t.host(0).consecutive_local_origin_failure.load(), 0u);
  // One more failure does not re-eject it.
  t.record(0, O::UpstreamGateway);
  t.record(0, O::LocalTimeout);
  EXPECT_FALSE(t.ejected(0));
}

TEST(OutlierDetectorTest, ActiveHealthCheckSuccessUnejects) {
  auto cfg = defaults();
  cfg.max_ejection_percent = 100;
  TestCluster t(2, cfg);
  t.detector().onActiveHealthCheckSuccess(0, t.now());  // not ejected: nothing
  EXPECT_TRUE(t.changes().empty());
  t.recordN(0, O::Upstream5xx, 5);
  ASSERT_TRUE(t.ejected(0));
  t.advance(1s);
  t.detector().onActiveHealthCheckSuccess(0, t.now());
  EXPECT_FALSE(t.ejected(0));
  EXPECT_EQ(t.epoch(), 2u);
  EXPECT_EQ(t.lastChange(), (Change{0, false, "active_health_check"}));
  // Its multiplier was not reset: a second ejection (no healthy interval) lasts 2 x base.
  const SteadyTime at = t.now();
  t.recordN(0, O::Upstream5xx, 5);
  ASSERT_TRUE(t.ejected(0));
  EXPECT_EQ(sweepUntilReturned(t, 0, at), 60s);
}

TEST(OutlierDetectorTest, ActiveHealthCheckSuccessIgnoredWhenDisabled) {
  auto cfg = defaults();
  cfg.max_ejection_percent = 100;
  cfg.successful_active_health_check_uneject_host = false;
  TestCluster t(2, cfg);
  t.recordN(0, O::Upstream5xx, 5);
  t.detector().onActiveHealthCheckSuccess(0, t.now());
  EXPECT_TRUE(t.ejected(0));
  EXPECT_EQ(t.changes().size(), 1u);
}

TEST(OutlierDetectorTest, EveryChangeBumpsEpochAndCallsOnChange) {
  auto cfg = defaults();
  cfg.max_ejection_percent = 100;
  cfg.interval = 10s;
  TestCluster t(3, cfg);
  t.recordN(0, O::Upstream5xx, 5);
  t.recordN(2, O::Upstream5xx, 5);
  t.detector().onActiveHealthCheckSuccess(2, t.now());
  for (int i = 0; i < 3; ++i) {
    t.sweep();
  }
  EXPECT_EQ(t.changes(), (std::vector<Change>{{0, true, "consecutive_5xx"},
                                              {2, true, "consecutive_5xx"},
                                              {2, false, "active_health_check"},
                                              {0, false, "returned"}}));
  EXPECT_EQ(t.epoch(), 4u);
  // Quiet sweeps change nothing.
  t.sweep();
  EXPECT_EQ(t.epoch(), 4u);
}

TEST(OutlierDetectorTest, AdoptsHostEjectedBeforeConstruction) {
  auto cluster_cfg = defaults();
  cluster_cfg.interval = 1s;
  auto cluster = TestCluster::makeCluster(2);
  cluster->hosts[1]->ejected = true;  // carried over by a reload
  std::vector<Change> changes;
  OutlierDetector detector(
      cluster_cfg, cluster,
      [&](size_t host, bool ejected, const std::string& reason) {
        changes.push_back({host, ejected, reason});
      },
      1);
  SteadyTime now = SteadyTime{} + 1h;
  detector.onInterval(now);  // the clock starts the adopted ejection
  for (int i = 0; i < 29; ++i) {
    now += 1s;
    detector.onInterval(now);
  }
  EXPECT_TRUE(cluster->hosts[1]->ejected.load());
  now += 1s;
  detector.onInterval(now);
  EXPECT_FALSE(cluster->hosts[1]->ejected.load());
  EXPECT_EQ(changes, (std::vector<Change>{{1, false, "returned"}}));
}

TEST(OutlierDetectorTest, ConfigIsKept) {
  auto cfg = defaults();
  cfg.consecutive_5xx = 7;
  TestCluster t(1, cfg);
  EXPECT_EQ(t.detector().config().consecutive_5xx, 7u);
}

// ---------------------------------------------------------------------------------------------
// Success rate and failure percentage (Envoy outlier detection)

config::OutlierDetection successRateConfig() {
  auto cfg = defaults();
  cfg.max_ejection_percent = 20;  // 100 x 1 / 5 = 20: one of five may go
  cfg.consecutive_5xx = 0;        // isolate the interval analysis
  return cfg;
}

/// Records `successes` and `failures` on host i, interleaved.
void traffic(TestCluster& t, const std::vector<std::pair<uint64_t, uint64_t>>& per_host,
             RequestOutcome failure = O::Upstream5xx) {
  for (size_t i = 0; i < per_host.size(); ++i) {
    t.recordMix(i, per_host[i].first, per_host[i].second, failure);
  }
}

TEST(SuccessRateTest, EnvoyWorkedExampleEjectsTheFiftyPercentHost) {
  TestCluster t(5, successRateConfig());
  // SRs {50, 100, 100, 100, 100}: mean 90, stdev 20, threshold 90 - 1.9 x 20 = 52.
  traffic(t, {{50, 50}, {100, 0}, {100, 0}, {100, 0}, {100, 0}});
  EXPECT_FALSE(t.ejected(0));  // nothing happens until the sweep
  t.sweep();
  EXPECT_TRUE(t.ejected(0));
  for (size_t i = 1; i < 5; ++i) {
    EXPECT_FALSE(t.ejected(i)) << i;
  }
  EXPECT_EQ(t.changes(), (std::vector<Change>{{0, true, "success_rate"}}));
  // The buckets were taken: the atomics start the next interval at zero.
  EXPECT_EQ(t.host(1).interval_success.load(), 0u);
  EXPECT_EQ(t.host(0).interval_failure.load(), 0u);
}

TEST(SuccessRateTest, UsesOnlyThePreviousInterval) {
  TestCluster t(5, successRateConfig());
  traffic(t, {{100, 0}, {100, 0}, {100, 0}, {100, 0}, {100, 0}});
  t.sweep();
  // The next interval is bad for host 0, but analysed only at the sweep that ends it.
  traffic(t, {{50, 50}, {100, 0}, {100, 0}, {100, 0}, {100, 0}});
  EXPECT_FALSE(t.ejected(0));
  t.sweep();
  EXPECT_TRUE(t.ejected(0));
}

TEST(SuccessRateTest, TwoOutliersWidenTheSpreadAndStayIn) {
  TestCluster t(5, successRateConfig());
  // {50, 50, 100, 100, 100}: mean 80, stdev 24.5, threshold 33.5.
  traffic(t, {{50, 50}, {50, 50}, {100, 0}, {100, 0}, {100, 0}});
  t.sweep();
  EXPECT_TRUE(t.changes().empty());
}

TEST(SuccessRateTest, NeedsMinimumHostsWithVolume) {
  {
    TestCluster t(5, successRateConfig());
    // Host 4 has 99 requests: only four hosts qualify (minimum 5).
    traffic(t, {{50, 50}, {100, 0}, {100, 0}, {100, 0}, {99, 0}});
    t.sweep();
    EXPECT_TRUE(t.changes().empty());
  }
  {
    auto cfg = successRateConfig();
    cfg.success_rate_minimum_hosts = 4;
    // Four hosts, one d below the rest: the threshold is best - 1.07 d with factor 1.9 (never
    // ejects it) but best - 0.68 d with factor 1.0.
    cfg.success_rate_stdev_factor = 1000;
    cfg.max_ejection_percent = 100;
    TestCluster t(5, cfg);
    traffic(t, {{50, 50}, {100, 0}, {100, 0}, {100, 0}, {99, 0}});
    t.sweep();
    EXPECT_EQ(t.changes(), (std::vector<Change>{{0, true, "success_rate"}}));
  }
  {
    TestCluster t(4, successRateConfig());  // four hosts in all
    traffic(t, {{50, 50}, {100, 0}, {100, 0}, {100, 0}});
    t.sweep();
    EXPECT_TRUE(t.changes().empty());
  }
}

TEST(SuccessRateTest, EjectedHostsAreLeftOutOfTheStatistics) {
  auto cfg = successRateConfig();
  cfg.consecutive_5xx = 5;
  cfg.max_ejection_percent = 100;
  TestCluster t(6, cfg);
  t.recordN(5, O::Upstream5xx, 5);
  ASSERT_TRUE(t.ejected(5));
  // Host 5's failures (stale picks) would pull the mean down; it is skipped.
  traffic(t, {{50, 50}, {100, 0}, {100, 0}, {100, 0}, {100, 0}, {0, 100}});
  t.sweep();
  EXPECT_TRUE(t.ejected(0));
}

TEST(SuccessRateTest, EnforcingZeroDetectsOnly) {
  auto cfg = successRateConfig();
  cfg.enforcing_success_rate = 0;
  TestCluster t(5, cfg);
  traffic(t, {{50, 50}, {100, 0}, {100, 0}, {100, 0}, {100, 0}});
  t.sweep();
  EXPECT_TRUE(t.changes().empty());
}

TEST(SuccessRateTest, PercentGateStillApplies) {
  auto cfg = successRateConfig();
  cfg.max_ejection_percent = 10;  // 100 x 1 / 5 = 20 > 10
  TestCluster t(5, cfg);
  traffic(t, {{50, 50}, {100, 0}, {100, 0}, {100, 0}, {100, 0}});
  t.sweep();
  EXPECT_TRUE(t.changes().empty());
}

TEST(SuccessRateTest, ReturnsAfterBaseTimeLikeAnyEjection) {
  TestCluster t(5, successRateConfig());
  traffic(t, {{50, 50}, {100, 0}, {100, 0}, {100, 0}, {100, 0}});
  t.sweep();
  ASSERT_TRUE(t.ejected(0));
  t.sweep();
  t.sweep();
  EXPECT_TRUE(t.ejected(0));
  t.sweep();
  EXPECT_FALSE(t.ejected(0));
  EXPECT_EQ(t.lastChange(), (Change{0, false, "returned"}));
}

config::OutlierDetection failurePercentageConfig() {
  auto cfg = successRateConfig();
  cfg.enforcing_success_rate = 0;  // isolate failure percentage
  cfg.enforcing_failure_percentage = 100;
  return cfg;
}

TEST(FailurePercentageTest, EjectsHostAtOrAboveThreshold) {
  auto cfg = failurePercentageConfig();
  cfg.max_ejection_percent = 100;
  TestCluster t(5, cfg);
  // Failure %: 90, 85, 84, 0, 0 (">=" the threshold 85).
  traffic(t, {{5, 45}, {15, 85}, {16, 84}, {50, 0}, {50, 0}});
  t.sweep();
  EXPECT_EQ(t.changes(), (std::vector<Change>{{0, true, "failure_percentage"},
                                              {1, true, "failure_percentage"}}));
}

TEST(FailurePercentageTest, DisabledByDefault) {
  auto cfg = successRateConfig();
  cfg.enforcing_success_rate = 0;
  TestCluster t(5, cfg);
  traffic(t, {{5, 45}, {50, 0}, {50, 0}, {50, 0}, {50, 0}});
  t.sweep();
  EXPECT_TRUE(t.changes().empty());
}

TEST(FailurePercentageTest, NeedsVolumeAndMinimumHosts) {
  {
    TestCluster t(5, failurePercentageConfig());
    traffic(t, {{4, 45}, {50, 0}, {50, 0}, {50, 0}, {50, 0}});  // host 0: 49 requests
    t.sweep();
    EXPECT_TRUE(t.changes().empty());
  }
  {
    TestCluster t(5, failurePercentageConfig());
    traffic(t, {{5, 45}, {50, 0}, {50, 0}, {50, 0}, {49, 0}});  // four hosts qualify
    t.sweep();
    EXPECT_TRUE(t.changes().empty());
  }
  {
    auto cfg = failurePercentageConfig();
    cfg.failure_percentage_minimum_hosts = 2;
    cfg.failure_percentage_request_volume = 10;
    cfg.max_ejection_percent = 50;
    TestCluster t(2, cfg);
    traffic(t, {{1, 9}, {10, 0}});
    t.sweep();
    EXPECT_EQ(t.changes(), (std::vector<Change>{{0, true, "failure_percentage"}}));
  }
}

TEST(FailurePercentageTest, HostEjectedBySuccessRateIsNotEjectedTwice) {
  auto cfg = failurePercentageConfig();
  cfg.enforcing_success_rate = 100;
  cfg.max_ejection_percent = 100;
  TestCluster t(5, cfg);
  traffic(t, {{5, 45}, {100, 0}, {100, 0}, {100, 0}, {100, 0}});
  t.sweep();
  // Host 0 has only 50 requests: not SR-valid (100), so failure percentage ejects it.
  EXPECT_EQ(t.changes(), (std::vector<Change>{{0, true, "failure_percentage"}}));

  TestCluster u(5, cfg);
  traffic(u, {{10, 90}, {100, 0}, {100, 0}, {100, 0}, {100, 0}});
  u.sweep();
  EXPECT_EQ(u.changes(), (std::vector<Change>{{0, true, "success_rate"}}));
  EXPECT_EQ(u.detector().ejectionsForTest(0), 1u);
}

// Local origin (split_external_local_origin_errors)

TEST(LocalOriginTest, LocalSuccessRateEjectsOnConnectFailures) {
  auto cfg = successRateConfig();
  cfg.split_external_local_origin_errors = true;
  cfg.consecutive_local_origin_failure = 0;
  TestCluster t(5, cfg);
  // Host 0 answers its 50 responses with 200 but fails 50 connects: external SR 100 %.
  traffic(t, {{50, 50}, {100, 0}, {100, 0}, {100, 0}, {100, 0}}, O::LocalConnectFailure);
  t.sweep();
  EXPECT_EQ(t.changes(), (std::vector<Change>{{0, true, "local_origin_success_rate"}}));
}

TEST(LocalOriginTest, LocalFailuresDoNotReachExternalAnalysisWhenSplit) {
  auto cfg = successRateConfig();
  cfg.split_external_local_origin_errors = true;
  cfg.consecutive_local_origin_failure = 0;
  cfg.enforcing_local_origin_success_rate = 0;
  TestCluster t(5, cfg);
  traffic(t, {{50, 50}, {100, 0}, {100, 0}, {100, 0}, {100, 0}}, O::LocalConnectFailure);
  t.sweep();
  EXPECT_TRUE(t.changes().empty());
}

TEST(LocalOriginTest, LocalFailuresCountAsExternalWithoutSplit) {
  TestCluster t(5, successRateConfig());
  traffic(t, {{50, 50}, {100, 0}, {100, 0}, {100, 0}, {100, 0}}, O::LocalTimeout);
  t.sweep();
  EXPECT_EQ(t.changes(), (std::vector<Change>{{0, true, "success_rate"}}));
}

TEST(LocalOriginTest, LocalFailurePercentage) {
  auto cfg = successRateConfig();
  cfg.split_external_local_origin_errors = true;
  cfg.consecutive_local_origin_failure = 0;
  cfg.enforcing_local_origin_success_rate = 0;
  cfg.enforcing_failure_percentage_local_origin = 100;
  TestCluster t(5, cfg);
  traffic(t, {{5, 45}, {50, 0}, {50, 0}, {50, 0}, {50, 0}}, O::LocalReset);
  t.sweep();
  EXPECT_EQ(t.changes(), (std::vector<Change>{{0, true, "local_origin_failure_percentage"}}));
}

}  // namespace
}  // namespace vallum::upstream::outlier
