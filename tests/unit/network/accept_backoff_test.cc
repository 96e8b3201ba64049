#include "network/accept_backoff.h"

#include <gtest/gtest.h>

namespace vallum::network {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(AcceptBackoffTest, DelayDoublesToTheCapAndResetsOnSuccess) {
  AcceptBackoff backoff;
  const auto t0 = AcceptBackoff::Clock::time_point{} + seconds(100);
  EXPECT_EQ(backoff.onFailure(t0).delay, milliseconds(50));
  EXPECT_EQ(backoff.onFailure(t0).delay, milliseconds(100));
  EXPECT_EQ(backoff.onFailure(t0).delay, milliseconds(200));
  EXPECT_EQ(backoff.onFailure(t0).delay, milliseconds(400));
  EXPECT_EQ(backoff.onFailure(t0).delay, milliseconds(500));
  EXPECT_EQ(backoff.onFailure(t0).delay, milliseconds(500));
  backoff.onSuccess();
  EXPECT_EQ(backoff.onFailure(t0).delay, milliseconds(50));
}

TEST(AcceptBackoffTest, LogsOncePerIntervalWithTheSuppressedCount) {
  AcceptBackoff backoff;
  auto now = AcceptBackoff::Clock::time_point{} + seconds(100);
  int lines = 0;
  uint64_t reported = 0;
  // 40 failures a second for 25 s: three lines (t=0, 10 s, 20 s), every failure accounted for.
  for (int i = 0; i < 1000; ++i) {
    const AcceptBackoff::Decision d = backoff.onFailure(now);
    if (d.log) {
      ++lines;
      reported += 1 + d.suppressed;
    }
    now += milliseconds(25);
  }
  EXPECT_EQ(lines, 3);
  EXPECT_EQ(reported, 1u + 399u + 1u + 399u + 1u);
}

}  // namespace
}  // namespace vallum::network
