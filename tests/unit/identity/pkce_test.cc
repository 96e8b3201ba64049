#include "identity/pkce.h"

#include <set>

#include <gtest/gtest.h>

namespace vallum::identity {
namespace {

TEST(PkceTest, Rfc7636AppendixBVector) {
  EXPECT_EQ(pkceChallengeS256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(PkceTest, RandomTokensAreUnpaddedBase64UrlAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string t = randomToken(32);
    EXPECT_EQ(t.size(), 43u);
    EXPECT_EQ(
        t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        std::string::npos);
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(randomToken(0), "");
}

}  // namespace
}  // namespace vallum::identity
