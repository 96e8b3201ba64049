#include "policy/ip_range.h"

#include <gtest/gtest.h>

namespace vallum::policy {
namespace {

IpAddress ip(const char* text) {
  IpAddress a;
  EXPECT_TRUE(IpAddress::parse(text, a)) << text;
  return a;
}

IpRange range(const char* text) {
  IpRange r;
  EXPECT_TRUE(IpRange::parse(text, r)) << text;
  return r;
}

TEST(IpAddressTest, ParsesV4AndV6) {
  EXPECT_FALSE(ip("192.0.2.1").v6);
  EXPECT_TRUE(ip("2001:db8::1").v6);
  EXPECT_FALSE(ip("::ffff:192.0.2.1").v6);  // IPv4-mapped → IPv4
  EXPECT_EQ(ip("::ffff:192.0.2.1").bytes, ip("192.0.2.1").bytes);
  IpAddress a;
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "01.2.3.4", "256.1.1.1", "[::1]", "::1%eth0",
                          "1.2.3.4:80", " 1.2.3.4", "example.com", ":::1"}) {
    EXPECT_FALSE(IpAddress::parse(bad, a)) << bad;
  }
}

TEST(IpRangeTest, ParsesAndMasks) {
  const IpRange r = range("192.168.1.77/24");
  EXPECT_EQ(r.prefix, 24);
  EXPECT_EQ(r.network.bytes[3], 0);
  EXPECT_EQ(range("10.0.0.1").prefix, 32);
  EXPECT_EQ(range("::1").prefix, 128);
  EXPECT_EQ(range("0.0.0.0/0").prefix, 0);
  EXPECT_EQ(range("::ffff:10.0.0.0/104").prefix, 8);
  IpRange bad;
  for (const char* text : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8",
                           "10.0.0.0/8/8", "/8", "10.0.0.0/ 8", "::ffff:10.0.0.0/95"}) {
    EXPECT_FALSE(IpRange::parse(text, bad)) << text;
  }
}

TEST(IpRangeTest, Contains) {
  EXPECT_TRUE(range("10.0.0.0/8").contains(ip("10.255.0.1")));
  EXPECT_FALSE(range("10.0.0.0/8").contains(ip("11.0.0.1")));
  EXPECT_TRUE(range("192.0.2.0/25").contains(ip("192.0.2.127")));
  EXPECT_FALSE(range("192.0.2.0/25").contains(ip("192.0.2.128")));
  EXPECT_TRUE(range("0.0.0.0/0").contains(ip("203.0.113.9")));
  EXPECT_FALSE(range("0.0.0.0/0").contains(ip("::1")));
  EXPECT_FALSE(range("::/0").contains(ip("1.2.3.4")));
  EXPECT_TRUE(range("2001:db8::/33").contains(ip("2001:db8:7fff::1")));
  EXPECT_FALSE(range("2001:db8::/33").contains(ip("2001:db8:8000::1")));
  EXPECT_TRUE(range("::1").contains(ip("::1")));
  EXPECT_TRUE(range("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")));
}

}  // namespace
}  // namespace vallum::policy
