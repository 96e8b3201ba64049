#include "config/unknown_key.h"

#include <string_view>

#include <gtest/gtest.h>

namespace vallum::config {
namespace {

constexpr std::string_view kKnown[] = {"prefix",
                                       "path",
                                       "regex",
                                       "prefix_rewrite",
                                       "from",
                                       "to",
                                       "allow_public_unauthenticated_access"};

TEST(ClosestNameTest, OneOrTwoEdits) {
  EXPECT_EQ(closestName("prefx", kKnown), "prefix");    // deletion
  EXPECT_EQ(closestName("prefixx", kKnown), "prefix");  // insertion
  EXPECT_EQ(closestName("pefix", kKnown), "prefix");    // deletion
  EXPECT_EQ(closestName("perfix", kKnown), "prefix");   // swap of neighbours
  EXPECT_EQ(closestName("regx", kKnown), "regex");      // deletion
  EXPECT_EQ(closestName("prefix_rewirte", kKnown), "prefix_rewrite");
}

TEST(ClosestNameTest, KeyCutShort) {
  EXPECT_EQ(closestName("allow_pub", kKnown), "allow_public_unauthenticated_access");
  EXPECT_EQ(closestName("prefix_re", kKnown), "prefix_rewrite");
}

TEST(ClosestNameTest, NoGuessWhenNothingIsCloseOrTwoAreAsClose) {
  EXPECT_EQ(closestName("colour", kKnown), std::nullopt);
  EXPECT_EQ(closestName("connect_timeout", kKnown), std::nullopt);
  EXPECT_EQ(closestName("pat", kKnown), "path");
  EXPECT_EQ(closestName("tx", kKnown), "to");  // one substitution; "to" is the only candidate
  constexpr std::string_view kTwins[] = {"abcd", "abce"};
  EXPECT_EQ(closestName("abcf", kTwins), std::nullopt);
  constexpr std::string_view kPrefixTwins[] = {"timeout", "timeout_idle"};
  EXPECT_EQ(closestName("tim", kPrefixTwins), std::nullopt);
  EXPECT_EQ(closestName("pr", kKnown), std::nullopt);   // "to" is two edits away: too many
  EXPECT_EQ(closestName("rgx", kKnown), std::nullopt);  // two edits from "regex", 3 characters
}

}  // namespace
}  // namespace vallum::config
