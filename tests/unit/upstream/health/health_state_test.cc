#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "upstream/health/active_health_checker.h"

namespace vallum::upstream::health {
namespace {

constexpr CheckResult kOk = CheckResult::Success;
constexpr CheckResult kFail = CheckResult::Failure;
constexpr CheckResult kNet = CheckResult::NetworkFailure;
constexpr CheckResult kTimeout = CheckResult::Timeout;

/// One step: the result fed and the state expected afterwards.
struct Step {
  CheckResult result;
  bool changed;
  bool healthy;
  bool pending;
};

struct Script {
  std::string name;
  uint32_t healthy_threshold;
  uint32_t unhealthy_threshold;
  std::vector<Step> steps;
};

class HealthStateScriptTest : public ::testing::TestWithParam<Script> {};

TEST_P(HealthStateScriptTest, FollowsTheStateMachine) {
  const Script& script = GetParam();
  HealthState state(script.healthy_threshold, script.unhealthy_threshold);
  EXPECT_FALSE(state.healthy());
  EXPECT_FALSE(state.pending());
  for (size_t i = 0; i < script.steps.size(); ++i) {
    const Step& step = script.steps[i];
    SCOPED_TRACE("step " + std::to_string(i));
    EXPECT_EQ(state.record(step.result), step.changed);
    EXPECT_EQ(state.healthy(), step.healthy);
    EXPECT_EQ(state.pending(), step.pending);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Transitions, HealthStateScriptTest,
    ::testing::Values(
        // Envoy's health-checker transitions with unhealthy=3 healthy=2.
        Script{"ConformanceSketch",
               2,
               3,
               {{kOk, true, true, false},       // first check: healthy at once
                {kTimeout, false, true, true},  // 1 timeout: still healthy, pending
                {kTimeout, false, true, true},  // 2 timeouts: still healthy
                {kFail, true, false, false},    // 503: unhealthy at once
                {kOk, false, false, true},      // 1 success: pending
                {kOk, true, true, false}}},     // 2nd success: healthy
        // The first-check shortcut is for the very first check only: after a failed first
        // check a host needs healthy_threshold successes.
        Script{"FirstCheckFailedNeedsThreshold",
               3,
               2,
               {{kNet, false, false, false},
                {kOk, false, false, true},
                {kOk, false, false, true},
                {kOk, true, true, false}}},
        Script{"FirstCheckDefiniteFailureStaysUnhealthy",
               1,
               1,
               {{kFail, false, false, false}, {kOk, true, true, false}}},
        // Network failures and timeouts count toward unhealthy_threshold, together.
        Script{"NetworkFailuresAndTimeoutsCountTogether",
               1,
               3,
               {{kOk, true, true, false},
                {kNet, false, true, true},
                {kTimeout, false, true, true},
                {kNet, true, false, false}}},
        // A success resets the failure count.
        Script{"SuccessResetsFailures",
               1,
               2,
               {{kOk, true, true, false},
                {kNet, false, true, true},
                {kOk, false, true, false},
                {kNet, false, true, true},
                {kTimeout, true, false, false}}},
        // A failure resets the success count.
        Script{"FailureResetsSuccesses",
               2,
               1,
               {{kOk, true, true, false},
                {kFail, true, false, false},
                {kOk, false, false, true},
                {kNet, false, false, false},
                {kOk, false, false, true},
                {kOk, true, true, false}}},
        // Failures of an unhealthy host change nothing and are not "pending".
        Script{"FailuresWhileUnhealthy",
               1,
               2,
               {{kOk, true, true, false},
                {kFail, true, false, false},
                {kNet, false, false, false},
                {kTimeout, false, false, false},
                {kFail, false, false, false},
                {kOk, true, true, false}}},
        // Successes of a healthy host change nothing.
        Script{"SuccessesWhileHealthy",
               2,
               2,
               {{kOk, true, true, false}, {kOk, false, true, false}, {kOk, false, true, false}}},
        // A definite failure flips even with failures pending.
        Script{"DefiniteFailureWhilePending",
               1,
               5,
               {{kOk, true, true, false}, {kNet, false, true, true}, {kFail, true, false, false}}},
        // Threshold 1: every network failure flips a healthy host.
        Script{"ThresholdOne",
               1,
               1,
               {{kOk, true, true, false},
                {kTimeout, true, false, false},
                {kOk, true, true, false},
                {kNet, true, false, false}}},
        // After a flip the counters start over.
        Script{"CountersRestartAfterFlip",
               2,
               2,
               {{kOk, true, true, false},
                {kNet, false, true, true},
                {kNet, true, false, false},
                {kOk, false, false, true},
                {kOk, true, true, false},
                {kNet, false, true, true},
                {kNet, true, false, false}}},
        // A threshold of 0 could never be reached; it behaves as 1.
        Script{
            "ZeroThresholdsActAsOne",
            0,
            0,
            {{kNet, false, false, false}, {kOk, true, true, false}, {kNet, true, false, false}}}),
    [](const ::testing::TestParamInfo<Script>& param_info) { return param_info.param.name; });

TEST(HealthStateTest, StartsUnhealthy) {
  HealthState state(2, 3);
  EXPECT_FALSE(state.healthy());
  EXPECT_FALSE(state.pending());
}

}  // namespace
}  // namespace vallum::upstream::health
