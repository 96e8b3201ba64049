#include "proxy/cookies.h"

#include <gtest/gtest.h>

namespace vallum::proxy {
namespace {

http::HeaderMap withCookies(std::initializer_list<const char*> fields) {
  http::HeaderMap h;
  h.add("Host", "a.test");
  for (const char* f : fields) {
    h.add("Cookie", f);
  }
  return h;
}

TEST(CookiesTest, FindsTheFirstCookieOfAName) {
  auto h = withCookies({"a=1; _pomerium=abc; b=2", "_pomerium=second"});
  EXPECT_EQ(findCookie(h, "_pomerium"), "abc");
  EXPECT_EQ(findCookie(h, "b"), "2");
  EXPECT_FALSE(findCookie(h, "_pomeriu"));
  EXPECT_FALSE(findCookie(h, "pomerium"));
  // HTTP/2 splits cookies into several fields (RFC 9113 §8.2.3).
  EXPECT_EQ(findCookie(withCookies({"a=1", "_pomerium=x"}), "_pomerium"), "x");
  EXPECT_FALSE(findCookie(withCookies({}), "a"));
}

TEST(CookiesTest, ChunkNames) {
  EXPECT_TRUE(isChunkOf("_pomerium", "_pomerium"));
  EXPECT_TRUE(isChunkOf("_pomerium_1", "_pomerium"));
  EXPECT_TRUE(isChunkOf("_pomerium_15", "_pomerium"));
  EXPECT_FALSE(isChunkOf("_pomerium_authenticate", "_pomerium"));
  EXPECT_FALSE(isChunkOf("_pomerium_", "_pomerium"));
  EXPECT_FALSE(isChunkOf("_pomeriu", "_pomerium"));
}

TEST(CookiesTest, StripsOnlyTheNamedCookies) {
  std::string out;
  EXPECT_TRUE(appendCookiesWithout(
      " a=1;_pomerium=x;  _pomerium_1=y ; keep=2;",
      [](std::string_view n) { return isChunkOf(n, "_pomerium"); }, out));
  EXPECT_EQ(out, "a=1; keep=2");
  out.clear();
  EXPECT_FALSE(appendCookiesWithout(
      "a=1", [](std::string_view) { return false; }, out));
  EXPECT_EQ(out, "a=1");
  out.clear();
  appendCookiesWithout(
      "_pomerium=x", [](std::string_view) { return true; }, out);
  EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace vallum::proxy
