#include "upstream/lb/hash.h"

#include <functional>
#include <string>

#include <gtest/gtest.h>

namespace vallum::upstream::lb {
namespace {

TEST(HashTest, XxHash64KnownValues) {
  EXPECT_EQ(xxHash64(""), 0xef46db3751d8e999ULL);  // the reference XXH64 of no bytes, seed 0
  // Ring "Basic" and maglev vectors depend on these two seeds (Envoy ring_hash_lb_test.cc,
  // maglev_lb_test.cc).
  EXPECT_NE(xxHash64("127.0.0.1:90", 0), xxHash64("127.0.0.1:90", 1));
  EXPECT_EQ(xxHash64(std::string_view("127.0.0.1:90_0x", 14)), xxHash64("127.0.0.1:90_0"));
}

// Vallum builds with libstdc++ only (docs/architecture.md §7); std::hash<std::string> is MurmurHash2 there.
static_assert(__GLIBCXX__ > 0, "ring_hash compatibility assumes libstdc++");

TEST(HashTest, MurmurHash2MatchesLibstdcxxStdHashForEveryTailLength) {
  std::string text;
  for (int length = 0; length <= 40; ++length) {
    EXPECT_EQ(murmurHash2(text, kStdHashSeed), std::hash<std::string>{}(text)) << text;
    text.push_back(char('a' + length % 26));
  }
  const std::string binary("\x00\xff\x80\x7f\x01\xfe\x10\x20\x30", 9);
  EXPECT_EQ(murmurHash2(binary, kStdHashSeed), std::hash<std::string>{}(binary));
}

TEST(HashTest, MurmurHash2SeedMatters) {
  EXPECT_NE(murmurHash2("127.0.0.1:80_0", kStdHashSeed), murmurHash2("127.0.0.1:80_0", 0));
}

}  // namespace
}  // namespace vallum::upstream::lb
