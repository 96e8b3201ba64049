#include "common/random.h"

#include <set>

#include <gtest/gtest.h>

namespace vallum {
namespace {

TEST(FastRandomTest, SeededSequencesRepeat) {
  FastRandom a(42), b(42);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(a.next(), b.next());
  }
}

TEST(FastRandomTest, UniformStaysInRange) {
  FastRandom r(1);
  std::set<uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    uint64_t v = r.uniform(7);
    ASSERT_LT(v, 7u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 7u);
}

TEST(RequestIdTest, ThirtyTwoHexDigitsAndDistinct) {
  FastRandom r(7);
  std::string a, b;
  appendRequestId(a, r);
  appendRequestId(b, r);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace vallum
