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

namespace vallum::strings {
namespace {

/// The byte-at-a-time definition iequalsBytes must agree with.
bool referenceIequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (toLowerAscii(a[i]) != toLowerAscii(b[i])) {
      return false;
    }
  }
  return true;
}

// Every pair of bytes at every position of names 1 to 20 bytes long (the word-at-a-time loop,
// its overlapping last word and the short tail), including non-ASCII bytes, which only equal
// themselves, and '@' / '[' / '`' / '{', the neighbours of the letter ranges.
TEST(StringsTest, IequalsAgreesWithTheByteDefinitionForEveryBytePair) {
  for (size_t n = 1; n <= 20; ++n) {
    for (size_t pos = 0; pos < n; ++pos) {
      for (int x = 0; x < 256; ++x) {
        for (int y = 0; y < 256; y += (x % 7 == 0 ? 1 : 17)) {
          std::string a(n, 'k');
          std::string b(n, 'K');
          a[pos] = char(x);
          b[pos] = char(y);
          ASSERT_EQ(iequals(a, b), referenceIequals(a, b)) << n << " " << pos << " " << x << " " << y;
        }
      }
    }
  }
  EXPECT_TRUE(iequals("Transfer-Encoding", "transfer-encoding"));
  EXPECT_FALSE(iequals("transfer-encodinG", "transfer-encodinh"));
  EXPECT_FALSE(iequals("x-forwarded-for\xc1", "x-forwarded-for\xe1"));  // not ASCII: no folding
}


/// appendJsonEscaped's byte-at-a-time definition (RFC 8259 §7).
std::string referenceJson(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += char(c);
    }
  }
  return out;
}

// Every byte at every position of strings 1 to 20 bytes long, around the words skipped eight
// bytes at a time; two bytes to escape in one word too.
TEST(StringsTest, JsonEscapingAgreesWithTheByteDefinitionForEveryByte) {
  for (size_t n = 1; n <= 20; ++n) {
    for (size_t pos = 0; pos < n; ++pos) {
      for (int c = 0; c < 256; ++c) {
        std::string s(n, 'a');
        s[pos] = char(c);
        if (pos + 1 < n) {
          s[n - 1] = (c % 2) ? '"' : '\x7f';
        }
        std::string out = "x";
        appendJsonEscaped(out, s);
        ASSERT_EQ(out, "x" + referenceJson(s)) << n << " " << pos << " " << c;
      }
    }
  }
}

}  // namespace
}  // namespace vallum::strings
