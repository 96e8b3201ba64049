#include "config/duration.h"

#include <gtest/gtest.h>

namespace vallum::config {
namespace {

using namespace std::chrono_literals;

struct ValidCase {
  const char* text;
  Duration want;
};

void PrintTo(const ValidCase& c, std::ostream* os) { *os << c.text; }

class ParseDurationValidTest : public ::testing::TestWithParam<ValidCase> {};

TEST_P(ParseDurationValidTest, Parses) {
  auto d = parseDuration(GetParam().text);
  ASSERT_TRUE(d.has_value()) << GetParam().text << ": " << d.error().detail();
  EXPECT_EQ(*d, GetParam().want) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    GoSyntax, ParseDurationValidTest,
    ::testing::Values(ValidCase{"0", 0s}, ValidCase{"+0", 0s}, ValidCase{"-0", 0s},
                      ValidCase{"0s", 0s}, ValidCase{"-0s", 0s}, ValidCase{"30s", 30s},
                      ValidCase{"+30s", 30s}, ValidCase{"1m30s", 90s}, ValidCase{"250ms", 250ms},
                      ValidCase{"1.5s", 1500ms}, ValidCase{"2h45m", 2h + 45min},
                      ValidCase{"1h", 1h}, ValidCase{"5m", 5min}, ValidCase{"100ns", 100ns},
                      ValidCase{"1us", 1us}, ValidCase{"1\xC2\xB5s", 1us} /* U+00B5 */,
                      ValidCase{"2\xCE\xBCs", 2us} /* U+03BC */, ValidCase{".5s", 500ms},
                      ValidCase{"1.s", 1s}, ValidCase{"0.000000001s", 1ns},
                      ValidCase{"1.0000000001s", 1s} /* digits past ns are dropped */,
                      ValidCase{"1h1m1s1ms1us1ns", 1h + 1min + 1s + 1ms + 1us + 1ns},
                      ValidCase{"0.5h", 30min}, ValidCase{"10s5s", 15s},
                      ValidCase{"2562047h47m16.854775807s",
                                Duration(INT64_MAX)} /* the largest Go duration */));

struct InvalidCase {
  const char* text;
  const char* message;
};

void PrintTo(const InvalidCase& c, std::ostream* os) { *os << c.text; }

class ParseDurationInvalidTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(ParseDurationInvalidTest, Rejects) {
  auto d = parseDuration(GetParam().text);
  ASSERT_FALSE(d.has_value()) << GetParam().text;
  EXPECT_EQ(d.error().detail(), GetParam().message);
  EXPECT_EQ(d.error().code(), Errc::InvalidArgument);
  EXPECT_EQ(d.error().source(), ErrorSource::Config);
}

INSTANTIATE_TEST_SUITE_P(
    Errors, ParseDurationInvalidTest,
    ::testing::Values(
        InvalidCase{"", "invalid duration \"\""}, InvalidCase{"-", "invalid duration \"-\""},
        InvalidCase{"abc", "invalid duration \"abc\""},
        InvalidCase{"30", "missing unit in duration \"30\""},
        InvalidCase{"1.5", "missing unit in duration \"1.5\""},
        InvalidCase{"1m30", "missing unit in duration \"1m30\""},
        InvalidCase{"-5s", "negative duration not allowed: \"-5s\""},
        InvalidCase{"-1m30s", "negative duration not allowed: \"-1m30s\""},
        InvalidCase{"5x", "unknown unit \"x\" in duration \"5x\""},
        InvalidCase{"1d", "unknown unit \"d\" in duration \"1d\""},
        InvalidCase{"1e3s", "unknown unit \"e\" in duration \"1e3s\""},
        InvalidCase{"s", "invalid duration \"s\""}, InvalidCase{".s", "invalid duration \".s\""},
        InvalidCase{" 30s", "invalid duration \" 30s\""},
        InvalidCase{"2562048h", "invalid duration \"2562048h\""},
        InvalidCase{"9223372036854775808ns", "invalid duration \"9223372036854775808ns\""},
        InvalidCase{"99999999999999999999s", "invalid duration \"99999999999999999999s\""}));

TEST(FormatDurationTest, MatchesGo) {
  EXPECT_EQ(formatDuration(0s), "0s");
  EXPECT_EQ(formatDuration(1ns), "1ns");
  EXPECT_EQ(formatDuration(1500ns), "1.5\xC2\xB5s");
  EXPECT_EQ(formatDuration(250ms), "250ms");
  EXPECT_EQ(formatDuration(1500us), "1.5ms");
  EXPECT_EQ(formatDuration(1s), "1s");
  EXPECT_EQ(formatDuration(1500ms), "1.5s");
  EXPECT_EQ(formatDuration(90s), "1m30s");
  EXPECT_EQ(formatDuration(5min), "5m0s");
  EXPECT_EQ(formatDuration(1h), "1h0m0s");
  EXPECT_EQ(formatDuration(2h + 45min + 500ms), "2h45m0.5s");
  EXPECT_EQ(formatDuration(-90s), "-1m30s");
  EXPECT_EQ(formatDuration(Duration(INT64_MAX)), "2562047h47m16.854775807s");
}

TEST(FormatDurationTest, RoundTrips) {
  for (Duration d : {Duration(0), Duration(1), Duration(999), Duration(1001), Duration(123456789),
                     Duration(30s), Duration(90s), Duration(1h + 1ns), Duration(INT64_MAX)}) {
    auto parsed = parseDuration(formatDuration(d));
    ASSERT_TRUE(parsed.has_value()) << formatDuration(d);
    EXPECT_EQ(*parsed, d);
  }
}

}  // namespace
}  // namespace vallum::config
