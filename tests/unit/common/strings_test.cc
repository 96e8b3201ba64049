#include "common/strings.h"

#include <gtest/gtest.h>

namespace vallum::strings {
namespace {

TEST(StringsTest, ListElements) {
  std::vector<std::string> seen;
  forEachListElement(" a , ,b,\tc ", [&](std::string_view v) {
    seen.emplace_back(v);
    return true;
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(StringsTest, Base64RoundTripAndUrlSafe) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    EXPECT_EQ(base64Decode(base64Encode(s)), s);
  }
  EXPECT_EQ(base64Decode("-_8"), std::string("\xfb\xff", 2));
  EXPECT_FALSE(base64Decode("a$b=").has_value());
}

TEST(StringsTest, Tokens) {
  EXPECT_TRUE(isToken("X-Forwarded-For"));
  EXPECT_FALSE(isToken("X A"));
  EXPECT_FALSE(isToken(""));
  EXPECT_FALSE(isToken("a:b"));
}

TEST(StringsTest, JsonEscaping) {
  std::string out;
  appendJsonEscaped(out, "a\"b\\c\n\x01");
  EXPECT_EQ(out, "a\\\"b\\\\c\\n\\u0001");
}

TEST(StringsTest, Hex) {
  std::string out;
  appendHex(out, 0);
  out += ' ';
  appendHex(out, 0x8000);
  EXPECT_EQ(out, "0 8000");
}

TEST(StringsTest, ParseDecimal) {
  EXPECT_EQ(parseDecimal("65535"), 65535u);
  EXPECT_FALSE(parseDecimal("").has_value());
  EXPECT_FALSE(parseDecimal("+1").has_value());
  EXPECT_FALSE(parseDecimal("1 ").has_value());
}

}  // namespace
}  // namespace vallum::strings
