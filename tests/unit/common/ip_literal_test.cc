#include "common/ip_literal.h"

#include <gtest/gtest.h>

namespace vallum::ip {
namespace {

TEST(CanonicalIpv6Test, Rfc5952Text) {
  std::string out;
  ASSERT_TRUE(canonicalIpv6("0:0:0:0:0:0:0:1", out));
  EXPECT_EQ(out, "::1");
  ASSERT_TRUE(canonicalIpv6("2001:DB8:0:0:1:0:0:1", out));
  EXPECT_EQ(out, "2001:db8::1:0:0:1");
  ASSERT_TRUE(canonicalIpv6("::", out));
  EXPECT_EQ(out, "::");
  for (const char* bad : {"", ":::1", "1::2::3", "12345::", "fe80::1%eth0", "v1.x", "1.2.3.4",
                          "::1::", "0:0:0:0:0:0:0:0:1"}) {
    EXPECT_FALSE(canonicalIpv6(bad, out)) << bad;
  }
  EXPECT_FALSE(canonicalIpv6(std::string(100, '1'), out));
}

// fuzz/corpus/url/crash-ipv6-embedded-nul: inet_pton stopped at the NUL, so "::fff\0..." was
// accepted as "::fff".
TEST(CanonicalIpv6Test, EmbeddedNulIsNotAnAddress) {
  std::string out;
  EXPECT_FALSE(canonicalIpv6(std::string("::1\0junk", 8), out));
  EXPECT_FALSE(canonicalIpv6(std::string("::1\0", 4), out));
}

}  // namespace
}  // namespace vallum::ip
