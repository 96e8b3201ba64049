#include "common/printable.h"

#include <string>

#include <gtest/gtest.h>

namespace vallum {
namespace {

TEST(PrintableTest, PlainTextIsCopied) {
  EXPECT_EQ(printable("routes[0].prefix: /api/v[0-9]+ \"quoted\" \\d"),
            "routes[0].prefix: /api/v[0-9]+ \"quoted\" \\d");
  EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91 \xc2\xa7"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91 \xc2\xa7");  // é € 🔑 §
  EXPECT_EQ(printable(""), "");
}

TEST(PrintableTest, ControlBytesAreEscaped) {
  EXPECT_EQ(printable("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
  EXPECT_EQ(printable("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(printable(std::string("nul\0bell\a del\x7f", 14)), "nul\\x00bell\\x07 del\\x7f");
  EXPECT_EQ(printable("\x1b]0;title\x07"), "\\x1b]0;title\\x07");
}

TEST(PrintableTest, InvalidUtf8BytesAreEscaped) {
  EXPECT_EQ(printable("\x9b"
                      "2J"),
            "\\x9b2J");                                     // 8-bit CSI
  EXPECT_EQ(printable("a\xc3"), "a\\xc3");                  // cut-off sequence
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");           // overlong "/"
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // surrogate
  EXPECT_EQ(printable("\xff"), "\\xff");
}

TEST(PrintableTest, InvisibleCodePointsAreEscaped) {
  EXPECT_EQ(printable("\xc2\x9b"
                      "2J"),
            "\\u009b2J");  // C1 CSI, UTF-8 encoded
  EXPECT_EQ(printable("admin\xe2\x80\xae"
                      "txt"),
            "admin\\u202etxt");  // right-to-left override
  EXPECT_EQ(printable("a\xe2\x80\xa8"
                      "b"),
            "a\\u2028b");  // line separator
  EXPECT_EQ(printable("\xe2\x81\xa6x\xe2\x81\xa9"), "\\u2066x\\u2069");
}

TEST(PrintableTest, AppendsToWhatIsThere) {
  std::string out = "key: ";
  appendPrintable(out, "v\x1b");
  EXPECT_EQ(out, "key: v\\x1b");
}

}  // namespace
}  // namespace vallum
