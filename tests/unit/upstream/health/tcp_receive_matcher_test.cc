#include "upstream/health/tcp_receive_matcher.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace vallum::upstream::health {
namespace {

TEST(TcpReceiveMatcherTest, FindsPayloadsInOrderAcrossPieces) {
  const std::vector<std::string> payloads = {"\x01\x02", "\xff"};
  TcpReceiveMatcher matcher(payloads);
  EXPECT_FALSE(matcher.feed("xx\x01"));
  EXPECT_FALSE(matcher.feed(std::string("\x02garbage", 8)));
  EXPECT_TRUE(matcher.feed("zz\xff"));
  EXPECT_TRUE(matcher.matched());
}

TEST(TcpReceiveMatcherTest, OrderMatters) {
  const std::vector<std::string> payloads = {"AB", "CD"};
  TcpReceiveMatcher matcher(payloads);
  EXPECT_FALSE(matcher.feed("CDAB"));
  EXPECT_TRUE(matcher.feed("..CD"));
}

TEST(TcpReceiveMatcherTest, NextSearchStartsAfterThePreviousMatch) {
  // "ABA" then "BA": the second search starts after the first match's end, so the overlap
  // "AB[A]" does not count.
  const std::vector<std::string> payloads = {"ABA", "BA"};
  TcpReceiveMatcher matcher(payloads);
  EXPECT_FALSE(matcher.feed("ABA"));
  EXPECT_TRUE(matcher.feed("BA"));
}

TEST(TcpReceiveMatcherTest, SamePayloadTwiceNeedsTwoOccurrences) {
  const std::vector<std::string> payloads = {"ok", "ok"};
  TcpReceiveMatcher matcher(payloads);
  EXPECT_FALSE(matcher.feed("ok"));
  EXPECT_FALSE(matcher.feed("o"));
  EXPECT_TRUE(matcher.feed("k"));
}

TEST(TcpReceiveMatcherTest, KeepsOnlyAPossiblePrefix) {
  const std::vector<std::string> payloads = {"needle"};
  TcpReceiveMatcher matcher(payloads);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(matcher.feed(std::string(1000, 'x')));
  }
  EXPECT_FALSE(matcher.feed("nee"));
  EXPECT_TRUE(matcher.feed("dle"));
}

TEST(TcpReceiveMatcherTest, ResetStartsOver) {
  const std::vector<std::string> payloads = {"A", "B"};
  TcpReceiveMatcher matcher(payloads);
  EXPECT_FALSE(matcher.feed("A"));
  matcher.reset();
  EXPECT_FALSE(matcher.feed("B"));
  EXPECT_TRUE(matcher.feed("AB"));
}

}  // namespace
}  // namespace vallum::upstream::health
